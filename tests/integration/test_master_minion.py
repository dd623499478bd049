"""
Role single from a salt-master: the master (pytest-salt-factories, on this host,
listening on the Docker bridge) pushes highstate to a minion in a container;
then the minion pulls the same state with `salt-call state.apply`, which must
change nothing. Before it has a master, the same container shows that an
invalid pillar stops the run before anything on the host changes.
"""

import json
import re
import shutil
import subprocess
import time

import pytest
import requests
import yaml

from tests.integration.conftest import KEEP, REPO, SALT_IMAGE
from tests.support.containers import Host
from tests.support.tls import trust_host

MINION_ID = "single1"
BAD_PILLAR = """
webstack:
  roles: [single]
  app:
    secret_key: too-short
  postgres:
    password: a-good-enough-password-1234
    port: 70000
  redis:
    password: a-good-enough-password-5678
  wsgi:
    server: uwsgi2
"""


def _gateway(host):
    """The host's address on the container's network: where the master listens."""
    networks = host.container.attrs["NetworkSettings"]["Networks"]
    gateway = next(iter(networks.values()))["Gateway"]
    assert gateway, f"no gateway on {host.name}'s network"
    return gateway


@pytest.fixture(scope="module")
def minion_host(testbed):
    host = Host.start(SALT_IMAGE, name="webstack-test-minion", publish=(80, 443), hostname=MINION_ID)
    try:
        host.put_dir(str(REPO), "/root/webstack")
        yield host
    finally:
        if not KEEP:
            host.remove()


@pytest.fixture(scope="module")
def master(salt_factories, minion_host, tmp_path_factory):
    pillar_dir = tmp_path_factory.mktemp("pillar")
    shutil.copytree(REPO / "pillar", pillar_dir, dirs_exist_ok=True)
    # This master's one server: role single, named by its literal id like any node.
    (pillar_dir / "webstack" / "nodes.yaml").write_text(f"{MINION_ID}: [single]\n")
    # The operator's secrets for this minion: the one file the repo does not ship.
    (pillar_dir / "webstack" / "secrets.sls").write_text(
        "webstack:\n"
        "  app:\n"
        "    secret_key: 'test-" + "Kq3Zr8Wm" * 8 + "'\n"
        "  postgres:\n"
        "    password: 'test-Pg-Pw-4f9a1c7e2b8d'\n"
        "  redis:\n"
        "    password: 'test-Redis-Pw-8e3b6d0a5f1c'\n")
    # what `./bootstrap.sh --master` writes for this checkout: the file roots and what
    # they never serve
    written = yaml.safe_load(subprocess.run([str(REPO / "bootstrap.sh"), "--print-master-conf"], check=True,
                                            capture_output=True, text=True).stdout)
    overrides = {
        "interface": _gateway(minion_host),
        "file_roots": written["file_roots"],
        "pillar_roots": {"base": [str(pillar_dir)]},
        "file_ignore_regex": written["file_ignore_regex"],
        "auto_accept": written["auto_accept"],
        "open_mode": written["open_mode"],
        "timeout": written["timeout"],
        # as an operator's master logs: pytest-salt-factories' default, debug, writes a line
        # per ignored file of every listing of the checkout (its .venv: 450 MB in 8 minutes)
        "log_level_logfile": written["log_level_logfile"],
    }
    assert written["file_roots"] == {"base": [str(REPO / "salt"), str(REPO)]}
    factory = salt_factories.salt_master_daemon("webstack-master", overrides=overrides)
    with factory.started(start_timeout=120):
        yield factory


def test_invalid_pillar_stops_before_anything_changes(minion_host):
    host = minion_host
    host.exec("mkdir -p /tmp/bad/conf /tmp/bad/pillar && "
              "printf 'base:\\n  \"*\":\\n    - webstack\\n' > /tmp/bad/pillar/top.sls")
    host.exec(["bash", "-c", f"cat > /tmp/bad/pillar/webstack.sls <<'EOF'\n{BAD_PILLAR}\nEOF"])
    host.exec("printf 'file_client: local\\nfile_roots:\\n  base:\\n    - /root/webstack/salt\\n"
              "    - /root/webstack\\npillar_roots:\\n  base:\\n    - /tmp/bad/pillar\\n' > /tmp/bad/conf/minion")
    host.exec("salt-call -c /tmp/bad/conf --local saltutil.sync_all", timeout=300)
    code, out = host.exec("salt-call -c /tmp/bad/conf --local --retcode-passthrough "
                          "state.apply webstack.roles.single", check=False, timeout=300)
    assert code != 0
    for key in ("webstack:app:secret_key", "webstack:postgres:port", "webstack:wsgi:server"):
        assert key in out, out[-3000:]
    assert "too-short" not in out, "a secret was echoed"
    assert re.search(r"Total states run:\s+1\b", out), "states ran after the validation failed"
    code, _ = host.exec("dpkg-query -W -f='${Status}' nginx postgresql redis-server supervisor "
                        "2>/dev/null | grep -q 'ok installed'", check=False)
    assert code != 0, "a package was installed despite the invalid pillar"
    code, _ = host.exec("test -e /srv/webapp -o -e /etc/webstack", check=False)
    assert code != 0, "a file was written despite the invalid pillar"


def test_the_redhat_family_renders(minion_host):
    host = minion_host
    host.exec("mkdir -p /tmp/rh/conf /tmp/rh/pillar && "
              "printf 'base:\n  \"*\":\n    - webstack\n' > /tmp/rh/pillar/top.sls && "
              "printf 'webstack:\n  roles: [single]\n' > /tmp/rh/pillar/webstack.sls")
    host.exec("printf 'file_client: local\nfile_roots:\n  base:\n    - /root/webstack/salt\n"
              "    - /root/webstack\npillar_roots:\n  base:\n    - /tmp/rh/pillar\n"
              "grains:\n  os_family: RedHat\n  osfinger: Rocky Linux-9\n' > /tmp/rh/conf/minion")
    host.exec("salt-call -c /tmp/rh/conf --local saltutil.sync_all", timeout=300)
    _, out = host.exec("salt-call -c /tmp/rh/conf --local state.show_sls webstack.roles.single "
                       "--out=json --log-level=quiet 2>/dev/null", timeout=300)
    states = json.loads(out[out.index("{"):])["local"]
    assert isinstance(states, dict), states
    redis_pkgs = states["webstack-redis-package-pkg-installed"]["pkg"]
    assert {"pkgs": ["redis"]} in redis_pkgs
    media = states["webstack-app-config-media-file-directory"]["file"]
    assert {"group": "nginx"} in media


@pytest.fixture(scope="module")
def accepted_minion(master, minion_host):
    cfg = master.config
    minion_host.exec(["bash", "-c", "mkdir -p /etc/salt && cat > /etc/salt/minion <<'EOF'\n"
                      f"master: {cfg['interface']}\n"
                      f"master_port: {cfg['ret_port']}\n"
                      f"publish_port: {cfg['publish_port']}\n"
                      f"id: {MINION_ID}\n"
                      "acceptance_wait_time: 1\n"
                      "random_reauth_delay: 0\n"
                      "disable_modules: [systemd_service]\n"
                      "EOF"])
    minion_host.exec("salt-minion -d")
    key_cli = master.salt_key_cli()
    deadline = time.monotonic() + 120
    while MINION_ID not in key_cli.run("--list", "all").stdout:
        if time.monotonic() > deadline:
            _, log = minion_host.exec("tail -n 40 /var/log/salt/minion", check=False)
            pytest.fail(f"the minion's key never reached the master; minion log:\n{log}")
        time.sleep(1)
    # pytest-salt-factories' own machinery may accept it first; accept it if not.
    if MINION_ID in key_cli.run("--list", "unaccepted").stdout:
        assert key_cli.run("--accept", MINION_ID, "--yes").returncode == 0
    assert MINION_ID in key_cli.run("--list", "accepted").stdout
    salt_cli = master.salt_cli(timeout=30)
    deadline = time.monotonic() + 90
    while salt_cli.run("test.ping", minion_tgt=MINION_ID).data is not True:
        assert time.monotonic() < deadline, "the accepted minion never answered test.ping"
        time.sleep(2)
    return minion_host


def _results(data):
    assert isinstance(data, dict), data
    return data


def test_master_pushes_highstate_and_the_stack_serves(master, accepted_minion, timings):
    assert master.salt_cli(timeout=120).run("saltutil.sync_all", minion_tgt=MINION_ID).returncode == 0
    functions = master.salt_cli(timeout=60).run("sys.list_functions", "webstack_release",
                                                minion_tgt=MINION_ID).data
    assert "webstack_release.deploy" in functions, functions
    start = time.monotonic()
    ret = master.salt_cli(timeout=1800).run("state.apply", minion_tgt=MINION_ID, _timeout=1800)
    timings["master_push_highstate"] = time.monotonic() - start
    results = _results(ret.data)
    failed = {k: v["comment"][:500] for k, v in results.items() if v["result"] is not True}
    assert failed == {}
    assert any("webstack_release" in key for key in results), "highstate did not apply role single"
    trust_host(accepted_minion)
    resp = requests.get(accepted_minion.url() + "/healthz", timeout=10)
    assert resp.status_code == 200, resp.text


def test_minion_pulls_with_salt_call_and_nothing_changes(accepted_minion, timings):
    start = time.monotonic()
    code, out = accepted_minion.exec("salt-call state.apply --out=json --log-level=quiet 2>/dev/null",
                                     check=False, timeout=900)
    timings["minion_pull_no_change"] = time.monotonic() - start
    assert code == 0, out[-3000:]
    results = json.loads(out[out.index("{"):])["local"]
    changed = {k: v["changes"] for k, v in results.items() if v["changes"] or v["result"] is not True}
    assert changed == {}
    assert len(results) > 20


def test_master_does_not_serve_pillar_tests_or_git(accepted_minion):
    _, out = accepted_minion.exec("salt-call cp.list_master --out=json --log-level=quiet 2>/dev/null")
    files = json.loads(out[out.index("{"):])["local"]
    assert any(f.startswith("webstack/") for f in files)
    leaked = [f for f in files if f.startswith(("pillar/", "tests/", ".git/", ".ci/"))]
    assert leaked == []
    _, out = accepted_minion.exec("salt-call cp.get_file_str salt://pillar/top.sls --out=json "
                                  "--log-level=quiet 2>/dev/null")
    assert json.loads(out[out.index("{"):])["local"] is False
