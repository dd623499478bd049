"""
Debian 12 (bookworm), oldstable and still supported. The rest of the integration tier
runs on Debian 13; these tests show the stack on Debian 12: a fresh server set up by
`./bootstrap.sh` with the defaults (role single: Gunicorn behind Nginx, PostgreSQL 15,
Redis 7, Celery under Supervisord, HTTPS), and a cluster deployed by
`salt-run state.orchestrate orch.deploy`, whose HAProxy 2.6 is then reconfigured under load.
That cluster puts roles together as a smaller team would (the database and the cache on
one node, the worker beside an app): four minions instead of the six of test_cluster.py.
"""

import json
import re

import requests

from tests.support.cluster import failed_steps, lb_config_changes_under_load, version
from tests.support.containers import OTHER_RELEASE
from tests.support.single import assert_predicted_exactly, summary_changed

assert OTHER_RELEASE == "bookworm"


def _os_release(host):
    _, out = host.exec(["cat", "/etc/os-release"])
    return dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', out, re.M))


def test_a_fresh_debian_12_server_serves_the_site_over_https_and_runs_again_without_a_change(
        fresh_servers, timings):
    server = fresh_servers[OTHER_RELEASE]
    host = server.host
    assert server.first_code == 0, f"./bootstrap.sh on Debian 12 exited {server.first_code}:\n" \
                                   f"{server.first_output[-6000:]}"
    assert _os_release(host)["VERSION_ID"] == "12"
    assert "webstack is up: https://" in server.first_output
    # the prediction on the fresh server was exact
    assert server.test_code == 0, server.test_output[-4000:]
    assert len(assert_predicted_exactly(server.test_output, server.first_output)) > 20
    # the site, over HTTPS with the certificate the formula made, its form, and Debian 12's
    # PostgreSQL 15 behind it
    resp = requests.get(host.url() + "/", timeout=10)
    assert resp.status_code == 200 and resp.headers.get("Server") == "nginx"
    assert 'name="csrfmiddlewaretoken"' in resp.text
    assert host.exec(["pg_lsclusters", "-h"])[1].split()[:4] == ["15", "main", "5432", "online"]
    code, out, seconds = server.run_bootstrap()
    timings["bootstrap_second_bookworm"] = seconds
    assert code == 0, out[-3000:]
    assert summary_changed(out) == [], f"second run changed something:\n{out[-4000:]}"


def test_the_cluster_on_debian_12_deploys_and_serves_from_both_app_nodes(cluster12):
    assert failed_steps(cluster12.first) == []
    steps = [res["__id__"] for res in cluster12.first.values()]
    assert "Switch the workers to the release on app1" in steps, steps
    for node in ("master", *cluster12.minions):
        host = cluster12.master if node == "master" else cluster12.minions[node]
        assert _os_release(host)["VERSION_ID"] == "12", node
    assert {version(cluster12.lb.ip)[1] for _ in range(20)} == {"app1", "app2"}
    # the cache and the database share db1; a Celery worker runs on app1
    db1 = cluster12.minions["db1"]
    assert db1.exec(["pgrep", "-x", "redis-server"], check=False)[0] == 0
    assert db1.exec(["pgrep", "-f", "postgres -D"], check=False)[0] == 0
    _, pong = cluster12.master.exec(["salt", "--out=json", "--static", "app1", "cmd.run",
                                     "pgrep -fc '[c]elery.*worker'"])
    assert int(json.loads(pong)["app1"]) >= 1, pong


def test_changes_of_haproxys_config_under_load_lose_requests_only_to_closed_idle_connections(
        cluster12, timings):
    """HAProxy 2.6 (Debian 12) has no idle-close-on-response: on a reload the old workers close
    their idle keep-alive connections, and a client that sends a request on one at that
    instant sees it closed without an answer (docs/operations.md, Limits; Debian 13's
    HAProxy 3.0 loses none: test_cluster.py). Four changes of an lb:* key under load, each
    a reload: every answer is a 2xx, and any failure is such a closed connection (the count
    goes to the run's figures)."""
    assert "idle-close-on-response" not in cluster12.lb.exec(["cat", "/etc/haproxy/haproxy.cfg"])[1]
    summary = lb_config_changes_under_load(cluster12)
    timings["haproxy_config_changes_requests_bookworm"] = summary["requests"]
    timings["haproxy_config_changes_failed_bookworm"] = summary["failed"]
    assert summary["requests"] > 200 and summary["non_2xx"] == 0, summary
    closed = ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError", "SSLEOFError", "SSLZeroReturnError")
    assert all(kind.startswith(closed) for kind in summary["error_kinds"]), summary["error_kinds"]
