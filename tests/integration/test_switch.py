"""
Switching a single server from one WSGI server to another by pillar
(/etc/webstack/pillar/local.sls) and running `./bootstrap.sh` again: the old
server's programs and configs are removed, no old process runs, the new server
serves the same data, and a further run changes nothing. The host is the
Gunicorn server of test_single.py, taken through uWSGI and mod_wsgi and back;
then TLS turned off (`tls:enabled: false`) and on again.
"""

import re
import uuid

import pytest
import requests

from tests.integration.conftest import write_local_pillar
from tests.support.single import APP, SERVING, pids, psql, summary_changed
from tests.support.tls import trust_host

# what must exist with each server, and what must be gone once another one serves
LEFTOVERS = {
    "gunicorn": [f"/etc/supervisor/conf.d/{APP}-gunicorn.conf", f"/etc/webstack/{APP}/gunicorn.conf.py",
                 f"/srv/{APP}/run/gunicorn.sock"],
    "uwsgi": [f"/etc/supervisor/conf.d/{APP}-uwsgi.conf", f"/etc/webstack/{APP}/uwsgi.ini",
              f"/srv/{APP}/run/uwsgi.sock", f"/srv/{APP}/run/uwsgi.fifo", f"/srv/{APP}/run/uwsgi-stats.sock"],
    # nothing of the app's is mod_wsgi's own: its script is the app's entry, which every
    # server loads; Apache itself stopped is checked below (FRONT_PROCS)
    "mod_wsgi": [],
}
FRONT = {"gunicorn": ("nginx", "Apache"), "uwsgi": ("nginx", "Apache"), "mod_wsgi": ("Apache", "nginx")}
FRONT_PROCS = {"nginx": r"^nginx: master", "Apache": r"^/usr/sbin/apache2"}


@pytest.fixture(scope="module")
def server(fresh_servers):
    server = fresh_servers["gunicorn"]
    assert server.first_code == 0, server.first_output[-6000:]
    marker = f"kept-across-switches-{uuid.uuid4().hex[:8]}"
    psql(server.host, f"INSERT INTO entries_entry (text, source, created) VALUES ('{marker}', 'web', now())")
    server.marker = marker
    return server


def _exists(host, path):
    return host.exec(["test", "-e", path], check=False)[0] == 0


@pytest.mark.parametrize("wsgi", ["uwsgi", "mod_wsgi", "gunicorn"])
def test_switching_the_wsgi_server_leaves_nothing_of_the_old_one(server, wsgi, timings):
    host = server.host
    write_local_pillar(host, {"wsgi": {"server": wsgi}})
    code, out, seconds = server.run_bootstrap()
    timings[f"switch_to_{wsgi}"] = seconds
    assert code == 0, out[-4000:]

    # the new server answers, with the data of before
    resp = requests.get(host.url() + "/", timeout=10)
    assert resp.status_code == 200 and server.marker in resp.text
    front, other_front = FRONT[wsgi]
    assert resp.headers.get("Server") == front
    assert requests.get(host.url() + "/healthz", timeout=10).status_code == 200
    assert pids(host, SERVING[wsgi]), f"no {wsgi} process serves"

    # nothing of the others: no process, no program, no config, no socket
    for other in set(SERVING) - {wsgi}:
        assert pids(host, SERVING[other]) == {}, f"a {other} process still runs"
        left = [path for path in LEFTOVERS[other] if _exists(host, path)]
        assert left == [], f"{other} left {left}"
    assert pids(host, FRONT_PROCS[other_front]) == {}, f"{other_front} still runs"
    assert pids(host, FRONT_PROCS[front]), f"{front} does not run"
    _, status = host.exec(["supervisorctl", "status"], check=False)
    programs = dict(re.findall(rf"^({APP}-\S+)\s+(\S+)", status, re.M))
    expected = [f"{APP}-celery"] + ([f"{APP}-{wsgi}"] if wsgi != "mod_wsgi" else [])
    assert programs == dict.fromkeys(expected, "RUNNING"), status

    # and the next run has nothing to do
    code, out, _ = server.run_bootstrap()
    assert code == 0 and summary_changed(out) == [], out[-4000:]


def test_tls_turned_off_serves_plain_http_leaves_no_key_and_comes_back(server):
    host = server.host
    tls_files = [f"/etc/webstack/tls/{APP}.pem", f"/etc/webstack/tls/{APP}.crt"]
    _, old_crt = host.exec(["cat", tls_files[1]])
    write_local_pillar(host, {"wsgi": {"server": "gunicorn"}, "tls": {"enabled": False}})
    code, out, _ = server.run_bootstrap()
    assert code == 0 and "webstack is up: http://" in out, out[-4000:]
    plain = host.url(80)
    resp = requests.get(plain + "/", timeout=10, allow_redirects=False)
    assert resp.status_code == 200 and server.marker in resp.text  # no redirect to HTTPS
    assert "Strict-Transport-Security" not in resp.headers
    cookie = resp.headers.get("Set-Cookie", "")
    assert "csrftoken=" in cookie and "; Secure" not in cookie, cookie  # sent back over HTTP
    _, listening = host.exec("ss -Htln")
    assert not re.search(r":443\b", listening), listening
    assert [path for path in tls_files if _exists(host, path)] == [], "the certificate or its key stayed"
    _, env = host.exec(["cat", f"/etc/webstack/{APP}/app.env"])
    assert "SECURE_SSL_REDIRECT" not in env and "SESSION_COOKIE_SECURE" not in env, env
    code, out, _ = server.run_bootstrap()
    assert code == 0 and summary_changed(out) == [], out[-4000:]

    write_local_pillar(host, {"wsgi": {"server": "gunicorn"}})
    code, out, _ = server.run_bootstrap()
    assert code == 0 and "webstack is up: https://" in out, out[-4000:]
    assert trust_host(host) != old_crt  # a new self-signed certificate, its key never reused
    resp = requests.get(plain + "/healthz", timeout=10, allow_redirects=False)
    assert resp.status_code == 301 and resp.headers["Location"].startswith("https://")
    resp = requests.get(host.url() + "/", timeout=10)
    assert resp.status_code == 200 and server.marker in resp.text
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    code, out, _ = server.run_bootstrap()
    assert code == 0 and summary_changed(out) == [], out[-4000:]

