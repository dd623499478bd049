"""
Role single on a fresh Debian 13 container, set up by `./bootstrap.sh` exactly as
docs/operations.md says, once per WSGI server (`wsgi:server` gunicorn, uwsgi, mod_wsgi in
/etc/webstack/pillar/local.sls); everything is checked from outside the
container, through the web server (Nginx, or Apache for mod_wsgi) on a published
loopback port.
"""

import json
import re
import socket
import ssl
import time
import uuid
import warnings

import requests

from tests.support.single import (
    APP,
    assert_predicted_exactly,
    csrf_session,
    generated_secrets,
    pids,
    psql,
    reload_under_load,
    summary_changed,
)

# What each setup looks like from outside: the web server's Server header, the
# processes that serve the app, the app server's log.
SETUPS = {
    "gunicorn": {"server": "nginx", "procs": r"gunicorn", "log": f"/var/log/webstack/{APP}-gunicorn.log",
                 "front": ("nginx", "/etc/nginx/nginx.conf")},
    "uwsgi": {"server": "nginx", "procs": r"uwsgi-core", "log": f"/var/log/webstack/{APP}-uwsgi.log",
              "front": ("nginx", "/etc/nginx/nginx.conf")},
    "mod_wsgi": {"server": "Apache", "procs": rf"\(wsgi:{APP}\)", "log": None,
                 "front": ("apache2", "/etc/apache2/apache2.conf")},
}


def test_bootstrap_reports_success_and_url(single_server):
    out = single_server.first_output
    assert re.search(r"Failed:\s+0", out), out[-3000:]
    assert "webstack is up: https://" in out


def _handshake(port, version, ciphers="DEFAULT:@SECLEVEL=0"):
    """A TLS handshake with 127.0.0.1:``port`` offering only ``version`` (the client allows even
    TLS 1.0: what is refused, the server refused); (protocol, cipher) or the error's text."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.0 and 1.1 are deprecated: offering them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    context.set_ciphers(ciphers)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, context.wrap_socket(sock) as tls:
            return tls.version(), tls.cipher()[0]
    except ssl.SSLError as exc:
        return str(exc)


def test_https_only_with_the_mozilla_intermediate_profile(single_server):
    """HTTP answers every path with a redirect to it over HTTPS. HTTPS has a certificate for the
    server's names that verifies (the self-signed one the formula made, trusted by this test
    run), speaks TLS 1.2 and 1.3 only, with forward-secret AEAD suites only; every answer says
    Strict-Transport-Security and the app's cookies are Secure."""
    host = single_server.host
    resp = requests.get(host.url(80) + "/upload/?page=2", allow_redirects=False, timeout=10)
    assert resp.status_code == 301
    assert resp.headers["Location"] == "https://127.0.0.1/upload/?page=2"
    assert resp.headers.get("Server") == SETUPS[single_server.wsgi]["server"]

    page = requests.get(host.url() + "/", timeout=10)  # verified against the server's certificate
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert re.search(r"csrftoken=[^;]+;.*\bSecure\b", page.headers["Set-Cookie"]), page.headers["Set-Cookie"]
    _, crt = host.exec(f"openssl x509 -in /etc/webstack/tls/{APP}.crt -noout -ext subjectAltName")
    assert "DNS:localhost" in crt and "IP Address:127.0.0.1" in crt, crt

    port = int(host.url().rsplit(":", 1)[1])
    assert _handshake(port, ssl.TLSVersion.TLSv1_3)[0] == "TLSv1.3"
    version, cipher = _handshake(port, ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        assert "alert protocol version" in str(_handshake(port, old)).lower()
    # TLS 1.2 with only suites outside the profile (CBC, no forward secrecy): refused
    assert "handshake failure" in str(_handshake(port, ssl.TLSVersion.TLSv1_2,
                                                 "ECDHE-ECDSA-AES128-SHA:AES128-SHA:AES256-SHA256:@SECLEVEL=0"))


def test_django_deploy_check_passes_under_the_formula_settings(single_server):
    """`manage.py check --deploy --fail-level WARNING` as the app's user with the config file the
    formula wrote: no issue. The same check without the formula's HTTPS settings fails."""
    host = single_server.host
    check = (f"cd /srv/{APP}/current/src && runuser -u {APP} -- env WEBSTACK_CONFIG=/etc/webstack/{APP}/app.env "
             "{env} ../venv/bin/python manage.py check --deploy --fail-level WARNING")
    code, out = host.exec(check.format(env=""), check=False)
    assert code == 0, out
    assert "System check identified no issues" in out
    code, out = host.exec(check.format(env="SECURE_SSL_REDIRECT=0 CSRF_COOKIE_SECURE=0"), check=False)
    assert code != 0
    assert "security.W008" in out and "security.W016" in out, out


def test_postgres_logs_no_password(single_server):
    """Statements are not logged, not even failing ones: a password in a failing ALTER ROLE, in
    a role created and dropped, and the app's own password (set by Salt) never reach the log;
    the error itself does."""
    host = single_server.host
    marker = f"pw-{uuid.uuid4().hex}"
    host.exec(["su", "postgres", "-s", "/bin/sh", "-c",
               f"psql -X -c \"ALTER ROLE no_such_role PASSWORD '{marker}-1'\"; "
               f"psql -X -c \"CREATE ROLE webstack_tmp PASSWORD '{marker}-2'\" -c 'DROP ROLE webstack_tmp'"],
              check=False)
    _, log = host.exec("sleep 1; cat /var/log/postgresql/*.log")
    assert 'role "no_such_role" does not exist' in log
    assert marker not in log
    assert generated_secrets(host)["postgres:password"] not in log


def test_test_mode_on_the_fresh_server_predicted_the_first_run_exactly(single_server):
    """`./bootstrap.sh --test` on the fresh server, before anything was installed: the states
    it said would change are the states the first real run changed, no more, no fewer."""
    out = single_server.test_output
    assert single_server.test_code == 0, out[-4000:]
    assert "test mode: the states above show what a real run would change" in out
    changed = assert_predicted_exactly(out, single_server.first_output)
    # the prediction installed nothing: the real run installed the packages
    assert ("webstack-postgres-package-pkg-installed", "pkg.installed") in changed
    assert (f"{APP}-celery", "webstack_process.running") in changed
    assert len(changed) > 20


def test_home_page_lists_a_row_from_postgresql(single_server):
    host = single_server.host
    marker = f"row-from-psql-{uuid.uuid4().hex[:8]}"
    psql(host, f"INSERT INTO entries_entry (text, source, created) VALUES ('{marker}', 'web', now())")
    resp = requests.get(host.url() + "/", timeout=10)
    assert resp.status_code == 200
    assert marker in resp.text
    assert resp.headers.get("Server") == SETUPS[single_server.wsgi]["server"]


def test_post_adds_a_row_and_the_celery_task_writes_its_row(single_server):
    host = single_server.host
    base = host.url()
    session, token = csrf_session(base)
    marker = f"posted-{uuid.uuid4().hex[:8]}"
    resp = session.post(base + "/", data={"text": marker, "csrfmiddlewaretoken": token},
                        headers={"Referer": base + "/"}, timeout=10)
    assert resp.status_code == 200 and marker in resp.text
    assert psql(host, f"SELECT source FROM entries_entry WHERE text = '{marker}'") == "web"

    deadline = time.monotonic() + 10
    while True:
        page = requests.get(base + "/", timeout=10).text
        if f"task: {marker}" in page:
            break
        assert time.monotonic() < deadline, "the Celery task's row did not appear within 10 s"
        time.sleep(0.5)
    assert psql(host, f"SELECT source FROM entries_entry WHERE text = 'task: {marker}'") == "task"


def test_css_is_served_by_the_web_server_not_the_app(single_server):
    host = single_server.host
    setup = SETUPS[single_server.wsgi]
    page = requests.get(host.url() + "/", timeout=10)
    assert page.headers.get("X-Frame-Options") == "DENY"  # Django's middleware marks its answers
    resp = requests.get(host.url() + "/static/entries/site.css", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/css")
    assert resp.headers.get("Server") == setup["server"]  # no version (server_tokens off, ServerTokens Prod)
    assert "Expires" in resp.headers or "max-age=" in resp.headers.get("Cache-Control", "")
    # the web server's own headers on what it serves itself
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    assert resp.headers.get("X-Frame-Options") == "DENY"
    assert resp.headers.get("Strict-Transport-Security") == "max-age=63072000"
    if setup["log"]:
        _, log = host.exec(f"cat {setup['log']}")
        assert "/static/entries/site.css" not in log, "the WSGI server served a static file"
    # mod_wsgi's server has app:cdn_url: its pages link the CDN, Apache is the CDN's origin,
    # with the CORS header that fonts from another origin need (on static files only)
    cdn = single_server.wsgi == "mod_wsgi"
    assert ('href="https://cdn.example.org/static/entries/site.css"' in page.text) is cdn, page.text[:1500]
    assert resp.headers.get("Access-Control-Allow-Origin") == ("*" if cdn else None)
    assert "Access-Control-Allow-Origin" not in page.headers


def test_uploaded_file_reads_back_from_media(single_server):
    host = single_server.host
    base = host.url()
    session, token = csrf_session(base, "/upload/")
    content = f"uploaded {uuid.uuid4()}\n".encode()
    name = f"note-{uuid.uuid4().hex[:6]}.txt"
    resp = session.post(base + "/upload/", data={"csrfmiddlewaretoken": token},
                        files={"file": (name, content, "text/plain")},
                        headers={"Referer": base + "/upload/"}, timeout=10)
    assert resp.status_code == 200
    link = re.search(r'href="(/media/uploads/[^"]+)"', resp.text)
    assert link, resp.text[:1000]
    back = requests.get(base + link.group(1), timeout=10)
    assert back.status_code == 200 and back.content == content
    assert back.headers.get("X-Content-Type-Options") == "nosniff"
    assert back.headers.get("X-Frame-Options") == "DENY"
    assert back.headers.get("Strict-Transport-Security") == "max-age=63072000"
    setup = SETUPS[single_server.wsgi]
    if setup["log"]:
        _, log = host.exec(f"cat {setup['log']}")
        assert link.group(1) not in log, "the WSGI server served an upload"


def test_healthz_and_version(single_server):
    host = single_server.host
    resp = requests.get(host.url() + "/healthz", timeout=10)
    assert resp.status_code == 200, resp.text
    _, current = host.exec(f"readlink /srv/{APP}/current")
    version = requests.get(host.url() + "/version", timeout=10).text.strip()
    assert version == current.strip().split("/")[-1]


def test_redis_has_a_user_per_consumer_without_admin_commands(single_server):
    host = single_server.host
    _, out = host.exec("redis-cli -h 127.0.0.1 ping", check=False)
    assert "NOAUTH" in out
    password = generated_secrets(host)["redis:password"]
    cli = ["redis-cli", "-h", "127.0.0.1", "--no-auth-warning"]
    # the admin: redis:password with the user name admin; the password alone is refused
    _, out = host.exec(cli + ["--user", "admin", "-a", password, "config", "get", "appendonly"])
    assert out.split() == ["appendonly", "yes"]
    _, out = host.exec(cli + ["-a", password, "ping"], check=False)
    assert "WRONGPASS" in out, out
    # the app's consumers: their own users, from the app's config file
    _, env = host.exec(["cat", f"/etc/webstack/{APP}/app.env"])
    urls = dict(line.split("=", 1) for line in env.splitlines() if line.startswith(("CACHE_URL=", "CELERY_BROKER")))
    assert [url.split("://")[1].split(":")[0] for url in urls.values()] == [f"{APP}-cache", f"{APP}-broker"]
    for url in urls.values():
        assert host.exec(["redis-cli", "--no-auth-warning", "-u", url, "ping"])[1].strip() == "PONG"
        for command in (["config", "get", "appendonly"], ["flushall"], ["keys", "*"], ["shutdown"]):
            _, out = host.exec(["redis-cli", "--no-auth-warning", "-u", url] + command, check=False)
            assert "NOPERM" in out, (command, out)
    # redis.conf holds hashes only
    _, conf = host.exec(["cat", "/etc/redis/redis.conf"])
    assert password not in conf and not [url for url in urls.values() if url.split(":")[2].split("@")[0] in conf]
    assert "user default off" in conf
    assert "bind 127.0.0.1 -::1" in conf and "appendonly yes" in conf and "appendfsync everysec" in conf


def test_app_processes_do_not_run_as_root(single_server):
    host = single_server.host
    app = pids(host, SETUPS[single_server.wsgi]["procs"])
    celery = pids(host, r"-m celery --app")
    assert app and celery
    assert {user for user, _ in list(app.values()) + list(celery.values())} == {APP}


def test_only_the_app_and_the_web_server_reach_the_socket(single_server):
    host = single_server.host
    _, out = host.exec(["stat", "-c", "%a %U:%G", f"/srv/{APP}/run"])
    assert out.split() == ["2750", f"{APP}:www-data"]
    if single_server.wsgi == "uwsgi":
        _, out = host.exec(["stat", "-c", "%a %U:%G", f"/srv/{APP}/run/uwsgi.sock"])
        assert out.split() == ["660", f"{APP}:www-data"]
    code, out = host.exec(["su", "nobody", "-s", "/bin/sh", "-c", f"ls /srv/{APP}/run"], check=False)
    assert code != 0 and "Permission denied" in out


def test_secrets_are_not_world_readable(single_server):
    host = single_server.host
    for path, owner, expected_mode in [("/etc/webstack/pillar/secrets.sls", "root:root", "600"),
                                       (f"/etc/webstack/{APP}/app.env", f"root:{APP}", "640"),
                                       ("/etc/redis/redis.conf", "redis:redis", "640"),
                                       (f"/etc/webstack/tls/{APP}.pem", "root:root", "600"),
                                       (f"/etc/webstack/tls/{APP}.crt", "root:root", "644")]:
        _, out = host.exec(["stat", "-c", "%a %U:%G", path])
        assert out.split() == [expected_mode, owner], f"{path}: {out}"
    _, out = host.exec(["stat", "-c", "%a", "/etc/webstack/pillar"])
    assert out.strip() == "700"


def test_program_logs_are_not_world_readable(single_server):
    """Access logs carry URLs, reset tokens among them: another user reads none of them."""
    host = single_server.host
    _, out = host.exec(["stat", "-c", "%a %U:%G", "/var/log/webstack"])
    assert out.split() == ["750", "root:root"]
    _, logs = host.exec(["sh", "-c", "ls /var/log/webstack/*.log"])
    assert f"{APP}-celery.log" in logs
    for log in logs.split():
        code, out = host.exec(["su", "nobody", "-s", "/bin/sh", "-c", f"cat {log}"], check=False)
        assert code != 0 and "Permission denied" in out, log


def test_second_bootstrap_changes_nothing(single_server, timings):
    code, out, seconds = single_server.run_bootstrap()
    timings[f"bootstrap_second_{single_server.wsgi}"] = seconds
    assert code == 0, out[-3000:]
    assert re.search(r"Failed:\s+0", out), out[-3000:]
    assert summary_changed(out) == [], f"second run changed something:\n{out[-4000:]}"
    total = re.search(r"Total states run:\s+(\d+)", out)
    timings[f"states_in_role_single_{single_server.wsgi}"] = float(total.group(1))  # a count


def test_test_mode_after_the_second_run_predicts_nothing(single_server):
    host = single_server.host
    _, out = host.exec("webstack-salt-call state.apply webstack.roles.single test=True --out=json "
                       "--log-level=quiet 2>/dev/null")
    result = json.loads(out[out.index("{"):])["local"]
    pending = {key: (ret["result"], ret["comment"][:200]) for key, ret in result.items()
               if ret["result"] is not True or ret["changes"]}
    assert len(result) > 20
    assert pending == {}


def test_bootstrap_with_an_operator_pillar_tree(single_server):
    host = single_server.host
    code, out = host.exec("cd /root/webstack && ./bootstrap.sh --pillar /nonexistent", check=False)
    assert code == 2 and "--pillar /nonexistent: not a directory" in out
    # The operator's own tree (here: a copy of the generated one) drives the same state.
    host.exec("rm -rf /root/pillar && cp -a /etc/webstack/pillar /root/pillar")
    code, out = host.exec("cd /root/webstack && ./bootstrap.sh --pillar /root/pillar", check=False,
                          timeout=900)
    assert code == 0, out[-3000:]
    assert summary_changed(out) == [], out[-3000:]
    _, conf = host.exec("grep -A2 pillar_roots /etc/webstack/salt/minion")
    assert "/root/pillar" in conf
    # back to the generated tree for the next tests
    code, out = host.exec("cd /root/webstack && ./bootstrap.sh", check=False, timeout=900)
    assert code == 0 and summary_changed(out) == [], out[-3000:]


def test_test_mode_is_exact_on_a_drifted_server(single_server):
    """Drift by hand (the web server's config edited, the web server and the Celery program
    stopped, a package removed): `./bootstrap.sh --test` names exactly the states that the
    real run then changes, and the real run puts everything back."""
    host, wsgi = single_server.host, single_server.wsgi
    service, conf = SETUPS[wsgi]["front"]
    host.exec(f"echo '# edited by hand' >> {conf} && service {service} stop && "
              f"supervisorctl stop {APP}-celery && apt-get remove -y -q git")
    code, test_out, _ = single_server.run_bootstrap("--test")
    assert code == 0, test_out[-4000:]
    assert "edited by hand" in host.exec(["cat", conf])[1], "--test changed the config"
    code, out, _ = single_server.run_bootstrap()
    assert code == 0, out[-4000:]
    changed = {name for name, _ in assert_predicted_exactly(test_out, out)}
    assert {conf, service, f"{APP}-celery", "webstack-app-package-pkg-installed"} <= changed, changed
    assert "edited by hand" not in host.exec(["cat", conf])[1]
    assert host.exec("git --version")[0] == 0
    assert requests.get(host.url() + "/healthz", timeout=10).status_code == 200
    code, out, _ = single_server.run_bootstrap()
    assert code == 0 and summary_changed(out) == [], out[-3000:]


def test_secrets_stay_out_of_the_state_output(single_server):
    """The files that hold secrets edited by hand: the run puts them back (Redis restarts,
    the app reloads) and its full output shows neither a diff of them nor any secret."""
    host = single_server.host
    values = list(generated_secrets(host).values())
    _, env = host.exec(["cat", f"/etc/webstack/{APP}/app.env"])
    values += [line.split("://")[1].split(":")[1].split("@")[0] for line in env.splitlines()
               if line.startswith(("CACHE_URL=", "CELERY_BROKER_URL="))]
    assert len(values) == 7 and all(len(v) >= 16 for v in values)
    host.exec(f"echo '# edited by hand' >> /etc/webstack/{APP}/app.env && "
              "echo '# edited by hand' >> /etc/redis/redis.conf")
    code, out = host.exec("webstack-salt-call --out=json --retcode-passthrough state.apply webstack.roles.single",
                          check=False, timeout=600)
    assert code == 0, out[-3000:]
    result = json.loads(out[out.index("{"):])["local"]
    changed = {ret["name"]: ret["changes"] for ret in result.values() if ret["changes"]}
    for path in (f"/etc/webstack/{APP}/app.env", "/etc/redis/redis.conf"):
        assert changed.get(path) == {"diff": "<show_changes=False>"}, changed.get(path)
    assert not [v for v in values if v in out], "a secret is in the state output"
    assert requests.get(host.url() + "/healthz", timeout=10).status_code == 200
    code, out, _ = single_server.run_bootstrap()
    assert code == 0 and summary_changed(out) == [], out[-3000:]


def test_new_release_under_load_reloads_gracefully_with_no_failed_request(single_server, timings):
    """A code change, deployed by a second bootstrap while 50 clients send GETs: every answer
    is a 2xx, the parent process stays (Gunicorn: SIGHUP; uWSGI: a chain reload; mod_wsgi:
    the daemon processes restart, Apache does not), every worker is new, Celery restarts."""
    host, wsgi = single_server.host, single_server.wsgi
    celery = set(pids(host, r"-m celery --app"))
    before, new_id = reload_under_load(single_server, wsgi, timings, f"reload_{wsgi}")
    assert not celery & set(pids(host, r"-m celery --app")), "the Celery worker still runs the old release"
    _, releases = host.exec(f"ls /srv/{APP}/releases")
    assert before in releases.split() and new_id in releases.split()
