"""
Backups and a restore to a point in time on a single server, for real (the database with
pgBackRest, the uploads with restic): the guestbook
(tests/projects/guestbook, a cookiecutter-django project with Celery beat writing to its
database) with `backup: {enabled: true}` in its operator's pillar (FRESH_SERVERS in
conftest.py) and the passphrase `./bootstrap.sh` generated. Its signatures are posted
through Nginx, as a visitor posts them; the restore runs as the operator runs it,
`webstack-salt-call webstack_backup.restore`, while clients keep sending requests.
"""

import datetime
import json
import re
import time

import pytest
import requests

from tests.integration.conftest import bootstrapped
from tests.support.load import Load
from tests.support.single import APP, csrf_session, generated_secrets, psql

REPO = "/var/backups/webstack"
MEDIA = f"/srv/{APP}/shared/media"
MARKER = "Zebra-Quokka-7731"


@pytest.fixture(scope="module")
def guestbook(fresh_servers):
    return bootstrapped(fresh_servers, "guestbook")


def _salt_call(host, *args, check=True):
    code, out = host.exec(["webstack-salt-call", "--out=json", *args], check=False, timeout=900)
    if check:
        assert code == 0, out[-4000:]
    return code, out


def _answer(out):
    return json.loads(out[out.index("{"):])["local"]


def _sign(host, name, message):
    """A signature posted through Nginx as a visitor posts it."""
    base = host.url()
    session, token = csrf_session(base)
    resp = session.post(base + "/", data={"csrfmiddlewaretoken": token, "name": name, "message": message},
                        headers={"Referer": base + "/"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]


def _signatures(host, like):
    out = psql(host, f"SELECT message FROM signatures_signature WHERE message LIKE '{like}%' ORDER BY message")
    return out.splitlines()


def _db_now(host):
    return psql(host, "SELECT replace(to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
                      "' ', 'T')") + "+00:00"


def _archived(host):
    """The WAL written so far, archived now: a switch, then no segment left waiting for the
    archiver (a `.ready` file)."""
    psql(host, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + 120
    while host.exec("ls /var/lib/postgresql/17/main/pg_wal/archive_status | grep -c '[.]ready$'", check=False)[1] \
            .strip() != "0":
        assert time.monotonic() < deadline, "a WAL segment was never archived"
        time.sleep(1)


def test_the_database_has_a_full_backup_and_its_status_is_ok(guestbook):
    """The first run took a full backup at once; the status names it, with the WAL archived
    since, and exits 0."""
    _, out = _salt_call(guestbook.host, "webstack_backup.status")
    status = _answer(out)
    assert status["ok"] is True, status
    pg = status["postgres"]
    assert re.fullmatch(r"[0-9]{8}-[0-9]{6}F", pg["newest_backup"]), pg
    assert pg["newest_wal"] and pg["problems"] == [], pg
    assert pg["allowed_age_seconds"] == 26 * 3600  # daily backups, and two hours for one to run
    # and a first restore drill, which passed
    drill = status["drill"]
    assert drill["last_ok"] is True and drill["problems"] == [], drill
    assert drill["postgres"]["ok"] and drill["uploads"]["ok"], drill
    # the same figures where Prometheus's node exporter reads them
    _, text = guestbook.host.exec(["cat", f"/var/lib/prometheus/node-exporter/webstack_backup_{APP}.prom"])
    assert f'webstack_backup_ok{{app="{APP}"}} 1' in text and f'webstack_backup_drill_ok{{app="{APP}"}} 1' in text


def test_the_scheduled_backup_runs_as_cron_runs_it(guestbook):
    """The differential backup's line of the cron file, run as cron runs it (its command by
    /bin/sh with the file's PATH): a new differential backup and a new snapshot."""
    host = guestbook.host
    _, crontab = host.exec(["cat", f"/etc/cron.d/webstack-backup-{APP}"])
    path = re.search(r"^PATH=(.+)$", crontab, re.M).group(1)
    line = next(line for line in crontab.splitlines() if "kind=diff" in line)
    command = line.split(" root ", 1)[1]
    _, before = _salt_call(host, "webstack_backup.info")
    host.exec(["env", "-i", f"PATH={path}", "/bin/sh", "-c", command], timeout=600)
    _, after = _salt_call(host, "webstack_backup.info")
    before, after = _answer(before), _answer(after)
    assert len(after["backups"]) == len(before["backups"]) + 1 and after["backups"][-1]["kind"] == "diff", after
    assert len(after["uploads"]) == len(before["uploads"]) + 1


def _upload(host, name, text):
    """A file in the uploads, written as the app writes one."""
    host.exec(["sh", "-c", f"printf '%s\\n' '{text}' > {MEDIA}/{name}"], user=APP)


def test_the_repositories_are_encrypted_and_only_root_and_postgresql_read_the_passphrase(guestbook):
    """A marker posted in a signature reaches the archived WAL, and one in an upload the
    uploads' snapshot, both encrypted: it is in no file of either repository; the
    passphrase is in no file another user can read."""
    host = guestbook.host
    _sign(host, "Mallory", f"{MARKER} in a row")
    _upload(host, "marker.txt", f"{MARKER} in an upload")
    _salt_call(host, "webstack_backup.backup", "kind=incr")
    _archived(host)
    _, listed = host.exec(["find", REPO, "-type", "f"])
    assert f"{REPO}/files/snapshots/" in listed and f"{REPO}/pg/archive/" in listed, listed[:2000]
    code, out = host.exec(["grep", "-r", "-a", "-l", "-e", MARKER, REPO], check=False)
    assert code == 1 and not out.strip(), out
    code, _ = host.exec(f"grep -rqa {MARKER} /var/lib/postgresql", check=False)
    assert code == 0  # the marker is in the live database's files: the grep above can find it
    passphrase = generated_secrets(host)["backup:passphrase"]
    code, out = host.exec(["cat", "/etc/pgbackrest.conf"], user=APP, check=False)
    assert code != 0 and passphrase not in out
    _, mode = host.exec(["stat", "-c", "%a %U %G", "/etc/pgbackrest.conf", f"{REPO}/pg", f"{REPO}/files",
                         "/etc/webstack/backup/restic-password"])
    assert mode.split("\n")[:4] == ["640 root postgres", "750 postgres postgres", "700 root root",
                                    "600 root root"]
    code, _ = host.exec(["ls", f"{REPO}/pg"], user=APP, check=False)
    assert code != 0


@pytest.mark.parametrize("target, confirm, message", [
    ("latest", "False", "run it again with confirm=True; nothing was changed"),
    ("2999-01-01 00:00:00", "True", "a time in the future"),
    ("2000-01-01 00:00:00", "True", "before the oldest backup, which ended at"),
    ("20000101-000000F", "True", "no such backup in the repository"),
    ("yesterday", "True", "expected 'latest', a backup's label"),
])
def test_a_restore_is_refused_with_a_clear_message_and_nothing_changes(guestbook, target, confirm, message):
    host = guestbook.host
    _, before = host.exec(["stat", "-c", "%i %Y", "/var/lib/postgresql/17/main/postmaster.pid"])
    code, out = _salt_call(host, "webstack_backup.restore", f"target={target}", f"confirm={confirm}", check=False)
    assert code != 0 and message in out, out[-3000:]
    assert host.exec(["stat", "-c", "%i %Y", "/var/lib/postgresql/17/main/postmaster.pid"])[1] == before
    assert host.exec(["ls", "/var/lib/webstack/maintenance"])[1].strip() == ""
    assert requests.get(host.url() + "/", timeout=10).status_code == 200


def test_a_restore_to_a_time_brings_back_what_was_committed_before_it_and_nothing_after(guestbook, timings):
    """Signatures posted before T and after it, then every signature deleted and a table
    dropped (a DELETE and a DROP typed in the wrong shell); a restore to T, while clients keep
    sending requests: each answer is a 200 or the maintenance page's 503, never an error;
    every signature posted before T is back, none posted after it, and the table."""
    host = guestbook.host
    run = f"run-{int(time.time())}"
    for n in range(3):
        _sign(host, "Before", f"{run}-before-{n}")
    psql(host, f"CREATE TABLE audit_{run.replace('-', '_')} AS SELECT generate_series(1, 100) AS n")
    _upload(host, f"{run}-before.txt", "uploaded before")
    _salt_call(host, "webstack_backup.backup", "kind=incr")  # the uploads' snapshot is taken with a backup
    time.sleep(1)
    target = _db_now(host)
    time.sleep(1)
    for n in range(2):
        _sign(host, "After", f"{run}-after-{n}")
    _upload(host, f"{run}-after.txt", "uploaded after")
    assert len(_signatures(host, run)) == 5
    psql(host, "DELETE FROM signatures_signature")
    psql(host, f"DROP TABLE audit_{run.replace('-', '_')}")
    host.exec(["rm", f"{MEDIA}/{run}-before.txt"], user=APP)
    url = host.url()
    with Load("127.0.0.1", int(url.rsplit(":", 1)[1]), paths=("/",), clients=10, pause=0.2,
              tls=url.startswith("https:")) as load:
        time.sleep(2)
        start = time.monotonic()
        _, out = _salt_call(host, "webstack_backup.restore", f"target={target}", "confirm=True")
        seconds = time.monotonic() - start
        time.sleep(3)
    summary = load.summary()
    done = _answer(out)
    assert _signatures(host, run) == [f"{run}-before-{n}" for n in range(3)]
    assert psql(host, f"SELECT count(*) FROM audit_{run.replace('-', '_')}") == "100"
    # the uploads as the snapshot before T holds them, owned as before; the later ones aside
    _, listed = host.exec(["ls", "-ln", MEDIA])
    assert f"{run}-before.txt" in listed and f"{run}-after.txt" not in listed, listed
    assert host.exec(["cat", f"{MEDIA}/{run}-before.txt"], user=APP)[1].strip() == "uploaded before"
    assert host.exec(["test", "-f", f"{done['uploads_kept_aside']}/{run}-after.txt"], check=False)[0] == 0
    _, owner = host.exec(["stat", "-c", "%U %G %a", MEDIA])
    assert owner.strip() == f"{APP} www-data 2770"
    assert done["target"].startswith(target[:19]), done
    # the recovery point: the last commit replayed, at or before T and close to it
    reached = done["restored_to"]
    assert reached and reached[:19] <= target[:19], done
    statuses = summary["statuses"]
    assert set(statuses) <= {200, 503} and statuses.get(503) and statuses.get(200), summary
    assert summary["errors"] == 0, summary
    assert requests.get(url + "/", timeout=10).status_code == 200
    # the data directory as it was is kept aside, and the app's programs are back
    assert host.exec(["test", "-d", done["kept_aside"]], check=False)[0] == 0
    _, out = _salt_call(host, "webstack_supervisor.status")
    assert {p: s["state"] for p, s in _answer(out).items() if p.startswith(APP)} == {
        f"{APP}-gunicorn": "RUNNING", f"{APP}-celery": "RUNNING", f"{APP}-celerybeat": "RUNNING"}
    rpo = datetime.datetime.fromisoformat(target) - datetime.datetime.fromisoformat(reached)
    timings["restore_single_seconds"] = round(seconds, 1)
    timings["restore_single_target_minus_reached_seconds"] = round(rpo.total_seconds(), 3)
    timings["restore_single_maintenance_503"] = statuses.get(503, 0)
    for phase, took in done["phases"].items():
        timings[f"restore_single_{phase}"] = took
    print(f"restore to {target}: reached {reached}, {seconds:.1f} s, phases {done['phases']}, load {statuses}")


def test_a_drill_against_a_damaged_repository_fails_and_the_status_says_which_and_why(guestbook, timings):
    """One file of the newest backup damaged in the repository (bytes overwritten, as a
    failing disk does): the drill exits non-zero, the status names the database's data set
    and pgBackRest's reason, and the live site serves on; mended, the next drill passes."""
    host = guestbook.host
    _, out = _salt_call(host, "webstack_backup.status", check=False)
    label = _answer(out)["postgres"]["newest_backup"]
    _, found = host.exec(f"find {REPO}/pg/backup/{APP}/{label}/pg_data/global -name 'pg_control*'")
    damaged = found.split()[0]
    host.exec(["cp", "-p", damaged, "/root/pg_control.saved"])
    try:
        host.exec(f"printf 'a failing disk' | dd of={damaged} bs=1 seek=40 conv=notrunc status=none")
        code, out = _salt_call(host, "webstack_backup.drill", check=False)
        assert code != 0, out[-3000:]
        drill = _answer(out)
        assert drill["ok"] is False and drill["postgres"]["ok"] is False and drill["uploads"]["ok"] is True, drill
        code, out = _salt_call(host, "webstack_backup.status", check=False)
        assert code != 0
        problems = _answer(out)["drill"]["problems"]
        assert len(problems) == 1 and problems[0].startswith("the restore drill of ") and \
            "failed: postgres: " in problems[0], problems
        assert requests.get(host.url() + "/", timeout=10).status_code == 200
    finally:
        host.exec(["cp", "-p", "/root/pg_control.saved", damaged])
    _, out = _salt_call(host, "webstack_backup.drill")
    drill = _answer(out)
    assert drill["ok"] is True, drill
    timings["drill_single_seconds"] = drill["seconds"]
