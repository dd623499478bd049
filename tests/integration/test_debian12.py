"""
Debian 12 (bookworm), oldstable and still supported. The rest of the integration tier
runs on Debian 13; this test shows a fresh Debian 12 server set up by `./bootstrap.sh`
with the defaults (role single: Gunicorn behind Nginx, PostgreSQL 15, Redis 7, Celery
under Supervisord, HTTPS). Its cluster: test_cluster_debian12.py.
"""

import requests

from tests.support.containers import OTHER_RELEASE, os_release
from tests.support.single import assert_predicted_exactly, summary_changed

assert OTHER_RELEASE == "bookworm"


def test_a_fresh_debian_12_server_serves_the_site_over_https_and_runs_again_without_a_change(
        fresh_servers, timings):
    server = fresh_servers[OTHER_RELEASE]
    host = server.host
    assert server.first_code == 0, f"./bootstrap.sh on Debian 12 exited {server.first_code}:\n" \
                                   f"{server.first_output[-6000:]}"
    assert os_release(host)["VERSION_ID"] == "12"
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
