"""
Backups and a restore to a point in time on a single server, for real (the database with
pgBackRest, the uploads with restic): the guestbook
(tests/projects/guestbook, a cookiecutter-django project with Celery beat writing to its
database) with `backup: {enabled: true}` in its operator's pillar (FRESH_SERVERS in
conftest.py) and the passphrase `./bootstrap.sh` generated. Its signatures are posted
through Nginx, as a visitor posts them; the restore runs as the operator runs it,
`webstack-salt-call webstack_backup.restore`, while clients keep sending requests. The
off-site copy goes to an S3 store that moto's server mode stands in for, over TLS, on this
host's address on the container's network.
"""

import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time

import boto3
import pytest
import requests

from tests.integration.conftest import FRESH_SERVERS, bootstrapped, write_local_pillar
from tests.support.containers import wait_until
from tests.support.load import Load
from tests.support.single import APP, csrf_session, generated_secrets, psql
from tests.support.tls import Authority

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


# ---------------------------------------------------------------- the off-site copy

BUCKET = "offsite-backups"
# the store's name as the server knows it (its /etc/hosts): one without a dot, so that moto
# reads the bucket from the path, as a store reached path-style does
STORE = "objectstore"


class Store:
    """An S3 store of this test run: moto's S3 over TLS, with its own authority."""

    def __init__(self, address, workdir):
        self.address = address
        self.authority = Authority("test S3 store CA")
        cert, key = self.authority.issue([STORE, address])
        paths = {name: os.path.join(workdir, name) for name in ("store.crt", "store.key", "ca.crt", "moto.log")}
        for name, text in (("store.crt", cert), ("store.key", key), ("ca.crt", self.authority.pem)):
            with open(paths[name], "w", encoding="ascii") as fh:
                fh.write(text)
        with socket.socket() as probe:  # a free port on that address
            probe.bind((address, 0))
            self.port = probe.getsockname()[1]
        self.log = paths["moto.log"]
        # moto's app under Gunicorn (one process: the store is in its memory), which ends each
        # answer by its length (moto_server's own Werkzeug server ends some by closing the
        # connection without TLS's close_notify, which pgBackRest's OpenSSL takes for an error)
        with open(os.path.join(workdir, "store.py"), "w", encoding="ascii") as fh:
            fh.write("from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app\n"
                     "app = DomainDispatcherApplication(create_backend_app)\n")
        env = dict(os.environ, S3_IGNORE_SUBDOMAIN_BUCKETNAME="true")
        with open(self.log, "w", encoding="utf-8") as log:  # the server writes to its own copy of it
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--workers", "1", "--worker-class",
                 "gthread", "--threads", "8", "--bind", f"{address}:{self.port}", "--certfile", paths["store.crt"],
                 "--keyfile", paths["store.key"], "--chdir", workdir, "--access-logfile", "-", "store:app"],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        self.client = boto3.client("s3", endpoint_url=f"https://{address}:{self.port}", region_name="us-east-1",
                                   aws_access_key_id="AKIATESTSTORE0001", aws_secret_access_key="test-store-secret/1",
                                   verify=paths["ca.crt"])
        wait_until("moto's S3 server", self._answers, timeout=60)
        self.client.create_bucket(Bucket=BUCKET)

    def _answers(self):
        assert self.process.poll() is None, f"the store exited {self.process.returncode} (its log: {self.log})"
        try:
            self.client.list_buckets()
            return True
        except Exception:  # pylint: disable=broad-except  # not listening yet
            return False

    def objects(self):
        """{key: size} of every object in the bucket."""
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        return found

    def read(self, key):
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def offsite(guestbook, tmp_path_factory):
    """The guestbook's backups with an off-site copy in a bucket of the store, as its operator
    turns it on: the settings in the pillar, then `./bootstrap.sh`; turned off afterwards the
    same way (the store goes with this module)."""
    host = guestbook.host
    store = Store(host.gateway, str(tmp_path_factory.mktemp("s3")))
    host.exec(f"grep -q ' {STORE}$' /etc/hosts || echo '{host.gateway} {STORE}' >> /etc/hosts")
    base = FRESH_SERVERS["guestbook"]["settings"]
    settings = dict(base, backup=dict(base["backup"], offsite=True, s3_endpoint=STORE, s3_port=store.port,
                                      s3_bucket=BUCKET, s3_uri_style="path", s3_path="/single1",
                                      s3_access_key="AKIATESTSTORE0001", s3_secret_key="test-store-secret/1",
                                      s3_ca=store.authority.pem))
    try:
        write_local_pillar(host, settings)
        code, out, _ = guestbook.run_bootstrap()
        assert code == 0, out[-6000:]
        yield store
    finally:
        write_local_pillar(host, base)
        code, out, _ = guestbook.run_bootstrap()
        store.stop()
        assert code == 0, out[-6000:]


def test_the_off_site_copy_holds_both_encrypted_and_the_status_reports_it(guestbook, offsite):
    """A marker in a row and in an upload, a backup: the bucket holds pgBackRest's backup and
    WAL and restic's snapshot, none of its objects holds the marker; the status reports the
    copy, the drill restores from it, and the store's key is in no file the app's user reads."""
    host = guestbook.host
    _sign(host, "Mallory", f"{MARKER} off site")
    _upload(host, "marker-offsite.txt", f"{MARKER} in an upload off site")
    _, out = _salt_call(host, "webstack_backup.backup", "kind=incr")
    done = _answer(out)
    _archived(host)
    objects = offsite.objects()
    assert any(k.startswith("single1/pg/backup/") for k in objects) and \
        any(k.startswith("single1/pg/archive/") for k in objects) and \
        any(k.startswith("single1/files/snapshots/") for k in objects), sorted(objects)[:50]
    holding = [k for k in objects if MARKER.encode() in offsite.read(k)]
    assert holding == []
    _, out = _salt_call(host, "webstack_backup.status")
    status = _answer(out)
    assert status["ok"] is True, status
    assert status["offsite"]["newest_backup"] == done["offsite_label"] and status["offsite"]["snapshots"] >= 1
    # the copy of the backup's snapshot (a copy has an id of its own, and the same time)
    assert status["offsite"]["newest_snapshot_at"] == status["uploads"]["newest_snapshot_at"], status
    # the drill restores from the copy too
    _, out = _salt_call(host, "webstack_backup.drill")
    drill = _answer(out)
    assert drill["ok"] is True and drill["postgres_offsite"]["from"] == done["offsite_label"], drill
    assert drill["uploads_offsite"]["ok"] is True, drill
    code, _ = host.exec(["cat", "/etc/webstack/backup/s3.env"], user=APP, check=False)
    assert code != 0
    assert host.exec(["stat", "-c", "%a %U", "/etc/webstack/backup/s3.env"])[1].strip() == "600 root"


def test_with_the_servers_repositories_lost_a_restore_from_the_off_site_copy_brings_back_the_data(
        guestbook, offsite, timings):
    """Signatures and an upload before T, more after it; then the disk of the server's own
    repositories is lost and every signature deleted: a restore to T from the off-site copy
    brings back every signature posted before T, none after, and the upload."""
    host = guestbook.host
    run = f"offsite-{int(time.time())}"
    for n in range(2):
        _sign(host, "Before", f"{run}-before-{n}")
    _upload(host, f"{run}-before.txt", "uploaded before, off site")
    _salt_call(host, "webstack_backup.backup", "kind=incr")
    time.sleep(1)
    target = _db_now(host)
    time.sleep(1)
    _sign(host, "After", f"{run}-after-0")
    host.exec(["mv", REPO, f"{REPO}.lost"])  # the backup disk is gone
    try:
        psql(host, "DELETE FROM signatures_signature")
        start = time.monotonic()
        _, out = _salt_call(host, "webstack_backup.restore", f"target={target}", "confirm=True", "source=offsite")
        seconds = time.monotonic() - start
        done = _answer(out)
        assert done["source"] == "offsite"
        assert _signatures(host, run) == [f"{run}-before-{n}" for n in range(2)]
        assert host.exec(["cat", f"{MEDIA}/{run}-before.txt"], user=APP)[1].strip() == "uploaded before, off site"
        assert requests.get(host.url() + "/", timeout=10).status_code == 200
        assert done["restored_to"][:19] <= target[:19], done
    finally:
        host.exec(f"if [ -d {REPO}.lost ]; then rm -rf {REPO}; mv {REPO}.lost {REPO}; fi")
    rpo = datetime.datetime.fromisoformat(target) - datetime.datetime.fromisoformat(done["restored_to"])
    timings["restore_offsite_seconds"] = round(seconds, 1)
    timings["restore_offsite_target_minus_reached_seconds"] = round(rpo.total_seconds(), 3)
    print(f"restore to {target} from the off-site copy: reached {done['restored_to']}, {seconds:.1f} s, "
          f"phases {done['phases']}")


def test_a_server_built_anew_takes_its_database_back_from_the_off_site_copy(guestbook, offsite, timings):
    """The server's database and its backup disk both lost, PostgreSQL's cluster made anew
    (another system id), and `./bootstrap.sh` run as on a new server: it stops at the
    off-site copy, which holds the backups of the old database, and says how to restore it;
    the restore from the copy brings back the signature posted before the loss, and the next
    `./bootstrap.sh` takes the backups again, locally and off site."""
    host = guestbook.host
    run = f"anew-{int(time.time())}"
    _sign(host, "Before", f"{run}-before-the-loss")
    _salt_call(host, "webstack_backup.backup", "kind=incr")
    _archived(host)
    host.exec(["mv", REPO, f"{REPO}.lost"])
    try:
        host.exec("pg_dropcluster --stop 17 main && pg_createcluster 17 main >/dev/null", timeout=300)
        code, out, _ = guestbook.run_bootstrap()
        assert code != 0, out[-3000:]
        assert "the offsite repository holds the backups of another database (system id " in out, out[-3000:]
        assert "webstack_backup.restore target=latest confirm=True source=offsite" in out, out[-3000:]
        # a database anew: the app's tables are not there
        assert psql(host, "SELECT coalesce(to_regclass('signatures_signature')::text, 'none')") == "none"
        start = time.monotonic()
        _, answer = _salt_call(host, "webstack_backup.restore", "target=latest", "confirm=True", "source=offsite")
        seconds = time.monotonic() - start
        assert _signatures(host, run) == [f"{run}-before-the-loss"], _answer(answer)
        code, out, _ = guestbook.run_bootstrap()
        assert code == 0, out[-6000:]
    finally:
        host.exec(["rm", "-rf", f"{REPO}.lost"])  # the disk that was lost: the server has a new one
    _, out = _salt_call(host, "webstack_backup.status")
    status = _answer(out)
    assert status["ok"] is True and status["postgres"]["backups"] >= 1 and status["offsite"]["backups"] >= 2, status
    assert requests.get(host.url() + "/", timeout=10).status_code == 200
    timings["restore_server_anew_seconds"] = round(seconds, 1)
