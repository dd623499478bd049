"""
Releases of a WSGI application: build, list, activate, prune.

A release is a directory ``<base_dir>/releases/<id>`` beside a ``current``
symlink that is switched atomically::

    <base_dir>/releases/<id>/src           the project's source
    <base_dir>/releases/<id>/venv          its virtualenv, requirements installed (a copy of an
                                           earlier release's when the requirements are the same)
    <base_dir>/releases/<id>/static        STATIC_ROOT while building (collectstatic)
    <base_dir>/releases/<id>/RELEASE       the release id, one line
    <base_dir>/releases/<id>/release.json  fingerprint and metadata, written last
    <base_dir>/releases/<id>/MIGRATED      written once its migrations ran
    <base_dir>/current -> releases/<id>
    <base_dir>/history                     the activations: one release id per line, the
                                           current one last (a step back pops it)
    <base_dir>/cache/git/                  git mirrors (root's)
    <base_dir>/cache/build/{home,pip}      the build user's home (emptied at each build)
                                           and pip's cache

Nothing of the project's code runs as root. Root exports the source, copies a
virtualenv and makes the directories; the build user (``build_user``, an account of
its own that can write nothing but the release being built and its own caches)
creates the virtualenv, installs the requirements and runs the build commands;
then root stops every process of that user and seals the release: every file
root's, no one else may write it, nothing but files, directories and symlinks.
Migrations, post-deploy commands and one-off commands run as the app's user in a
release it cannot change. Every command of the project gets exactly the environment
this module gives it (its interpreter's and loader's variables are the formula's),
never root's or a login shell's.

A release id is ``<UTC time>-<first 8 hex of the fingerprint>``, its time later than
every other id's (ids sort in build order). The fingerprint
covers the source (git commit, or content hash of a salt:// tree or archive,
requirements included), the settings file's content, the interpreter and the
build commands: a release is built only when one of them changed. A directory
without ``release.json`` is an unfinished build and is never activated.

Sources:

- ``salt://path/to/dir``: a directory on the Salt file server;
- ``salt://path/to/app.tar.gz`` (``.tgz``, ``.tar``): an archive on the file server;
- a git URL (``https://``, ``ssh://``, ``git://``, ``file://``, ``user@host:path``)
  with ``rev`` (branch, tag or commit).
"""

import contextlib
import datetime
import hashlib
import json
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "webstack_release"
__func_alias__ = {"list_": "list"}

_ID_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_SKIP_PARTS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
RELEASE_JSON = "release.json"
MIGRATED = "MIGRATED"
PROC = "/proc"
HISTORY = "history"
# Seconds an external command may take: a hung git server or package index fails the
# deploy, naming the command, instead of holding the run (and the node, drained) forever.
GIT_TIMEOUT = 600
PIP_TIMEOUT = 1800
COMMAND_TIMEOUT = 1800
_PIN_RE = re.compile(r"([0-9]{8}T[0-9]{6}Z-)?[0-9a-f]{8}")
# The search path of every command this module starts (the release's virtualenv first,
# for the project's commands): never root's or the caller's
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the build user writes in a release (root makes them, hands them over, takes them back)
BUILD_DIRS = ("src", "venv", "static")
CRONTABS = "/var/spool/cron/crontabs"


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------- layout

def _releases_dir(base_dir):
    return os.path.join(base_dir, "releases")


def _release_path(base_dir, release_id):
    if not _ID_RE.fullmatch(str(release_id)):
        raise CommandExecutionError(f"release id {release_id!r}: expected YYYYmmddTHHMMSSZ-<8 hex>")
    return os.path.join(_releases_dir(base_dir), release_id)


def info(base_dir, release_id):
    """
    The metadata of a finished release (its ``release.json``), or ``None``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.info /srv/webapp 20261126T210000Z-0123abcd
    """
    try:
        with open(os.path.join(_release_path(base_dir, release_id), RELEASE_JSON), encoding="utf-8") as fh:
            return json.load(fh)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def list_(base_dir):
    """
    The finished releases, oldest first.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.list /srv/webapp
    """
    try:
        names = os.listdir(_releases_dir(base_dir))
    except FileNotFoundError:
        return []
    return sorted(n for n in names if _ID_RE.fullmatch(n) and info(base_dir, n) is not None)


def current(base_dir):
    """
    The id of the release that ``current`` points to, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.current /srv/webapp
    """
    link = os.path.join(base_dir, "current")
    if not os.path.islink(link):
        return None
    target = os.path.basename(os.path.normpath(os.readlink(link)))
    return target if _ID_RE.fullmatch(target) else None


def _history_path(base_dir):
    return os.path.join(base_dir, HISTORY)


def history(base_dir):
    """
    The releases that were made current, in order, the current one last: a deploy adds
    its release, a step back to the one before (a rollback) removes the last one. On a
    server from before the history was kept, the current release alone.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.history /srv/webapp
    """
    try:
        with open(_history_path(base_dir), encoding="utf-8") as fh:
            ids = [line.strip() for line in fh if _ID_RE.fullmatch(line.strip())]
    except FileNotFoundError:
        ids = []
    cur = current(base_dir)
    if cur and (not ids or ids[-1] != cur):
        ids.append(cur)  # switched by hand, or kept from before the history
    return ids


def _write_history(base_dir, ids):
    path = _history_path(base_dir)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("".join(f"{release_id}\n" for release_id in ids[-100:]))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def activate(base_dir, release_id):
    """
    Point ``current`` at a finished release, atomically (a new symlink renamed
    over the old one), and note it in the history (see :py:func:`history`).
    Returns the previous release id.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.activate /srv/webapp 20261126T210000Z-0123abcd
    """
    if info(base_dir, release_id) is None:
        raise CommandExecutionError(f"release {release_id} is not a finished release under {base_dir}")
    ids = history(base_dir)
    previous = current(base_dir)
    link = os.path.join(base_dir, "current")
    tmp = os.path.join(base_dir, f".current.{os.getpid()}")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.join("releases", release_id), tmp)
    os.replace(tmp, link)
    if len(ids) >= 2 and ids[-2] == release_id:
        ids.pop()  # a step back: the release that was current before
    elif not ids or ids[-1] != release_id:
        ids.append(release_id)
    _write_history(base_dir, ids)
    return previous


def deactivate(base_dir, previous):
    """
    Undo the last :py:func:`activate`: ``current`` back to ``previous`` (or removed when
    there was none, a first deploy), the history as it was.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.deactivate /srv/webapp 20261126T210000Z-0123abcd
    """
    if previous:
        return activate(base_dir, previous)
    cur = current(base_dir)
    link = os.path.join(base_dir, "current")
    if os.path.islink(link):
        os.unlink(link)
    ids = history(base_dir)
    if ids and ids[-1] == cur:
        ids.pop()
    _write_history(base_dir, ids)
    return cur


def _in_use(base_dir):
    """The releases that a running process works in (its current directory): a Gunicorn
    master stays in the release that was current at its last start or reload, and on its
    next reload (SIGHUP) it looks up that directory before it moves to the new `current`;
    if the directory is gone, the master exits. A build in progress works in its release
    too."""
    releases = os.path.realpath(_releases_dir(base_dir)) + os.sep
    used = set()
    try:
        pids = [entry for entry in os.listdir(PROC) if entry.isdigit()]
    except OSError:
        return used
    for pid in pids:
        try:
            cwd = os.readlink(os.path.join(PROC, pid, "cwd"))
        except OSError:
            continue  # gone meanwhile, or a kernel thread
        if cwd.startswith(releases):
            used.add(cwd[len(releases):].split(os.sep, 1)[0])
    return used


def prune(base_dir, keep=5):
    """
    Remove all but the newest ``keep`` finished releases, and unfinished builds.
    The current release, the one a rollback would go back to (see
    :py:func:`previous`) and any release a running process works in (a WSGI
    server's master until its next reload, a build) are never removed. Returns ``{"removed": [...], "failed":
    {id: why}}``: what is really gone, and what could not be removed.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.prune /srv/webapp keep=5
    """
    keep = int(keep)
    if keep < 1:
        raise CommandExecutionError("keep: expected an integer >= 1")
    spared = {current(base_dir), _previous_id(base_dir)} | _in_use(base_dir)
    finished = list_(base_dir)
    doomed = [r for r in finished[:-keep] if r not in spared] if len(finished) > keep else []
    try:
        names = os.listdir(_releases_dir(base_dir))
    except FileNotFoundError:
        names = []
    doomed += [n for n in names if _ID_RE.fullmatch(n) and n not in finished and n not in spared]
    removed, failed = [], {}
    for release_id in sorted(doomed):
        path = _release_path(base_dir, release_id)
        try:
            shutil.rmtree(path)
        except OSError as exc:
            failed[release_id] = str(exc)
        if not os.path.lexists(path):
            removed.append(release_id)
        else:
            failed.setdefault(release_id, "still there")
    return {"removed": removed, "failed": failed}


# ---------------------------------------------------------------- sources

def _check_source(source):
    """A source as the pillar's grammar takes it (no credentials in a git URL: they would
    reach release.json, messages and git's arguments), or an error that does not repeat it."""
    if not __utils__["webstack_schema.valid"]("source", source):
        raise CommandExecutionError("source " + __utils__["webstack_schema.describe"](source)[len("the string "):]
                                    + ": expected " + __utils__["webstack_schema.form"]("source"))


def _source_kind(source):
    if source.startswith("salt://"):
        return "archive" if source.endswith(_ARCHIVE_SUFFIXES) else "saltdir"
    return "git"


def _skip(relpath):
    parts = relpath.split("/")
    return bool(_SKIP_PARTS.intersection(parts)) or relpath.endswith(_SKIP_SUFFIXES)


def _saltdir_files(source, saltenv):
    """Cache a salt:// directory; returns {relpath: local cached path}."""
    prefix = source[len("salt://"):].strip("/")
    listed = [p for p in __salt__["cp.list_master"](saltenv=saltenv, prefix=prefix + "/")
              if p.startswith(prefix + "/")]
    files = {}
    for path in listed:
        rel = path[len(prefix) + 1:]
        if _skip(rel):
            continue
        cached = __salt__["cp.cache_file"](f"salt://{path}", saltenv=saltenv)
        if not cached:
            raise CommandExecutionError(f"could not fetch salt://{path}")
        files[rel] = cached
    if not files:
        raise CommandExecutionError(f"source {source}: no files found on the Salt file server")
    return files


def _hash_files(files):
    digest = hashlib.sha256()
    for rel in sorted(files):
        with open(files[rel], "rb") as fh:
            content = fh.read()
        digest.update(f"{rel}\0{len(content)}\0".encode())
        digest.update(content)
    return "sha256:" + digest.hexdigest()


def _git(args, cwd=None, timeout=GIT_TIMEOUT):
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    try:
        res = subprocess.run(["git"] + args, cwd=cwd, env=env, capture_output=True, text=True, check=False,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CommandExecutionError(f"git {' '.join(args)} did not finish within {timeout} s") from None
    if res.returncode != 0:
        raise CommandExecutionError(f"git {' '.join(args)} failed: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def _git_mirror(base_dir, url):
    """The release cache's mirror of ``url``, fetched now. A clone is made beside it and
    renamed into place only once complete, so an interrupted clone leaves nothing that a
    later deploy would take for a mirror."""
    mirror = os.path.join(base_dir, "cache", "git", hashlib.sha256(url.encode()).hexdigest()[:16] + ".git")
    if not os.path.isdir(mirror):
        os.makedirs(os.path.dirname(mirror), exist_ok=True)
        partial = f"{mirror}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            _git(["clone", "--mirror", "--quiet", "--", url, partial])
            os.rename(partial, mirror)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    else:
        _git(["remote", "update", "--prune"], cwd=mirror)
    return mirror


def _git_resolve(base_dir, url, rev, test=False):
    """The commit id of ``rev``. In test mode the host is not touched (ls-remote)."""
    if re.fullmatch(r"[0-9a-f]{40}", rev):
        return rev
    if test:
        out = _git(["ls-remote", "--", url, rev, f"refs/tags/{rev}^{{}}"])
        lines = [line.split("\t") for line in out.splitlines() if "\t" in line]
        peeled = [sha for sha, ref in lines if ref.endswith("^{}")]
        if peeled:
            return peeled[0]
        if lines:
            return lines[0][0]
        raise CommandExecutionError(f"git rev {rev!r} not found in {url}")
    mirror = _git_mirror(base_dir, url)
    return _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=mirror).strip()


def resolve_source(base_dir, source, rev="main", saltenv="base", test=False):
    """
    Resolve a source to ``{"kind", "digest", ...}``: the git commit, or the
    content hash of a salt:// directory or archive. Fetches into the minion's
    cache (salt://) or the release cache's git mirror (not in test mode).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.resolve_source /srv/webapp salt://example
        salt-call webstack_release.resolve_source /srv/webapp https://example.org/app.git rev=v1.2
    """
    _check_source(source)
    kind = _source_kind(source)
    if kind == "saltdir":
        files = _saltdir_files(source, saltenv)
        return {"kind": kind, "digest": _hash_files(files), "files": files}
    if kind == "archive":
        cached = __salt__["cp.cache_file"](source, saltenv=saltenv)
        if not cached:
            raise CommandExecutionError(f"source {source}: not found on the Salt file server")
        return {"kind": kind, "digest": _hash_files({os.path.basename(source): cached}), "path": cached}
    if test and not shutil.which("git"):
        # a fresh server: the run installs git (pkgs:python) before it builds; the
        # prediction is a new release of a commit not known yet
        return {"kind": kind, "digest": "git:(unresolved: git is not installed yet)", "commit": None}
    commit = _git_resolve(base_dir, source, rev, test=test)
    return {"kind": kind, "digest": "git:" + commit, "commit": commit}


def _extract(tar, dest):
    """Extract a tar archive into ``dest``, root-owned, refusing what would land outside it
    (an absolute path, ``..``, a link out of it): tarfile's ``data`` filter where this
    Python has it (3.11.4 and later), the same checks here before (Debian 12's 3.11.2)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)

    def inside(path):
        path = os.path.realpath(path)
        return path == root or path.startswith(root + os.sep)

    members = []
    for member in tar.getmembers():
        target = os.path.join(dest, member.name)
        if os.path.isabs(member.name) or not inside(target):
            raise CommandExecutionError(f"archive member {member.name!r} would land outside the release")
        if member.issym() or member.islnk():
            link = os.path.join(os.path.dirname(target) if member.issym() else dest, member.linkname)
            if os.path.isabs(member.linkname) or not inside(link):
                raise CommandExecutionError(f"archive member {member.name!r} links outside the release")
        elif not (member.isfile() or member.isdir()):
            continue  # devices and FIFOs are not code
        member.uid = member.gid = 0
        member.uname = member.gname = "root"
        member.mode &= 0o755  # no setuid, setgid or sticky bit, no write for others
        members.append(member)
    tar.extractall(dest, members=members)  # every member checked above


def _export(base_dir, source, resolved, dest):
    """The source's files into ``dest``. An archive whose files sit under one top directory
    (``mysite/`` around ``mysite/manage.py`` and ``mysite/mysite/``, as startproject lays
    a project out) gives that directory's content."""
    kind = resolved["kind"]
    if kind == "saltdir":
        os.makedirs(dest)
        for rel, cached in resolved["files"].items():
            target = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(cached, target)
    elif kind == "archive":
        unpacked = dest + ".unpacked"
        os.makedirs(unpacked)
        with tarfile.open(resolved["path"]) as tar:
            _extract(tar, unpacked)
        entries = os.listdir(unpacked)
        top = os.path.join(unpacked, entries[0]) if len(entries) == 1 else None
        os.rename(top if top and os.path.isdir(top) and not os.path.islink(top) else unpacked, dest)
        shutil.rmtree(unpacked, ignore_errors=True)
    else:
        os.makedirs(dest)
        mirror = _git_mirror(base_dir, source)
        with tempfile.TemporaryFile() as tmp:
            try:
                res = subprocess.run(["git", "archive", "--format=tar", resolved["commit"]], cwd=mirror,
                                     stdout=tmp, stderr=subprocess.PIPE, check=False, timeout=GIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise CommandExecutionError(f"git archive {resolved['commit']} did not finish within "
                                            f"{GIT_TIMEOUT} s") from None
            if res.returncode != 0:
                raise CommandExecutionError(f"git archive {resolved['commit']} failed: "
                                            f"{res.stderr.decode(errors='replace').strip()}")
            tmp.seek(0)
            with tarfile.open(fileobj=tmp) as tar:
                _extract(tar, dest)
    _normalize_modes(dest)


def _normalize_modes(top):
    """Code is root's and world-readable: directories 0755, files 0644 (0755 if executable)."""
    for root, dirs, files in os.walk(top):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if os.stat(path).st_mode & 0o111 else 0o644)
    os.chmod(top, 0o755)


# ---------------------------------------------------------------- fingerprint

def _file_digest(path):
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            return "sha256:" + hashlib.sha256(fh.read()).hexdigest()
    except FileNotFoundError:
        return None


def _interpreter(python):
    """The interpreter ``python`` names, as an absolute path: looked up on the system's
    search path (never root's or the caller's), as the build will find it. None if absent."""
    exe = python if os.path.isabs(python) else shutil.which(python, path=SYSTEM_PATH)
    return exe if exe and os.path.exists(exe) else None


def _python_version(python):
    exe = _interpreter(python)
    if not exe:
        return None
    try:  # isolated (-I): no directory of the caller's, no PYTHON* variable, no user site
        res = subprocess.run([exe, "-I", "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=False, timeout=60, cwd="/",
                             env={"PATH": SYSTEM_PATH})
    except subprocess.TimeoutExpired:
        return None
    return res.stdout.strip() or None


def find(base_dir, release):
    """
    The newest finished release whose id is ``release``, or whose fingerprint
    starts with ``release`` (the 8 hex digits at the end of an id: the same
    source and settings built on another node). ``None`` if there is none.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.find /srv/webapp 0123abcd
    """
    release = str(release)
    if not _PIN_RE.fullmatch(release):
        raise CommandExecutionError(f"release {release!r}: expected a release id "
                                    "(YYYYmmddTHHMMSSZ-<8 hex>) or the 8 hex digits of its fingerprint")
    for release_id in reversed(list_(base_dir)):
        if release_id == release or release_id.endswith("-" + release):
            return release_id
    return None


def _previous_id(base_dir):
    """The release a step back goes to: the newest one of the history below the current
    one that is still a finished release, or None."""
    ids = history(base_dir)
    for release_id in reversed(ids[:-1]):
        if release_id != ids[-1] and info(base_dir, release_id):
            return release_id
    return None


def previous(base_dir):
    """
    The fingerprint (8 hex digits) of the release that was current before the current
    one (:py:func:`history`): what ``orch.rollback`` switches the app nodes back to, and
    again, one release further back, on its next run. ``None`` when there is none. On a
    server from before the history was kept: the release built before the newest.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.previous /srv/webapp
    """
    release_id = _previous_id(base_dir)
    if release_id or os.path.exists(_history_path(base_dir)):
        return release_id.rsplit("-", 1)[1] if release_id else None
    fingerprints = []
    for release_id in reversed(list_(base_dir)):
        fp = release_id.rsplit("-", 1)[1]
        if fp not in fingerprints:
            fingerprints.append(fp)
    return fingerprints[1] if len(fingerprints) > 1 else None


def _plan_pinned(base_dir, release):
    cur = current(base_dir)
    if cur and (cur == release or cur.endswith("-" + str(release))) and info(base_dir, cur):
        found = cur  # already on a release that matches: no switch to a twin
    else:
        found = find(base_dir, release)
    if not found:
        raise CommandExecutionError(
            f"no finished release matches {release} under {base_dir} (have: {', '.join(list_(base_dir)) or 'none'})")
    meta = info(base_dir, found)
    return {"current": cur, "fingerprint": meta["fingerprint"], "parts": None, "changed": cur != found,
            "reuse": found if cur != found else None, "resolved": None, "pinned": found}


def plan(base_dir, source, rev="main", settings_file=None, python="python3", build_commands=None,
         saltenv="base", test=False, requirements="requirements.txt", release=None, links=None):
    """
    Compare the wanted release with the current one. Returns ``{"current",
    "fingerprint", "changed", "reuse", "source"}``: ``reuse`` names a finished
    release with the wanted fingerprint (a switch back needs no rebuild).
    ``release`` pins an existing release instead (see :py:func:`find`): the
    source is then not looked at.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.plan /srv/webapp salt://example settings_file=/etc/webstack/webapp/app.env build_commands='["python manage.py collectstatic --noinput"]'
    """  # noqa: E501 (a CLI example is one line)
    if release:
        return _plan_pinned(base_dir, release)
    resolved = resolve_source(base_dir, source, rev=rev, saltenv=saltenv, test=test)
    parts = {
        "source": source,
        "source_digest": resolved["digest"],
        "settings_digest": _file_digest(settings_file),
        "python": _python_version(python) or python,
        "build_commands": list(build_commands or []),
        "requirements": requirements,
    }
    if links:  # only when set: the releases built before the key existed keep their fingerprint
        parts["links"] = dict(sorted(links.items()))
    fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    cur = current(base_dir)
    cur_info = info(base_dir, cur) if cur else None
    changed = not cur_info or cur_info.get("fingerprint") != fingerprint
    reuse = _newest_with(base_dir, "fingerprint", fingerprint) if changed else None
    return {
        "current": cur,
        "fingerprint": fingerprint,
        "parts": parts,
        "changed": changed,
        "reuse": reuse,
        "resolved": resolved,
    }


# ---------------------------------------------------------------- accounts and commands

def _account(user, what="runas"):
    """``user``'s passwd entry; an error naming ``what`` when there is none or it is root
    (the project's code never runs as root)."""
    if not user or not isinstance(user, str):
        raise CommandExecutionError(f"{what}: expected the user that runs the project's code (never root), got none")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise CommandExecutionError(f"{what}: no user {user!r} on this host") from None
    if entry.pw_uid == 0:
        raise CommandExecutionError(f"{what}: {user!r} is root; the project's code never runs as root")
    return entry


def _run_as(argv, runas, cwd, env, timeout=COMMAND_TIMEOUT):
    """Run ``argv`` (no shell) as ``runas``: its uid, its groups (no other), umask 022, in
    ``cwd``, with exactly ``env`` (nothing of root's, nothing of a login shell's), in a
    session of its own (a timeout kills all of it). Its output goes to files of root's
    (not pipes: a child it leaves running with its output open holds nothing up). Returns
    ``{"retcode", "stdout", "stderr"}``; an error when it cannot be started or does not
    finish in ``timeout`` s."""
    entry = _account(runas)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                argv, cwd=cwd, env=env, user=entry.pw_uid, group=entry.pw_gid,
                extra_groups=os.getgrouplist(entry.pw_name, entry.pw_gid), umask=0o022,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:
            raise CommandExecutionError(f"`{shlex.join(argv)}` could not be started as {runas}: {exc}") from None
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            raise CommandExecutionError(f"`{shlex.join(argv)}` did not finish within {timeout} s") from None
        texts = []
        for fh in (out, err):
            fh.seek(0)
            texts.append(fh.read().decode("utf-8", "replace"))
    return {"retcode": proc.returncode, "stdout": texts[0], "stderr": texts[1]}


def _stop_all(entry, wait=5.0):
    """Kill every process of ``entry``'s user (what a build left running: nothing of it may
    run while root seals the release) and wait until they are gone: ``kill(-1, SIGKILL)``
    as that user, which reaches all of them at once, however many fork meanwhile."""
    # the shell's own kill: kill(2) with -1 spares the caller; none left is not an error
    subprocess.run(["/bin/sh", "-c", "kill -s KILL -- -1"], user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                   cwd="/", env={"PATH": SYSTEM_PATH}, check=False, capture_output=True, timeout=60)
    deadline = time.monotonic() + wait
    while _processes_of(entry.pw_uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _processes_of(entry.pw_uid)
    if left:
        raise CommandExecutionError(f"the processes of {entry.pw_name} ({', '.join(left[:5])}) did not stop")


def _processes_of(uid):
    """The pids of the live processes (not zombies) whose real uid is ``uid``."""
    found = []
    for pid in os.listdir(PROC):
        if not pid.isdigit():
            continue
        try:
            with open(os.path.join(PROC, pid, "status"), encoding="utf-8") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue  # gone meanwhile
        if fields.get("Uid", "").split()[:1] == [str(uid)] and not fields.get("State", "").strip().startswith("Z"):
            found.append(pid)
    return found


def _chown_tree(top, uid, gid):
    """``top`` and everything under it owned by ``uid``:``gid``, no symlink followed (a tree
    that only root could write so far: the hand-over to the build user)."""
    os.lchown(top, uid, gid)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _seal(top, builder_uid):
    """Take a tree back from the build user once none of its processes runs: every entry
    root's, directories 0755, files 0644 (0755 when executable), no setuid, setgid or
    sticky bit; FIFOs, sockets and devices removed. Works on file descriptors opened
    without following a symlink, so a symlink planted anywhere changes nothing outside
    ``top``. A hard link (a file with another name, or not the build user's: one of the
    host's files linked in) fails the build instead of having its owner or mode changed."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        _seal_dir(fd, top, builder_uid)
    finally:
        os.close(fd)


def _seal_dir(dfd, where, builder_uid):
    os.fchown(dfd, 0, 0)
    os.fchmod(dfd, 0o755)
    for name in os.listdir(dfd):
        path = os.path.join(where, name)
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            os.chown(name, 0, 0, dir_fd=dfd, follow_symlinks=False)
        elif stat.S_ISDIR(st.st_mode):
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
            try:
                _seal_dir(sub, path, builder_uid)
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
            try:
                fst = os.fstat(fd)
                # every file was the build user's at the hand-over or made by it since: another
                # owner, or another name for the same file, is a hard link to a file of the host's
                # (which the seal must not re-own or re-mode)
                if fst.st_uid != builder_uid or fst.st_nlink > 1:
                    raise CommandExecutionError(f"{path} is a hard link (to a file of uid {fst.st_uid}): a release "
                                                "holds files of its own, never another name for one")
                os.fchown(fd, 0, 0)
                os.fchmod(fd, 0o755 if fst.st_mode & 0o111 else 0o644)
            finally:
                os.close(fd)
        else:  # a FIFO, a socket or a device: not code, not data the app serves
            os.unlink(name, dir_fd=dfd)


# ---------------------------------------------------------------- build

def _command_env(release_dir, settings_file, env, home=None, config=True):
    """The environment of a command in a release, and nothing else: the settings of
    ``settings_file`` (as the app's processes get them, by app.env's codec), then ``env``
    (``{release}`` stands for the release's directory), then the formula's own: the
    release's virtualenv first on PATH, ``VIRTUAL_ENV``, and ``home`` as HOME where given.
    ``config``: ``WEBSTACK_CONFIG`` names the settings file (not for the build user,
    who cannot read it)."""
    out = {"LANG": "C.UTF-8"}
    if settings_file:
        out.update(__utils__["webstack_envfile.read"](settings_file))
        if config:
            out["WEBSTACK_CONFIG"] = settings_file
    out.update({str(k): str(v).replace("{release}", release_dir) for k, v in (env or {}).items()})
    out.update({
        "PATH": os.path.join(release_dir, "venv", "bin") + ":" + SYSTEM_PATH,
        "VIRTUAL_ENV": os.path.join(release_dir, "venv"),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if home:
        out["HOME"] = home
    return out


def _argv(command, release_dir):
    argv = shlex.split(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = os.path.join(release_dir, "venv", "bin", "python")
    return argv


def run_commands(base_dir, release_id, commands, settings_file=None, env=None, runas=None,
                 timeout=COMMAND_TIMEOUT, home=None, config=True):
    """
    Run commands in a release's ``src`` directory as ``runas`` (a user that is not root:
    the app's, or the build user), with its virtualenv first on PATH (a leading
    ``python`` is the release's interpreter), the settings of ``settings_file`` in the
    environment (and ``WEBSTACK_CONFIG`` pointing at it, unless ``config`` is false),
    then ``env`` (``{release}`` in a value is the release's directory); HOME is ``home``,
    or the user's own. Stops at the first failure, with its output in the error.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.run_commands /srv/webapp 20261126T210000Z-0123abcd '["python manage.py check"]' runas=webapp
    """  # noqa: E501 (a CLI example is one line)
    release_dir = _release_path(base_dir, release_id)
    if not commands:
        return []
    entry = _account(runas)
    cmd_env = _command_env(release_dir, settings_file, env, home=home or entry.pw_dir, config=config)
    cmd_env["USER"] = cmd_env["LOGNAME"] = entry.pw_name
    done = []
    for command in commands or []:
        res = _run_as(_argv(command, release_dir), runas=runas, cwd=os.path.join(release_dir, "src"), env=cmd_env,
                      timeout=timeout)
        if res["retcode"] != 0:
            output = (res.get("stdout", "") + "\n" + res.get("stderr", "")).strip()
            raise CommandExecutionError(
                f"release {release_id}: `{command}` exited {res['retcode']}:\n{output[-3000:]}"
            )
        done.append(command)
    return done


def execute(base_dir, command, settings_file=None, env=None, runas=None, timeout=COMMAND_TIMEOUT):
    """
    Run one command in the current release, as the app's processes run: in
    ``<base_dir>/current/src``, its virtualenv first on PATH (a leading ``python`` is
    its interpreter), the settings of ``settings_file`` and then ``env`` in the
    environment, as ``runas`` (never root). Returns ``{"release", "retcode", "stdout",
    "stderr"}`` whatever the exit status; an error only when there is no current release
    or the command cannot be started.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.execute /srv/webapp 'python manage.py showmigrations' settings_file=/etc/webstack/webapp/app.env runas=webapp
    """  # noqa: E501 (a CLI example is one line)
    release_id = current(base_dir)
    if not release_id:
        raise CommandExecutionError(f"no current release under {base_dir}: deploy one first")
    if not __utils__["webstack_schema.valid"]("command", command):
        raise CommandExecutionError(f"command {command!r}: expected one line that splits into words "
                                    "(it runs without a shell)")
    entry = _account(runas)
    current_dir = os.path.join(base_dir, "current")
    cmd_env = _command_env(current_dir, settings_file, env, home=entry.pw_dir)
    cmd_env["USER"] = cmd_env["LOGNAME"] = entry.pw_name
    res = _run_as(_argv(command, current_dir), runas=runas, cwd=os.path.join(current_dir, "src"), env=cmd_env,
                  timeout=int(timeout))
    return {"release": release_id, "retcode": res["retcode"], "stdout": res.get("stdout", ""),
            "stderr": res.get("stderr", "")}


def _build_dirs(base_dir, entry):
    """The build user's home (emptied: nothing of an earlier build's configuration stays, and
    no crontab) and pip's cache, under ``<base_dir>/cache/build``, which stays root's."""
    top = os.path.join(base_dir, "cache", "build")
    os.makedirs(top, mode=0o755, exist_ok=True)
    os.chown(top, 0, 0)
    os.chmod(top, 0o755)
    home, cache = os.path.join(top, "home"), os.path.join(top, "pip")
    shutil.rmtree(home, ignore_errors=True)
    # a crontab that an earlier build's code installed (the state denies it cron; this, where it
    # came before the state)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(CRONTABS, entry.pw_name))
    shutil.rmtree(os.path.join(base_dir, "cache", "pip"), ignore_errors=True)  # root's, from before the build user
    for path in (home, cache):
        if not os.path.isdir(path) or os.path.islink(path):
            if os.path.lexists(path):
                os.unlink(path)
            os.mkdir(path, 0o700)
        os.lchown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, 0o700, follow_symlinks=False)
    return home, cache


def build(base_dir, source, rev="main", settings_file=None, requirements="requirements.txt",
          python="python3", build_commands=None, env=None, saltenv="base", planned=None, links=None,
          build_user=None):
    """
    Build a new release completely: export the source, create the virtualenv,
    install the requirements (pip cache under ``<base_dir>/cache/build/pip``; a virtualenv
    is copied from the newest release whose requirements files are the same, byte for
    byte, with the same interpreter, unless a requirement installs from a local path
    or a version control URL, and pip then finds everything installed), run the build
    commands (e.g. collectstatic), seal the release, link each path of ``links``
    (relative to the source, e.g. ``media``) to its target outside the release
    (``<base_dir>/shared/media``), then write ``release.json``. The virtualenv, the
    requirements and the build commands run as ``build_user`` (never root), which
    writes only the release's ``src``, ``venv`` and ``static`` and its own caches;
    root then stops its processes and takes the release back (see the module's
    documentation). A failed build is removed and ``current`` is not touched. Returns
    the new id.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.build /srv/webapp salt://example settings_file=/etc/webstack/webapp/app.env build_user=webapp-build
    """  # noqa: E501 (a CLI example is one line)
    builder = _account(build_user, "build_user")
    planned = planned or plan(base_dir, source, rev=rev, settings_file=settings_file, python=python,
                              build_commands=build_commands, saltenv=saltenv, requirements=requirements,
                              links=links)
    interpreter = _interpreter(python)
    if not interpreter:
        raise CommandExecutionError(f"python {python!r}: no such interpreter on this host")
    now = _build_time(base_dir)
    release_id = f"{now}-{planned['fingerprint'][:8]}"
    release_dir = _release_path(base_dir, release_id)
    os.makedirs(_releases_dir(base_dir), mode=0o755, exist_ok=True)
    if os.path.exists(release_dir):
        raise CommandExecutionError(f"release {release_id} already exists")
    _stop_all(builder)  # nothing of an earlier build runs while the new one is set up
    home, pip_cache = _build_dirs(base_dir, builder)
    try:
        _export(base_dir, source, planned["resolved"], os.path.join(release_dir, "src"))
        os.chmod(release_dir, 0o755)
        with open(os.path.join(release_dir, "RELEASE"), "w", encoding="utf-8") as fh:
            fh.write(release_id + "\n")
        venv = os.path.join(release_dir, "venv")
        req_file = os.path.join(release_dir, "src", requirements)
        if requirements and not os.path.isfile(req_file):
            raise CommandExecutionError(f"release {release_id}: requirements file {requirements} "
                                        "is not in the source")
        venv_key = _venv_key(os.path.join(release_dir, "src"), requirements, planned["parts"]["python"])
        for name in BUILD_DIRS:
            os.makedirs(os.path.join(release_dir, name), mode=0o755, exist_ok=True)
            _chown_tree(os.path.join(release_dir, name), builder.pw_uid, builder.pw_gid)
        build_env = _command_env(release_dir, None, {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"},
                                 home=home)
        src = os.path.join(release_dir, "src")
        venv_from = _copy_venv(base_dir, venv_key, venv, interpreter, builder, src, build_env)
        if not venv_from:
            _check_run([interpreter, "-m", "venv", venv], "create the virtualenv", builder.pw_name, src, build_env)
        if requirements:
            # on a copied virtualenv this finds everything installed and changes nothing
            _check_run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--cache-dir", pip_cache,
                        "-r", req_file], "install the requirements", builder.pw_name, src, build_env)
        run_commands(base_dir, release_id, build_commands, settings_file=settings_file, env=env,
                     runas=builder.pw_name, home=home, config=False)
        _stop_all(builder)
        for name in BUILD_DIRS:
            _seal(os.path.join(release_dir, name), builder.pw_uid)
        _stop_all(builder)  # one that cron started meanwhile closes what it opened
        for rel, target in sorted((links or {}).items()):
            _link(os.path.join(release_dir, "src"), rel, target)
        meta = {
            "id": release_id,
            "fingerprint": planned["fingerprint"],
            "source": source,
            "rev": rev if planned["resolved"]["kind"] == "git" else None,
            "source_digest": planned["parts"]["source_digest"],
            "python": planned["parts"]["python"],
            "built": now,
            "built_by": builder.pw_name,
            "venv_key": venv_key,
            "venv_from": venv_from,
        }
        with open(os.path.join(release_dir, RELEASE_JSON), "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2, sort_keys=True)
    except BaseException:
        try:
            _stop_all(builder)
        finally:
            shutil.rmtree(release_dir, ignore_errors=True)
        raise
    return release_id


# A requirements line that installs from the source itself (the project, a local
# package) or from a version control URL: what it installs can change while the line
# stays the same, so a copied virtualenv would keep the old one. Such requirements
# always get a new virtualenv.
_LOCAL_REQ_RE = re.compile(r"^(-e|--editable)\b|^(\.|/|file:)|@\s*file:|\b(git|hg|svn|bzr)\+")
_INCLUDE_RE = re.compile(r"^(-r|--requirement|-c|--constraint)(=|\s+)(\S+)")


def _venv_key(src, requirements, python):
    """What a virtualenv depends on: the interpreter's version and the content of the
    requirements file with every file it includes (``-r``, ``-c``), or None when the
    virtualenv must not be shared (a requirement from a local path, an include that is
    missing or leads out of the source)."""
    files = {}
    real_src = os.path.realpath(src)

    def read(rel, depth):
        path = os.path.realpath(os.path.join(real_src, rel))
        if depth > 10 or not path.startswith(real_src + os.sep) or not os.path.isfile(path):
            return False
        with open(path, "rb") as fh:
            data = fh.read()
        files[os.path.relpath(path, real_src)] = hashlib.sha256(data).hexdigest()
        for raw in data.decode("utf-8", "replace").splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if _LOCAL_REQ_RE.search(line):
                return False
            include = _INCLUDE_RE.match(line)
            if include:
                name = os.path.relpath(os.path.join(os.path.dirname(path), include.group(3)), real_src)
                if name not in files and not read(name, depth + 1):
                    return False
        return True

    if requirements and not read(requirements, 0):
        return None
    material = json.dumps({"python": python, "requirements": requirements or None, "files": files}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def _newest_with(base_dir, field, value):
    """The newest finished release whose ``release.json`` has ``field`` == ``value`` and
    whose virtualenv is there, or None."""
    for release_id in reversed(list_(base_dir)):
        if info(base_dir, release_id).get(field) == value and os.path.exists(
                os.path.join(_release_path(base_dir, release_id), "venv", "bin", "python")):
            return release_id
    return None


# Run by the build user (``python -I -c``, then the two paths): the virtualenv of an earlier
# release copied into the new one, every text file of its bin/ and its pyvenv.cfg that
# names the old path naming the new one. As the build user: whatever an earlier build left
# there (a symlink where a script was, say) leads nowhere the build user may not write.
_COPY_VENV = """
import os, shutil, sys
old, new = sys.argv[1], sys.argv[2]
shutil.copytree(old, new, symlinks=True, dirs_exist_ok=True)
before, after = old.encode(), new.encode()
bindir = os.path.join(new, "bin")
for path in [os.path.join(bindir, name) for name in os.listdir(bindir)] + [os.path.join(new, "pyvenv.cfg")]:
    if os.path.islink(path) or not os.path.isfile(path):
        continue
    with open(path, "rb") as fh:
        data = fh.read()
    if before not in data or b"\\0" in data:
        continue
    tmp = path + ".webstack-tmp"
    with open(tmp, "wb") as fh:
        fh.write(data.replace(before, after))
    shutil.copymode(path, tmp)
    os.replace(tmp, path)
"""


def _copy_venv(base_dir, key, venv, interpreter, builder, cwd, env):
    """Copy, as the build user ``builder``, the virtualenv of the newest finished release built
    with the same ``key`` (see :py:func:`_venv_key`) into ``venv`` (empty, the build user's),
    its own path written where the copy named the old one (scripts' ``#!`` lines,
    ``activate``, ``pyvenv.cfg``). Returns that release's id, or None (no such release, or
    the copy failed: ``venv`` is empty again)."""
    other = _newest_with(base_dir, "venv_key", key) if key else None
    if not other:
        return None
    old = os.path.join(_release_path(base_dir, other), "venv")
    res = _run_as([interpreter, "-I", "-c", _COPY_VENV, old, venv], runas=builder.pw_name, cwd=cwd, env=env,
                  timeout=PIP_TIMEOUT)
    if res["retcode"] == 0:
        return other
    log.warning("webstack_release: could not copy the virtualenv of %s (%s); building a new one", other,
                (res["stderr"] or res["stdout"]).strip()[-500:])
    _stop_all(builder)
    shutil.rmtree(venv)
    os.mkdir(venv, 0o755)
    os.chown(venv, builder.pw_uid, builder.pw_gid)
    return None


def _build_time(base_dir, wait=2.0):
    """The UTC time of a new build, to the second, later than every release id under
    ``base_dir`` (finished or not): ids sort in build order, which the previous release,
    pruning and the release pins rely on. A build within the same second as the last
    one (a virtualenv copied, nothing to install) waits for the next second; a clock
    that went back waits ``wait`` seconds at most."""
    try:
        newest = max((name[:16] for name in os.listdir(_releases_dir(base_dir)) if _ID_RE.fullmatch(name)), default="")
    except OSError:
        newest = ""
    deadline = time.monotonic() + wait
    while True:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        if now > newest or time.monotonic() >= deadline:
            return now
        time.sleep(0.1)


def _link(src, rel, target):
    """``src/rel`` becomes a symlink to ``target`` (what the source had there goes: a
    placeholder such as ``media/.gitkeep``); its parents are made, inside ``src``."""
    path = os.path.join(src, rel)
    real_src, parent = os.path.realpath(src), os.path.realpath(os.path.dirname(path))
    if parent != real_src and not parent.startswith(real_src + os.sep):
        raise CommandExecutionError(f"cannot link {rel} to {target}: a symlink in the source leads out of it")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.islink(path) or os.path.isfile(path):
        os.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)
    os.symlink(target, path)


def _check_run(argv, what, runas, cwd, env, timeout=PIP_TIMEOUT):
    res = _run_as(argv, runas=runas, cwd=cwd, env=env, timeout=timeout)
    if res["retcode"] != 0:
        output = (res["stdout"] + "\n" + res["stderr"]).strip()
        raise CommandExecutionError(f"could not {what}: `{' '.join(argv)}` exited {res['retcode']}:\n"
                                    f"{output[-3000:]}")
    return res["stdout"]


def migrated(base_dir, release_id):
    """
    True when the migrations of a release have run (its ``MIGRATED`` marker).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.migrated /srv/webapp 20261126T210000Z-0123abcd
    """
    return os.path.exists(os.path.join(_release_path(base_dir, release_id), MIGRATED))


def run_migrations(base_dir, release_id, migrate_commands, settings_file=None, env=None, user=None):
    """
    Run a release's migrations as ``user`` unless they already ran, then mark
    the release (``MIGRATED``). Returns True when they ran now.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.run_migrations /srv/webapp 20261126T210000Z-0123abcd '["python manage.py migrate --noinput"]' user=webapp
    """  # noqa: E501 (a CLI example is one line)
    if migrated(base_dir, release_id):
        return False
    run_commands(base_dir, release_id, migrate_commands, settings_file=settings_file, env=env, runas=user)
    with open(os.path.join(_release_path(base_dir, release_id), MIGRATED), "w", encoding="utf-8") as fh:
        fh.write(datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ") + "\n")
    return True


def deploy(base_dir, source, rev="main", settings_file=None, requirements="requirements.txt",
           python="python3", build_commands=None, migrate=True, migrate_commands=None,
           post_deploy_commands=None, env=None, user=None, keep=5, saltenv="base", planned=None,
           release=None, build_missing=True, links=None, build_user=None):
    """
    Deploy when the source, the settings or the build changed: build the new
    release as ``build_user`` (see :py:func:`build`; or reuse a finished one with the
    same fingerprint), run the
    migrations in it as ``user`` (when ``migrate``), switch ``current`` to it,
    run the post-deploy commands, and keep the newest ``keep`` releases. A
    post-deploy command that fails switches ``current`` back (nothing serves the
    new release unreloaded) and fails the deploy. ``build_missing=False``: only
    switch to a release that is already built (``orch.deploy`` built it in its build
    step, where the migrations ran), never build one.
    ``planned``: the result of :py:func:`plan` for the same arguments, when the
    caller has it (the state does), so the source is not resolved twice.
    Returns ``{"changed", "old", "new", "pruned", "prune_failed"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_release.deploy /srv/webapp salt://example settings_file=/etc/webstack/webapp/app.env user=webapp build_user=webapp-build
    """  # noqa: E501 (a CLI example is one line)
    planned = planned or plan(base_dir, source, rev=rev, settings_file=settings_file, python=python,
                              build_commands=build_commands, saltenv=saltenv, requirements=requirements,
                              release=release, links=links)
    if not planned["changed"]:
        return {"changed": False, "old": planned["current"], "new": planned["current"], "pruned": [],
                "prune_failed": {}}
    if not planned["reuse"] and not build_missing:
        raise CommandExecutionError(
            f"no finished release with fingerprint {planned['fingerprint'][:8]} here to switch to: the build step "
            "makes it (did the source or the settings change since it ran?); nothing was switched")
    release_id = planned["reuse"] or build(
        base_dir, source, rev=rev, settings_file=settings_file, requirements=requirements, python=python,
        build_commands=build_commands, env=env, saltenv=saltenv, planned=planned, links=links,
        build_user=build_user)
    if migrate and not planned.get("pinned"):
        run_migrations(base_dir, release_id, migrate_commands, settings_file=settings_file, env=env, user=user)
    old = activate(base_dir, release_id)
    try:
        run_commands(base_dir, release_id, post_deploy_commands, settings_file=settings_file, env=env, runas=user)
    except CommandExecutionError as exc:
        deactivate(base_dir, old)
        raise CommandExecutionError(f"{exc}\n`current` is back on {old or 'nothing (a first deploy)'}: the "
                                    f"post-deploy commands run after the switch and must all succeed") from None
    pruned = prune(base_dir, keep=keep)
    return {"changed": True, "old": old, "new": release_id, "reused": bool(planned["reuse"]),
            "pruned": pruned["removed"], "prune_failed": pruned["failed"]}
