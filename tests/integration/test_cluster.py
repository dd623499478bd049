"""
Many servers: a master and six minions in containers (tests/support/cluster.py,
the same cluster as `make demo`), set up with `./bootstrap.sh --master` and
`--minion`, then `salt-run state.orchestrate orch.deploy` on the master. The
tests look at it the way a user would: pages through HAProxy on lb1, rows in
PostgreSQL on db1, tasks run by worker1, refused connections, and rolling
deploys under continuous load (50 clients) with every answer counted.

The tests run in file order and build on each other: the rolling deploy of a
second revision, a broken revision that stops at the first node, the rollback,
and a deploy with nothing to change.
"""

import json
import re
import threading
import time
import uuid

import pytest
import requests
import yaml

from tests.integration.conftest import GUESTBOOK_SETTINGS, LINKBOARD_SETTINGS, project_repo
from tests.support.cluster import (
    APP_HEADERS,
    CLUSTER_SLS,
    HEADERS,
    MASTER_DIR,
    deploy_under_load,
    failed_steps,
    lb_config_changes_under_load,
    minion_changes,
    orch_result,
    use_project,
    version,
    why_failed,
)
from tests.support.containers import tcp_reaches, wait_http, wait_until
from tests.support.load import DEPLOY_PAUSE, Load, no_failure
from tests.support.single import APP, CSRF_TOKEN, pids, psql, serving_pids

CLIENTS = 50
VIEWS = f"{MASTER_DIR}/example/entries/views.py"
BASE_HTML = f"{MASTER_DIR}/example/entries/templates/entries/base.html"


def post_entry(session, base, text):
    """POST an entry through the form at ``base`` (HTTPS: its CSRF token first, in a Secure
    cookie), as a browser does; the view adds the row and queues its Celery task."""
    resp = session.get(base + "/", headers=HEADERS, timeout=10)
    token = CSRF_TOKEN.search(resp.text).group(1)
    resp = session.post(base + "/", data={"text": text, "csrfmiddlewaretoken": token},
                        headers=dict(HEADERS, Referer="https://localhost/"), timeout=10, allow_redirects=False)
    assert resp.status_code == 303, resp.text[:500]


def pings(cluster, node):
    """Whether ``node``'s minion answers the master's test.ping."""
    return f'"{node}": true' in cluster.master.exec(f"salt --out=json --static -t 10 {node} test.ping",
                                                    check=False)[1]


@pytest.fixture(scope="module")
def lb_ip(cluster):
    return cluster.lb.ip


@pytest.fixture(scope="module")
def lb_url(lb_ip):
    """The site: HTTPS on lb1 (its certificate verifies against the test authority)."""
    return f"https://{lb_ip}"


# ---------------------------------------------------------------- from scratch

def test_from_scratch_every_step_ran_and_nothing_failed(cluster):
    assert failed_steps(cluster.first) == []
    steps = [res["__id__"] for res in sorted(cluster.first.values(), key=lambda r: r["__run_num__"])]
    order = ["Every node answers", "Set up the database on db1", "Set up the cache on cache1",
             "Build the release on app1, app2, worker1", "Run the migrations once, on app1",
             "Deploy on app1", "Deploy on app2", "Switch the workers to the release on worker1",
             "Configure the load balancer on lb1", "Smoke test through the load balancer on lb1"]
    assert [s for s in steps if s in order] == order


def test_pages_through_the_load_balancer_come_from_both_app_nodes(cluster, lb_ip):
    seen, releases = set(), set()
    for _ in range(20):
        release, served_by = version(lb_ip)
        seen.add(served_by)
        releases.add(release.rsplit("-", 1)[1])
    assert seen == {"app1", "app2"}
    assert len(releases) == 1, releases  # one fingerprint: the same source and settings


def test_the_load_balancer_ends_tls_with_the_certificate_from_the_pillar(cluster, lb_ip, lb_url):
    """lb1 serves HTTPS with the pillar's certificate (it verifies against the authority that
    issued it), sends HTTP to HTTPS and says HSTS on every answer, pages and static files;
    the app nodes serve plain HTTP on the private network, with no certificate of their own.
    The key never shows in the orchestration's output."""
    resp = requests.get(f"http://{lb_ip}/version?x=1", headers=HEADERS, allow_redirects=False, timeout=10)
    assert resp.status_code == 301 and resp.headers["Location"] == "https://localhost/version?x=1"
    page = requests.get(lb_url + "/", headers=HEADERS, timeout=10)  # verified: the test authority
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert "Secure" in page.headers["Set-Cookie"]
    css = requests.get(lb_url + "/static/entries/site.css", headers=HEADERS, timeout=10)
    assert css.status_code == 200 and css.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert css.headers["X-Content-Type-Options"] == "nosniff" and css.headers["X-Frame-Options"] == "DENY"
    _, modes = cluster.lb.exec(f"stat -c '%a %U' /etc/webstack/tls/{APP}.pem; ls /etc/webstack/tls")
    assert modes.split() == ["600", "root", f"{APP}.crt", f"{APP}.pem"], modes  # no self-signed one
    for node in ("app1", "app2"):
        app = cluster.minions[node]
        code, _ = app.exec("test -e /etc/webstack/tls", check=False)
        assert code != 0, f"{node} has a certificate"
        assert requests.get(f"http://{app.ip}/version", headers=APP_HEADERS, timeout=10).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"https://{app.ip}/", headers=HEADERS, timeout=10)
    key_body = cluster.tls_key.strip().splitlines()[1]
    assert key_body not in cluster.first_out


def test_a_row_written_through_the_load_balancer_is_read_on_both_app_nodes_and_worker1_runs_the_task(
        cluster, lb_url):
    app1, app2, worker1 = (cluster.minions[n] for n in ("app1", "app2", "worker1"))
    marker = f"cluster-{uuid.uuid4().hex[:8]}"
    post_entry(requests.Session(), lb_url, marker)
    for app in (app1, app2):
        assert marker in requests.get(f"http://{app.ip}/", headers=APP_HEADERS, timeout=10).text
    wait_until("the Celery task's row", lambda: f"task: {marker}" in requests.get(
        f"http://{app2.ip}/", headers=APP_HEADERS, timeout=10).text, 30)
    _, log = worker1.exec("cat /var/log/webstack/webapp-celery.log")
    assert re.search(r"Task entries\.tasks\.record\[[0-9a-f-]+\] succeeded", log), log[-2000:]
    for app in (app1, app2):  # no worker on the app nodes: the task ran on worker1
        code, _ = app.exec("pgrep -f '[c]elery --app'", check=False)
        assert code != 0, f"a Celery worker runs on {app.name}"


# ---------------------------------------------------------------- network and secrets

PG_STARTUP = r"""
import socket, struct, sys
params = b"user\0webapp\0database\0webapp\0\0"
packet = struct.pack("!ii", 8 + len(params), 196608) + params
s = socket.create_connection((sys.argv[1], 5432), timeout=5)
s.sendall(packet)
kind = s.recv(1)
body = s.recv(4096)
print(kind.decode(), body.decode("latin-1").replace("\0", " "))
"""


def _pg_hba(db):
    """The path of pg_hba.conf of the PostgreSQL cluster on ``db`` (its version is the release's)."""
    version = db.exec(["pg_lsclusters", "-h"])[1].split()[0]
    return f"/etc/postgresql/{version}/main/pg_hba.conf"


def test_postgresql_refuses_lb1_and_admits_the_app_nodes(cluster):
    db_ip = cluster.minions["db1"].ip
    _, out = cluster.lb.exec(["python3", "-c", PG_STARTUP, db_ip])
    assert out.startswith("E") and "no pg_hba.conf entry" in out, out
    _, out = cluster.minions["app1"].exec(["python3", "-c", PG_STARTUP, db_ip])
    assert out.startswith("R"), out  # an authentication request: scram-sha-256 follows
    _, hba = cluster.minions["db1"].exec(["grep", "-v", "^#", _pg_hba(cluster.minions["db1"])])
    for node in ("app1", "app2", "worker1"):
        assert re.search(rf"host\s+webapp\s+webapp\s+{re.escape(cluster.minions[node].ip)}/32\s+scram-sha-256", hba)
    assert cluster.lb.ip not in hba and "md5" not in hba and "trust" not in hba


def test_redis_refuses_a_client_without_the_password(cluster):
    cache_ip = cluster.minions["cache1"].ip
    probe = ("import socket,sys; s=socket.create_connection((sys.argv[1], 6379), timeout=5); "
             "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())")
    _, out = cluster.minions["app1"].exec(["python3", "-c", probe, cache_ip])
    assert out.startswith("-NOAUTH"), out
    # the app's cache user: its own ACL user, refused admin and dangerous commands
    probe = ("import redis\n"
             "url = [l for l in open('/etc/webstack/webapp/app.env') if l.startswith('CACHE_URL=')][0]\n"
             "client = redis.Redis.from_url(url.split('=', 1)[1].strip())\n"
             "print(client.ping())\n"
             "print(client.acl_whoami())\n"
             "try:\n"
             "    client.flushall()\n"
             "except redis.exceptions.NoPermissionError as exc:\n"
             "    print('refused', exc)\n")
    _, out = cluster.minions["app1"].exec(["/srv/webapp/current/venv/bin/python", "-c", probe])
    lines = out.strip().splitlines()
    assert lines[:2] == ["True", "webapp-cache"], out
    assert lines[2].startswith("refused") and "flushall" in lines[2], out


SECRET_KEYS = ("app:secret_key", "postgres:password", "mariadb:password", "redis:password", "redis:user_passwords",
               "tls:private_key")


def test_each_node_receives_only_the_secrets_of_its_roles(cluster):
    """The pillar each minion gets (as the master renders it for it): db1 the PostgreSQL
    password only, cache1 the Redis (admin) password only, the app and worker nodes Django's
    key, the PostgreSQL password and their Redis users' passwords, never Redis's admin
    password; lb1 its TLS key only."""
    expected = {
        "db1": {"postgres:password"},
        "cache1": {"redis:password"},
        "app1": {"app:secret_key", "postgres:password", "redis:user_passwords"},
        "worker1": {"app:secret_key", "postgres:password", "redis:user_passwords"},
        "lb1": {"tls:private_key"},
    }
    _, out = cluster.master.exec(f"salt --out=json --static -L {','.join(expected)} pillar.item webstack")
    pillars = json.loads(out)
    for node, want in expected.items():
        webstack = pillars[node]["webstack"]
        have = set()
        for path in SECRET_KEYS:
            section, key = path.split(":")
            if isinstance(webstack.get(section), dict) and webstack[section].get(key):
                have.add(path)
        assert have == want, (node, sorted(have))


def test_a_minion_cannot_fetch_pillar_files_from_the_master(cluster):
    app1 = cluster.minions["app1"]
    _, out = app1.exec("salt-call --out=json --log-level=quiet cp.list_master 2>/dev/null")
    files = json.loads(out[out.index("{"):])["local"]
    assert "orch/deploy.sls" in files and "webstack/map.jinja" in files
    assert [f for f in files if f.startswith(("pillar/", "tests/", ".git/", ".ci/"))] == []
    for path in ("pillar/top.sls", "pillar/webstack/nodes.yaml", "pillar/webstack/cluster.sls"):
        _, out = app1.exec(f"salt-call --out=json --log-level=quiet cp.get_file_str salt://{path} 2>/dev/null")
        assert json.loads(out[out.index("{"):])["local"] in (False, "", None), path


def test_the_master_does_not_accept_an_unknown_minion(cluster):
    master = cluster.master
    _, conf = master.exec("cat /etc/salt/master.d/webstack.conf")
    assert "auto_accept: False" in conf
    rogue = cluster.minions["worker1"]  # a second minion identity on a running host
    rogue.exec(f"mkdir -p /tmp/rogue/minion.d && printf 'master: {master.ip}\\nid: rogue\\n"
               "pki_dir: /tmp/rogue/pki\\npidfile: /tmp/rogue/pid\\nsock_dir: /tmp/rogue/sock\\n"
               "cachedir: /tmp/rogue/cache\\nlog_file: /tmp/rogue/log\\n' > /tmp/rogue/minion && "
               "salt-minion -c /tmp/rogue -d")
    try:
        deadline = time.monotonic() + 60
        while "rogue" not in master.exec("salt-key --out=json -l pre")[1]:
            assert time.monotonic() < deadline, "the rogue minion's key never reached the master"
            time.sleep(1)
        _, out = master.exec("salt-key --out=json -l acc")
        assert "rogue" not in out
        code, out = master.exec("salt --out=json --static -t 5 rogue test.ping", check=False)
        assert '"rogue": true' not in out
    finally:
        rogue.exec(["pkill", "-f", "salt-minion -c /tmp/rogue"], check=False)
        rogue.exec(["rm", "-rf", "/tmp/rogue"], check=False)
        master.exec("salt-key -y -d rogue", check=False)


def _firewall(master):
    """The master's nftables table as it is in the kernel, without its counters."""
    _, out = master.exec("nft list table inet webstack_salt_master")
    return re.sub(r"counter packets \d+ bytes \d+", "counter", out)


def test_only_the_minions_reach_the_masters_ports(cluster):
    master, app1 = cluster.master, cluster.minions["app1"]
    _, listening = master.exec("ss -Htln")
    for port in (4505, 4506):
        assert re.search(rf":{port}\b", listening), f"salt-master does not listen on {port}:\n{listening}"
        # this host reaches the master over the cluster's network (from its gateway address)
        assert not tcp_reaches(master.ip, port), f"port {port} answered an address that is no minion"
        code, out = app1.exec(f"timeout 5 bash -c '</dev/tcp/{master.ip}/{port}'", check=False)
        assert code == 0, f"app1 cannot reach the master's port {port}: {out}"
    rules = _firewall(master)
    for node_id, host in cluster.minions.items():
        assert host.ip in rules, f"{node_id} ({host.ip}) is not in the master's firewall:\n{rules}"
    _, counted = master.exec("nft list chain inet webstack_salt_master salt_ports")
    assert re.search(r"counter packets [1-9]\d* bytes \d+ drop", counted), counted


def test_bootstrap_server_modes_run_again_without_a_change_and_refuse_bad_arguments(cluster):
    master, app1 = cluster.master, cluster.minions["app1"]
    rules = _firewall(master)
    _, out = master.exec(f"cd {MASTER_DIR} && ./bootstrap.sh --master")
    assert "salt-master is up" in out and "starting" not in out, out  # same config: no restart
    assert "firewall: unchanged; ports 4505/4506 answer only " + cluster.minion_addresses.replace(" ", ", ") \
        in out, out  # kept without WEBSTACK_MASTER_ALLOW
    for bad, named in (("10.0.0.0/33", "'10.0.0.0/33' is not"), ("10.0.0.1;nft flush ruleset", "'10.0.0.1;nft'"),
                       ("10.0.0.1, *", "'*' is not"), (" , ", "no network given")):
        code, out = master.exec(f"cd {MASTER_DIR} && ./bootstrap.sh --master", check=False,
                                env={"WEBSTACK_MASTER_ALLOW": bad})
        assert code == 2 and f"bootstrap.sh: error: WEBSTACK_MASTER_ALLOW: {named}" in out, out
    assert _firewall(master) == rules
    master.exec("nft delete chain inet webstack_salt_master input")  # by hand: Salt's ports open again
    _, out = master.exec(f"cd {MASTER_DIR} && ./bootstrap.sh --master")
    assert "firewall: ports 4505/4506 now answer only" in out and "starting" not in out, out
    assert _firewall(master) == rules
    _, out = app1.exec(f"cd /root/webstack && ./bootstrap.sh --minion {master.ip} --id app1")
    assert "salt-minion app1 is up" in out and "starting" not in out, out
    code, out = app1.exec("cd /root/webstack && ./bootstrap.sh --minion 'm;reboot' --id app1", check=False)
    assert code == 2 and "--minion 'm;reboot': expected the master's host name or IP address" in out
    code, out = app1.exec("cd /root/webstack && ./bootstrap.sh --minion master --id 'app 1'", check=False)
    assert code == 2 and "--id 'app 1': expected letters, digits" in out
    code, out = app1.exec("cd /root/webstack && ./bootstrap.sh --minion master", check=False)
    assert code == 2 and "--minion needs --id ID" in out


# ---------------------------------------------------------------- rolling deploys

def test_a_new_release_rolls_out_under_load_with_no_failed_request(cluster, lb_ip, timings):
    previous = {n: _release_json(cluster.minions[n])["id"] for n in ("app1", "app2", "worker1")}
    before = {previous["app1"], previous["app2"]}
    cluster.master.exec(f"echo '<!-- revision 2 -->' >> {BASE_HTML}")
    code, out, load = deploy_under_load(cluster, lb_ip, "orch.deploy", timings, "rolling_deploy")
    assert code == 0, why_failed(out)
    assert load["requests"] > 200
    ok, why = no_failure(load)
    assert ok, why
    after = {n: version(cluster.minions[n])[0] for n in ("app1", "app2")}
    assert len({r.rsplit("-", 1)[1] for r in after.values()}) == 1, after
    assert not set(after.values()) & before
    assert set(load["served_by"]) == {"app1", "app2"}
    # a change of the code alone: each node's new virtualenv is a copy of its last one
    assert {n: _release_json(cluster.minions[n])["venv_from"] for n in previous} == previous
    results = orch_result(out)
    steps = {res["__id__"]: res for res in results.values()}
    for node in ("app1", "app2"):
        assert f"Take {node} out of the load balancer and wait for its sessions to end" in steps
        assert steps[f"Deploy on {node}"]["result"] is True
    timings["rolling_deploy_per_node"] = sum(
        steps[f"{s}"]["duration"] for s in steps
        if s.startswith(("Take app", "Deploy on app", "Health check of app", "Put app"))) / 2000


def test_a_broken_release_stops_at_the_first_node_and_the_old_one_keeps_serving(cluster, lb_ip, timings):
    good = version(cluster.minions["app2"])[0]
    cluster.master.exec(f"cp {VIEWS} /root/views.py.good && printf '%s\\n' "
                        "'def _check_release():' '    raise RuntimeError(\"this release is broken\")' "
                        f"'CHECKS.append((\"release\", _check_release))' >> {VIEWS}")
    try:
        code, out, load = deploy_under_load(cluster, lb_ip, "orch.deploy", timings, "broken_deploy")
    finally:
        cluster.master.exec(f"cp /root/views.py.good {VIEWS}")
    assert code != 0
    results = orch_result(out)
    # app1 does not answer its health check: it stays out of the load balancer
    assert failed_steps(results) == ["Deploy on app1", "After the failed deploy on app1, check it directly",
                                     "After the failed deploy on app1, put it back in the load balancer, as it "
                                     "still answers", "Stop the rollout, the deploy on app1 failed"], \
        failed_steps(results)
    step = next(r for r in results.values() if r["__id__"] == "Deploy on app1")
    assert "app1" in step["comment"]
    assert "this release is broken" in json.dumps(step["changes"])
    ran = {r["__id__"] for r in results.values()}
    assert "Deploy on app2" not in ran and not any(s.startswith("Switch the workers") for s in ran)
    ok, why = no_failure(load)
    assert ok, why
    assert version(cluster.minions["app2"])[0] == good
    assert {version(lb_ip)[1] for _ in range(10)} == {"app2"}  # app1 stays out of the pool


def test_rollback_brings_the_first_node_back_the_same_rolling_way(cluster, lb_ip, timings):
    good = version(cluster.minions["app2"])[0].rsplit("-", 1)[1]
    code, out, load = deploy_under_load(cluster, lb_ip, "orch.rollback", timings, "rollback")
    assert code == 0, why_failed(out)
    ok, why = no_failure(load)
    assert ok, why
    for node in ("app1", "app2"):
        assert version(cluster.minions[node])[0].endswith(good)
    assert {version(lb_ip)[1] for _ in range(20)} == {"app1", "app2"}




def test_a_failing_post_deploy_command_switches_back_and_the_node_returns_to_the_pool(cluster, lb_ip, timings):
    """A new revision whose post-deploy command fails on app1: `current` switches back there (no
    node is left switched without its reload), app1 still answers, so it goes back into the
    load balancer, the rollout stops before app2, and no request fails."""
    before = {n: version(cluster.minions[n])[0] for n in ("app1", "app2")}
    cluster.good = before["app1"][-8:]  # the release the rollbacks below go back to
    text = cluster.master.exec(["cat", CLUSTER_SLS])[1]
    cluster.master.exec(f"echo '<!-- release 3 -->' >> {BASE_HTML} && cp {CLUSTER_SLS} /root/cluster.sls.before")
    cluster.master.write_private(CLUSTER_SLS, text.replace(
        "\n  app:\n", "\n  app:\n    post_deploy_commands:\n      - python -c 'raise SystemExit(7)'\n", 1))
    try:
        assert "SystemExit(7)" in cluster.master.exec(["cat", CLUSTER_SLS])[1]
        code, out, load = deploy_under_load(cluster, lb_ip, "orch.deploy", timings, "post_deploy_failure")
    finally:
        cluster.master.exec(f"cp /root/cluster.sls.before {CLUSTER_SLS}")
    assert code != 0, out[-6000:]
    results = orch_result(out)
    assert failed_steps(results) == ["Deploy on app1", "Stop the rollout, the deploy on app1 failed"], \
        failed_steps(results)
    step = json.dumps(next(r for r in results.values() if r["__id__"] == "Deploy on app1"))
    assert "exited 7" in step and f"`current` is back on {before['app1']}" in step, step[-3000:]
    assert {n: version(cluster.minions[n])[0] for n in ("app1", "app2")} == before
    assert _lb_status(cluster, "app1") == "UP"
    assert {version(lb_ip)[1] for _ in range(20)} == {"app1", "app2"}
    ok, why = no_failure(load)
    assert ok, why


def test_the_next_deploy_switches_to_the_release_its_build_made(cluster):
    """The same revision with the command fixed: the build step has nothing to build, the nodes
    switch to it."""
    code, out, _ = cluster.orchestrate("orch.deploy")
    assert code == 0, why_failed(out)
    changed = minion_changes(orch_result(out))
    assert "Build the release on app1, app2, worker1" not in changed, changed
    releases = {n: version(cluster.minions[n])[0] for n in ("app1", "app2")}
    assert len({r.rsplit("-", 1)[1] for r in releases.values()}) == 1
    assert "release 3" in requests.get(f"https://{cluster.lb.ip}/", headers=HEADERS, timeout=10).text


def test_two_rollbacks_step_back_one_release_each_and_a_missing_release_switches_nothing(cluster):
    """Releases 3 and 4 after the good one, then orch.rollback twice: to release 3, then to the
    good one (the activation history; by build order the second would go to release 3 again).
    Before that, a rollback whose release app2 no longer has fails and switches nothing."""
    cluster.master.exec(f"cp {BASE_HTML} /root/base.html.3")
    cluster.master.exec(f"echo '<!-- release 4 -->' >> {BASE_HTML}")
    app2 = cluster.minions["app2"]
    try:
        code, out, _ = cluster.orchestrate("orch.deploy")
        assert code == 0, why_failed(out)
        fourth = {n: version(cluster.minions[n])[0] for n in ("app1", "app2")}
        _, listed = app2.exec(f"ls /srv/{APP}/releases")
        third = sorted(r for r in listed.split() if r != fourth["app2"])[-1]
        app2.exec(["mv", f"/srv/{APP}/releases/{third}", f"/srv/{APP}/hidden-{third}"])
        try:
            code, out, _ = cluster.orchestrate("orch.rollback")
        finally:
            app2.exec(["mv", f"/srv/{APP}/hidden-{third}", f"/srv/{APP}/releases/{third}"])
        assert code != 0
        results = orch_result(out)
        assert failed_steps(results) == [f"Find release {third[-8:]} on every app and worker node"]
        assert f"release {third[-8:]} is not on app2" in out and "nothing was switched" in out
        assert {n: version(cluster.minions[n])[0] for n in ("app1", "app2")} == fourth
        served = []
        for _ in range(2):
            code, out, _ = cluster.orchestrate("orch.rollback")
            assert code == 0, why_failed(out)
            served.append({version(cluster.minions[n])[0].rsplit("-", 1)[1] for n in ("app1", "app2")})
        assert served == [{third[-8:]}, {cluster.good}]
        assert "release 3" not in requests.get(f"https://{cluster.lb.ip}/", headers=HEADERS, timeout=10).text
    finally:
        # the source of the release now current, for the tests after
        cluster.master.exec(f"sed '/release 3/d' /root/base.html.3 > {BASE_HTML}")


def test_a_node_that_does_not_answer_stops_the_deploy_before_anything_changes(cluster):
    worker1 = cluster.minions["worker1"]
    worker1.exec(["pkill", "-f", "bin/salt-minion"])  # argv: no shell whose own command line matches
    worker1.exec(["sh", "-c", "while pgrep -f '[b]in/salt-minion' >/dev/null; do sleep 0.2; done"], timeout=30)
    try:
        code, out, _ = cluster.orchestrate("orch.deploy")
        assert code != 0
        results = orch_result(out)
        assert failed_steps(results) == ["Every node answers"]
        step = next(r for r in results.values() if r["__id__"] == "Every node answers")
        failed_on = re.search(r"failed on minions: ([\w, .-]+?)(?: Function|$)", step["comment"])
        assert failed_on and failed_on.group(1) == "worker1", step["comment"]
        assert len(results) == 1, "steps ran after the preflight failed"
    finally:
        worker1.exec("salt-minion -d")
    wait_until("worker1 back", lambda: pings(cluster, "worker1"), 120, 2)


CRAFTED = "10.0.0.99/0 trust\nhost all all 0.0.0.0/0"


def _restart_minion(cluster, node):
    host = cluster.minions[node]
    host.exec(["pkill", "-f", "bin/salt-minion"])  # argv: no shell whose own command line matches
    host.exec(["sh", "-c", "while pgrep -f '[b]in/salt-minion' >/dev/null; do sleep 0.2; done"], timeout=30)
    host.exec("salt-minion -d")
    wait_until(f"{node}'s minion answers", lambda: pings(cluster, node), 120, 2)


def test_a_minion_that_publishes_a_crafted_address_stops_the_deploy_and_changes_nothing(cluster):
    """A compromised app2 publishes a line of pg_hba.conf as its address in the mine (its own
    minion config overrides the mine function). orch.deploy fails in its preflight, naming
    app2 on the nodes that would use it (db1: pg_hba.conf, lb1: haproxy.cfg), and neither file
    changes."""
    files = {"db1": _pg_hba(cluster.minions["db1"]), "lb1": "/etc/haproxy/haproxy.cfg"}

    def digests():
        return {node: cluster.minions[node].exec(["md5sum", path])[1] for node, path in files.items()}

    before = digests()
    app2 = cluster.minions["app2"]
    app2.write_private("/etc/salt/minion.d/zz-crafted.conf", yaml.safe_dump(
        {"mine_functions": {"webstack_network.private_address": [{"mine_function": "test.echo"}, CRAFTED]}}))
    try:
        _restart_minion(cluster, "app2")
        code, out, _ = cluster.orchestrate("orch.deploy")
        assert code != 0, out[-6000:]
        results = orch_result(out)
        step = "Every node has a valid pillar and can use its peers' addresses"
        assert failed_steps(results) == [step], failed_steps(results)
        failed = next(r for r in results.values() if r["__id__"] == step)
        failed_on = re.search(r"failed on minions: ([\w, .-]+?)(?: Function|$)", failed["comment"])
        assert failed_on and sorted(failed_on.group(1).split(", ")) == ["db1", "lb1"], failed["comment"]
        text = json.dumps(failed["changes"])
        assert "webstack:nodes:app2: expected an IPv4 address" in text and "minion app2" in text, text[-3000:]
        assert not any(r["__id__"].startswith(("Set up", "Build", "Roll out")) for r in results.values())
        assert digests() == before
        for node, path in files.items():
            assert "0.0.0.0/0" not in cluster.minions[node].exec(["cat", path])[1]
    finally:
        app2.exec(["rm", "-f", "/etc/salt/minion.d/zz-crafted.conf"])
        _restart_minion(cluster, "app2")
        cluster.master.exec("salt app2 mine.update", timeout=60)


def test_changes_of_haproxys_config_under_load_fail_no_request(cluster, timings):
    """HAProxy 3.0 (Debian 13): four changes of an lb:* key, each a reload of HAProxy while 50
    keep-alive clients that retry nothing send GETs over HTTPS. The old workers answer a
    request on an idle connection (with Connection: close) instead of closing it
    (idle-close-on-response), the new ones take over the listening sockets: none fails."""
    assert "option idle-close-on-response" in cluster.lb.exec(["cat", "/etc/haproxy/haproxy.cfg"])[1]
    summary = lb_config_changes_under_load(cluster)
    timings["haproxy_config_changes_requests"] = summary["requests"]
    timings["haproxy_config_changes_failed"] = summary["failed"]
    ok, why = no_failure(summary)
    assert ok, why


# ---------------------------------------------------------------- faults

def _rows(cluster, pattern):
    """How many entries' text matches the SQL LIKE ``pattern``, read on db1."""
    return int(psql(cluster.minions["db1"], f"SELECT count(*) FROM entries_entry WHERE text LIKE '{pattern}'"))


def _lb_status(cluster, node):
    """HAProxy's status of ``node`` in backend app (UP, DOWN, DRAIN, MAINT, ...)."""
    _, out = cluster.lb.exec(["sh", "-c", "echo 'show stat' | socat stdio /run/haproxy/admin.sock"])
    for line in out.splitlines():
        fields = line.split(",")
        if len(fields) > 17 and fields[:2] == ["app", node]:
            return fields[17]
    return None


def _celery_main(worker):
    """The Celery worker's main process on ``worker`` (the one whose parent is not Celery)."""
    procs = pids(worker, r"-m celery --app")
    (main,) = [pid for pid, (_, ppid) in procs.items() if ppid not in procs]
    return main, [pid for pid, (_, ppid) in procs.items() if ppid == main]


def test_sigkill_of_an_app_nodes_wsgi_master_fails_no_request(cluster, lb_ip, timings):
    """SIGKILL Gunicorn's master on app1 while 50 clients send GETs through HAProxy:
    HAProxy retries what app1 cannot answer on app2, Supervisord starts a new master,
    and app1 is back in the pool."""
    app1 = cluster.minions["app1"]

    def master():
        _, out = app1.exec(f"supervisorctl pid {APP}-gunicorn", check=False)
        return int(out) if out.strip().isdigit() and int(out) > 0 else None

    old = master()
    assert old
    with Load(lb_ip, 443, paths=("/", "/version", "/healthz"), clients=CLIENTS, pause=0.1) as load:
        time.sleep(3)
        app1.exec(["kill", "-KILL", str(old)])
        new = wait_until("a new Gunicorn master on app1", lambda: master() not in (None, old), 60)
        wait_http(f"http://{app1.ip}/healthz", 60, headers=APP_HEADERS)
        wait_until("app1 back in the load balancer", lambda: _lb_status(cluster, "app1") == "UP", 30)
        time.sleep(3)
    summary = load.summary()
    timings["fault_sigkill_wsgi_requests"] = summary["requests"]
    timings["fault_sigkill_wsgi_failed"] = summary["failed"]
    assert new and summary["requests"] > 200
    ok, why = no_failure(summary)
    assert ok, why
    assert {version(lb_ip)[1] for _ in range(20)} == {"app1", "app2"}


def test_redis_restarted_with_tasks_queued_loses_none(cluster):
    """20 tasks queued while worker1's Celery is stopped, Redis restarted on cache1, then
    the worker started: every task runs."""
    worker1, cache1 = cluster.minions["worker1"], cluster.minions["cache1"]
    marker = f"queued-{uuid.uuid4().hex[:8]}"
    worker1.exec(f"supervisorctl stop {APP}-celery")
    try:
        session = requests.Session()
        base = f"https://{cluster.lb.ip}"
        for i in range(20):
            post_entry(session, base, f"{marker}-{i}")
        _, queued = worker1.exec([f"/srv/{APP}/current/venv/bin/python", "-c", QUEUE_LENGTH])
        assert int(queued) >= 20, queued
        cache1.exec("service redis-server restart")
        wait_http(f"http://{cluster.minions['app1'].ip}/healthz", 60, headers=APP_HEADERS)  # Redis is back
    finally:
        worker1.exec(f"supervisorctl start {APP}-celery")
    wait_until("the 20 queued tasks ran", lambda: _rows(cluster, f"task: {marker}-%") >= 20, 90)
    time.sleep(2)
    assert _rows(cluster, f"task: {marker}-%") == 20


QUEUE_LENGTH = f"""
import redis
url = [l for l in open('/etc/webstack/{APP}/app.env') if l.startswith('CELERY_BROKER_URL=')][0]
print(redis.Redis.from_url(url.split('=', 1)[1].strip()).llen('celery'))
"""
ENQUEUE = f"""
import os, sys
sys.path.insert(0, '/srv/{APP}/current/src')
os.environ.update(WEBSTACK_CONFIG='/etc/webstack/{APP}/app.env', DJANGO_SETTINGS_MODULE='exampleproject.settings')
import django
django.setup()
from entries.tasks import record_once
print(record_once.delay(sys.argv[1], int(sys.argv[2])).id)
"""


def test_a_celery_worker_killed_mid_task_gets_it_again_and_its_effect_happens_once(cluster):
    """SIGKILL the worker processes of worker1's Celery while a 6 s task runs: the task is
    delivered again (acks_late, reject_on_worker_lost), runs a second time, and its row is
    written once."""
    worker1 = cluster.minions["worker1"]
    key = f"killed-{uuid.uuid4().hex[:8]}"
    worker1.exec(["runuser", "-u", APP, "--", f"/srv/{APP}/current/venv/bin/python", "-c", ENQUEUE, key, "6"])
    wait_until("the task started", lambda: _rows(cluster, f"attempt: {key}") == 1, 30, 0.2)
    main, children = _celery_main(worker1)
    assert children
    worker1.exec(["kill", "-KILL"] + [str(pid) for pid in children])
    wait_until("the task ran again and finished", lambda: _rows(cluster, f"task: {key}") == 1, 60)
    time.sleep(8)  # no third run
    assert (_rows(cluster, f"attempt: {key}"), _rows(cluster, f"task: {key}")) == (2, 1)
    assert _celery_main(worker1)[0] == main  # the main process stayed and forked new workers
    _, log = worker1.exec(f"cat /var/log/webstack/{APP}-celery.log")
    assert "signal 9 (SIGKILL)" in log, log[-2000:]


def test_postgresql_restarted_under_load_healthz_503_then_200_without_an_app_restart(cluster, lb_ip, timings):
    db1, app1 = cluster.minions["db1"], cluster.minions["app1"]
    masters = {n: serving_pids(cluster.minions[n], "gunicorn")[0] for n in ("app1", "app2")}
    with Load(lb_ip, 443, paths=("/", "/healthz"), clients=10, pause=0.1) as load:
        time.sleep(2)
        db1.exec("service postgresql stop")
        try:
            body = wait_http(f"http://{app1.ip}/healthz", 30, expect=503, headers=APP_HEADERS)
            assert "fail: database" in body, body
        finally:
            db1.exec("service postgresql start")
        wait_http(f"http://{app1.ip}/healthz", 60, headers=APP_HEADERS)  # PostgreSQL is back
        wait_http(f"https://{lb_ip}/", 60, headers=HEADERS)  # and the load balancer serves again
        time.sleep(2)
    summary = load.summary()
    timings["fault_postgres_restart_requests"] = summary["requests"]
    timings["fault_postgres_restart_failed"] = summary["failed"]
    assert {n: serving_pids(cluster.minions[n], "gunicorn")[0] for n in ("app1", "app2")} == masters
    assert 'class="entry ' in requests.get(f"https://{lb_ip}/", headers=HEADERS, timeout=10).text


def test_an_app_node_stopped_mid_deploy_fails_the_deploy_naming_it_and_the_other_keeps_serving(
        cluster, lb_ip, timings):
    """A new revision rolls out; while app1 is out of the load balancer for its deploy, its
    container stops. orch.deploy fails at "Deploy on app1", naming app1; app2 serves every
    request. Then app1's container starts again, its minion is bootstrapped again and the
    next orch.deploy brings both nodes to the new release."""
    app1 = cluster.minions["app1"]
    old = version(cluster.minions["app2"])[0]
    cluster.master.exec(f"echo '<!-- revision 3 -->' >> {BASE_HTML}")
    result = {}
    with Load(lb_ip, 443, paths=("/", "/version", "/healthz"), clients=CLIENTS, pause=DEPLOY_PAUSE) as load:
        time.sleep(2)
        runner = threading.Thread(target=lambda: result.update(zip(("code", "out", "seconds"),
                                                                   cluster.orchestrate("orch.deploy"), strict=True)))
        runner.start()
        wait_until("app1 out of the load balancer",
                   lambda: _lb_status(cluster, "app1") in ("DRAIN", "MAINT"), 300, 0.2)
        time.sleep(1)
        app1.container.stop(timeout=5)
        runner.join(timeout=900)
        time.sleep(2)
    summary = load.summary()
    timings["fault_node_stopped_requests"] = summary["requests"]
    timings["fault_node_stopped_failed"] = summary["failed"]
    assert result["code"] != 0, result["out"][-6000:]
    results = orch_result(result["out"])
    assert failed_steps(results)[0] == "Deploy on app1", failed_steps(results)
    assert "Stop the rollout, the deploy on app1 failed" in failed_steps(results)
    step = next(r for r in results.values() if r["__id__"] == "Deploy on app1")
    assert "app1" in step["comment"], step["comment"]
    ok, why = no_failure(summary)
    assert ok, why
    assert {version(lb_ip) for _ in range(10)} == {(old, "app2")}
    # app1 comes back: the container starts, its minion is bootstrapped again, orch.deploy
    app1.container.start()
    app1.container.reload()
    code, out = app1.exec(f"cd /root/webstack && ./bootstrap.sh --minion {cluster.master.ip} --id app1",
                          check=False, timeout=600)
    assert code == 0, out[-3000:]
    wait_until("app1's minion answers", lambda: pings(cluster, "app1"), 120, 2)
    code, out, _ = cluster.orchestrate("orch.deploy")
    assert code == 0, why_failed(out)
    # the same build (fingerprint) on both, a new one
    new = {n: version(cluster.minions[n])[0].rsplit("-", 1)[1] for n in ("app1", "app2")}
    assert len(set(new.values())) == 1 and old.rsplit("-", 1)[1] not in new.values(), (old, new)
    assert {version(lb_ip)[1] for _ in range(20)} == {"app1", "app2"}


def test_switching_the_app_nodes_to_mod_wsgi_rolls_out_under_load_with_no_failed_request(cluster, lb_ip,
                                                                                           timings):
    """wsgi:server mod_wsgi in the cluster's pillar, then orch.deploy while 50 clients send GETs
    through HAProxy: one node at a time is drained, switched to Apache (Nginx and Gunicorn go)
    and put back; no request fails, and the next deploy has nothing to do."""
    cluster.master.exec(f"cd {MASTER_DIR}/pillar/webstack && cp cluster.sls /root/cluster.sls.before && "
                        "printf '  wsgi:\\n    server: mod_wsgi\\n' >> cluster.sls")
    code, out, load = deploy_under_load(cluster, lb_ip, "orch.deploy", timings, "cluster_switch_to_mod_wsgi")
    assert code == 0, why_failed(out)
    ok, why = no_failure(load)
    assert ok, why
    steps = {res["__id__"] for res in orch_result(out).values()}
    assert {"Deploy on app1", "Deploy on app2"} <= steps
    for node in ("app1", "app2"):
        host = cluster.minions[node]
        resp = requests.get(f"http://{host.ip}/version", headers=APP_HEADERS, timeout=10)
        assert resp.status_code == 200 and resp.headers.get("Server") == "Apache", (node, resp.headers)
        for gone in (r"[n]ginx: master", r"[g]unicorn"):
            code, _ = host.exec(["pgrep", "-f", gone], check=False)
            assert code != 0, f"{gone} still runs on {node}"
    assert {version(lb_ip)[1] for _ in range(20)} == {"app1", "app2"}
    # the next deploy has nothing to do: no node is drained, nothing changes
    code, out, seconds = cluster.orchestrate("orch.deploy")
    timings["orch_deploy_no_change"] = seconds
    assert code == 0, why_failed(out)
    results = orch_result(out)
    assert minion_changes(results) == {}
    assert not any(r["__id__"].startswith(("Take ", "Deploy on ")) for r in results.values())


def _release_json(host):
    return json.loads(host.exec(["cat", f"/srv/{APP}/current/release.json"])[1])


def test_one_deploy_deploys_one_commit_whatever_is_pushed_meanwhile(cluster):
    """The project from a git repository on the master (served by git daemon): orch.deploy
    resolves the branch to a commit once, at its start. A commit pushed while the nodes
    build reaches no node (without that, the rollout would have found another source than
    the build step's, and stopped); the next orch.deploy deploys it everywhere."""
    master = cluster.master
    master.exec("apt-get update -qq && apt-get install -y -qq --no-install-recommends git >/dev/null", timeout=900)
    master.exec(f"rm -rf /srv/git /root/work && mkdir -p /srv/git && git init -q --bare -b main /srv/git/webapp.git "
                f"&& cp -a {MASTER_DIR}/example /root/work && cd /root/work && git init -q -b main && git add -A "
                "&& git -c user.name=ci -c user.email=ci@localhost commit -qm one "
                "&& git push -q /srv/git/webapp.git main")
    first = master.exec("cd /root/work && git rev-parse HEAD")[1].strip()
    master.exec("git daemon --reuseaddr --base-path=/srv/git --export-all --detach /srv/git")
    text = master.exec(["cat", CLUSTER_SLS])[1]
    master.write_private(CLUSTER_SLS, text.replace("    source: salt://example\n",
                                                   f"    source: git://{master.ip}/webapp.git\n    rev: main\n", 1))
    app1 = cluster.minions["app1"]
    built_before = int(app1.exec(f"ls /srv/{APP}/releases/*/release.json | wc -l")[1])
    result = {}
    runner = threading.Thread(target=lambda: result.update(zip(("code", "out", "seconds"),
                                                               cluster.orchestrate("orch.deploy"), strict=True)))
    runner.start()
    wait_until("the build step's release on app1 (or the end of orch.deploy)",
               lambda: result or int(app1.exec(f"ls /srv/{APP}/releases/*/release.json | wc -l")[1]) > built_before,
               600, 0.5)
    assert not result, f"orch.deploy ended before its build step made a release:\n{result['out'][-6000:]}"
    master.exec("cd /root/work && echo '<!-- pushed during the deploy -->' >> entries/templates/entries/base.html "
                "&& git -c user.name=ci -c user.email=ci@localhost commit -qam two "
                "&& git push -q /srv/git/webapp.git main")
    runner.join(timeout=1200)
    assert result["code"] == 0, why_failed(result["out"])
    steps = {r["__id__"] for r in orch_result(result["out"]).values()}
    assert f"Deploy commit {first} (main) everywhere" in steps
    for node in ("app1", "app2", "worker1"):
        meta = _release_json(cluster.minions[node])
        assert (meta["source_digest"], meta["rev"]) == (f"git:{first}", first), (node, meta)
    assert "pushed during the deploy" not in requests.get(f"https://{cluster.lb.ip}/", headers=HEADERS, timeout=10).text
    second = master.exec("cd /root/work && git rev-parse HEAD")[1].strip()
    code, out, _ = cluster.orchestrate("orch.deploy")
    assert code == 0, why_failed(out)
    for node in ("app1", "app2", "worker1"):
        assert _release_json(cluster.minions[node])["source_digest"] == f"git:{second}", node
    assert "pushed during the deploy" in requests.get(f"https://{cluster.lb.ip}/", headers=HEADERS, timeout=10).text


# ---------------------------------------------------------------- Nginx as the load balancer

NGINX_UPSTREAM = "/etc/nginx/webstack-upstream.conf"


def test_nginx_as_the_load_balancer_rolls_out_under_load_with_no_failed_request(cluster, lb_ip, timings):
    """lb:engine nginx in the pillar: orch.deploy switches lb1 from HAProxy to Nginx (HAProxy's
    program gone, Nginx's front ending TLS with the pillar's certificate, its pool instance
    with both app nodes in its list). A new commit then rolls out under 50 keep-alive clients
    that retry nothing, each app node drained by a reload of the pool instance (marked down,
    the old workers' requests finished), deployed, checked and put back: no failed request
    (the front, where the clients' connections are, is never reloaded). The next orch.deploy
    changes nothing; with the pillar as it was, lb1 is back on HAProxy, no Nginx left."""
    master, lb = cluster.master, cluster.lb
    text = master.exec(["cat", CLUSTER_SLS])[1]
    assert "  lb:\n    port: 80\n" in text
    master.write_private(CLUSTER_SLS, text.replace("  lb:\n", "  lb:\n    engine: nginx\n", 1))
    try:
        code, out, seconds = cluster.orchestrate("orch.deploy")
        timings["orch_deploy_switch_to_nginx_lb"] = seconds
        assert code == 0, why_failed(out)
        programs = lb.exec("supervisorctl status", check=False)[1]
        assert "haproxy" not in programs and re.search(r"^nginx-pool\s+RUNNING", programs, re.M), programs
        assert lb.exec("pgrep -x haproxy", check=False)[0] == 1
        resp = requests.get(f"https://{lb_ip}/version?through-nginx", headers=HEADERS, timeout=10)  # verified
        assert resp.status_code == 200, resp.text[:300]
        assert "GET /version?through-nginx HTTP/1.1" in lb.exec(["cat", "/var/log/nginx/access.log"])[1]
        redirect = requests.get(f"http://{lb_ip}/healthz", headers=HEADERS, timeout=10, allow_redirects=False)
        assert redirect.status_code == 301 and redirect.headers["Location"] == "https://localhost/healthz"
        listed = lb.exec(["cat", NGINX_UPSTREAM])[1]
        for node in ("app1", "app2"):
            assert f"server {cluster.minions[node].ip}:80 max_fails=3 fail_timeout=10s; # {node}" in listed, listed

        before = {version(cluster.minions[n])[0] for n in ("app1", "app2")}
        master.exec("cd /root/work && echo '<!-- behind Nginx -->' >> entries/templates/entries/base.html "
                    "&& git -c user.name=ci -c user.email=ci@localhost commit -qam nginx "
                    "&& git push -q /srv/git/webapp.git main")
        pool = lb.exec(["cat", "/run/nginx-webstack-pool.pid"])[1].strip()
        code, out, summary = deploy_under_load(cluster, lb_ip, "orch.deploy", timings, "nginx_rolling_deploy")
        assert code == 0, why_failed(out)
        # the same pool master, reloaded (not restarted) by the drains
        assert lb.exec(["cat", "/run/nginx-webstack-pool.pid"])[1].strip() == pool
        ok, why = no_failure(summary)
        assert ok, why
        assert set(summary["served_by"]) == {"app1", "app2"}
        after = {n: version(cluster.minions[n])[0] for n in ("app1", "app2")}
        # one build (its digest), made on each node
        assert len({r.rsplit("-", 1)[1] for r in after.values()}) == 1 and not set(after.values()) & before, after
        assert "behind Nginx" in requests.get(f"https://{lb_ip}/", headers=HEADERS, timeout=10).text
        steps = {res["__id__"]: res for res in orch_result(out).values()}
        for node in ("app1", "app2"):
            drain = steps[f"Take {node} out of the load balancer and wait for its sessions to end"]
            assert drain["result"] is True and drain["changes"], drain
            assert steps[f"Put {node} back in the load balancer and wait until it is UP"]["result"] is True
        timings["nginx_rolling_deploy_per_node"] = sum(
            steps[s]["duration"] for s in steps
            if s.startswith(("Take app", "Deploy on app", "Health check of app", "Put app"))) / 2000
        assert " down;" not in lb.exec(["cat", NGINX_UPSTREAM])[1]

        code, out, seconds = cluster.orchestrate("orch.deploy")
        assert code == 0, why_failed(out)
        assert minion_changes(orch_result(out)) == {}
    finally:
        master.write_private(CLUSTER_SLS, text)
    code, out = master.exec(["salt", "--out=json", "--static", "lb1", "state.apply", "webstack.roles.lb"], check=False)
    assert code == 0, out[-3000:]
    assert lb.exec("pgrep -x nginx", check=False)[0] == 1 and lb.exec("pgrep -x haproxy", check=False)[0] == 0
    assert requests.get(f"https://{lb_ip}/version", headers=HEADERS, timeout=10).status_code == 200


def _varnish_stats(cluster):
    _, out = cluster.master.exec(["salt", "--out=json", "--static", "lb1", "webstack_varnish.stats"])
    return json.loads(out)["lb1"]


def test_varnish_in_front_caches_anonymous_pages_never_a_session_and_a_deploy_bans_them(cluster, lb_ip, timings):
    """varnish:enabled in the pillar: orch.deploy puts Varnish on lb1 between HAProxy's front
    (TLS ends there) and the pool of app nodes. An anonymous GET of a public page comes from
    the app once, then from the cache; a request with a session cookie or credentials, and a
    page that sets a cookie (the form's CSRF token), are never cached; a run of anonymous
    GETs gives the hit ratio. A new commit rolls out under 50 clients through Varnish with no
    failed request, and the first GET after it has the new release's page: the deploy banned
    the pages of the old one. The next orch.deploy changes nothing and bans nothing; with
    the pillar as it was, Varnish is gone and HAProxy sends to the app nodes directly."""
    master, lb = cluster.master, cluster.lb
    text = master.exec(["cat", CLUSTER_SLS])[1]
    master.write_private(CLUSTER_SLS, text.replace("  lb:\n", "  varnish:\n    enabled: true\n  lb:\n", 1))
    base = f"https://{lb_ip}"

    def get(path, **headers):
        resp = requests.get(base + path, headers=dict(HEADERS, **headers), timeout=10)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
        return resp

    try:
        code, out, seconds = cluster.orchestrate("orch.deploy")
        timings["orch_deploy_varnish_on"] = seconds
        assert code == 0, why_failed(out)
        assert lb.exec("pgrep -x varnishd", check=False)[0] == 0
        first, second = get("/uploads/"), get("/uploads/")
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
        assert second.text == first.text
        for headers in ({"Cookie": "sessionid=6m4kq2tbz8e0w1r3"}, {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}):
            assert [get("/uploads/", **headers).headers["X-Cache"] for _ in range(2)] == ["MISS", "MISS"], headers
        pages = [get("/") for _ in range(2)]
        assert [p.headers["X-Cache"] for p in pages] == ["MISS", "MISS"]
        assert all("csrftoken=" in p.headers["Set-Cookie"] for p in pages)
        assert pages[0].headers["Set-Cookie"] != pages[1].headers["Set-Cookie"]

        time.sleep(1.5)  # varnishstat's counters are published about once a second
        before = _varnish_stats(cluster)
        with requests.Session() as session:
            for n in range(500):
                path = ("/uploads/", "/static/entries/site.css")[n % 2]
                assert session.get(base + path, headers=HEADERS, timeout=10).status_code == 200
        time.sleep(1.5)
        after = _varnish_stats(cluster)
        hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
        timings["varnish_hit_ratio"] = hits / (hits + misses)
        timings["varnish_misses_of_500"] = misses
        assert hits + misses == 500 and hits >= 495, (hits, misses)

        master.exec("cd /root/work && echo '<!-- cached by Varnish -->' >> entries/templates/entries/base.html "
                    "&& git -c user.name=ci -c user.email=ci@localhost commit -qam varnish "
                    "&& git push -q /srv/git/webapp.git main")
        assert "cached by Varnish" not in get("/uploads/").text
        code, out, summary = deploy_under_load(cluster, lb_ip, "orch.deploy", timings, "varnish_rolling_deploy",
                                               paths=("/", "/version", "/healthz", "/uploads/"))
        assert code == 0, why_failed(out)
        ok, why = no_failure(summary)
        assert ok, why
        steps = {res["__id__"]: res for res in orch_result(out).values()}
        assert steps["Ban the pages Varnish cached before the release, on lb1"]["result"] is True
        assert "cached by Varnish" in get("/uploads/").text

        code, out, _ = cluster.orchestrate("orch.deploy")
        assert code == 0, why_failed(out)
        results = orch_result(out)
        assert minion_changes(results) == {}
        assert not [r for r in results.values() if r["__id__"].startswith("Ban the pages")]
    finally:
        master.write_private(CLUSTER_SLS, text)
    code, out = master.exec(["salt", "--out=json", "--static", "lb1", "state.apply", "webstack.roles.lb"], check=False)
    assert code == 0, out[-3000:]
    assert lb.exec("pgrep -x varnishd", check=False)[0] == 1
    assert "X-Cache" not in get("/uploads/").headers


# ---------------------------------------------------------------- a project as it is

NODES_YAML = f"{MASTER_DIR}/pillar/webstack/nodes.yaml"


def _use_project(master, name, project_settings, wsgi_server=None):
    use_project(master, name, project_repo(name), project_settings, wsgi_server)


def _check_the_new_health_path_first(master):
    """The load balancer configured with the project's health path before the rollout, as an
    operator swapping projects does: the path moves from /healthz (the cluster's first
    project) to / (the guestbook and the linkboard have no /healthz), and orch.deploy
    configures the load balancer last (right for a project whose new release brings its new
    health path), so HAProxy would drain every node that does not answer the old one."""
    code, out = master.exec(["salt", "--out=json", "--static", "lb1", "state.apply", "webstack.roles.lb"], check=False)
    assert code == 0, out[-3000:]


def _guestbook_commit(master, change):
    master.exec("set -e; rm -rf /root/gb; git clone -q /srv/git/guestbook.git /root/gb; cd /root/gb; "
                "export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.org GIT_COMMITTER_NAME=Dev "
                f"GIT_COMMITTER_EMAIL=dev@example.org; {change}; git push -q origin main")


def _ticks(cluster, seconds):
    """The beat task's runs of the last ``seconds``: [(epoch, worker host)], read on db1."""
    out = psql(cluster.minions["db1"], "SELECT extract(epoch FROM ran_at), hostname FROM signatures_tick "
                                       f"WHERE ran_at > now() - interval '{seconds} seconds' ORDER BY ran_at")
    return [(float(t), h) for t, h in (line.split("|") for line in out.splitlines() if line)]


def test_the_guestbook_project_deploys_on_the_cluster_by_pillar_alone(cluster, timings):
    """tests/projects/guestbook, unchanged, from a git repository the master serves, by the
    pillar alone (the keys of GUESTBOOK_SETTINGS in cluster.sls, its own secrets in
    secrets.sls) and app2 given the worker role as well: one orch.deploy brings it up. A
    signature posted through the load balancer is read on both app nodes; the hashed
    stylesheet comes immutable through HAProxy; beat runs on app2 only (the first worker node
    by id), its 2-second task once per tick whichever worker runs it; a one-off command runs
    on app1 from the master; a commit whose worker crash-loops stops orch.deploy at the
    first node with a worker (app2, whose deploy restarts its worker too) with the worker's
    import error, before the load balancer step; its revert
    deploys, and the next orch.deploy changes nothing."""
    master = cluster.master
    _use_project(master, "guestbook", GUESTBOOK_SETTINGS)
    master.exec(["sed", "-i", "s/^app2: \\[app\\]$/app2: [app, worker]/", NODES_YAML])
    assert "app2: [app, worker]" in master.exec(["cat", NODES_YAML])[1]
    _check_the_new_health_path_first(master)

    code, out, seconds = cluster.orchestrate("orch.deploy")
    timings["orch_deploy_guestbook"] = seconds
    assert code == 0, why_failed(out)
    steps = [r["__id__"] for r in orch_result(out).values()]
    assert "Switch the workers to the release on worker1" in steps, steps
    assert "Switch the workers to the release on app2 (Celery beat runs there)" in steps, steps

    lb = f"https://{cluster.lb.ip}"
    session = requests.Session()
    page = session.get(lb + "/", headers=HEADERS, timeout=10)
    assert page.status_code == 200 and "<h1>Guestbook</h1>" in page.text, page.text[:500]
    token = CSRF_TOKEN.search(page.text).group(1)
    resp = session.post(lb + "/", data={"csrfmiddlewaretoken": token, "name": "Grace", "message": "from the cluster"},
                        headers=dict(HEADERS, Referer="https://localhost/"), allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    for node in ("app1", "app2"):
        direct = requests.get(f"http://{cluster.minions[node].ip}/", headers=APP_HEADERS, timeout=10)
        assert "from the cluster" in direct.text, node
    href = re.search(r'href="(/static/css/project\.[0-9a-f]{12}\.css)"', page.text).group(1)
    css = requests.get(lb + href, headers=HEADERS, timeout=10)
    assert css.status_code == 200 and css.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    beats = {node: len([line for line in cluster.minions[node].exec("ps -eo args")[1].splitlines()
                        if " beat " in line and "celery" in line]) for node in ("app1", "app2", "worker1")}
    assert beats == {"app1": 0, "app2": 1, "worker1": 0}, beats
    time.sleep(12)
    ticks = _ticks(cluster, 12)
    assert 4 <= len(ticks) <= 8, ticks
    assert min(b[0] - a[0] for a, b in zip(ticks, ticks[1:], strict=False)) > 1.0, ticks
    assert {host for _, host in ticks} <= {"app2", "worker1"}, ticks

    command = ('python manage.py shell -c "from guestbook.signatures.models import Signature; '
               'print(sorted(s.name for s in Signature.objects.all()))"')
    _, answer = master.exec(["salt", "--out=json", "--static", "app1", "webstack_app.run", command])
    result = json.loads(answer)["app1"]
    assert result["retcode"] == 0 and result["stdout"].splitlines()[-1] == "['Grace']", result

    _guestbook_commit(master, "sed -i '1i import guestbook_reports' guestbook/signatures/tasks.py && "
                              "git commit -qam 'Send the weekly report'")
    code, out, _ = cluster.orchestrate("orch.deploy")
    assert code != 0
    why = why_failed(out)
    # app2 (an app and a worker) restarts its worker in its own deploy step, worker1 in the workers' step
    assert re.search(r"(app2|worker1): .*: (Program webapp-celery[: ]|Celery worker webapp-celery does not answer "
                     r"a ping as webapp@(app2|worker1))", why), why
    assert "No module named 'guestbook_reports'" in why, why
    ran = [r["__id__"] for r in orch_result(out).values()]
    assert not any(step.startswith(("Configure the load balancer", "Smoke test")) for step in ran), ran
    assert requests.get(lb + "/", headers=HEADERS, timeout=10).status_code == 200

    _guestbook_commit(master, "git revert --no-edit HEAD")
    code, out, _ = cluster.orchestrate("orch.deploy")
    assert code == 0, why_failed(out)
    code, out, seconds = cluster.orchestrate("orch.deploy")
    timings["orch_deploy_guestbook_no_change"] = seconds
    assert code == 0, why_failed(out)
    assert minion_changes(orch_result(out)) == {}


def test_the_flask_project_deploys_on_the_cluster_by_pillar_alone(cluster, timings):
    """tests/projects/linkboard (Flask, Flask-SQLAlchemy, its own init-db command, no task
    queue), unchanged, in place of the guestbook, by the pillar alone (LINKBOARD_SETTINGS'
    app keys and secrets; the cluster keeps its WSGI server, mod_wsgi): one orch.deploy
    brings it up, a link posted through the load balancer is a row on db1 that both app
    nodes show, its static files come through HAProxy from Apache, the guestbook's Celery
    programs are gone from the worker nodes, and the next orch.deploy changes nothing."""
    master = cluster.master
    # mod_wsgi, as the test of the switch to it leaves the cluster (the linkboard's requirements
    # have no Gunicorn, the cluster's first server)
    _use_project(master, "linkboard", LINKBOARD_SETTINGS, wsgi_server="mod_wsgi")
    _check_the_new_health_path_first(master)  # a no-op after the guestbook's test, which has the same path
    code, out, seconds = cluster.orchestrate("orch.deploy")
    timings["orch_deploy_linkboard"] = seconds
    assert code == 0, why_failed(out)

    lb = f"https://{cluster.lb.ip}"
    resp = requests.post(lb + "/", data={"title": "Salt", "url": "https://docs.saltproject.io/"},
                         headers=HEADERS, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    for node in ("app1", "app2"):
        direct = requests.get(f"http://{cluster.minions[node].ip}/", headers=APP_HEADERS, timeout=10)
        assert direct.status_code == 200 and '<a href="https://docs.saltproject.io/">Salt</a>' in direct.text, node
    assert psql(cluster.minions["db1"], "SELECT title FROM link") == "Salt"
    css = requests.get(lb + "/static/style.css", headers=HEADERS, timeout=10)
    assert css.status_code == 200 and "#377ba8" in css.text, css.status_code
    for node in ("app2", "worker1"):
        _, programs = cluster.minions[node].exec("supervisorctl status", check=False)
        assert f"{APP}-celery" not in programs, (node, programs)

    code, out, _ = cluster.orchestrate("orch.deploy")
    assert code == 0, why_failed(out)
    assert minion_changes(orch_result(out)) == {}
