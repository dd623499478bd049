"""
`process_manager: systemd` on a server whose PID 1 is systemd (the container boots
webstack-systemd:trixie's systemd), set up from scratch by `./bootstrap.sh` with
/etc/webstack/pillar/local.sls asking for systemd and uWSGI: units instead of
Supervisord programs, each passing `systemd-analyze verify`; reloads under load
with uWSGI and with Gunicorn; and a switch back to Supervisord that leaves no unit.
Last, `bootstrap.sh --master` on the same host: the unit that loads the master's
firewall again at boot.
"""

import re
import time
import uuid

import pytest
import requests

from tests.integration.conftest import write_local_pillar
from tests.support.containers import tcp_reaches, wait_until
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

UNITS = "/etc/systemd/system"


@pytest.fixture(scope="module")
def server(fresh_servers):
    server = fresh_servers["systemd"]
    assert server.first_code == 0, server.first_output[-6000:]
    return server


def test_test_mode_on_the_fresh_server_predicted_the_first_run_exactly(server):
    assert server.test_code == 0, server.test_output[-4000:]
    changed = assert_predicted_exactly(server.test_output, server.first_output)
    assert (f"{APP}-uwsgi", "webstack_process.running") in changed


def _active(host, unit):
    return host.exec(["systemctl", "is-active", unit], check=False)[1].strip()


def test_pid_1_is_systemd_and_salt_uses_it(server):
    host = server.host
    _, comm = host.exec(["cat", "/proc/1/comm"])
    assert comm.strip() == "systemd"
    _, conf = host.exec(["cat", "/etc/webstack/salt/minion"])
    assert "disable_modules: [idem]" in conf  # bootstrap.sh leaves systemd_service on


def test_the_app_and_the_worker_run_as_units_and_no_supervisord(server):
    host = server.host
    for unit in (f"{APP}-uwsgi", f"{APP}-celery"):
        assert _active(host, unit) == "active", unit
        _, enabled = host.exec(["systemctl", "is-enabled", unit], check=False)
        assert enabled.strip() == "enabled", unit
        _, user = host.exec(["systemctl", "show", "-p", "User", "--value", unit])
        assert user.strip() == APP
    assert pids(host, r"supervisord") == {}
    assert host.exec(["test", "-e", "/etc/supervisor/conf.d/webapp-uwsgi.conf"], check=False)[0] != 0


def test_no_secret_in_the_units_nor_in_what_systemctl_shows_another_user(server):
    """The settings reach the units' processes through the app's entry: neither a unit file
    nor what `systemctl show` tells another user (nobody) has a secret."""
    host = server.host
    secrets = generated_secrets(host)
    _, files = host.exec(f"cat {UNITS}/{APP}-uwsgi.service {UNITS}/{APP}-celery.service")
    for unit in (f"{APP}-uwsgi", f"{APP}-celery"):
        _, shown = host.exec(["systemctl", "show", unit], user="nobody")
        assert f"WEBSTACK_CONFIG=/etc/webstack/{APP}/app.env" in shown
        for key, value in secrets.items():
            assert str(value) not in shown and str(value) not in files, (unit, key)


def test_every_rendered_unit_passes_systemd_analyze_verify(server):
    host = server.host
    _, units = host.exec(f"ls {UNITS}/{APP}-*.service")
    units = units.split()
    assert sorted(u.rsplit("/", 1)[1] for u in units) == [f"{APP}-celery.service", f"{APP}-uwsgi.service"]
    code, out = host.exec(["systemd-analyze", "verify", "--man=no", *units], check=False)
    assert code == 0, out


def test_pages_and_a_task_through_the_units(server):
    host = server.host
    base = host.url()
    session, token = csrf_session(base)
    marker = f"systemd-{uuid.uuid4().hex[:8]}"
    resp = session.post(base + "/", data={"text": marker, "csrfmiddlewaretoken": token},
                        headers={"Referer": base + "/"}, timeout=10)
    assert resp.status_code == 200 and marker in resp.text and resp.headers.get("Server") == "nginx"
    deadline = time.monotonic() + 15
    while psql(host, f"SELECT count(*) FROM entries_entry WHERE text = 'task: {marker}'") != "1":
        assert time.monotonic() < deadline, "the Celery task (a systemd unit) did not write its row"
        time.sleep(0.5)
    assert requests.get(base + "/healthz", timeout=10).status_code == 200


def test_second_bootstrap_changes_nothing(server, timings):
    code, out, seconds = server.run_bootstrap()
    timings["bootstrap_second_systemd"] = seconds
    assert code == 0 and summary_changed(out) == [], out[-4000:]


def test_uwsgi_unit_chain_reloads_a_new_release_under_load(server, timings):
    reload_under_load(server, "uwsgi", timings, "reload_systemd_uwsgi")


def test_gunicorn_unit_reloads_a_new_release_under_load(server, timings):
    host = server.host
    write_local_pillar(host, {"process_manager": "systemd", "wsgi": {"server": "gunicorn"}})
    code, out, _ = server.run_bootstrap()
    assert code == 0, out[-4000:]
    assert _active(host, f"{APP}-gunicorn") == "active"
    assert host.exec(["test", "-e", f"{UNITS}/{APP}-uwsgi.service"], check=False)[0] != 0
    assert _active(host, f"{APP}-uwsgi") in ("inactive", "unknown")
    _, reload_cmd = host.exec(["systemctl", "show", "-p", "ExecReload", "--value", f"{APP}-gunicorn"])
    assert "kill -s HUP" in reload_cmd  # `systemctl reload` is the same graceful reload
    reload_under_load(server, "gunicorn", timings, "reload_systemd_gunicorn")


def test_switching_to_supervisord_removes_every_unit(server):
    host = server.host
    write_local_pillar(host, {"process_manager": "supervisord", "wsgi": {"server": "gunicorn"}})
    code, out, _ = server.run_bootstrap()
    assert code == 0, out[-4000:]
    _, left = host.exec(f"ls {UNITS}/{APP}-*.service 2>/dev/null", check=False)
    assert left.strip() == ""
    for unit in (f"{APP}-gunicorn", f"{APP}-celery"):
        _, load = host.exec(["systemctl", "show", "-p", "LoadState", "--value", unit])
        assert load.strip() == "not-found", unit
    _, status = host.exec(["supervisorctl", "status"])
    assert re.search(rf"^{APP}-gunicorn\s+RUNNING", status, re.M) and re.search(rf"^{APP}-celery\s+RUNNING",
                                                                                   status, re.M), status
    assert requests.get(host.url() + "/healthz", timeout=10).status_code == 200
    code, out, _ = server.run_bootstrap()
    assert code == 0 and summary_changed(out) == [], out[-4000:]


def test_a_master_under_systemd_loads_its_firewall_at_boot_before_salt_master(server):
    host, fw = server.host, "webstack-salt-master-firewall"
    code, out = host.exec("cd /root/webstack && ./bootstrap.sh --master", check=False, timeout=900,
                          env={"WEBSTACK_MASTER_ALLOW": "10.9.0.0/16"})  # not this test's address
    assert code == 0 and "firewall: ports 4505/4506 now answer only 10.9.0.0/16" in out, out[-3000:]
    assert _active(host, "webstack-salt-master") == "active"
    assert _active(host, fw) == "active"
    assert host.exec(["systemctl", "is-enabled", fw], check=False)[1].strip() == "enabled"
    code, out = host.exec(["systemd-analyze", "verify", "--man=no", f"{UNITS}/{fw}.service"], check=False)
    assert code == 0, out
    _, before = host.exec(["systemctl", "show", "-p", "Before", "--value", fw])
    assert "webstack-salt-master.service" in before.split(), before
    assert not tcp_reaches(host.ip, 4506)
    # what a reboot does: the kernel's table gone, then the unit's start
    host.exec("nft delete table inet webstack_salt_master")
    # reachable again (a busy test machine can take a few seconds to answer a connect)
    wait_until("port 4506 reachable without the firewall's table", lambda: tcp_reaches(host.ip, 4506), 20)
    host.exec(["systemctl", "restart", fw])
    assert not tcp_reaches(host.ip, 4506)
    _, out = host.exec("cd /root/webstack && ./bootstrap.sh --master")
    assert "firewall: unchanged; ports 4505/4506 answer only 10.9.0.0/16" in out, out
    _, out = host.exec("cd /root/webstack && ./bootstrap.sh --master", env={"WEBSTACK_MASTER_ALLOW": "off"})
    assert "firewall: removed" in out, out
    _, load = host.exec(["systemctl", "show", "-p", "LoadState", "--value", fw])
    assert load.strip() == "not-found"
    assert host.exec("nft list table inet webstack_salt_master", check=False)[0] != 0
    wait_until("port 4506 reachable with the firewall removed", lambda: tcp_reaches(host.ip, 4506), 20)
    host.exec(["systemctl", "disable", "--now", "webstack-salt-master"])
