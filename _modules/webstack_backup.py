"""
The app's backups: its PostgreSQL database through pgBackRest (every WAL segment
archived as PostgreSQL writes it, full and differential backups on a schedule, an
encrypted repository) and its uploads through restic (a snapshot with each backup, in an
encrypted repository beside it), what they hold (:py:func:`status`) and a restore to a
point in time (:py:func:`restore`): the latest state, a time, or a named backup, the
uploads to the snapshot nearest before it.

With ``backup:offsite``, both have a second repository in an S3-compatible bucket
(``source="offsite"``): pgBackRest's repo2, which PostgreSQL archives every WAL segment
to as to repo1 and which each backup is taken in too, and a restic repository that each
snapshot is copied to. A restore reads either.

pgBackRest runs as PostgreSQL's user with the formula's configuration file
(``pgbackrest_conf``: it holds the passphrase, so it is root's and readable by
PostgreSQL's group only); restic runs as root (it reads the uploads of every user and
restores their owners) with its password in a root-only file. Nothing of the app's code
runs here.
"""

import contextlib
import datetime
import json
import os
import re
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_backup"

# a backup's label: a full one, or a differential or incremental one after its full one
_LABEL_RE = re.compile(r"[0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?")
KINDS = ("full", "diff", "incr")
# a time as a restore's target: ISO 8601, date and time, seconds optional, a zone optional
_TIME_RE = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ]"
                      r"(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)"
                      r"\s?(?P<zone>Z|UTC|[+-][0-9]{2}(?::?[0-9]{2})?)?")
# pgBackRest's info: the stanza's status codes that mean it is not there (yet)
_NO_STANZA = (1, 3)
# the repositories: the server's own (backup:path) and the off-site copy (backup:offsite)
SOURCES = ("local", "offsite")
# pgBackRest's number of each
_REPO = {"local": 1, "offsite": 2}
# restic's exit code for a repository that does not exist
_RESTIC_NO_REPOSITORY = 10


def __virtual__():
    return __virtualname__


def _config():
    return __salt__["webstack_config.get"]()


def _enabled():
    """The configuration, where backups are on (else an error that says how to turn them on)."""
    config = _config()
    if not config["backup"]["enabled"]:
        raise CommandExecutionError("backups are off on this server (webstack:backup:enabled is false); "
                                    "nothing was changed")
    return config


def _runuser(argv, timeout=3600, check=True):
    """``argv`` as PostgreSQL's user; output not logged (a command line holds no secret,
    but pgBackRest's output names paths). Raises with the command's last words on failure."""
    res = __salt__["cmd.run_all"](["runuser", "-u", "postgres", "--", *argv], python_shell=False,
                                  ignore_retcode=True, timeout=timeout, output_loglevel="quiet")
    if check and res["retcode"] != 0:
        raise CommandExecutionError(f"{argv[0]} {' '.join(a for a in argv[1:] if not a.startswith('--'))} "
                                    f"failed (exit {res['retcode']}): "
                                    f"{(res['stderr'] or res['stdout']).strip()[-1500:]}")
    return res


def _sources(config):
    """The repositories this server has: the local one, and the off-site copy where it is on."""
    return SOURCES if config["backup"]["offsite"] else SOURCES[:1]


def _pgbackrest(config, args, timeout=3600, check=True, source=None):
    """pgBackRest as PostgreSQL's user; ``source``: on that repository only."""
    b = config["backup"]
    repo = [f"--repo={_REPO[source]}"] if source else []
    return _runuser(["pgbackrest", f"--config={config['pgbackrest_conf']}", f"--stanza={b['stanza']}",
                     "--log-level-console=warn", *repo, *args], timeout=timeout, check=check)


def restic_invocation(config, source="local"):
    """restic's global options and environment for the uploads' repository ``source``: its
    password from its root-only file; the off-site one's address, the S3 options, and the
    access key from its root-only file (never in a process's arguments), with the local
    repository as the one that ``copy`` and ``init`` read from."""
    b = config["backup"]
    env = {"RESTIC_REPOSITORY": b["files_repo"], "RESTIC_PASSWORD_FILE": b["password_file"],
           "RESTIC_CACHE_DIR": b["restic_cache"]}
    options = []
    if source == "offsite":
        keys = __utils__["webstack_envfile.read"](b["s3_env_file"])
        missing = [name for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not keys.get(name)]
        if missing:
            raise CommandExecutionError(f"{b['s3_env_file']} lacks {' and '.join(missing)} (a state.apply writes "
                                        "it from backup:s3_access_key and backup:s3_secret_key)")
        env.update(keys, RESTIC_REPOSITORY=b["offsite_files_repo"], RESTIC_FROM_REPOSITORY=b["files_repo"],
                   RESTIC_FROM_PASSWORD_FILE=b["password_file"])
        options = ["-o", f"s3.bucket-lookup={'path' if b['s3_uri_style'] == 'path' else 'dns'}",
                   "-o", f"s3.region={b['s3_region']}"]
        if b["s3_ca"]:
            options += ["--cacert", b["s3_ca_file"]]
    return options, env


def _restic(config, args, timeout=3600, check=True, source="local"):
    """restic on the uploads' repository ``source``, as root."""
    options, env = restic_invocation(config, source)
    res = __salt__["cmd.run_all"](["restic", "--quiet", *options, *args], python_shell=False, env=env,
                                  ignore_retcode=True, timeout=timeout, output_loglevel="quiet")
    if check and res["retcode"] != 0:
        where = " (the off-site copy)" if source == "offsite" else ""
        raise CommandExecutionError(f"restic {args[0]}{where} failed (exit {res['retcode']}): "
                                    f"{(res['stderr'] or res['stdout']).strip()[-1500:]}")
    return res


_FRACTION_RE = re.compile(r"(\.[0-9]{6})[0-9]+")


def _snapshots(config, source="local"):
    """The uploads' snapshots in ``source``, oldest first: ``[{"id", "time"}]``."""
    res = _restic(config, ["snapshots", "--json", "--tag", "webstack"], timeout=300, source=source)
    try:
        found = json.loads(res["stdout"] or "[]") or []
        snaps = [{"id": snap["id"], "time": datetime.datetime.fromisoformat(_FRACTION_RE.sub(r"\1", snap["time"]))}
                 for snap in found]
    except (ValueError, KeyError, TypeError) as exc:
        raise CommandExecutionError(f"restic snapshots answered what is not its JSON: {exc}") from exc
    return sorted(snaps, key=lambda snap: snap["time"])


def _snapshot_uploads(config):
    """A snapshot of the uploads now; its id."""
    _restic(config, ["backup", "--tag", "webstack", "--host", config["backup"]["stanza"], config["app"]["media_dir"]],
            timeout=6 * 3600)
    snaps = _snapshots(config)
    return snaps[-1]["id"] if snaps else None


def _copy_offsite(config):
    """The snapshots that the off-site repository lacks, copied there (each keeps its time)."""
    _restic(config, ["copy", "--tag", "webstack"], timeout=6 * 3600, source="offsite")


def _psql(config, sql, database="postgres", check=True):
    res = _runuser(["psql", "-X", "-A", "-t", "-p", str(config["postgres"]["port"]), "-d", database, "-c", sql],
                   timeout=60, check=check)
    return res["stdout"].strip() if res["retcode"] == 0 else None


def _utc(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)


def _iso(moment, timespec="seconds"):
    return moment.isoformat(timespec=timespec) if moment else None


def _info(config, source="local"):
    """The stanza in repository ``source`` as pgBackRest's ``info`` gives it: ``{"code",
    "message", "backups": [{"label", "kind", "start", "stop", "size"}], "wal": {"min",
    "max"}}``, oldest backup first."""
    res = _pgbackrest(config, ["--output=json", "info"], timeout=300, source=source)
    try:
        stanza = json.loads(res["stdout"])[0]
    except (ValueError, IndexError, KeyError) as exc:
        raise CommandExecutionError(f"pgbackrest info answered what is not its JSON: {exc}") from exc
    backups = [{"label": b["label"], "kind": b["type"], "start": _utc(b["timestamp"]["start"]),
                "stop": _utc(b["timestamp"]["stop"]), "size": (b.get("info") or {}).get("size")}
               for b in stanza.get("backup") or []]
    archive = (stanza.get("archive") or [{}])[-1]
    databases = sorted(stanza.get("db") or [], key=lambda db: db.get("id", 0))
    return {"code": stanza["status"]["code"], "message": stanza["status"]["message"], "backups": backups,
            "wal": {"min": archive.get("min"), "max": archive.get("max")},
            # the database the repository holds now (another one's after a server was rebuilt)
            "system_id": str(databases[-1]["system-id"]) if databases and "system-id" in databases[-1] else None}


def info():
    """
    The database's backups, oldest first, the WAL segments its repository holds, and the
    uploads' snapshots; the same of the off-site copy (``offsite``) where it is on.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.info
    """
    config = _enabled()
    found = _listing(config, "local")
    if config["backup"]["offsite"]:
        found["offsite"] = {key: value for key, value in _listing(config, "offsite").items()
                            if key in ("backups", "wal", "uploads")}
    return found


def _listing(config, source):
    """What repository ``source`` holds, its times as text: the stanza's info, with the
    uploads' snapshots (``uploads``)."""
    found = _info(config, source)
    found["backups"] = [dict(b, start=_iso(b["start"]), stop=_iso(b["stop"])) for b in found["backups"]]
    found["uploads"] = [dict(snap, time=_iso(snap["time"])) for snap in _snapshots(config, source)]
    return found


def stanza_present(test=False):
    """
    Make pgBackRest's stanza (the repository's record of this database) in each repository
    (the off-site one too, where it is on) that lacks it. Returns ``{"changed",
    "comment"}``. PostgreSQL must run, archiving to it.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.stanza_present
    """
    config = _config()
    stanza = config["backup"]["stanza"]
    missing = []
    live = None
    for source in _sources(config):
        found = _info(config, source)
        if found["code"] in _NO_STANZA:
            missing.append(source)
            continue
        if found["code"] not in (0, 2):  # 2: no valid backup yet
            raise CommandExecutionError(f"pgBackRest's stanza {stanza} ({source} repository): {found['message']} "
                                        f"(code {found['code']})")
        live = live or _psql(config, "SELECT system_identifier FROM pg_control_system()", check=False)
        if found["system_id"] and live and found["system_id"] != live:
            raise CommandExecutionError(
                f"the {source} repository holds the backups of another database (system id {found['system_id']}; "
                f"this server's is {live}): a server built anew, or a repository that two servers share? Nothing "
                f"was written to it. To bring that database here, restore it (webstack_backup.restore target=latest "
                f"confirm=True source={source}), then run this again; to keep this one, give this server a "
                "repository of its own (backup:path, backup:s3_path)")
    if not missing:
        return {"changed": False, "comment": f"pgBackRest's stanza {stanza} exists"}
    where = " and ".join(f"the {source} repository" for source in missing)
    if test:
        return {"changed": True, "comment": f"pgBackRest's stanza {stanza} would be created in {where}"}
    _pgbackrest(config, ["stanza-create"], timeout=600)  # in each repository that lacks it
    return {"changed": True, "comment": f"pgBackRest's stanza {stanza} was created in {where}"}


def files_repository_present(test=False):
    """
    Make the uploads' restic repository unless it exists, and its off-site copy where it
    is on (with the same chunking, so that a copy stores only what is new). Returns
    ``{"changed", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.files_repository_present
    """
    config = _config()
    b = config["backup"]
    done = []
    for source in _sources(config):
        repo = b["files_repo"] if source == "local" else b["offsite_files_repo"]
        found = _restic(config, ["cat", "config"], timeout=120, check=False, source=source)
        if found["retcode"] == 0:
            continue
        if source == "local" and os.path.exists(os.path.join(repo, "config")) or \
                source == "offsite" and found["retcode"] != _RESTIC_NO_REPOSITORY:
            raise CommandExecutionError(f"the uploads' repository {repo} exists or does not answer, and restic "
                                        f"cannot open it (exit {found['retcode']}: "
                                        f"{(found['stderr'] or found['stdout']).strip()[-500:]}); nothing was "
                                        "changed")
        if not test:  # the off-site one with the local one's chunking, so that a copy is deduplicated
            _restic(config, ["init"] if source == "local" else ["init", "--copy-chunker-params"], timeout=300,
                    source=source)
        done.append(repo)
    if not done:
        return {"changed": False, "comment": f"the uploads' repository {b['files_repo']} exists"
                + (f", and its off-site copy {b['offsite_files_repo']}" if b["offsite"] else "")}
    return {"changed": True, "comment": f"the uploads' repository {' and '.join(done)} "
                                        f"{'would be' if test else 'was'} created"}


def backup(kind="full"):
    """
    Take a backup now: a snapshot of the uploads, then the database's ``full``, ``diff``
    (what changed since the last full one) or ``incr`` (since the last backup) backup; a
    full one also forgets the snapshots older than the full backups kept. With
    ``backup:offsite``, the same in the off-site copy afterwards (the snapshots copied, the
    backup taken in repo2). cron runs it on ``backup:full_schedule`` and
    ``backup:diff_schedule``. Returns ``{"label", "snapshot", "kind", "seconds"}``, and
    ``offsite_label``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.backup
        salt-call webstack_backup.backup kind=diff
    """
    if kind not in KINDS:
        raise CommandExecutionError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    config = _enabled()
    start = time.monotonic()
    # the uploads first: the snapshot is older than the backup's end, so any time a restore
    # reaches has a snapshot at or before it
    snapshot = _snapshot_uploads(config)
    done = {"label": _backup_in(config, kind, "local"), "snapshot": snapshot, "kind": kind}
    try:  # after the local one, which an unreachable store does not stop
        if config["backup"]["offsite"]:
            done["offsite_label"] = _backup_offsite(config, kind)
    finally:
        _refresh_metrics(config)
    done["seconds"] = round(time.monotonic() - start, 1)
    return done


def _forget(config, source):
    """The snapshots as old as the full backups kept (pgBackRest expires its own)."""
    _restic(config, ["forget", "--tag", "webstack", "--keep-within", f"{config['backup']['keep_days']}d", "--prune"],
            timeout=6 * 3600, source=source)


def _backup_in(config, kind, source):
    """The database's backup of ``kind`` in repository ``source`` (pgBackRest makes a full
    one of the first), and after a full one the snapshots older than the backups kept
    forgotten there; the newest backup's label."""
    _pgbackrest(config, [f"--type={kind}", "backup"], timeout=6 * 3600, source=source)
    if kind == "full":
        _forget(config, source)
    backups = _info(config, source)["backups"]
    return backups[-1]["label"] if backups else None


def _backup_offsite(config, kind):
    """The off-site copy: the snapshots it lacks copied (each with its time, older than the
    backup below), then the database's backup of ``kind`` in repo2; the label."""
    _copy_offsite(config)
    return _backup_in(config, kind, "offsite")


def backup_present(test=False):
    """
    Take a full backup (with a snapshot of the uploads) unless the repository holds one,
    and a snapshot of the uploads unless their repository holds one, so that a restore
    works from the first run on; the same in the off-site copy where it is on. Returns
    ``{"changed", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.backup_present
    """
    config = _config()
    backups = _info(config)["backups"]
    snaps = _snapshots(config)
    offsite = config["backup"]["offsite"]
    offsite_backups = _info(config, "offsite")["backups"] if offsite else []
    offsite_snaps = _snapshots(config, "offsite") if offsite else []
    offsite_missing = offsite and not (offsite_backups and offsite_snaps)
    if backups and snaps and not offsite_missing:
        return {"changed": False, "comment": f"the repositories hold {len(backups)} backup(s), the newest "
                                             f"{backups[-1]['label']}, and {len(snaps)} snapshot(s) of the uploads"
                + (f"; the off-site copy {len(offsite_backups)} and {len(offsite_snaps)}" if offsite else "")}
    if test:
        return {"changed": True, "comment": "a first full backup would be taken" if not backups
                else "a first snapshot of the uploads would be taken" if not snaps
                else "a first full backup would be taken in the off-site copy"}
    if not backups:
        done = backup("full")
        return {"changed": True, "comment": f"a first full backup was taken: {done['label']} in {done['seconds']} s"}
    comments = []
    if not snaps:
        snapshot = _snapshot_uploads(config)
        comments.append(f"a first snapshot of the uploads was taken: {snapshot[:8]}")
    if offsite_missing:
        label = _backup_offsite(config, "full")
        comments.append(f"a first full backup was taken in the off-site copy: {label}")
    return {"changed": True, "comment": "; ".join(comments)}


# ---------------------------------------------------------------- status

def status():
    """
    Per data set (``postgres``, ``uploads``, and ``offsite`` for the off-site copy of
    both where it is on), the newest backup or snapshot and its age,
    the oldest point a restore reaches, the newest WAL segment archived and its age, and
    the problems: a backup older than its schedule allows (``backup:full_schedule``,
    ``backup:diff_schedule``), archiving that fails, no backup at all. Exits non-zero
    when there is a problem, so that a monitor can alert on it; writes the same figures
    for Prometheus's textfile collector (``backup:textfile_dir``), as a backup and a
    drill do.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.status
    """
    config = _enabled()
    found = _status(config)
    _write_metrics(config, found)
    if not found["ok"]:
        __context__["retcode"] = 1
    return found


def _status(config):
    b = config["backup"]
    now = datetime.datetime.now(datetime.UTC)
    problems = []
    found = _info(config)
    backups = found["backups"]
    newest = backups[-1] if backups else None
    allowed = __utils__["webstack_cron.allowed_age"]([b["full_schedule"], b["diff_schedule"]], now)
    if found["code"] not in (0, 2):
        problems.append(f"the repository: {found['message']}")
    problems += _stale("backup", newest and newest["label"], newest and newest["stop"], now, allowed)
    row = _psql(config, "SELECT coalesce(last_archived_wal, ''), coalesce(extract(epoch FROM last_archived_time)"
                        "::bigint::text, ''), coalesce(last_failed_wal, ''), coalesce(extract(epoch FROM "
                        "last_failed_time)::bigint::text, '') FROM pg_stat_archiver", check=False)
    wal = wal_at = failed = failed_at = None
    if row is None:
        problems.append("PostgreSQL does not answer: the archiving cannot be checked")
    else:
        wal, wal_epoch, failed, failed_epoch = (row.split("|") + ["", "", "", ""])[:4]
        wal_at = _utc(wal_epoch) if wal_epoch else None
        failed_at = _utc(failed_epoch) if failed_epoch else None
        if failed_at and (not wal_at or failed_at > wal_at):
            problems.append(f"archiving fails: WAL segment {failed} could not be archived at {_iso(failed_at)} "
                            "(PostgreSQL's log says why)")
    postgres = {
        "newest_backup": newest["label"] if newest else None,
        "newest_backup_end": _iso(newest["stop"]) if newest else None,
        "newest_backup_age_seconds": int((now - newest["stop"]).total_seconds()) if newest else None,
        "allowed_age_seconds": int(allowed.total_seconds()),
        "backups": len(backups),
        "restorable_from": _iso(backups[0]["stop"]) if backups else None,
        "newest_wal": wal or None,
        "newest_wal_at": _iso(wal_at),
        "newest_wal_age_seconds": int((now - wal_at).total_seconds()) if wal_at else None,
        "problems": problems,
        "ok": not problems,
    }
    uploads = _uploads_status(config, now, allowed)
    drill_found = _drill_status(config, now)
    found = {"postgres": postgres, "uploads": uploads, "drill": drill_found}
    if b["offsite"]:
        found["offsite"] = _offsite_status(config, now, allowed)
    found["ok"] = not any(part["problems"] for part in found.values())
    return found


def _offsite_status(config, now, allowed):
    """The off-site copy: its newest backup and snapshot, their ages, its problems (a
    store that does not answer, a copy older than the schedule allows)."""
    problems = []
    backups = []
    try:
        found = _info(config, "offsite")
        backups = found["backups"]
        if found["code"] not in (0, 2):
            problems.append(f"the database's repository: {found['message']}")
    except CommandExecutionError as exc:
        problems.append(f"the database's repository: {exc}")
    newest = backups[-1] if backups else None
    if not problems:
        problems += [f"the database: {problem}" for problem in
                     _stale("backup", newest and newest["label"], newest and newest["stop"], now, allowed)]
    uploads = _uploads_status(config, now, allowed, "offsite")
    return {
        "newest_backup": newest["label"] if newest else None,
        "newest_backup_end": _iso(newest["stop"]) if newest else None,
        "newest_backup_age_seconds": int((now - newest["stop"]).total_seconds()) if newest else None,
        "backups": len(backups),
        "restorable_from": _iso(backups[0]["stop"]) if backups else None,
        "newest_snapshot": uploads["newest_snapshot"],
        "newest_snapshot_at": uploads["newest_snapshot_at"],
        "newest_snapshot_age_seconds": uploads["newest_snapshot_age_seconds"],
        "snapshots": uploads["snapshots"],
        "problems": problems + [f"the uploads: {problem}" for problem in uploads["problems"]],
        "ok": not problems and not uploads["problems"],
    }


def _epoch(text):
    try:
        return int(datetime.datetime.fromisoformat(str(text)).timestamp())
    except ValueError:
        return None


def metrics_text(app, found):
    """The status as Prometheus's text format (node exporter's textfile collector), one
    gauge per figure, labelled with the app's name and the data set; a figure that is
    not known is left out."""
    label = f'app="{app}"'
    rows = [
        ("webstack_backup_ok", "1 when the backups' status has no problem.", [("", 1 if found["ok"] else 0)]),
        ("webstack_backup_newest_timestamp_seconds", "When the newest backup (snapshot) of a data set ended.",
         [('dataset="postgres"', _epoch(found["postgres"]["newest_backup_end"])),
          ('dataset="uploads"', _epoch(found["uploads"]["newest_snapshot_at"])),
          ('dataset="postgres_offsite"', _epoch((found.get("offsite") or {}).get("newest_backup_end"))),
          ('dataset="uploads_offsite"', _epoch((found.get("offsite") or {}).get("newest_snapshot_at")))]),
        ("webstack_backup_restorable_from_timestamp_seconds", "The oldest point a restore of the database reaches.",
         [("", _epoch(found["postgres"]["restorable_from"]))]),
        ("webstack_backup_wal_archived_timestamp_seconds", "When the newest WAL segment was archived.",
         [("", _epoch(found["postgres"]["newest_wal_at"]))]),
        ("webstack_backup_drill_timestamp_seconds", "When the last restore drill ran.",
         [("", _epoch(found["drill"]["last"]))]),
        ("webstack_backup_drill_ok", "1 when the last restore drill passed.",
         [("", None if found["drill"]["last_ok"] is None else 1 if found["drill"]["last_ok"] else 0)]),
        ("webstack_backup_drill_duration_seconds", "How long the last restore drill took.",
         [("", found["drill"]["last_seconds"])]),
    ]
    out = []
    for name, doc, values in rows:
        values = [(extra, v) for extra, v in values if v is not None]
        if values:
            out += [f"# HELP {name} {doc}", f"# TYPE {name} gauge"]
            out += [f"{name}{{{label}{',' + extra if extra else ''}}} {v}" for extra, v in values]
    return "\n".join(out) + "\n"


def _write_metrics(config, found):
    """The figures where the textfile collector reads them (backup:textfile_dir), written
    whole (a temporary file renamed over the last one)."""
    directory = config["backup"]["textfile_dir"]
    os.makedirs(directory, mode=0o755, exist_ok=True)
    path = os.path.join(directory, f"webstack_backup_{config['backup']['stanza']}.prom")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(metrics_text(config["backup"]["stanza"], found))
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)


def _refresh_metrics(config):
    """The figures written anew after a backup or a drill (a failure to do so fails neither)."""
    with contextlib.suppress(CommandExecutionError, OSError):
        _write_metrics(config, _status(config))


def _drill_status(config, now):
    """The last drill, its result and age: a problem when it failed, or is older than its
    schedule allows, or there was none."""
    record = _drill_record(config)
    allowed = __utils__["webstack_cron.allowed_age"]([config["backup"]["drill_schedule"]], now)
    problems = []
    at = None
    if not record:
        problems.append("no restore drill on record (webstack_backup.drill runs one)")
    else:
        try:
            at = datetime.datetime.fromisoformat(str(record.get("at")))
        except ValueError:
            at = None
        if not record.get("ok"):
            problems.append(f"the restore drill of {record.get('at')} failed: {_drill_problem(record)}")
        if at is None or now - at > allowed:
            problems.append(f"the last restore drill, of {record.get('at')}, is older than its schedule allows "
                            f"({_age(allowed)})")
    return {
        "last": record.get("at") if record else None,
        "last_ok": record.get("ok") if record else None,
        "last_seconds": record.get("seconds") if record else None,
        "age_seconds": int((now - at).total_seconds()) if at else None,
        **{dataset: (record or {}).get(dataset) for dataset in DRILL_SETS
           if dataset in ("postgres", "uploads") or (record or {}).get(dataset)},
        "problems": problems,
        "ok": not problems,
    }


def _uploads_status(config, now, allowed, source="local"):
    problems = []
    try:
        snaps = _snapshots(config, source)
    except CommandExecutionError as exc:
        snaps = []
        problems.append(f"the repository: {exc}")
    newest = snaps[-1] if snaps else None
    if not problems:
        problems += _stale("snapshot", newest and newest["id"][:8], newest and newest["time"], now, allowed)
    return {
        "newest_snapshot": newest["id"][:8] if newest else None,
        "newest_snapshot_at": _iso(newest["time"]) if newest else None,
        "newest_snapshot_age_seconds": int((now - newest["time"]).total_seconds()) if newest else None,
        "snapshots": len(snaps),
        "problems": problems,
        "ok": not problems,
    }


def _stale(what, name, at, now, allowed):
    """The problem of a data set whose newest ``what`` (a backup, a snapshot) is ``name``,
    taken at ``at``: none at all, or older than its schedule allows."""
    if not name:
        return [f"no {what} in the repository"]
    if now - at > allowed:
        return [f"the newest {what}, {name}, {'ended' if what == 'backup' else 'was taken'} {_age(now - at)} ago; "
                f"the schedule allows {_age(allowed)}"]
    return []


def _age(delta):
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds} s"


# ---------------------------------------------------------------- the drill

DRILL_RECORD = "drill.json"
# what a drill record may hold, by data set
DRILL_SETS = ("postgres", "uploads", "postgres_offsite", "uploads_offsite")


def _drill_record(config):
    path = os.path.join(config["backup"]["state_dir"], DRILL_RECORD)
    try:
        with open(path, encoding="utf-8") as fh:
            found = json.load(fh)
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _write_record(config, record):
    state_dir = config["backup"]["state_dir"]
    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    path = os.path.join(state_dir, DRILL_RECORD)
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _drill_postgres(config, scratch, source="local"):
    """The newest backup of repository ``source`` restored into ``scratch`` (WAL to its
    consistent end, archiving off), started there on a socket of its own, the check query
    run in the app's database, stopped. Returns the backup's label and the query's answer;
    raises with what failed."""
    b, pg = config["backup"], config["postgres"]
    backups = _info(config, source)["backups"]
    if not backups:
        raise CommandExecutionError("no backup in the repository")
    label = backups[-1]["label"]
    data = os.path.join(scratch, "data")
    _runuser(["mkdir", "-m", "0700", data], timeout=60)
    _pgbackrest(config, [f"--pg1-path={data}", f"--set={label}", "--type=immediate", "--target-action=promote",
                         "--archive-mode=off", "restore"], timeout=6 * 3600, source=source)
    # Debian keeps the server's config in /etc: the scratch instance gets its own, on a socket
    # in the scratch directory only (no TCP), that archives nothing
    conf = (f"listen_addresses = ''\nport = {pg['port']}\nunix_socket_directories = '{scratch}'\n"
            "archive_mode = off\nshared_buffers = 32MB\n")
    _runuser(["sh", "-c", 'printf "%s" "$1" > "$2/postgresql.conf" && printf "%s\n" "local all postgres peer" '
                          '> "$2/pg_hba.conf" && : > "$2/pg_ident.conf"', "sh", conf, data], timeout=60)
    pg_ctl = os.path.join(config["postgres_bin_dir"], "pg_ctl")
    log = os.path.join(scratch, "server.log")
    started = _runuser([pg_ctl, "-D", data, "-l", log, "-w", "-t", "600", "start"], timeout=900, check=False)
    if started["retcode"] != 0:
        try:
            with open(log, encoding="utf-8", errors="replace") as fh:
                tail = fh.read()[-1500:]
        except OSError:
            tail = started["stderr"] or started["stdout"]
        raise CommandExecutionError(f"the scratch instance did not start: {tail.strip()}")
    try:
        deadline = time.monotonic() + 600
        while True:
            res = _runuser(["psql", "-X", "-A", "-t", "-h", scratch, "-p", str(pg["port"]), "-d", "postgres", "-c",
                            "SELECT pg_is_in_recovery()"], timeout=60, check=False)
            if res["retcode"] == 0 and res["stdout"].strip() == "f":
                break
            if time.monotonic() > deadline:
                raise CommandExecutionError("the scratch instance did not leave recovery within 600 s")
            time.sleep(1)
        answer = _runuser(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", scratch, "-p", str(pg["port"]),
                           "-d", config["postgres"]["name"], "-c", b["drill_query"]], timeout=600)
    finally:
        _runuser([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], timeout=300, check=False)
    return label, answer["stdout"].strip()[:200]


def _drill_uploads(config, scratch, source="local"):
    """The structure of repository ``source`` checked and its newest snapshot restored into
    ``scratch``; the snapshot's id and how many files it held."""
    snaps = _snapshots(config, source)
    if not snaps:
        raise CommandExecutionError("no snapshot in the repository")
    _restic(config, ["check"], timeout=6 * 3600, source=source)
    _restic(config, ["restore", snaps[-1]["id"], "--target", scratch], timeout=6 * 3600, source=source)
    count = sum(len(files) for _, _, files in os.walk(scratch))
    return snaps[-1]["id"][:8], count


def drill():
    """
    The restore drill: the database's newest backup restored into a scratch instance that
    never touches the live one (its own directory, no TCP, archiving off), started,
    ``backup:drill_query`` run in the app's database there, stopped and removed; the
    uploads' repository checked and its newest snapshot restored into a scratch
    directory; the same from the off-site copy where it is on (``postgres_offsite``,
    ``uploads_offsite``). The result, with how long each took, is recorded for
    :py:func:`status` (a failed drill is a problem there) and returned; a failed drill
    exits non-zero. cron runs it on ``backup:drill_schedule``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.drill
    """
    config = _enabled()
    record = {"at": _iso(datetime.datetime.now(datetime.UTC))}
    start = time.monotonic()
    for dataset in _drill_sets(config):
        run = _drill_postgres if dataset.startswith("postgres") else _drill_uploads
        scratch = os.path.join(config["backup"]["drill_dir"], dataset)
        began = time.monotonic()
        __salt__["file.remove"](scratch)
        os.makedirs(scratch, mode=0o700)
        if run is _drill_postgres:  # PostgreSQL's own scratch directory; restic's is root's
            os.chown(scratch, *_postgres_ids())
        try:
            what, answer = run(config, scratch, "offsite" if dataset.endswith("_offsite") else "local")
            record[dataset] = {"ok": True, "from": what, "answer": answer}
        except (CommandExecutionError, OSError) as exc:
            record[dataset] = {"ok": False, "error": str(exc)[-1000:]}
        finally:
            __salt__["file.remove"](scratch)
        record[dataset]["seconds"] = round(time.monotonic() - began, 1)
    record["seconds"] = round(time.monotonic() - start, 1)
    record["ok"] = all(record[d]["ok"] for d in _drill_sets(config))
    _write_record(config, record)
    _refresh_metrics(config)
    if not record["ok"]:
        __context__["retcode"] = 1
    return record


def drill_present(test=False):
    """
    Run a first drill unless one is on record (so that the status has one from the first
    run on). Returns ``{"changed", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.drill_present
    """
    found = _drill_record(_config())
    if found:
        return {"changed": False, "comment": f"the last drill, at {found.get('at')}, "
                                             f"{'passed' if found.get('ok') else 'failed'}"}
    if test:
        return {"changed": True, "comment": "a first restore drill would run"}
    done = drill()
    if not done["ok"]:
        raise CommandExecutionError(f"the first restore drill failed: {_drill_problem(done)}")
    return {"changed": True, "comment": f"a first restore drill passed in {done['seconds']} s"}


def _drill_sets(config):
    """The data sets a drill restores: the database and the uploads, from each repository."""
    return [f"{dataset}{'' if source == 'local' else '_' + source}" for source in _sources(config)
            for dataset in ("postgres", "uploads")]


def _drill_problem(record):
    return "; ".join(f"{d}: {record[d].get('error')}" for d in DRILL_SETS
                     if isinstance(record.get(d), dict) and not record[d].get("ok"))


def _postgres_ids():
    import pwd  # pylint: disable=import-outside-toplevel

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


# ---------------------------------------------------------------- restore

def parse_target(target, now=None):
    """``("latest", None)``, ``("backup", label)`` or ``("time", aware datetime)`` for a
    restore's target; a time without a zone is UTC. Raises naming the forms otherwise."""
    text = str(target).strip()
    if text == "latest":
        return "latest", None
    if _LABEL_RE.fullmatch(text):
        return "backup", text
    match = _TIME_RE.fullmatch(text)
    if match:
        zone = match.group("zone") or "+00:00"
        zone = "+00:00" if zone in ("Z", "UTC") else zone
        if len(zone) == 3:
            zone += ":00"
        elif ":" not in zone:
            zone = zone[:3] + ":" + zone[3:]
        clock = match.group("time") + (":00" if match.group("time").count(":") == 1 else "")
        try:
            moment = datetime.datetime.fromisoformat(f"{match.group('date')}T{clock}{zone}")
        except ValueError:
            moment = None
        if moment:
            return "time", moment
    raise CommandExecutionError(
        f"target {text!r}: expected 'latest', a backup's label (such as 20261207-031500F) or a time "
        "(such as '2026-12-07 14:30:00+00:00'; UTC without a zone); nothing was changed")


def _check_target(kind, value, backups, now):
    if not backups:
        raise CommandExecutionError("the repository holds no backup to restore; nothing was changed")
    if kind == "backup" and value not in [b["label"] for b in backups]:
        raise CommandExecutionError(f"target {value}: no such backup in the repository (it holds "
                                    f"{', '.join(b['label'] for b in backups)}); nothing was changed")
    if kind == "time":
        if value > now:
            raise CommandExecutionError(f"target {_iso(value)}: a time in the future (it is {_iso(now)} now); "
                                        "nothing was changed")
        if value < backups[0]["stop"]:
            raise CommandExecutionError(f"target {_iso(value)}: before the oldest backup, which ended at "
                                        f"{_iso(backups[0]['stop'])}: the repository reaches back to then only; "
                                        "nothing was changed")


def _truthy(value):
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes", "1"))


class _Phases:
    """The restore's phases and how long each took."""

    def __init__(self):
        self.seconds = {}
        self.current = None
        self._start = None

    def begin(self, name):
        self.end()
        self.current, self._start = name, time.monotonic()

    def end(self):
        if self.current:
            self.seconds[self.current] = round(time.monotonic() - self._start, 1)
            self.current = None


def _manager(config):
    return "webstack_systemd" if config["process_manager"] == "systemd" else "webstack_supervisor"


def _running_programs(config):
    """The app's programs that run on this host now, in the order they go down."""
    manager = _manager(config)
    programs = config["app"]["programs"]
    running = []
    for kind in ("celerybeat", "celery", "rq", "gunicorn", "uwsgi"):
        found = __salt__[f"{manager}.status"](programs[kind]).get(programs[kind]) or {}
        if found.get("state") in ("RUNNING", "STARTING", "BACKOFF"):
            running.append(programs[kind])
    return running


def _service(config, action):
    res = __salt__["cmd.run_all"](["service", config["services"]["postgres"], action], python_shell=False,
                                  ignore_retcode=True, timeout=300)
    if res["retcode"] != 0:
        raise CommandExecutionError(f"service {config['services']['postgres']} {action} failed: "
                                    f"{(res['stderr'] or res['stdout']).strip()[-500:]}")


def _wait_primary(config, timeout=600):
    """Until PostgreSQL answers and has left recovery (the restore's target reached and
    promoted); the time of the last transaction it replayed."""
    deadline = time.monotonic() + timeout
    while True:
        answer = _psql(config, "SELECT pg_is_in_recovery()::text || '|' || coalesce(extract(epoch FROM "
                               "pg_last_xact_replay_timestamp())::text, '')", check=False)
        if answer and answer.split("|")[0] == "false":
            epoch = answer.split("|")[1]
            return datetime.datetime.fromtimestamp(float(epoch), datetime.UTC) if epoch else None
        if time.monotonic() > deadline:
            raise CommandExecutionError(f"PostgreSQL did not come out of recovery within {timeout} s "
                                        f"(its log: /var/log/postgresql/)")
        time.sleep(1)


def _pgbackrest_time(moment):
    """A time as pgBackRest takes a target: YYYY-MM-DD HH:MM:SS.mmm+00 (UTC; to the
    millisecond, cut, so that nothing after the target is replayed)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "+00"


def _archive_now(config, source="local", timeout=120):
    """What PostgreSQL has written so far, archived: a commit of its own, a switch to a new
    WAL segment, then a wait until no finished segment waits for the archiver (no
    ``.ready`` file in ``pg_wal/archive_status``), else a restore could not reach the
    last commits. A restore from the off-site copy waits for that copy alone (its segment
    there), as the local repository may be the one lost. Nothing to do where PostgreSQL
    does not run: its archive is what there is."""
    # a transaction that commits now: recovery to a time stops at the first commit after it,
    # and fails where the archive ends before one
    if _psql(config, "SELECT txid_current()", check=False) is None:
        return False
    segment = _psql(config, "SELECT pg_walfile_name(pg_switch_wal())")
    status = os.path.join(config["postgres_data_dir"], "pg_wal", "archive_status")
    deadline = time.monotonic() + timeout
    while True:
        waiting = sorted(name[:-len(".ready")] for name in os.listdir(status) if name.endswith(".ready"))
        if not waiting:
            return True
        if source != "local" and (_info(config, source)["wal"]["max"] or "") >= segment:
            return True
        if time.monotonic() > deadline:
            raise CommandExecutionError(f"WAL segment {waiting[0]} was not archived within {timeout} s "
                                        "(PostgreSQL's log says why)")
        time.sleep(0.5)


def _flag(path, on):
    if on:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "w", encoding="ascii") as fh:
            fh.write(f"restore {_iso(datetime.datetime.now(datetime.UTC))}\n")
    elif os.path.lexists(path):
        os.unlink(path)


def restore(target="latest", confirm=False, source="local"):
    """
    Restore the database to ``target``: ``latest`` (every archived commit), a time
    (``'2026-12-07 14:30:00+00:00'``; UTC without a zone) or a backup's label (the state
    at its end). Refused, before anything changes, without ``confirm=True``, for a time
    in the future or before the oldest backup, or a label the repository lacks.

    The site goes into maintenance first (the front server answers 503 with a short
    page; the workers and the WSGI server stop, so nothing writes meanwhile); the WAL
    written so far is archived; PostgreSQL stops, its data directory is kept aside
    (``<data dir>.before-restore-<time>``: a mistaken restore loses nothing), the backup
    is restored and replayed to the target, the uploads are restored from the snapshot
    nearest before the target (the current ones kept aside as
    ``media.before-restore-<time>``), PostgreSQL starts, the programs start, the app's
    health check passes, and the site comes back. If a step fails, the data directory and
    the uploads that were aside are put back. Returns the point restored to, the snapshot,
    what was kept aside and each phase's seconds.

    ``source``: ``local`` (the server's repositories, ``backup:path``) or ``offsite`` (the
    off-site copy, ``backup:offsite``: when the local ones are lost or damaged).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_backup.restore target='2026-12-07 14:30:00' confirm=True
        salt-call webstack_backup.restore target=latest confirm=True
        salt-call webstack_backup.restore target=latest confirm=True source=offsite
    """
    if source not in SOURCES:
        raise CommandExecutionError(f"source {source!r}: expected {' or '.join(SOURCES)}; nothing was changed")
    kind, value = parse_target(target)
    if not _truthy(confirm):
        raise CommandExecutionError(
            "a restore replaces the database with the backup's state (what was written since the target is not "
            "in it; the current data directory is kept aside): run it again with confirm=True; "
            "nothing was changed")
    config = _enabled()
    if source not in _sources(config):
        raise CommandExecutionError("source offsite: this server has no off-site copy (backup:offsite is false); "
                                    "nothing was changed")
    now = datetime.datetime.now(datetime.UTC)
    backups = _info(config, source)["backups"]
    _check_target(kind, value, backups, now)
    snapshot = _snapshot_for(kind, value, backups, _snapshots(config, source))
    data_dir = config["postgres_data_dir"].rstrip("/")
    aside = f"{data_dir}.before-restore-{_stamp(now)}"
    if os.path.lexists(aside):
        raise CommandExecutionError(f"{aside} exists already; nothing was changed")
    flag = config["app"]["maintenance_flag"]
    manager = _manager(config)
    phases = _Phases()
    total = time.monotonic()
    stopped, moved, restored_to, uploads_aside = [], False, None, None
    try:
        phases.begin("maintenance")
        _flag(flag, True)
        for program in _running_programs(config):
            __salt__[f"{manager}.stop"](program)
            stopped.append(program)
        phases.begin("archive_wal")
        _archive_now(config, source)
        phases.begin("stop_database")
        _service(config, "stop")
        phases.begin("restore")
        os.rename(data_dir, aside)
        moved = True
        os.mkdir(data_dir, 0o700)
        st = os.stat(aside)
        os.chown(data_dir, st.st_uid, st.st_gid)
        args = []  # latest: to the end of the archive
        if kind == "time":
            args = ["--type=time", f"--target={_pgbackrest_time(value)}", "--target-action=promote"]
        elif kind == "backup":
            args = [f"--set={value}", "--type=immediate", "--target-action=promote"]
        _pgbackrest(config, args + ["restore"], timeout=6 * 3600, source=source)
        phases.begin("restore_uploads")
        uploads_aside = _restore_uploads(config, snapshot, now, source)
        phases.begin("recover")
        _service(config, "start")
        # the last commit replayed, else (none after the backup) the end of the backup restored
        restored_to = _wait_primary(config) or _backup_for(kind, value, backups)["stop"]
    except Exception as exc:  # put back what was there, then say what failed
        failed = phases.current
        phases.end()
        _put_back(config, data_dir, aside, moved, now)
        _put_back_uploads(config, now)
        _restart(config, manager, stopped, flag)
        raise CommandExecutionError(f"the restore failed in its {failed} phase, and the database is as it was "
                                    f"before: {exc}") from exc
    phases.begin("start")
    _restart(config, manager, stopped, flag, check=True)
    phases.end()
    return {
        "source": source,
        "target": "latest" if kind == "latest" else value if kind == "backup" else _iso(value, "milliseconds"),
        # the commit time of the last transaction replayed (or the backup's end)
        "restored_to": _iso(restored_to, "milliseconds"),
        "kept_aside": aside,
        "uploads_snapshot": snapshot["id"][:8] if snapshot else None,
        "uploads_snapshot_at": _iso(snapshot["time"]) if snapshot else None,
        "uploads_kept_aside": uploads_aside,
        "phases": phases.seconds,
        "seconds": round(time.monotonic() - total, 1),
    }


def _backup_for(kind, value, backups):
    """The backup a restore starts from, as pgBackRest picks it: the one named, the newest
    that ended at or before the target time, or the newest."""
    if kind == "backup":
        return next(b for b in backups if b["label"] == value)
    return [b for b in backups if kind != "time" or b["stop"] <= value][-1]


def _snapshot_for(kind, value, backups, snaps):
    """The uploads' snapshot that goes with the target: the newest one at or before it
    (the target time, the backup's end, or now for the latest state)."""
    if not snaps:
        raise CommandExecutionError("the uploads' repository holds no snapshot to restore; nothing was changed")
    until = value if kind == "time" else next(b["stop"] for b in backups if b["label"] == value) \
        if kind == "backup" else None
    found = [snap for snap in snaps if until is None or snap["time"] <= until]
    if not found:
        raise CommandExecutionError(f"no snapshot of the uploads at or before {_iso(until)} (the oldest is of "
                                    f"{_iso(snaps[0]['time'])}); nothing was changed")
    return found[-1]


def _stamp(now):
    return now.strftime("%Y%m%dT%H%M%SZ")


def _restore_uploads(config, snapshot, now, source="local"):
    """The uploads as the snapshot holds them, in place of the current ones (kept aside
    beside them as ``media.before-restore-<time>``); where the aside copy went."""
    media = config["app"]["media_dir"].rstrip("/")
    shared = os.path.dirname(media)
    scratch = os.path.join(shared, f".restore-{_stamp(now)}")
    os.mkdir(scratch, 0o700)
    _restic(config, ["restore", snapshot["id"], "--target", scratch], timeout=6 * 3600, source=source)
    restored = scratch + media
    if not os.path.isdir(restored):
        raise CommandExecutionError(f"the snapshot {snapshot['id'][:8]} holds no {media}")
    aside = f"{media}.before-restore-{_stamp(now)}"
    if os.path.lexists(media):
        os.rename(media, aside)
    os.rename(restored, media)
    __salt__["file.remove"](scratch)
    return aside


def _put_back_uploads(config, now):
    """The uploads that were kept aside back in their place (a failed restore)."""
    media = config["app"]["media_dir"].rstrip("/")
    aside = f"{media}.before-restore-{_stamp(now)}"
    scratch = os.path.join(os.path.dirname(media), f".restore-{_stamp(now)}")
    if os.path.lexists(aside):
        if os.path.lexists(media):
            os.rename(media, f"{media}.failed-restore-{_stamp(now)}")
        os.rename(aside, media)
    if os.path.lexists(scratch):
        __salt__["file.remove"](scratch)


def _put_back(config, data_dir, aside, moved, now):
    """The data directory that was kept aside back in its place (the failed one aside)."""
    _service_quiet(config, "stop")
    if moved:
        if os.path.lexists(data_dir):
            os.rename(data_dir, f"{data_dir}.failed-restore-{_stamp(now)}")
        os.rename(aside, data_dir)
    _service_quiet(config, "start")


def _service_quiet(config, action):
    with contextlib.suppress(CommandExecutionError):
        _service(config, action)


def _restart(config, manager, stopped, flag, check=False):
    """The stopped programs started again, the app's health checked, maintenance off (with
    ``check``: a failing health check leaves the site in maintenance and says so)."""
    for program in reversed(stopped):
        __salt__[f"{manager}.start"](program)
    if check:
        health = dict(config["wsgi_check"])
        try:
            __salt__["webstack_health.require"](config["app"]["health_path"], retries=30, **health)
        except CommandExecutionError as exc:
            raise CommandExecutionError(f"the database was restored, but the app's health check fails, so the "
                                        f"site stays in maintenance ({flag}; remove it to serve anyway): {exc}") \
                from exc
    _flag(flag, False)
