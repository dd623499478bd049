"""
The cluster on Debian 12 (bookworm), oldstable and still supported: a master and four
minions deployed by `salt-run state.orchestrate orch.deploy`, whose HAProxy 2.6 is then
reconfigured under load. The cluster puts roles together as a smaller team would (the
database and the cache on one node, the worker beside an app): four minions instead of
the six of test_cluster.py. Its fresh single server: test_debian12.py.
"""

import json

from tests.support.cluster import failed_steps, lb_config_changes_under_load, version
from tests.support.containers import OTHER_RELEASE, os_release

assert OTHER_RELEASE == "bookworm"


def test_the_cluster_on_debian_12_deploys_and_serves_from_both_app_nodes(cluster12):
    assert failed_steps(cluster12.first) == []
    steps = [res["__id__"] for res in cluster12.first.values()]
    assert "Switch the workers to the release on app1" in steps, steps
    for node in ("master", *cluster12.minions):
        host = cluster12.master if node == "master" else cluster12.minions[node]
        assert os_release(host)["VERSION_ID"] == "12", node
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
