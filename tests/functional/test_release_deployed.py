"""
Functional tests of ``webstack_release.deployed`` through the real Salt loader:
real sources (a salt:// directory, a salt:// archive, a local git repository),
real virtualenvs, real build commands. The project is a one-module WSGI app
with an empty requirements.txt, so pip installs nothing and needs no network.
"""

import json
import os
import pwd
import shutil
import stat
import subprocess
import tarfile
import tempfile
import textwrap

import pytest

APP = textwrap.dedent(
    """\
    GREETING = b"hello, version {version}\\n"


    def application(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [GREETING]
    """
)
BUILD = ["python -c \"open('built', 'w').write('ok')\""]


def _write_app(directory, version):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hello.py").write_text(APP.format(version=version))
    (directory / "requirements.txt").write_text("")


@pytest.fixture
def source(state_tree, request):
    """A salt:// directory source holding the tiny WSGI project (version 1)."""
    name = "src-" + request.node.name.replace("[", "-").replace("]", "")
    directory = state_tree / name
    _write_app(directory, 1)
    return directory, f"salt://{name}"


# The app's user and the build user, as salt/webstack/app/user.sls makes them: system users
# without a login, the build user in no group of the app's
APP_USER, BUILD_USER = "wsfunc", "wsfunc-build"


@pytest.fixture(scope="module")
def accounts():
    for name in (APP_USER, BUILD_USER):
        if subprocess.run(["getent", "passwd", name], capture_output=True, check=False).returncode:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            name], check=True)
    return {name: pwd.getpwnam(name) for name in (APP_USER, BUILD_USER)}


@pytest.fixture
def reachable(accounts):  # pylint: disable=unused-argument
    """A directory that every user can reach and write (pytest's tmp_path is root's alone),
    removed afterwards."""
    top = tempfile.mkdtemp(prefix="webstack-functional-", dir="/var/tmp")
    os.chmod(top, 0o1777)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def base_dir(reachable):
    return __import__("pathlib").Path(reachable) / "srv" / "webapp"


class Releases:
    """``states.webstack_release`` as the formula calls it: with the app's user and the build
    user unless a test gives others."""

    def __init__(self, states):
        self._states = states

    def __getattr__(self, name):
        state = getattr(self._states.webstack_release, name)
        return lambda **kwargs: state(**{"user": APP_USER, "build_user": BUILD_USER, **kwargs})


@pytest.fixture
def releases(states, accounts):  # pylint: disable=unused-argument
    return Releases(states)


def _releases(modules, base_dir):
    return modules.webstack_release.list(str(base_dir))


def _current(modules, base_dir):
    return modules.webstack_release.current(str(base_dir))


def _call_app(base_dir, release="current"):
    """Import the deployed module with the release's own interpreter and call the WSGI app."""
    root = base_dir / release if release == "current" else base_dir / "releases" / release
    code = (
        "import hello; out = []; "
        "body = hello.application({}, lambda status, headers: out.append(status)); "
        "print(out[0], b''.join(body).decode().strip())"
    )
    res = subprocess.run([str(root / "venv" / "bin" / "python"), "-c", code], cwd=root / "src",
                         capture_output=True, text=True, check=True)
    return res.stdout.strip()


def test_first_deploy_builds_a_release_and_points_current_to_it(releases, modules, source, base_dir, testmode):
    _, url = source
    ret = releases.deployed(name=str(base_dir), source=url, build_commands=BUILD,
                                           test=testmode)
    if testmode:
        assert ret.result is None
        assert ret.changes == {"release": {"old": None, "new": "(new release)"}}
        assert "would have a new release built" in ret.comment
        assert not base_dir.exists()
        return

    assert ret.result is True, ret.comment
    (release,) = _releases(modules, base_dir)
    assert ret.changes == {"release": {"old": None, "new": release}}
    assert _current(modules, base_dir) == release
    assert os.readlink(base_dir / "current") == f"releases/{release}"
    meta = json.loads((base_dir / "current" / "release.json").read_text())
    assert meta["id"] == release
    assert meta["source"] == url
    assert meta["source_digest"].startswith("sha256:")
    assert release.endswith(meta["fingerprint"][:8])
    assert (base_dir / "current" / "RELEASE").read_text() == release + "\n"
    assert (base_dir / "current" / "venv" / "bin" / "python").exists()
    assert (base_dir / "current" / "src" / "built").read_text() == "ok"  # build command ran in src/
    assert _call_app(base_dir) == "200 OK hello, version 1"


def test_second_apply_changes_nothing(releases, modules, source, base_dir):
    _, url = source
    first = releases.deployed(name=str(base_dir), source=url, build_commands=BUILD)
    assert first.result is True, first.comment
    release = _current(modules, base_dir)

    for test in (False, True):
        again = releases.deployed(name=str(base_dir), source=url, build_commands=BUILD,
                                                 test=test)
        assert again.result is True, again.comment
        assert again.changes == {}
        assert again.comment == f"Release {release} is current and up to date"
    assert _releases(modules, base_dir) == [release]


def test_source_change_is_predicted_then_deployed_and_reverting_switches_back(
        releases, modules, source, base_dir):
    directory, url = source
    kwargs = dict(name=str(base_dir), source=url, build_commands=BUILD)
    assert releases.deployed(**kwargs).result is True
    first = _current(modules, base_dir)

    _write_app(directory, 2)
    predicted = releases.deployed(test=True, **kwargs)
    assert predicted.result is None
    assert predicted.changes == {"release": {"old": first, "new": "(new release)"}}
    assert _releases(modules, base_dir) == [first]  # nothing built
    assert _current(modules, base_dir) == first

    applied = releases.deployed(**kwargs)
    assert applied.result is True, applied.comment
    second = _current(modules, base_dir)
    assert second != first
    assert applied.changes == {"release": {"old": first, "new": second}}
    assert _releases(modules, base_dir) == [first, second]  # the old one is kept
    assert _call_app(base_dir) == "200 OK hello, version 2"
    assert _call_app(base_dir, first) == "200 OK hello, version 1"

    # back to version 1: the finished release is reused, nothing is rebuilt
    _write_app(directory, 1)
    predicted = releases.deployed(test=True, **kwargs)
    assert predicted.result is None
    assert predicted.changes == {"release": {"old": second, "new": first}}
    back = releases.deployed(**kwargs)
    assert back.result is True, back.comment
    assert back.changes == {"release": {"old": second, "new": first}}
    assert f"switched to the finished release {first}" in back.comment
    assert _current(modules, base_dir) == first
    assert _releases(modules, base_dir) == [first, second]


def test_settings_change_alone_yields_a_new_release(releases, modules, source, base_dir, tmp_path):
    _, url = source
    settings = tmp_path / "app.env"  # root's alone: the build has its settings, never the file
    settings.write_text("DEBUG=0\n")
    kwargs = dict(name=str(base_dir), source=url, settings_file=str(settings),
                  build_commands=["python -c \"import os; open('seen', 'w').write(os.environ['DEBUG'] + "
                                  "str('WEBSTACK_CONFIG' in os.environ))\""])
    assert releases.deployed(**kwargs).result is True
    first = _current(modules, base_dir)
    assert (base_dir / "current" / "src" / "seen").read_text() == "0False"
    assert releases.deployed(**kwargs).changes == {}

    settings.write_text("DEBUG=0\nALLOWED_HOSTS=example.org\n")
    ret = releases.deployed(**kwargs)
    assert ret.result is True, ret.comment
    second = _current(modules, base_dir)
    assert ret.changes == {"release": {"old": first, "new": second}}
    assert _releases(modules, base_dir) == [first, second]
    meta1 = modules.webstack_release.info(str(base_dir), first)
    meta2 = modules.webstack_release.info(str(base_dir), second)
    assert meta1["source_digest"] == meta2["source_digest"]
    assert meta1["fingerprint"] != meta2["fingerprint"]


def test_keep_prunes_the_oldest_releases(releases, modules, source, base_dir):
    directory, url = source
    kwargs = dict(name=str(base_dir), source=url, keep=2)
    built = []
    for version in (1, 2, 3):
        _write_app(directory, version)
        ret = releases.deployed(**kwargs)
        assert ret.result is True, ret.comment
        built.append(_current(modules, base_dir))
    assert ret.changes == {"release": {"old": built[1], "new": built[2]}, "pruned": {"old": [built[0]], "new": []}}
    assert _releases(modules, base_dir) == built[1:]
    assert sorted(os.listdir(base_dir / "releases")) == built[1:]
    assert _call_app(base_dir) == "200 OK hello, version 3"


def test_failing_build_leaves_current_untouched(releases, modules, source, base_dir):
    directory, url = source
    assert releases.deployed(name=str(base_dir), source=url).result is True
    good = _current(modules, base_dir)

    _write_app(directory, 2)
    failing = ["python -c \"import sys; print('collectstatic exploded: no STATIC_ROOT'); sys.exit(3)\""]
    ret = releases.deployed(name=str(base_dir), source=url, build_commands=failing)

    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment.startswith(f"Deploy failed, current release {good} left in place")
    assert "exited 3" in ret.comment
    assert "collectstatic exploded: no STATIC_ROOT" in ret.comment
    assert _current(modules, base_dir) == good
    assert os.listdir(base_dir / "releases") == [good]  # the failed build was removed
    assert _call_app(base_dir) == "200 OK hello, version 1"


def test_first_deploy_without_requirements_file_fails_cleanly(releases, modules, source, base_dir):
    directory, url = source
    (directory / "requirements.txt").unlink()
    ret = releases.deployed(name=str(base_dir), source=url)
    assert ret.result is False
    assert "Deploy failed, current release (none) left in place" in ret.comment
    assert "requirements file requirements.txt is not in the source" in ret.comment
    assert _current(modules, base_dir) is None
    assert os.listdir(base_dir / "releases") == []


def test_missing_source_is_reported(releases, base_dir, testmode):
    ret = releases.deployed(name=str(base_dir), source="salt://no-such-project",
                                           test=testmode)
    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment.startswith("Cannot resolve source salt://no-such-project")
    assert not base_dir.exists()


# ---------------------------------------------------------------- git


def _git(*args, cwd):
    """Run git in the upstream repo; returns HEAD's commit id when there is one."""
    subprocess.run(
        ["git", "-c", "user.name=Web Stack", "-c", "user.email=webstack@example.org",
         "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    )
    head = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=cwd, capture_output=True,
                          text=True, check=False)
    return head.stdout.strip()


@pytest.fixture
def git_repo(tmp_path):
    """A local repository: v1 (annotated tag) then a second commit on main."""
    repo = tmp_path / "upstream"
    _write_app(repo, 1)
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    v1 = _git("commit", "-q", "-m", "version 1", cwd=repo)
    _git("tag", "-a", "v1", "-m", "release 1", cwd=repo)
    _write_app(repo, 2)
    v2 = _git("commit", "-q", "-am", "version 2", cwd=repo)
    return repo, v1, v2


def test_git_source_branch_then_tag(releases, modules, git_repo, base_dir):
    repo, v1, v2 = git_repo
    url = f"file://{repo}"

    predicted = releases.deployed(name=str(base_dir), source=url, rev="main", test=True)
    assert predicted.result is None
    assert not base_dir.exists()  # test mode resolves with ls-remote, clones nothing

    on_branch = releases.deployed(name=str(base_dir), source=url, rev="main")
    assert on_branch.result is True, on_branch.comment
    branch_release = _current(modules, base_dir)
    meta = modules.webstack_release.info(str(base_dir), branch_release)
    assert meta["source_digest"] == f"git:{v2}"
    assert meta["rev"] == "main"
    assert _call_app(base_dir) == "200 OK hello, version 2"
    assert not (base_dir / "current" / "src" / ".git").exists()

    # the annotated tag resolves to its commit the same way in test mode and for real
    predicted = releases.deployed(name=str(base_dir), source=url, rev="v1", test=True)
    assert predicted.result is None
    assert predicted.changes == {"release": {"old": branch_release, "new": "(new release)"}}

    on_tag = releases.deployed(name=str(base_dir), source=url, rev="v1")
    assert on_tag.result is True, on_tag.comment
    tag_release = _current(modules, base_dir)
    assert on_tag.changes == {"release": {"old": branch_release, "new": tag_release}}
    assert modules.webstack_release.info(str(base_dir), tag_release)["source_digest"] == f"git:{v1}"
    assert _call_app(base_dir) == "200 OK hello, version 1"

    for test in (True, False):
        again = releases.deployed(name=str(base_dir), source=url, rev="v1", test=test)
        assert again.result is True, again.comment
        assert again.changes == {}

    # a new commit on the branch is picked up by a deploy of rev main
    _write_app(repo, 3)
    v3 = _git("commit", "-q", "-am", "version 3", cwd=repo)
    on_branch = releases.deployed(name=str(base_dir), source=url, rev="main")
    assert on_branch.result is True, on_branch.comment
    assert modules.webstack_release.info(str(base_dir), _current(modules, base_dir))["source_digest"] == f"git:{v3}"
    assert _call_app(base_dir) == "200 OK hello, version 3"


def test_git_unknown_rev_is_reported(releases, git_repo, base_dir, testmode):
    repo, _, _ = git_repo
    ret = releases.deployed(name=str(base_dir), source=f"file://{repo}", rev="no-such-branch",
                                           test=testmode)
    assert ret.result is False
    assert ret.comment.startswith(f"Cannot resolve source file://{repo}")
    assert ret.changes == {}


# ---------------------------------------------------------------- archive


def test_archive_source(releases, modules, state_tree, tmp_path, base_dir):
    project = tmp_path / "build" / "hello-1.0"
    _write_app(project, "1.0")
    archive = state_tree / "archive-test" / "hello.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(project, arcname="hello-1.0")
    url = "salt://archive-test/hello.tar.gz"

    ret = releases.deployed(name=str(base_dir), source=url, build_commands=BUILD)
    assert ret.result is True, ret.comment
    release = _current(modules, base_dir)
    assert ret.changes == {"release": {"old": None, "new": release}}
    # the archive's single top directory is stripped
    assert sorted(os.listdir(base_dir / "current" / "src")) == ["built", "hello.py", "requirements.txt"]
    assert _call_app(base_dir) == "200 OK hello, version 1.0"
    assert modules.webstack_release.info(str(base_dir), release)["source"] == url

    again = releases.deployed(name=str(base_dir), source=url, build_commands=BUILD)
    assert again.result is True
    assert again.changes == {}


def test_a_startproject_archive_deploys(releases, modules, state_tree, tmp_path, base_dir):
    """The layout `django-admin startproject mysite` makes, archived as `tar czf mysite.tar.gz
    mysite`: one top directory holding manage.py and a package of the same name."""
    project = tmp_path / "build" / "mysite"
    _write_app(project, "startproject")
    (project / "manage.py").write_text("#!/usr/bin/env python\n")
    (project / "mysite").mkdir()
    for name in ("__init__.py", "settings.py", "wsgi.py"):
        (project / "mysite" / name).write_text("")
    archive = state_tree / "startproject" / "mysite.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(project, arcname="mysite")
    ret = releases.deployed(name=str(base_dir), source="salt://startproject/mysite.tar.gz")
    assert ret.result is True, ret.comment
    src = base_dir / "current" / "src"
    assert sorted(os.listdir(src)) == ["hello.py", "manage.py", "mysite", "requirements.txt"]
    assert sorted(os.listdir(src / "mysite")) == ["__init__.py", "settings.py", "wsgi.py"]
    assert _call_app(base_dir) == "200 OK hello, version startproject"
    assert [n for n in os.listdir(base_dir / "releases" / _current(modules, base_dir)) if "unpacked" in n] == []


def test_a_failing_post_deploy_command_switches_current_back(releases, modules, source, base_dir):
    """The post-deploy commands run after the switch; one that fails puts `current` back, so
    nothing is left switched without its reload, and the next run deploys again."""
    directory, url = source
    failing = dict(name=str(base_dir), source=url, post_deploy_commands=["python -c 'raise SystemExit(4)'"])
    first = releases.deployed(**failing)
    assert first.result is False
    assert "`current` is back on nothing (a first deploy)" in first.comment
    assert not os.path.lexists(base_dir / "current")
    assert modules.webstack_release.history(str(base_dir)) == []

    good = releases.deployed(name=str(base_dir), source=url)
    assert good.result is True, good.comment
    v1 = _current(modules, base_dir)
    _write_app(directory, 2)
    ret = releases.deployed(**failing)
    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment.startswith(f"Deploy failed, current release {v1} left in place: ")
    assert "exited 4" in ret.comment and f"`current` is back on {v1}" in ret.comment
    assert _current(modules, base_dir) == v1
    assert modules.webstack_release.history(str(base_dir)) == [v1]
    assert _call_app(base_dir) == "200 OK hello, version 1"
    # the same release again: it is built already, and switches once its commands pass
    again = releases.deployed(name=str(base_dir), source=url, post_deploy_commands=["true"])
    assert again.result is True, again.comment
    assert again.comment.startswith(f"{base_dir}: switched to the finished release ")
    assert _call_app(base_dir) == "200 OK hello, version 2"


def test_switch_only_never_builds(releases, modules, source, base_dir, testmode):
    """orch.deploy's rollout (build=False): a release that its build step did not make is not
    built on the spot (its migrations never ran); nothing switches."""
    directory, url = source
    assert releases.deployed(name=str(base_dir), source=url).result is True
    v1 = _current(modules, base_dir)
    _write_app(directory, 2)
    ret = releases.deployed(name=str(base_dir), source=url, build=False, test=testmode)
    if testmode:
        assert ret.result is None
        assert ret.comment == f"{base_dir}: would have switched to the release that the build step makes"
    else:
        assert ret.result is False
        assert "the build step makes it (did the source or the settings change since it ran?)" in ret.comment
        assert "nothing was switched" in ret.comment
    assert _current(modules, base_dir) == v1
    assert _releases(modules, base_dir) == [v1]
    assert releases.built(name=str(base_dir), source=url).result is True
    switched = releases.deployed(name=str(base_dir), source=url, build=False)
    assert switched.result is True, switched.comment
    assert _call_app(base_dir) == "200 OK hello, version 2"


# ---------------------------------------------------------------- built, migrated, pinned releases
# orch.deploy builds on every app node first (``built``), runs the migrations once
# on one of them (``migrated``), then switches node by node (``deployed``);
# orch.rollback switches back with ``deployed(release=<fingerprint>)``.

COUNT_MIGRATIONS = ["python -c \"import os; open(os.environ['MIGRATIONS_LOG'], 'a').write('migrated\\n')\""]


@pytest.fixture
def migrations_log(reachable):
    """A file each migration run (as the app's user) appends a line to, and the ``env`` that
    names it."""
    log = __import__("pathlib").Path(reachable) / "migrations.log"
    return log, {"MIGRATIONS_LOG": str(log)}


def _runs(log):
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_built_builds_without_switching_and_deployed_then_reuses_it(releases, modules, source, base_dir):
    _, url = source
    kwargs = dict(name=str(base_dir), source=url, build_commands=BUILD)

    predicted = releases.built(test=True, **kwargs)
    assert predicted.result is None
    assert predicted.changes == {"built": {"old": None, "new": "(new release)"}}
    assert predicted.comment == f"{base_dir}: would have built a new release"
    assert not base_dir.exists()

    ret = releases.built(**kwargs)
    assert ret.result is True, ret.comment
    (release,) = _releases(modules, base_dir)
    assert ret.changes == {"built": {"old": None, "new": release}}
    assert ret.comment == f"{base_dir}: built release {release}, ready for the switch"
    assert _current(modules, base_dir) is None  # not switched
    assert not os.path.lexists(base_dir / "current")
    assert (base_dir / "releases" / release / "src" / "built").read_text() == "ok"
    assert _call_app(base_dir, release) == "200 OK hello, version 1"

    # deployed's own arguments are accepted (one list for both states) and ignored
    for test in (False, True):
        again = releases.built(test=test, migrate_commands=COUNT_MIGRATIONS, keep=1, user=None,
                                              post_deploy_commands=["false"], **kwargs)
        assert again.result is True, again.comment
        assert again.changes == {}
        assert again.comment == f"Release {release} is built, ready for the switch"
    assert _releases(modules, base_dir) == [release]

    # the switch reuses the built release: nothing is built again
    switched = releases.deployed(**kwargs)
    assert switched.result is True, switched.comment
    assert switched.changes == {"release": {"old": None, "new": release}}
    assert _current(modules, base_dir) == release
    assert _releases(modules, base_dir) == [release]
    assert _call_app(base_dir) == "200 OK hello, version 1"

    after = releases.built(**kwargs)
    assert (after.result, after.changes) == (True, {})
    assert after.comment == f"Release {release} is current and up to date"


def test_built_failure_is_reported_and_leaves_nothing(releases, modules, source, base_dir):
    _, url = source
    ret = releases.built(name=str(base_dir), source=url, python=str(base_dir / "no-python"))
    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment.startswith("Build failed, current release (none) left in place: ")
    assert f"python '{base_dir}/no-python': no such interpreter on this host" in ret.comment
    assert not base_dir.exists()  # refused before anything was made
    assert _current(modules, base_dir) is None


def test_migrated_runs_the_built_releases_migrations_once(releases, modules, source, base_dir, migrations_log):
    _, url = source
    log, env = migrations_log
    kwargs = dict(name=str(base_dir), source=url, migrate_commands=COUNT_MIGRATIONS, env=env)
    assert releases.built(**kwargs).result is True
    (release,) = _releases(modules, base_dir)

    predicted = releases.migrated(test=True, **kwargs)
    assert predicted.result is None
    assert predicted.changes == {"migrated": {"old": None, "new": release}}
    assert predicted.comment == f"{base_dir}: would run the migrations of release {release}"
    assert _runs(log) == 0
    assert modules.webstack_release.migrated(str(base_dir), release) is False

    # a failed migration is reported, leaves no mark, and runs again the next time
    failing = ["python -c \"import sys; print('relation does not exist'); sys.exit(4)\""]
    ret = releases.migrated(**{**kwargs, "migrate_commands": failing})
    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment.startswith(f"Migrations of release {release} failed: ")
    assert "exited 4" in ret.comment and "relation does not exist" in ret.comment
    assert modules.webstack_release.migrated(str(base_dir), release) is False

    ret = releases.migrated(**kwargs)
    assert ret.result is True, ret.comment
    assert ret.changes == {"migrated": {"old": None, "new": release}}
    assert ret.comment == f"{base_dir}: ran the migrations of release {release}"
    assert _runs(log) == 1
    assert modules.webstack_release.migrated(str(base_dir), release) is True
    assert (base_dir / "releases" / release / "MIGRATED").is_file()
    assert _current(modules, base_dir) is None  # migrating does not switch

    for test in (False, True):
        again = releases.migrated(test=test, **kwargs)
        assert again.result is True, again.comment
        assert again.changes == {}
        assert again.comment == f"The migrations of release {release} have run"
    assert _runs(log) == 1

    # the switch does not run them a second time, and neither does a later run
    switched = releases.deployed(**kwargs)
    assert switched.result is True, switched.comment
    assert switched.changes == {"release": {"old": None, "new": release}}
    assert releases.migrated(**kwargs).changes == {}
    assert _runs(log) == 1


def test_migrated_without_a_built_release(releases, source, base_dir, migrations_log, testmode):
    _, url = source
    log, env = migrations_log
    ret = releases.migrated(name=str(base_dir), source=url, migrate_commands=COUNT_MIGRATIONS,
                                           env=env, test=testmode)
    assert ret.result is (None if testmode else False)
    assert ret.changes == {}
    assert ret.comment == f"{base_dir}: no built release of this source yet (the build step runs first)"
    assert _runs(log) == 0
    assert not base_dir.exists()


def test_migrated_of_a_pinned_release_does_nothing(releases, base_dir, migrations_log, testmode):
    log, env = migrations_log
    ret = releases.migrated(name=str(base_dir), source="salt://no-such-project",
                                           migrate_commands=COUNT_MIGRATIONS, env=env, release="0123abcd",
                                           test=testmode)
    assert (ret.result, ret.changes) == (True, {})
    assert ret.comment == "Release 0123abcd is pinned: no migration runs"
    assert _runs(log) == 0


def test_deployed_pinned_release_switches_back_without_building_or_migrating(
        releases, modules, source, base_dir, migrations_log):
    directory, url = source
    log, env = migrations_log
    kwargs = dict(name=str(base_dir), migrate_commands=COUNT_MIGRATIONS, env=env)
    # version 1 built on this node but migrated elsewhere (orch.deploy migrates on one node)
    assert releases.built(source=url, **kwargs).result is True
    (first,) = _releases(modules, base_dir)
    _write_app(directory, 2)
    assert releases.deployed(source=url, **kwargs).result is True
    second = _current(modules, base_dir)
    assert _runs(log) == 1  # version 2's migrations
    assert modules.webstack_release.previous(str(base_dir)) is None  # first was never current here
    assert modules.webstack_release.find(str(base_dir), first[-8:]) == first

    # the rollback: the source is not looked at, nothing is built, no migration runs
    pinned = dict(source="salt://no-such-project", release=first[-8:], **kwargs)
    predicted = releases.deployed(test=True, **pinned)
    assert predicted.result is None
    assert predicted.changes == {"release": {"old": second, "new": first}}
    assert predicted.comment == f"{base_dir}: would have switched to the finished release {first}"
    assert _current(modules, base_dir) == second

    back = releases.deployed(**pinned)
    assert back.result is True, back.comment
    assert back.changes == {"release": {"old": second, "new": first}}
    assert back.comment == f"{base_dir}: switched to the finished release {first}, current is {first}"
    assert _current(modules, base_dir) == first
    assert _call_app(base_dir) == "200 OK hello, version 1"
    assert _releases(modules, base_dir) == [first, second]
    assert _runs(log) == 1
    assert modules.webstack_release.migrated(str(base_dir), first) is False

    for test in (False, True):
        again = releases.deployed(test=test, **pinned)
        assert again.result is True, again.comment
        assert again.changes == {}
        assert again.comment == f"Release {first} is current and up to date"

    # a full id pins too (forward again)
    forward = releases.deployed(**{**pinned, "release": second})
    assert forward.changes == {"release": {"old": first, "new": second}}
    assert _call_app(base_dir) == "200 OK hello, version 2"
    assert _runs(log) == 1


def test_deployed_unknown_pin_fails_listing_the_releases(releases, modules, base_dir, testmode):
    ret = releases.deployed(name=str(base_dir), source="salt://no-such-project",
                                           release="0123abcd", test=testmode)
    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment == f"Cannot resolve release 0123abcd: no finished release matches 0123abcd under {base_dir} " \
                          "(have: none)"
    bad = releases.deployed(name=str(base_dir), source="salt://no-such-project", release="latest",
                                           test=testmode)
    assert bad.result is False
    assert "Cannot resolve release latest: release 'latest': expected a release id" in bad.comment
    assert not base_dir.exists()


def _meta(base_dir, release):
    return json.loads((base_dir / "releases" / release / "release.json").read_text())


def test_a_release_with_the_same_requirements_starts_from_a_copy_of_the_last_virtualenv(
        releases, modules, source, base_dir):
    """A code change copies the virtualenv of the release before it (the same
    requirements, the same interpreter): its scripts and its prefix name the new
    release's virtualenv, and it still runs once the release it came from is gone. A
    change of the requirements file builds a new one."""
    directory, url = source
    kwargs = dict(name=str(base_dir), source=url, build_commands=BUILD)
    assert releases.deployed(**kwargs).result is True
    first = _current(modules, base_dir)
    assert _meta(base_dir, first)["venv_from"] is None

    _write_app(directory, 2)
    assert releases.deployed(**kwargs).result is True
    second = _current(modules, base_dir)
    assert _meta(base_dir, second)["venv_from"] == first
    assert _meta(base_dir, second)["venv_key"] == _meta(base_dir, first)["venv_key"]
    venv = base_dir / "releases" / second / "venv"
    old = str(base_dir / "releases" / first / "venv")
    for script in (venv / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            assert old not in script.read_text(errors="replace"), script
    # pip's launcher names the new interpreter: on its #! line, or, for a path longer than
    # a #! line takes (a deep test directory), on the exec line of its /bin/sh trampoline
    launcher = (venv / "bin" / "pip").read_text().splitlines()[:3]
    assert launcher[0].startswith(f"#!{venv}/bin/python") or (
        launcher[0] == "#!/bin/sh" and f"exec' {venv}/bin/python" in launcher[1]), launcher
    # the first release gone, the copy works on its own
    subprocess.run(["rm", "-rf", str(base_dir / "releases" / first)], check=True)
    prefix = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert prefix == str(venv)
    pip = subprocess.run([str(venv / "bin" / "pip"), "--version"], capture_output=True, text=True, check=True)
    assert str(venv) in pip.stdout, pip.stdout
    assert _call_app(base_dir) == "200 OK hello, version 2"

    (directory / "requirements.txt").write_text("# nothing yet\n")
    assert releases.deployed(**kwargs).result is True
    third = _current(modules, base_dir)
    assert third != second
    assert _meta(base_dir, third)["venv_from"] is None
    assert _meta(base_dir, third)["venv_key"] != _meta(base_dir, second)["venv_key"]


# ---------------------------------------------------------------- who builds, who owns

def _tree(root):
    """(path, uid, mode) of every entry under ``root``, symlinks not followed."""
    found = []
    for where, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(where, name)
            st = os.lstat(path)
            found.append((path, st.st_uid, st.st_mode))
    return found


def test_the_build_runs_as_the_build_user_and_the_release_is_roots_once_built(
        releases, modules, source, base_dir, migrations_log, accounts):
    """The build's commands run as the build user (its uid in the release), its migrations as
    the app's user; what a build leaves running is stopped before the release is taken back
    (a background writer never writes), a FIFO is gone, a symlink to a host file changes
    nothing of that file; once built, every entry is root's and nobody else may write one:
    the app's user cannot change its code."""
    _, url = source
    log, env = migrations_log
    shadow = os.stat("/etc/shadow")
    build = ["python -c \"import os; open('build-uid', 'w').write(str(os.getuid()))\"",
             "sh -c '(sleep 60; echo late > late) >/dev/null 2>&1 &'",
             "mkfifo a-fifo",
             "ln -s /etc/shadow shadow-link",
             "chmod 4777 build-uid"]
    migrate = ["python -c \"import os; open(os.environ['MIGRATIONS_LOG'], 'a').write(str(os.getuid()))\""]
    ret = releases.deployed(name=str(base_dir), source=url, build_commands=build, migrate_commands=migrate,
                            env=env)
    assert ret.result is True, ret.comment
    src = base_dir / "current" / "src"
    assert (src / "build-uid").read_text() == str(accounts[BUILD_USER].pw_uid)
    assert log.read_text() == str(accounts[APP_USER].pw_uid)
    assert modules.webstack_release.info(str(base_dir), _current(modules, base_dir))["built_by"] == BUILD_USER
    assert not (src / "a-fifo").exists()
    assert os.readlink(src / "shadow-link") == "/etc/shadow"
    after = os.stat("/etc/shadow")
    assert (after.st_uid, after.st_gid, after.st_mode) == (shadow.st_uid, shadow.st_gid, shadow.st_mode)
    # the writer it left in the background is gone (a zombie waiting for its parent runs nothing),
    # and could no longer write there
    states = subprocess.run(["ps", "-u", BUILD_USER, "-o", "stat="], capture_output=True, text=True, check=False)
    assert [state for state in states.stdout.split() if not state.startswith("Z")] == []
    assert not (src / "late").exists()
    release = base_dir / "releases" / _current(modules, base_dir)
    entries = _tree(release)
    assert len(entries) > 20
    assert [path for path, uid, _ in entries if uid != 0] == []
    assert [path for path, _, mode in entries if not stat.S_ISLNK(mode) and mode & 0o7022] == []
    assert stat.S_IMODE(os.stat(src / "build-uid").st_mode) == 0o755  # its setuid bit gone
    for target in (src / "hello.py", release / "venv" / "bin" / "python", release / "static"):
        denied = subprocess.run(["runuser", "-u", APP_USER, "--", "sh", "-c", f"echo x >> {target}/x 2>/dev/null "
                                 f"|| echo x >> {target}"], capture_output=True, check=False)
        assert denied.returncode != 0, target
    assert "x" not in (src / "hello.py").read_text().splitlines()[-1:]


@pytest.mark.parametrize("user, why", [(None, "build_user: expected the user that runs the project's code "
                                                "(never root), got none"),
                                       ("root", "build_user: 'root' is root; the project's code never runs as root"),
                                       ("no-such-builder", "build_user: no user 'no-such-builder' on this host")])
def test_a_build_as_root_or_as_nobody_known_is_refused_before_anything_is_made(releases, source, base_dir, user,
                                                                              why):
    _, url = source
    ret = releases.deployed(name=str(base_dir), source=url, build_user=user)
    assert ret.result is False
    assert why in ret.comment
    assert not base_dir.exists()


def test_what_a_build_leaves_in_its_virtualenv_never_makes_root_write_outside_the_release(
        releases, modules, source, base_dir, reachable):
    """A build plants a symlink where the next build's copy of its virtualenv writes a script
    (``activate.webstack-tmp``, pointing at a file of root's). The next build with the same
    requirements copies that virtualenv as the build user: the file stays as it was, and the
    build goes on with a virtualenv of its own."""
    directory, url = source
    target = os.path.join(reachable, "roots-file")
    with open(target, "w", encoding="utf-8") as fh:
        fh.write("untouched\n")
    os.chmod(target, 0o644)
    plant = [f"ln -s {target} ../venv/bin/activate.webstack-tmp"]
    assert releases.deployed(name=str(base_dir), source=url, build_commands=plant).result is True
    first = _current(modules, base_dir)
    assert os.readlink(base_dir / "releases" / first / "venv" / "bin" / "activate.webstack-tmp") == target
    _write_app(directory, 2)
    ret = releases.deployed(name=str(base_dir), source=url, build_commands=plant)
    assert ret.result is True, ret.comment
    with open(target, encoding="utf-8") as fh:
        assert fh.read() == "untouched\n"
    assert os.stat(target).st_uid == 0
    assert _call_app(base_dir) == "200 OK hello, version 2"
