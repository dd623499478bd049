"""
Switching a single server from one WSGI server to another by pillar
(/etc/webstack/pillar/local.sls) and running `./bootstrap.sh` again: the old
server's programs and configs are removed, no old process runs, the new server
serves the same data, and a further run changes nothing. The host is the
Gunicorn server of test_single.py, taken through uWSGI and mod_wsgi and back.
"""

import re
import uuid

import pytest
import requests

from tests.integration.conftest import write_local_pillar
from tests.support.single import APP, SERVING, pids, psql, summary_changed

# what must exist with each server, and what must be gone once another one serves
LEFTOVERS = {
    "gunicorn": [f"/etc/supervisor/conf.d/{APP}-gunicorn.conf", f"/etc/webstack/{APP}/gunicorn.conf.py",
                 f"/srv/{APP}/run/gunicorn.sock"],
    "uwsgi": [f"/etc/supervisor/conf.d/{APP}-uwsgi.conf", f"/etc/webstack/{APP}/uwsgi.ini",
              f"/srv/{APP}/run/uwsgi.sock", f"/srv/{APP}/run/uwsgi.fifo", f"/srv/{APP}/run/uwsgi-stats.sock"],
    "mod_wsgi": [f"/srv/{APP}/app.wsgi"],
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
