"""
webstack_backup: what it makes of pgBackRest's and PostgreSQL's answers, what a restore
refuses before anything changes, the order of a restore's steps and what it puts back
when one fails, with Salt's ``cmd.run_all`` as a fake pgBackRest, PostgreSQL and init
script. A real one: tests/integration/test_backup.py.
"""

import contextlib
import datetime
import json
import os
import shutil
import threading

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.config import UTILS
from tests.support.loader import load as _load

backup = _load("modules", "webstack_backup")
backup_state = _load("states", "webstack_backup")

UTC = datetime.UTC


def _read(path):
    with open(path, encoding="ascii") as fh:
        return fh.read()
NOW = datetime.datetime.now(UTC)
FULL = {"label": "20261201-031500F", "type": "full",
        "timestamp": {"start": int((NOW - datetime.timedelta(days=6)).timestamp()),
                      "stop": int((NOW - datetime.timedelta(days=6)).timestamp()) + 60}}
DIFF = {"label": "20261201-031500F_20261206-031500D", "type": "diff",
        "timestamp": {"start": int((NOW - datetime.timedelta(hours=10)).timestamp()),
                      "stop": int((NOW - datetime.timedelta(hours=10)).timestamp()) + 20}}


class FakeHost:
    """pgBackRest's info and commands, PostgreSQL's answers (psql) and its init script."""

    def __init__(self, data_dir, media_dir, backups=(FULL, DIFF), code=0):
        self.data_dir, self.media_dir = data_dir, media_dir
        # the uploads' snapshots: one just before each backup ended
        self.snapshots = [{"id": f"{n:02d}" + "ab" * 31, "time": (datetime.datetime.fromtimestamp(
            b["timestamp"]["stop"], UTC) - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.123456789+00:00")}
            for n, b in enumerate(backups)]
        self.backups, self.code = [dict(b) for b in backups], code
        self.calls = []
        self.running = True
        self.fail = set()  # verbs that fail: "restore", "start"...
        self.archived_at = NOW - datetime.timedelta(seconds=30)
        self.failed_at = None
        self.replayed = NOW - datetime.timedelta(minutes=5)
        self.scratch_running = False
        self.system_id = 7716640222832135987  # the repository's database, and the live one's
        self.live_system_id = self.system_id

    def __call__(self, cmd, **kwargs):
        assert kwargs["python_shell"] is False
        self.calls.append(list(cmd))
        if cmd[0] == "restic":
            assert kwargs["env"]["RESTIC_PASSWORD_FILE"] == "/etc/webstack/backup/restic-password"
            offsite = kwargs["env"]["RESTIC_REPOSITORY"].startswith("s3:")
            rest = cmd[2:]
            while rest[0].startswith("-"):  # restic's global options, and their values
                rest = rest[2:]
            verb = rest[0]
            cmd = ["restic", "--quiet", *rest]  # for the checks below, as the local repository's
            self.calls[-1] = ["restic", "offsite" if offsite else "--quiet", *rest]
            if offsite and "offsite" in self.fail:
                return {"retcode": 1, "stdout": "", "stderr": "Fatal: unable to open repository: connection refused"}
            if f"restic-{verb}" in self.fail:
                return {"retcode": 1, "stdout": "", "stderr": f"Fatal: {verb} went wrong"}
            if verb == "snapshots":
                return {"retcode": 0, "stdout": json.dumps(self.snapshots), "stderr": ""}
            if verb == "restore":
                target = cmd[cmd.index("--target") + 1]
                os.makedirs(target + self.media_dir)
                with open(target + self.media_dir + "/upload.png", "w", encoding="ascii") as fh:
                    fh.write(f"from snapshot {cmd[3][:2]}\n")
            return {"retcode": 0, "stdout": "", "stderr": ""}
        if cmd[0] == "service":
            action = cmd[2]
            if action in self.fail:
                return {"retcode": 1, "stdout": "", "stderr": f"{action} failed"}
            self.running = action == "start"
            return {"retcode": 0, "stdout": "", "stderr": ""}
        assert cmd[:4] == ["runuser", "-u", "postgres", "--"], cmd
        prog, args = cmd[4], cmd[5:]
        if prog == "mkdir":
            os.mkdir(args[-1])
            return {"retcode": 0, "stdout": "", "stderr": ""}
        if prog == "sh":
            return {"retcode": 0, "stdout": "", "stderr": ""}
        if prog.endswith("/pg_ctl"):
            self.scratch_running = args[-1] == "start"
            return {"retcode": 0, "stdout": "server started\n", "stderr": ""}
        if prog == "psql" and "-h" in args:
            sql = args[-1]
            if "pg_is_in_recovery" in sql:
                return {"retcode": 0, "stdout": "f\n", "stderr": ""}
            if "drill_query" in self.fail:
                return {"retcode": 1, "stdout": "", "stderr": 'ERROR:  relation "django_migrations" does not exist'}
            return {"retcode": 0, "stdout": "42\n", "stderr": ""}
        if prog == "pgbackrest":
            assert args[0].startswith("--config=") and args[1] == "--stanza=webapp"
            verb = args[-1]
            if verb in self.fail or "--repo=2" in args and "offsite" in self.fail:
                return {"retcode": 56, "stdout": "", "stderr": f"ERROR: [056]: {verb} went wrong"}
            if verb == "info":
                message = {0: "ok", 1: "missing stanza path", 2: "no valid backups"}[self.code]
                out = [{"name": "webapp", "status": {"code": self.code, "message": message}, "backup": self.backups,
                        "archive": [{"min": "000000010000000000000001", "max": "000000010000000000000009"}],
                        "db": [{"id": 1, "repo-key": 1, "system-id": self.system_id, "version": "17"}]}]
                return {"retcode": 0, "stdout": json.dumps(out), "stderr": ""}
            if verb == "restore":
                with open(os.path.join(self.data_dir, "PG_VERSION"), "w", encoding="ascii") as fh:
                    fh.write("17\n")
            return {"retcode": 0, "stdout": "", "stderr": ""}
        assert prog == "psql"
        sql = args[-1]
        if not self.running:
            return {"retcode": 2, "stdout": "", "stderr": "could not connect to server"}
        if "pg_stat_archiver" in sql and "last_archived_wal, ''), coalesce(extract" in sql:
            failed = str(int(self.failed_at.timestamp())) if self.failed_at else ""
            return {"retcode": 0, "stdout": f"000000010000000000000009|{int(self.archived_at.timestamp())}|"
                                            f"{'00000001000000000000000A' if failed else ''}|{failed}\n"}
        if "pg_switch_wal" in sql:
            # the segment it closes waits for the archiver, which takes it a moment later
            status = os.path.join(self.data_dir, "pg_wal", "archive_status")
            os.makedirs(status, exist_ok=True)
            ready = os.path.join(status, "000000010000000000000009.ready")
            open(ready, "w").close()
            self.archiving = threading.Timer(0.3, self._archived, (ready,))
            self.archiving.start()
            return {"retcode": 0, "stdout": "000000010000000000000009\n", "stderr": ""}
        if "pg_control_system" in sql:
            return {"retcode": 0, "stdout": f"{self.live_system_id}\n", "stderr": ""}
        if sql == "SELECT txid_current()":
            return {"retcode": 0, "stdout": "1234\n", "stderr": ""}
        if "pg_is_in_recovery" in sql:
            return {"retcode": 0, "stdout": f"false|{self.replayed.timestamp() if self.replayed else ''}\n",
                    "stderr": ""}
        raise AssertionError(sql)

    @staticmethod
    def _archived(ready):
        with contextlib.suppress(FileNotFoundError):  # the data directory moved meanwhile
            os.rename(ready, ready[:-len(".ready")] + ".done")

    def verbs(self):
        return [c[-1] if c[0] == "runuser" and c[4] == "pgbackrest" else " ".join(c[:3])
                for c in self.calls if c[0] in ("service", "restic") or c[4] == "pgbackrest"]

    def repos(self):
        """Each pgBackRest command with its repository, restic's with its own."""
        return [f"{c[-1]} {next((a for a in c if a.startswith('--repo=')), '')}".strip()
                if c[0] == "runuser" else f"restic {c[2]} {'offsite' if c[1] == 'offsite' else 'local'}"
                for c in self.calls if c[0] == "restic" or c[0] == "runuser" and c[4] == "pgbackrest"]


class Programs:
    def __init__(self, running):
        self.running = set(running)
        self.log = []

    def status(self, name):
        return {name: {"state": "RUNNING", "pid": 1}} if name in self.running else {}

    def stop(self, name):
        self.log.append(("stop", name))
        self.running.discard(name)

    def start(self, name):
        self.log.append(("start", name))
        self.running.add(name)


@pytest.fixture
def host(tmp_path):
    data = tmp_path / "17" / "main"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("17\n")
    (data / "marker").write_text("the live data\n")
    media = tmp_path / "shared" / "media"
    media.mkdir(parents=True)
    (media / "upload.png").write_text("the live upload\n")
    return FakeHost(str(data), str(media))


def _config(tmp_path, data_dir, enabled=True):
    return {
        "backup": {"enabled": enabled, "stanza": "webapp", "full_schedule": "15 3 * * 0",
                   "diff_schedule": "15 3 * * 1-6", "files_repo": "/var/backups/webstack/files",
                   "password_file": "/etc/webstack/backup/restic-password", "restic_cache": "/var/cache/restic",
                   "drill_schedule": "45 4 * * 6", "drill_query": "SELECT count(*) FROM django_migrations",
                   "drill_dir": str(tmp_path / "drill"), "state_dir": str(tmp_path / "state"),
                   "textfile_dir": str(tmp_path / "textfile"), "keep_days": 15, "offsite": False,
                   "offsite_files_repo": "s3:https://s3.example.org/backups/webstack/files",
                   "s3_env_file": str(tmp_path / "s3.env"), "s3_ca_file": "/etc/webstack/backup-s3-ca.crt",
                   "s3_ca": "", "s3_uri_style": "host", "s3_region": "eu-west-1"},
        "postgres_bin_dir": "/usr/lib/postgresql/17/bin",
        "pgbackrest_conf": "/etc/pgbackrest.conf",
        "postgres": {"port": 5432, "name": "webapp"},
        "postgres_data_dir": data_dir,
        "services": {"postgres": "postgresql"},
        "process_manager": "supervisord",
        "app": {"programs": {k: f"webapp-{k}" for k in ("gunicorn", "uwsgi", "celery", "celerybeat", "rq")},
                "media_dir": str(tmp_path / "shared" / "media"),
                "maintenance_flag": str(tmp_path / "maintenance" / "webapp"), "health_path": "/healthz"},
        "wsgi_check": {"unix_socket": "/srv/webapp/run/gunicorn.sock", "protocol": "http"},
    }


@pytest.fixture
def programs():
    return Programs({"webapp-gunicorn", "webapp-celery", "webapp-celerybeat"})


class Health:
    """webstack_health.require: passes, or (``failing``) raises as it does."""

    def __init__(self):
        self.failing = False
        self.calls = []

    def __call__(self, path, **kwargs):
        self.calls.append((path, kwargs))
        if self.failing:
            raise CommandExecutionError("health check GET /healthz failed")
        return {"ok": True}


@pytest.fixture
def health():
    return Health()


@pytest.fixture(autouse=True)
def _postgres_is_me(monkeypatch):
    monkeypatch.setattr(backup, "_postgres_ids", lambda: (os.getuid(), os.getgid()))


@pytest.fixture
def configure_loader_modules(host, tmp_path, programs, health):
    config = _config(tmp_path, host.data_dir)
    funcs = {"cmd.run_all": host, "webstack_config.get": lambda: config,
             "webstack_supervisor.status": programs.status, "webstack_supervisor.stop": programs.stop,
             "webstack_supervisor.start": programs.start, "webstack_health.require": health,
             "file.remove": lambda path: shutil.rmtree(path, ignore_errors=True)}
    return {backup: {"__salt__": funcs, "__utils__": dict(UTILS), "__context__": {}},
            backup_state: {"__salt__": {"webstack_backup.stanza_present": backup.stanza_present,
                                        "webstack_backup.backup_present": backup.backup_present},
                           "__opts__": {"test": False}}}


# ---------------------------------------------------------------- targets

@pytest.mark.parametrize("text, kind, value", [
    ("latest", "latest", None),
    ("20261201-031500F", "backup", "20261201-031500F"),
    ("20261201-031500F_20261206-031500D", "backup", "20261201-031500F_20261206-031500D"),
    ("2026-12-07 14:30:00", "time", datetime.datetime(2026, 12, 7, 14, 30, tzinfo=UTC)),
    ("2026-12-07T14:30", "time", datetime.datetime(2026, 12, 7, 14, 30, tzinfo=UTC)),
    ("2026-12-07 14:30:00.250+01:00", "time", datetime.datetime(2026, 12, 7, 13, 30, 0, 250000, tzinfo=UTC)),
    ("2026-12-07 14:30:00Z", "time", datetime.datetime(2026, 12, 7, 14, 30, tzinfo=UTC)),
    ("2026-12-07 14:30:00 UTC", "time", datetime.datetime(2026, 12, 7, 14, 30, tzinfo=UTC)),
    ("2026-12-07 14:30:00-0500", "time", datetime.datetime(2026, 12, 7, 19, 30, tzinfo=UTC)),
])
def test_a_target_is_the_latest_state_a_backup_or_a_time(text, kind, value):
    assert backup.parse_target(text) == (kind, value)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01 00:00:00", "2026-12-07", "20261201-031500",
                                  "2026-12-07 14:30:00; rm -rf /", "2026-12-07 25:00:00", "now"])
def test_any_other_target_is_refused_naming_the_forms(text):
    with pytest.raises(CommandExecutionError, match="expected 'latest', a backup's label"):
        backup.parse_target(text)


# ---------------------------------------------------------------- refusals

def _untouched(host, programs, tmp_path):
    assert [c for c in host.calls if c[0] == "service" or c[4:5] == ["pgbackrest"] and c[-1] != "info"
            or c[0] == "restic" and c[2] != "snapshots"] == []
    assert programs.log == []
    assert _read(os.path.join(host.data_dir, "marker")) == "the live data\n"
    assert not (tmp_path / "maintenance" / "webapp").exists()


@pytest.mark.parametrize("target, confirm, message", [
    ("latest", False, "run it again with confirm=True; nothing was changed"),
    ("latest", "no", "run it again with confirm=True"),
    (datetime.timedelta(hours=1), True, "a time in the future"),
    (datetime.timedelta(days=-30), True, "before the oldest backup, which ended at"),
    ("20261130-031500F", True, "no such backup in the repository (it holds 20261201-031500F, "),
], ids=["no-confirm", "confirm-no", "future", "before-the-oldest", "unknown-label"])
def test_a_restore_is_refused_before_anything_changes(host, programs, tmp_path, target, confirm, message):
    if isinstance(target, datetime.timedelta):
        target = (NOW + target).isoformat()
    with pytest.raises(CommandExecutionError) as exc:
        backup.restore(target, confirm=confirm)
    assert message in str(exc.value)
    _untouched(host, programs, tmp_path)


def test_a_restore_of_an_empty_repository_is_refused(host, programs, tmp_path):
    host.backups = []
    with pytest.raises(CommandExecutionError, match="holds no backup to restore; nothing was changed"):
        backup.restore("latest", confirm=True)
    _untouched(host, programs, tmp_path)


# ---------------------------------------------------------------- a restore

def test_a_restore_to_a_time_in_order(host, programs, health, tmp_path):
    target = (NOW - datetime.timedelta(minutes=3)).replace(microsecond=0)
    flag_seen = []
    real_stop = programs.stop

    def stop(name):
        flag_seen.append((tmp_path / "maintenance" / "webapp").exists())
        real_stop(name)

    programs.stop = stop
    backup.__salt__["webstack_supervisor.stop"] = stop
    done = backup.restore(target.isoformat(), confirm="True")
    # maintenance first, the writers down (beat, the worker, then the WSGI server), up again in reverse
    assert flag_seen and all(flag_seen)
    assert programs.log == [("stop", "webapp-celerybeat"), ("stop", "webapp-celery"), ("stop", "webapp-gunicorn"),
                            ("start", "webapp-gunicorn"), ("start", "webapp-celery"), ("start", "webapp-celerybeat")]
    assert host.verbs() == ["info", "restic --quiet snapshots", "service postgresql stop", "restore",
                            "restic --quiet restore", "service postgresql start"]
    # the uploads from the newest snapshot before the target (the one before the diff backup)
    assert _read(os.path.join(host.media_dir, "upload.png")) == "from snapshot 01\n"
    assert _read(done["uploads_kept_aside"] + "/upload.png") == "the live upload\n"
    assert done["uploads_snapshot"] == host.snapshots[1]["id"][:8]
    assert not [p for p in os.listdir(tmp_path / "shared") if p.startswith(".restore-")]
    restore = [c for c in host.calls if c[-1] == "restore"][0]
    assert "--type=time" in restore and f"--target={target.strftime('%Y-%m-%d %H:%M:%S')}.000+00" in restore
    assert "--target-action=promote" in restore
    # the live data kept aside, the restored one in place
    assert done["kept_aside"].startswith(host.data_dir + ".before-restore-")
    assert _read(os.path.join(done["kept_aside"], "marker")) == "the live data\n"
    assert not os.path.exists(os.path.join(host.data_dir, "marker"))
    assert oct(os.stat(host.data_dir).st_mode & 0o777) == "0o700"
    assert not (tmp_path / "maintenance" / "webapp").exists()
    assert health.calls and health.calls[0][0] == "/healthz"
    assert done["target"] == target.isoformat(timespec="milliseconds")
    assert done["restored_to"] == host.replayed.isoformat(timespec="milliseconds")
    assert set(done["phases"]) == {"maintenance", "archive_wal", "stop_database", "restore", "restore_uploads",
                                     "recover", "start"}


def test_a_restore_archives_the_current_wal_before_it_stops_the_database(host, programs, health):
    stopped_with = []
    real = host.__call__

    def watch(cmd, **kwargs):
        if cmd[:3] == ["service", "postgresql", "stop"]:
            stopped_with.append(sorted(os.listdir(os.path.join(host.data_dir, "pg_wal", "archive_status"))))
        return real(cmd, **kwargs)

    backup.__salt__["cmd.run_all"] = watch
    backup.restore("latest", confirm=True)
    steps = [c[-1] if c[0] == "runuser" else " ".join(c) for c in host.calls]
    # a commit after the target, then the switch, before PostgreSQL stops
    assert steps.index("SELECT txid_current()") < steps.index("SELECT pg_walfile_name(pg_switch_wal())") < \
        steps.index("service postgresql stop")
    # the segment the switch closed was archived before PostgreSQL stopped
    assert stopped_with == [["000000010000000000000009.done"]]
    restore = [c for c in host.calls if c[-1] == "restore"][0]
    assert not [a for a in restore if a.startswith(("--type", "--target"))]  # the end of the archive


def test_a_restore_to_a_backup_stops_at_its_end(host, programs, health):
    host.replayed = None  # no commit after the backup: it reached the backup's end
    done = backup.restore(DIFF["label"], confirm=True)
    assert done["restored_to"] == datetime.datetime.fromtimestamp(DIFF["timestamp"]["stop"], UTC).isoformat(
        timespec="milliseconds")
    restore = [c for c in host.calls if c[-1] == "restore"][0]
    assert f"--set={DIFF['label']}" in restore and "--type=immediate" in restore


def test_a_failed_restore_puts_the_data_directory_back_and_the_site_up(host, programs, health, tmp_path):
    host.fail.add("restore")
    with pytest.raises(CommandExecutionError) as exc:
        backup.restore("latest", confirm=True)
    assert "the restore failed in its restore phase, and the database is as it was before" in str(exc.value)
    assert "went wrong" in str(exc.value)
    assert _read(os.path.join(host.data_dir, "marker")) == "the live data\n"
    failed = [p for p in os.listdir(os.path.dirname(host.data_dir)) if ".failed-restore-" in p]
    assert len(failed) == 1 and not [p for p in os.listdir(os.path.dirname(host.data_dir)) if ".before-" in p]
    assert host.running
    assert programs.running == {"webapp-gunicorn", "webapp-celery", "webapp-celerybeat"}
    assert not (tmp_path / "maintenance" / "webapp").exists()


def test_a_restore_to_a_backup_takes_the_snapshot_before_its_end(host, programs, health):
    done = backup.restore(FULL["label"], confirm=True)
    assert done["uploads_snapshot"] == host.snapshots[0]["id"][:8]
    assert _read(os.path.join(host.media_dir, "upload.png")) == "from snapshot 00\n"


def test_a_failed_uploads_restore_puts_both_back(host, programs, health, tmp_path):
    real = host.__call__

    def failing_restic(cmd, **kwargs):
        if cmd[0] == "restic" and cmd[2] == "restore":
            return {"retcode": 1, "stdout": "", "stderr": "Fatal: the repository is damaged"}
        return real(cmd, **kwargs)

    backup.__salt__["cmd.run_all"] = failing_restic
    with pytest.raises(CommandExecutionError) as exc:
        backup.restore("latest", confirm=True)
    assert "in its restore_uploads phase" in str(exc.value) and "the repository is damaged" in str(exc.value)
    assert _read(os.path.join(host.data_dir, "marker")) == "the live data\n"
    assert _read(os.path.join(host.media_dir, "upload.png")) == "the live upload\n"
    assert not [p for p in os.listdir(tmp_path / "shared") if p != "media"]
    assert not (tmp_path / "maintenance" / "webapp").exists()


def test_a_restore_without_a_snapshot_before_the_target_is_refused(host, programs, tmp_path):
    host.snapshots = host.snapshots[1:]  # none before the full backup's end
    with pytest.raises(CommandExecutionError, match="no snapshot of the uploads at or before"):
        backup.restore(FULL["label"], confirm=True)
    _untouched(host, programs, tmp_path)


def test_a_restored_app_that_fails_its_health_check_stays_in_maintenance(host, programs, health, tmp_path):
    health.failing = True
    with pytest.raises(CommandExecutionError, match="the site stays in maintenance"):
        backup.restore("latest", confirm=True)
    assert (tmp_path / "maintenance" / "webapp").exists()


# ---------------------------------------------------------------- status

def test_the_status_of_a_repository_on_schedule(host, tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "drill.json").write_text(json.dumps({"at": NOW.isoformat(timespec="seconds"), "ok": True}))
    found = backup.status()
    assert found["ok"] is True and backup.__context__.get("retcode") in (None, 0)
    pg = found["postgres"]
    assert pg["newest_backup"] == DIFF["label"] and pg["backups"] == 2
    assert pg["allowed_age_seconds"] == 26 * 3600
    assert pg["newest_wal"] == "000000010000000000000009" and 25 <= pg["newest_wal_age_seconds"] <= 60
    assert pg["restorable_from"] == backup._iso(datetime.datetime.fromtimestamp(FULL["timestamp"]["stop"], UTC))


def test_a_stale_backup_and_failing_archiving_are_problems_and_a_non_zero_exit(host):
    host.backups = [FULL]
    host.failed_at = NOW
    found = backup.status()
    assert found["ok"] is False and backup.__context__["retcode"] == 1
    problems = found["postgres"]["problems"]
    assert problems[0].startswith("the newest backup, 20261201-031500F, ended 6.0 days ago; the schedule allows")
    assert problems[1].startswith("archiving fails: WAL segment 00000001000000000000000A could not be archived")


def test_no_backup_at_all_is_a_problem(host):
    host.backups, host.code, host.snapshots = [], 2, []
    found = backup.status()
    assert found["postgres"]["problems"] == ["no backup in the repository"]
    assert found["uploads"]["problems"] == ["no snapshot in the repository"]


def test_the_uploads_status(host):
    found = backup.status()["uploads"]
    assert found["snapshots"] == 2 and found["newest_snapshot"] == host.snapshots[1]["id"][:8]
    assert found["ok"] is True
    host.snapshots = host.snapshots[:1]
    found = backup.status()
    assert found["ok"] is False and found["uploads"]["problems"][0].startswith(
        f"the newest snapshot, {host.snapshots[0]['id'][:8]}, was taken 6.0 days ago")


# ---------------------------------------------------------------- states

def test_the_stanza_is_made_once(host):
    host.code = 1
    ret = backup_state.stanza_present("webapp")
    assert ret["result"] is True and ret["changes"] == {"stanza": {"old": None, "new": "webapp"}}
    assert [c[-1] for c in host.calls if c[-1] == "stanza-create"] == ["stanza-create"]
    host.code = 2
    ret = backup_state.stanza_present("webapp")
    assert ret["result"] is True and ret["changes"] == {} and "exists" in ret["comment"]


def test_test_mode_predicts_the_first_backup_and_takes_none(host):
    host.backups, host.snapshots = [], []
    backup_state.__opts__["test"] = True
    try:
        ret = backup_state.backup_present("webapp")
    finally:
        backup_state.__opts__["test"] = False
    assert ret["result"] is None and ret["changes"] == {"backup": {"old": None, "new": "webapp"}}
    assert not [c for c in host.calls if c[-1] == "backup"]
    ret = backup_state.backup_present("webapp")
    assert ret["result"] is True and ret["changes"] and [c for c in host.calls if c[-1] == "backup"]


# ---------------------------------------------------------------- the drill

def test_a_drill_restores_both_into_scratch_and_records_it(host, tmp_path):
    done = backup.drill()
    assert done["ok"] is True and done["postgres"]["from"] == DIFF["label"] and done["postgres"]["answer"] == "42"
    assert done["uploads"] == {"ok": True, "from": host.snapshots[-1]["id"][:8], "answer": 1,
                               "seconds": done["uploads"]["seconds"]}
    restore = [c for c in host.calls if c[-1] == "restore" and c[0] == "runuser"][0]
    # into the scratch directory, archiving off: the live data directory is not touched
    assert f"--pg1-path={tmp_path}/drill/postgres/data" in restore and "--archive-mode=off" in restore
    assert _read(os.path.join(host.data_dir, "marker")) == "the live data\n"
    assert not host.scratch_running and os.listdir(tmp_path / "drill") == []
    verbs = [c[2] for c in host.calls if c[0] == "restic"]
    assert verbs.index("check") < verbs.index("restore")
    assert json.loads(_read(str(tmp_path / "state" / "drill.json")))["ok"] is True
    status = backup.status()["drill"]
    assert status["ok"] is True and status["last_ok"] is True


def test_a_drill_against_a_damaged_repository_fails_and_the_status_says_which_and_why(host, tmp_path):
    host.fail.add("restore")  # pgBackRest finds a file of the backup damaged
    done = backup.drill()
    assert done["ok"] is False and backup.__context__["retcode"] == 1
    assert done["postgres"]["ok"] is False and "restore went wrong" in done["postgres"]["error"]
    assert done["uploads"]["ok"] is True
    status = backup.status()
    assert status["ok"] is False
    assert status["drill"]["problems"] == [f"the restore drill of {done['at']} failed: postgres: "
                                           f"{done['postgres']['error']}"]
    assert not host.scratch_running and os.listdir(tmp_path / "drill") == []


def test_a_drill_whose_check_query_fails_fails(host):
    host.fail.add("drill_query")
    done = backup.drill()
    assert done["ok"] is False and 'relation "django_migrations" does not exist' in done["postgres"]["error"]
    assert not host.scratch_running


def test_no_drill_on_record_or_an_old_one_is_a_problem(host, tmp_path):
    assert backup.status()["drill"]["problems"] == ["no restore drill on record (webstack_backup.drill runs one)"]
    (tmp_path / "state").mkdir()
    old = (NOW - datetime.timedelta(days=9)).isoformat(timespec="seconds")
    (tmp_path / "state" / "drill.json").write_text(json.dumps({"at": old, "ok": True}))
    assert backup.status()["drill"]["problems"] == [
        f"the last restore drill, of {old}, is older than its schedule allows (7.1 days)"]


# ---------------------------------------------------------------- backups and their figures

def test_a_full_backup_snapshots_first_forgets_old_snapshots_and_writes_the_figures(host, tmp_path):
    done = backup.backup("full")
    restic = [c[2:] for c in host.calls if c[0] == "restic"]
    assert restic[0][0] == "backup" and restic[0][-1] == str(tmp_path / "shared" / "media")
    # the snapshot first, then the database's backup, then the snapshots past the retention
    snapshot = next(i for i, c in enumerate(host.calls) if c[0] == "restic" and c[2] == "backup")
    pg = next(i for i, c in enumerate(host.calls) if c[4:5] == ["pgbackrest"] and c[-1] == "backup")
    forget = next(i for i, c in enumerate(host.calls) if c[0] == "restic" and c[2] == "forget")
    assert snapshot < pg < forget and "--type=full" in host.calls[pg]
    assert ["forget", "--tag", "webstack", "--keep-within", "15d", "--prune"] in restic
    assert done["label"] == DIFF["label"] and done["kind"] == "full"
    text = _read(str(tmp_path / "textfile" / "webstack_backup_webapp.prom"))
    assert f'webstack_backup_newest_timestamp_seconds{{app="webapp",dataset="postgres"}} ' \
           f'{DIFF["timestamp"]["stop"]}' in text
    assert 'webstack_backup_ok{app="webapp"} 0' in text  # no drill on record yet
    assert "# TYPE webstack_backup_drill_ok gauge" not in text


def test_a_differential_backup_forgets_nothing(host):
    backup.backup("diff")
    assert not [c for c in host.calls if c[0] == "restic" and c[2] == "forget"]


def test_the_figures_of_a_status_with_a_passed_drill(host, tmp_path):
    backup.drill()
    backup.status()
    text = _read(str(tmp_path / "textfile" / "webstack_backup_webapp.prom"))
    assert 'webstack_backup_ok{app="webapp"} 1' in text and 'webstack_backup_drill_ok{app="webapp"} 1' in text
    for name in ("newest_timestamp_seconds", "restorable_from_timestamp_seconds", "wal_archived_timestamp_seconds",
                 "drill_timestamp_seconds", "drill_duration_seconds"):
        assert f"# TYPE webstack_backup_{name} gauge" in text
    assert oct(os.stat(tmp_path / "textfile" / "webstack_backup_webapp.prom").st_mode & 0o777) == "0o644"


def test_a_backup_of_an_unknown_kind_is_refused(host):
    with pytest.raises(CommandExecutionError, match="kind 'weekly': expected one of full, diff, incr"):
        backup.backup("weekly")
    assert host.calls == []


@pytest.mark.parametrize("call", [lambda: backup.backup("full"), backup.info, backup.status, backup.drill,
                                  lambda: backup.restore("latest", confirm=True)],
                         ids=["backup", "info", "status", "drill", "restore"])
def test_where_backups_are_off_every_function_says_so_and_runs_nothing(host, call):
    backup.__salt__["webstack_config.get"]()["backup"]["enabled"] = False
    with pytest.raises(CommandExecutionError, match=r"backups are off on this server \(webstack:backup:enabled is "
                                                    r"false\); nothing was changed"):
        call()
    assert host.calls == []


# ---------------------------------------------------------------- the off-site copy

@pytest.fixture
def offsite(tmp_path):
    """The off-site copy turned on, its key in its root-only file."""
    config = backup.__salt__["webstack_config.get"]()
    config["backup"]["offsite"] = True
    (tmp_path / "s3.env").write_text("AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=abc/def+ghi\n"
                                     "AWS_DEFAULT_REGION=eu-west-1\n")
    return config


def test_restic_reaches_the_off_site_copy_with_its_key_in_the_environment_never_in_its_arguments(offsite):
    options, env = backup.restic_invocation(offsite, "offsite")
    assert env["RESTIC_REPOSITORY"] == "s3:https://s3.example.org/backups/webstack/files"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE" and env["AWS_SECRET_ACCESS_KEY"] == "abc/def+ghi"
    assert env["RESTIC_FROM_REPOSITORY"] == "/var/backups/webstack/files"  # what `copy` reads
    assert options == ["-o", "s3.bucket-lookup=dns", "-o", "s3.region=eu-west-1"]
    offsite["backup"].update(s3_uri_style="path", s3_ca="-----BEGIN CERTIFICATE-----")
    options, _ = backup.restic_invocation(offsite, "offsite")
    assert options == ["-o", "s3.bucket-lookup=path", "-o", "s3.region=eu-west-1",
                       "--cacert", "/etc/webstack/backup-s3-ca.crt"]
    assert "abc/def+ghi" not in " ".join(options)
    # the local repository: none of it
    options, env = backup.restic_invocation(offsite, "local")
    assert options == [] and "AWS_SECRET_ACCESS_KEY" not in env


def test_without_its_key_file_the_off_site_copy_is_not_reached_and_the_error_names_the_file(offsite, tmp_path):
    (tmp_path / "s3.env").unlink()
    with pytest.raises(CommandExecutionError, match="s3.env lacks AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        backup.restic_invocation(offsite, "offsite")


def test_a_backup_is_taken_locally_first_then_copied_off_site(host, offsite):
    done = backup.backup("full")
    assert done["offsite_label"] == DIFF["label"]
    taken = host.repos()
    assert taken.index("restic backup local") < taken.index("backup --repo=1") < taken.index("restic copy offsite") \
        < taken.index("backup --repo=2"), taken
    assert "restic forget local" in taken and "restic forget offsite" in taken


def test_an_unreachable_store_fails_the_backup_after_the_local_one_is_taken(host, offsite):
    host.fail.add("offsite")
    with pytest.raises(CommandExecutionError, match="restic copy [(]the off-site copy[)] failed"):
        backup.backup("diff")
    assert "backup --repo=1" in host.repos()
    found = backup.status()
    assert found["ok"] is False and found["postgres"]["ok"] is True
    assert found["offsite"]["problems"][0].startswith("the database's repository: pgbackrest info failed"), found
    assert found["offsite"]["problems"][1].startswith("the uploads: the repository: restic snapshots (the off-site"), \
        found


def test_the_status_reports_the_off_site_copy(host, offsite):
    backup.drill()
    found = backup.status()
    assert found["ok"] is True, [part["problems"] for part in found.values() if isinstance(part, dict)]
    assert found["offsite"]["newest_backup"] == DIFF["label"] and found["offsite"]["snapshots"] == 2
    assert "info --repo=2" in host.repos() and "restic snapshots offsite" in host.repos()
    text = _read(os.path.join(offsite["backup"]["textfile_dir"], "webstack_backup_webapp.prom"))
    assert 'webstack_backup_newest_timestamp_seconds{app="webapp",dataset="postgres_offsite"} ' in text


def test_a_restore_from_the_off_site_copy_reads_it_alone(host, offsite):
    done = backup.restore(target="latest", confirm=True, source="offsite")
    assert done["source"] == "offsite"
    repos = host.repos()
    assert "restore --repo=2" in repos and "restic restore offsite" in repos
    assert "info --repo=1" not in repos and "restic restore local" not in repos


@pytest.mark.parametrize("source, message", [
    ("elsewhere", "source 'elsewhere': expected local or offsite; nothing was changed"),
    ("offsite", "source offsite: this server has no off-site copy (backup:offsite is false); nothing was changed"),
])
def test_a_restore_from_a_source_the_server_lacks_is_refused(host, source, message):
    with pytest.raises(CommandExecutionError) as exc:
        backup.restore(target="latest", confirm=True, source=source)
    assert str(exc.value) == message
    assert host.repos() == []


def test_a_drill_restores_the_off_site_copy_too(host, offsite):
    done = backup.drill()
    assert done["ok"] is True
    assert set(done) >= {"postgres", "uploads", "postgres_offsite", "uploads_offsite"}
    repos = host.repos()
    assert "restore --repo=1" in repos and "restore --repo=2" in repos
    assert "restic check offsite" in repos and "restic restore offsite" in repos
    assert backup.status()["drill"]["postgres_offsite"]["ok"] is True


def test_a_drill_fails_when_the_off_site_copy_does_not_answer_and_says_so(host, offsite):
    host.fail.add("offsite")
    done = backup.drill()
    assert done["ok"] is False and done["postgres"]["ok"] and done["uploads"]["ok"]
    assert not done["postgres_offsite"]["ok"] and not done["uploads_offsite"]["ok"]
    problems = backup.status()["drill"]["problems"]
    assert "failed: postgres_offsite: pgbackrest info failed" in problems[0], problems


def test_a_repository_of_another_database_stops_the_stanza_and_says_what_to_do(host):
    """A server built anew (another system id) with the repository of the one it replaces:
    nothing is created or backed up there, and the message names both and the restore."""
    host.live_system_id = 7800000000000000001
    with pytest.raises(CommandExecutionError) as exc:
        backup.stanza_present()
    assert str(exc.value).startswith("the local repository holds the backups of another database (system id "
                                     "7716640222832135987; this server's is 7800000000000000001)")
    assert "webstack_backup.restore target=latest confirm=True source=local" in str(exc.value)
    assert "stanza-create" not in host.verbs()


def test_info_lists_the_off_site_copy_beside_the_local_repositories(host, offsite):
    found = backup.info()
    assert [b["label"] for b in found["backups"]] == [FULL["label"], DIFF["label"]]
    assert set(found["offsite"]) == {"backups", "wal", "uploads"}
    assert found["offsite"]["backups"][-1]["stop"] == found["backups"][-1]["stop"]
    assert len(found["offsite"]["uploads"]) == 2 and isinstance(found["offsite"]["uploads"][0]["time"], str)
    assert "info --repo=2" in host.repos() and "restic snapshots offsite" in host.repos()
