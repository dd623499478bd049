"""
Projects as their authors wrote them, deployed by pillar alone, each from a git repository
on a fresh Debian 13 server (role single), checked from outside where a user would look:

- tests/projects/guestbook, a Django project laid out as cookiecutter-django lays one out
  (settings from the environment through django-environ under its own names, STATIC_ROOT
  fixed to staticfiles/ with hashed names, SECURE_SSL_REDIRECT without an exemption,
  psycopg2 built against libpq-dev, a Celery beat schedule in the database, no /healthz),
  with Gunicorn behind Nginx; its pillar is GUESTBOOK_SETTINGS in conftest.py;
- tests/projects/linkboard, a Flask application (FLASK_* settings through
  from_prefixed_env, its own init-db command, no collectstatic, no task queue) under
  uWSGI behind Nginx; LINKBOARD_SETTINGS;
- tests/projects/noticeboard, a Django project from startproject with django-environ on
  MariaDB (mysqlclient built against libmariadb-dev), Memcached (pymemcache) and RQ
  (django-rq, with its scheduler), with uploads; NOTICEBOARD_SETTINGS, on a server that
  boots systemd, with `process_manager: systemd` (Gunicorn and RQ's worker as units).
"""

import json
import re
import time

import pytest
import requests

from tests.integration.conftest import bootstrapped
from tests.support.single import APP, assert_predicted_exactly, csrf_session, generated_secrets, psql, summary_changed

PROJECT_SECRETS = ("staff-7c1e0a9d42/", "mail-Qx8vR2kLp9sW4tZ")
FLASK_SECRET = "mail-Hn3sV8qWz1xK7pR"


@pytest.fixture(scope="module")
def guestbook(fresh_servers):
    return bootstrapped(fresh_servers, "guestbook")


def test_the_project_deploys_unchanged_by_pillar_alone(guestbook):
    """The first run succeeds, with the project's settings module, its requirements file (psycopg2
    compiled against libpq-dev, which the pillar's app:system_packages installed) and its
    health path `/`, which redirects plain HTTP like every page (no exemption)."""
    assert re.search(r"Failed:\s+0", guestbook.first_output), guestbook.first_output[-3000:]
    host = guestbook.host
    _, version = host.exec(f"/srv/{APP}/current/venv/bin/python -c 'import psycopg2; print(psycopg2.__version__)'")
    assert version.startswith("2.9.13"), version
    # the source build links Debian's libpq (a binary wheel would bring its own)
    _, libs = host.exec(f"ldd /srv/{APP}/current/venv/lib/python3*/site-packages/psycopg2/_psycopg*.so")
    assert re.search(r"libpq\.so\.5 => /(usr/)?lib/x86_64-linux-gnu/libpq\.so\.5", libs), libs
    assert host.exec("dpkg -s libpq-dev")[1].count("Status: install ok installed") == 1
    resp = requests.get(host.url(80) + "/", allow_redirects=False, timeout=10)
    assert resp.status_code == 301 and resp.headers["Location"].startswith("https://")


def test_a_signature_posted_through_nginx_is_a_row_in_postgresql(guestbook):
    base = guestbook.host.url()
    session, token = csrf_session(base)
    resp = session.post(base + "/", data={"csrfmiddlewaretoken": token, "name": "Ada", "message": "hello from a test"},
                        headers={"Referer": base + "/"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    assert "hello from a test" in session.get(base + "/", timeout=10).text
    assert psql(guestbook.host, "SELECT name, message FROM signatures_signature") == "Ada|hello from a test"


def test_hashed_static_files_come_from_nginx_with_immutable_caching(guestbook):
    """The page links the manifest's hashed name; Nginx serves it from the release's
    staticfiles/ (where the project's settings put it) for a year, immutable; the unhashed
    name has the ordinary expiry. The WSGI server never sees a static request."""
    host = guestbook.host
    page = requests.get(host.url() + "/", timeout=10).text
    href = re.search(r'href="(/static/css/project\.[0-9a-f]{12}\.css)"', page)
    assert href, page[:1000]
    hashed = requests.get(host.url() + href.group(1), timeout=10)
    assert hashed.status_code == 200 and "font-family" in hashed.text
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert hashed.headers["X-Content-Type-Options"] == "nosniff"
    plain = requests.get(host.url() + "/static/css/project.css", timeout=10)
    assert plain.status_code == 200 and "immutable" not in plain.headers.get("Cache-Control", "")
    _, files = host.exec(f"ls /srv/{APP}/current/src/staticfiles/css")
    assert href.group(1).rsplit("/", 1)[1] in files.split()
    _, log = host.exec(f"cat /var/log/webstack/{APP}-gunicorn.log")
    assert "/static/" not in log


def test_the_media_root_of_the_project_is_the_shared_uploads(guestbook):
    _, target = guestbook.host.exec(f"readlink /srv/{APP}/current/src/guestbook/media")
    assert target.strip() == f"/srv/{APP}/shared/media"


def test_the_beat_schedule_runs_once_per_tick(guestbook):
    """One beat (the database scheduler, from the pillar) sends the 2-second task; the worker
    runs it: over 12 s about 6 rows, never two for one tick."""
    host = guestbook.host
    _, procs = host.exec("ps -eo args")
    beats = [line for line in procs.splitlines() if " beat " in line and "celery" in line]
    assert len(beats) == 1 and "django_celery_beat.schedulers:DatabaseScheduler" in beats[0], procs
    time.sleep(12)
    out = psql(host, "SELECT extract(epoch FROM ran_at) FROM signatures_tick "
                     "WHERE ran_at > now() - interval '12 seconds' ORDER BY ran_at")
    times = [float(t) for t in out.split()]
    assert 4 <= len(times) <= 8, times
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) > 1.0, gaps


def test_a_one_off_command_runs_in_the_release_with_the_app_environment(guestbook):
    """webstack_app.run: a management command as the app's user, with the settings the app
    has (the database, the project's own secrets by its own names)."""
    host = guestbook.host
    command = ('python manage.py shell -c "import getpass; from django.conf import settings; '
               'from guestbook.signatures.models import Signature; '
               'print(getpass.getuser(), Signature.objects.count(), settings.ADMIN_URL)"')
    code, out = host.exec(["webstack-salt-call", "--out=json", "webstack_app.run", command])
    assert code == 0, out
    result = json.loads(out)["local"]
    count = psql(host, "SELECT count(*) FROM signatures_signature")
    assert result["retcode"] == 0, result
    assert result["stdout"].splitlines()[-1].split() == [APP, count, PROJECT_SECRETS[0]], result
    code, out = host.exec(["webstack-salt-call", "--out=json", "webstack_app.run", "python manage.py nosuchcommand"])
    result = json.loads(out)["local"]
    assert result["retcode"] == 1 and "Unknown command: 'nosuchcommand'" in result["stderr"], result


def test_the_secrets_are_unreadable_by_another_local_user(guestbook):
    """The settings reach the programs' environment (Celery's: read as root), but another
    user finds them in no file, no process argument and no process environment."""
    host = guestbook.host
    _, pid = host.exec("pgrep -f 'celery --app config.celery_app worker' | head -1")
    _, environ = host.exec(f"tr '\\0' '\\n' < /proc/{pid.strip()}/environ")
    assert f"DJANGO_ADMIN_URL={PROJECT_SECRETS[0]}" in environ and "DJANGO_SECRET_KEY=" in environ
    code, out = host.exec(f"cat /proc/{pid.strip()}/environ", user="nobody", check=False)
    assert code != 0 and "Permission denied" in out
    _no_reader_but_root_and_the_app(host, PROJECT_SECRETS)


def _no_reader_but_root_and_the_app(host, secrets):
    """Another local user (nobody) finds ``secrets`` in no file it can read, no process
    argument, and cannot read the config file."""
    code, out = host.exec(f"cat /etc/webstack/{APP}/app.env", user="nobody", check=False)
    assert code != 0 and "Permission denied" in out
    _, procs = host.exec("ps -eo args", user="nobody")
    for secret in secrets:
        # exit 2: some files were unreadable (the point); no file named is the finding
        code, out = host.exec(["grep", "-rsl", secret, "/etc", "/srv", "/var/log", "/run", "/tmp"], user="nobody",
                              check=False)
        assert code in (1, 2) and not out.strip(), out
        assert secret not in procs


def _commit(host, change):
    """A developer's commit on main of the project's repository (``change`` runs in a clone)."""
    host.exec("set -e; rm -rf /tmp/work; git clone -q /srv/git/guestbook.git /tmp/work; cd /tmp/work; "
              "export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.org GIT_COMMITTER_NAME=Dev "
              f"GIT_COMMITTER_EMAIL=dev@example.org; {change}; git push -q origin main")


def test_a_worker_that_crash_loops_fails_the_deploy_with_its_log(guestbook):
    """A commit whose tasks module imports a package that is not installed: the site still
    serves it, but the worker dies at every start. The deploy fails naming the program,
    with the import error from its log; the revert deploys and the worker answers again."""
    host = guestbook.host
    _commit(host, "sed -i '1i import guestbook_reports' guestbook/signatures/tasks.py && "
                  "git commit -qam 'Send the weekly report'")
    code, out, _ = guestbook.run_bootstrap()
    assert code != 0, out[-3000:]
    # the program dies at once (its start fails) or after it started (it answers no ping)
    assert re.search(r"Comment: (Program webapp-celery[: ]|Celery worker webapp-celery does not answer a ping as "
                     r"webapp@single1)", out), out[-6000:]
    assert "ModuleNotFoundError: No module named 'guestbook_reports'" in out, out[-6000:]
    assert requests.get(guestbook.host.url() + "/", timeout=10).status_code == 200
    _commit(host, "git revert --no-edit HEAD")
    code, out, _ = guestbook.run_bootstrap()
    assert code == 0 and re.search(r"Failed:\s+0", out), out[-6000:]
    code, out = host.exec(["webstack-salt-call", "--out=json", "webstack_celery.ping", f"/srv/{APP}",
                           "config.celery_app", f"{APP}@single1", f"settings_file=/etc/webstack/{APP}/app.env",
                           f"runas={APP}"])
    assert json.loads(out)["local"]["ok"] is True, out


def test_a_second_run_changes_nothing(guestbook, timings):
    code, out, seconds = guestbook.run_bootstrap()
    timings["bootstrap_second_guestbook"] = seconds
    assert code == 0, out[-4000:]
    assert summary_changed(out) == [], f"second run changed something:\n{out[-4000:]}"


# ---------------------------------------------------------------- linkboard (Flask)

@pytest.fixture(scope="module")
def linkboard(fresh_servers):
    return bootstrapped(fresh_servers, "linkboard")


def test_the_flask_app_serves_through_nginx_and_writes_a_row(linkboard):
    """Its settings reach uWSGI's workers as FLASK_* variables (the database under the name
    from_prefixed_env reads): a link posted through Nginx is a row; its own init-db command
    made the table; no collectstatic ran, no Celery program exists."""
    host = linkboard.host
    assert re.search(r"Failed:\s+0", linkboard.first_output), linkboard.first_output[-3000:]
    base = host.url()
    resp = requests.post(base + "/", data={"title": "Salt", "url": "https://docs.saltproject.io/"},
                         allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and resp.headers["Server"] == "nginx", resp.text[:500]
    _, procs = host.exec("ps -eo args")
    assert "uwsgi" in procs and "gunicorn" not in procs
    page = requests.get(base + "/", timeout=10)
    assert '<a href="https://docs.saltproject.io/">Salt</a>' in page.text
    assert psql(host, "SELECT title FROM link") == "Salt"
    _, programs = host.exec("supervisorctl status", check=False)
    assert f"{APP}-celery" not in programs, programs
    _, collected = host.exec(f"ls -A /srv/{APP}/current/static")
    assert not collected.strip(), collected


def test_the_flask_static_files_come_from_nginx(linkboard):
    """From the package's static/ in the current release (app:static_root), by Nginx: the
    uWSGI log never sees them."""
    host = linkboard.host
    css = requests.get(host.url() + "/static/style.css", timeout=10)
    assert css.status_code == 200 and "#377ba8" in css.text
    assert css.headers["Cache-Control"].startswith("max-age=") and css.headers["Server"] == "nginx"
    _, log = host.exec(f"cat /var/log/webstack/{APP}-uwsgi.log")
    assert "style.css" not in log


def test_the_flask_secrets_are_unreadable_by_another_local_user(linkboard):
    _no_reader_but_root_and_the_app(linkboard.host, (FLASK_SECRET,))


def test_the_flask_app_second_run_changes_nothing(linkboard, timings):
    code, out, seconds = linkboard.run_bootstrap()
    timings["bootstrap_second_linkboard"] = seconds
    assert code == 0, out[-4000:]
    assert summary_changed(out) == [], f"second run changed something:\n{out[-4000:]}"


# ---------------------------------------------------------------- noticeboard (MariaDB, Memcached, RQ)

@pytest.fixture(scope="module")
def noticeboard(fresh_servers):
    return bootstrapped(fresh_servers, "noticeboard")


def mariadb(host, sql):
    """One SQL statement as MariaDB's root (over its socket) in the app's database; rows
    tab-separated."""
    _, out = host.exec(["mariadb", "--batch", "--skip-column-names", APP, "-e", sql])
    return out.strip()


def _run_in_release(host, command):
    code, out = host.exec(["webstack-salt-call", "--out=json", "webstack_app.run", command])
    assert code == 0, out
    result = json.loads(out)["local"]
    assert result["retcode"] == 0, result
    return result["stdout"].splitlines()[-1]


def test_the_noticeboard_runs_on_mariadb_memcached_and_rq(noticeboard):
    """db:engine mariadb, cache:engine memcached, app:queue rq: what --test predicted is what
    the first run changed; mysqlclient is built against Debian's libmariadb; the database is
    utf8mb4; the app's user logs in from this host only, with privileges on its database
    only; Memcached listens on loopback TCP only (no UDP); the RQ worker runs as a systemd
    unit (with the scheduler), as the app's user; no Celery unit, no Supervisord."""
    host = noticeboard.host
    assert noticeboard.test_code == 0, noticeboard.test_output[-4000:]
    changed = assert_predicted_exactly(noticeboard.test_output, noticeboard.first_output)
    assert ("webstack-mariadb-package-pkg-installed", "pkg.installed") in changed
    assert (APP, "webstack_mariadb.user_present") in changed and (APP, "webstack_mariadb.database_present") in changed
    _, libs = host.exec(f"ldd /srv/{APP}/current/venv/lib/python3*/site-packages/MySQLdb/_mysql*.so")
    assert re.search(r"libmariadb\.so\.3 => /(usr/)?lib/x86_64-linux-gnu/libmariadb\.so\.3", libs), libs
    assert mariadb(host, f"SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
                         f"WHERE SCHEMA_NAME = '{APP}'") == "utf8mb4"
    assert mariadb(host, f"SELECT Host FROM mysql.user WHERE User = '{APP}' ORDER BY Host").split() == \
        ["127.0.0.1", "localhost"]
    grants = mariadb(host, f"SHOW GRANTS FOR '{APP}'@'localhost'").splitlines()
    assert [g.split(" IDENTIFIED")[0] for g in grants] == [f"GRANT USAGE ON *.* TO `{APP}`@`localhost`",
                                                           f"GRANT ALL PRIVILEGES ON `{APP}`.* TO `{APP}`@`localhost`"]
    _, sockets = host.exec("ss -Hltun")
    memcached = [line.split() for line in sockets.splitlines() if ":11211 " in line]
    assert [(s[0], s[4]) for s in memcached] == [("tcp", "127.0.0.1:11211")], sockets
    assert [line for line in sockets.splitlines() if ":3306 " in line][0].split()[4] == "127.0.0.1:3306", sockets
    _, active = host.exec(["systemctl", "is-active", f"{APP}-rq", f"{APP}-gunicorn", f"{APP}-celery"], check=False)
    assert active.split() == ["active", "active", "inactive"], active
    _, user = host.exec(["systemctl", "show", "-p", "User", "--value", f"{APP}-rq"])
    assert user.strip() == APP
    assert host.exec(["pgrep", "-x", "supervisord"], check=False)[0] == 1
    _, procs = host.exec("ps -eo args")
    assert re.search(r"manage\.py rqworker default --with-scheduler", procs), procs


def test_the_mariadb_password_is_unreadable_by_another_local_user(noticeboard):
    """The password that ./bootstrap.sh generated is in no file another user can read and in
    no process's arguments (the formula's SQL went to the client's standard input)."""
    password = generated_secrets(noticeboard.host)["mariadb:password"]
    assert len(password) == 32
    _no_reader_but_root_and_the_app(noticeboard.host, (password,))


def test_a_notice_with_an_upload_is_a_row_in_mariadb_published_by_an_rq_job(noticeboard):
    """Posted through Nginx with a file: a row in MariaDB (utf8mb4 round trip), published by
    the RQ worker (the job's host), the upload served by Nginx from the shared media."""
    host = noticeboard.host
    base = host.url()
    session, token = csrf_session(base, "/new/")
    resp = session.post(base + "/new/", data={"csrfmiddlewaretoken": token, "title": "Fête 🎉", "body": "on Friday"},
                        files={"attachment": ("plan.txt", b"tables at noon\n", "text/plain")},
                        headers={"Referer": base + "/new/"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    detail = resp.headers["Location"]
    assert mariadb(host, "SELECT title FROM notices_notice") == "Fête 🎉"
    deadline = time.monotonic() + 30
    while mariadb(host, "SELECT host FROM notices_notice WHERE published_at IS NOT NULL") != "single1":
        assert time.monotonic() < deadline, host.exec(f"tail -20 /var/log/webstack/{APP}-rq.log")[1]
        time.sleep(0.5)
    page = session.get(base + detail, timeout=10).text
    href = re.search(r'href="(/media/attachments/[^"]+)"', page)
    assert href, page[:1500]
    upload = requests.get(base + href.group(1), timeout=10)
    assert upload.status_code == 200 and upload.text == "tables at noon\n" and upload.headers["Server"] == "nginx"
    _, stat = host.exec(f"stat -c '%U %a' /srv/{APP}/shared/media/{href.group(1).removeprefix('/media/')}")
    assert stat.split()[0] == APP, stat


def test_the_cache_is_memcached(noticeboard):
    """Every worker process counts in one Memcached: the count goes up by one per request, and
    Memcached's own statistics show the hits."""
    host = noticeboard.host
    counts = [int(requests.get(host.url() + "/cache/", timeout=10).text.split("=")[1]) for _ in range(6)]
    assert counts == list(range(counts[0], counts[0] + 6)), counts
    ask = "exec 3<>/dev/tcp/127.0.0.1/11211; printf 'stats\\r\\nquit\\r\\n' >&3; cat <&3"
    _, stats = host.exec(["bash", "-c", ask])
    hits = int(re.search(r"STAT incr_hits (\d+)", stats).group(1))
    assert hits >= 6, stats


def test_a_failed_rq_job_stays_in_the_failed_registry(noticeboard):
    host = noticeboard.host
    job_id = _run_in_release(host, "python manage.py enqueue_failing").strip()
    check = ('python manage.py shell -c "import django_rq; '
             "print(django_rq.get_queue('default').failed_job_registry.get_job_ids())\"")
    deadline = time.monotonic() + 30
    while job_id not in _run_in_release(host, check):
        assert time.monotonic() < deadline, host.exec(f"tail -20 /var/log/webstack/{APP}-rq.log")[1]
        time.sleep(1)
    _, log = host.exec(f"cat /var/log/webstack/{APP}-rq.log")
    assert "RuntimeError: notice 0 cannot be published" in log


def test_a_restart_of_the_rq_worker_lets_the_job_in_progress_finish(noticeboard):
    """What a new release does to the worker (systemd's stop with SIGTERM, then a start): RQ's
    warm shutdown, the 6-second job that was running finishes and lands in the finished
    registry."""
    host = noticeboard.host
    job_id = _run_in_release(host, 'python manage.py shell -c "import django_rq, time; '
                                   'print(django_rq.enqueue(time.sleep, 6).id)"').strip()
    status = ('python manage.py shell -c "import django_rq; '
              f"print(django_rq.get_queue('default').fetch_job('{job_id}').get_status().value)\"")
    deadline = time.monotonic() + 20
    while _run_in_release(host, status) != "started":
        assert time.monotonic() < deadline, host.exec(f"tail -20 /var/log/webstack/{APP}-rq.log")[1]
        time.sleep(0.3)
    host.exec(["systemctl", "restart", f"{APP}-rq"])
    assert _run_in_release(host, status) == "finished"
    _, log = host.exec(f"cat /var/log/webstack/{APP}-rq.log")
    assert "warm shut down requested" in log.lower(), log[-3000:]


def test_the_static_files_come_from_the_cdn_whose_origin_is_nginx(noticeboard):
    """app:cdn_url: the page links the CDN's address (STATIC_URL under the project's name);
    Nginx, the CDN's origin, serves the hashed file immutable, with the CORS header that fonts
    read from another origin need; uploads stay on the site."""
    host = noticeboard.host
    page = requests.get(host.url() + "/", timeout=10).text
    href = re.search(r'href="https://cdn\.example\.org/static/(notices/style\.[0-9a-f]{12}\.css)"', page)
    assert href, page[:1500]
    origin = requests.get(host.url() + "/static/" + href.group(1), timeout=10)
    assert origin.status_code == 200 and origin.headers["Server"] == "nginx"
    assert origin.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert origin.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in requests.get(host.url() + "/", timeout=10).headers


def test_the_noticeboard_second_run_changes_nothing(noticeboard, timings):
    code, out, seconds = noticeboard.run_bootstrap()
    timings["bootstrap_second_noticeboard"] = seconds
    assert code == 0, out[-4000:]
    assert summary_changed(out) == [], f"second run changed something:\n{out[-4000:]}"
