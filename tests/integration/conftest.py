"""
Integration tier: real hosts in containers, built from the local images that
tests/testbed/images.sh makes (debootstrap + docker import; nothing is pulled).
The fixtures start dockerd and build the images themselves when needed, so a
missing Docker fails loudly instead of skipping.
"""

import concurrent.futures
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.containers import Host, remove_all
from tests.support.tls import trust_host

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "webstack-base:bookworm"
SALT_IMAGE = "webstack-salt:bookworm"
SYSTEMD_IMAGE = "webstack-systemd:bookworm"
KEEP = os.environ.get("WEBSTACK_KEEP_CONTAINERS") == "1"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def testbed():
    """dockerd running and both images built (idempotent, cheap when done)."""
    subprocess.run(["bash", str(REPO / "tests/testbed/docker.sh"), "ensure"], check=True)
    subprocess.run(["bash", str(REPO / "tests/testbed/images.sh")], check=True)
    remove_all("webstack-test-")
    yield
    if not KEEP:
        remove_all("webstack-test-")


TIMINGS = {}


@pytest.fixture(scope="session")
def timings():
    """Wall times (and counts) measured by the tests, shown in the terminal summary."""
    return TIMINGS


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_line(
            "webstack measured: " + ", ".join(f"{k}={v:.1f}" for k, v in TIMINGS.items()))


class Bootstrapped:
    """A fresh container after `./bootstrap.sh` ran in it, as docs/operations.md says."""

    def __init__(self, host, first_output, first_seconds, first_code=0, test_output="", test_code=0):
        self.host = host
        self.test_output = test_output  # `./bootstrap.sh --test`, run before the first bootstrap
        self.test_code = test_code
        self.first_output = first_output
        self.first_seconds = first_seconds
        self.first_code = first_code

    def run_bootstrap(self, *args):
        start = time.monotonic()
        code, out = self.host.exec("cd /root/webstack && ./bootstrap.sh " + " ".join(args), check=False,
                                   timeout=1800)
        return code, out, time.monotonic() - start


def local_pillar(settings):
    """The text of /etc/webstack/pillar/local.sls (the operator's own settings) for a mapping."""
    return yaml.safe_dump({"webstack": settings}, default_flow_style=False)


def write_local_pillar(host, settings):
    """Write the operator's settings where bootstrap.sh reads them (it never overwrites them)."""
    host.exec(["install", "-d", "-m", "0755", "/etc/webstack"])  # as bootstrap.sh makes it
    host.exec(["install", "-d", "-m", "0700", "/etc/webstack/pillar"])
    host.write_private("/etc/webstack/pillar/local.sls", local_pillar(settings))


# Fresh servers, one per setup, bootstrapped at once (in threads: each waits on its own
# container) the first time a test asks for one. Gunicorn, the default, starts from the
# bare base image (Salt included in the bootstrap); uWSGI and mod_wsgi from the image with
# Salt preinstalled; `systemd` boots systemd as PID 1 and starts without Salt. Each runs
# `./bootstrap.sh --test` first, on the fresh server, to compare with the real first run.
FRESH_SERVERS = {
    "gunicorn": {"image": BASE_IMAGE, "settings": None},
    "uwsgi": {"image": SALT_IMAGE, "settings": {"wsgi": {"server": "uwsgi"}}},
    "mod_wsgi": {"image": SALT_IMAGE, "settings": {"wsgi": {"server": "mod_wsgi"}}},
    "systemd": {"image": SYSTEMD_IMAGE, "systemd": True, "cap_add": ["NET_ADMIN"],  # its master's firewall
                "settings": {"process_manager": "systemd", "wsgi": {"server": "uwsgi"}}},
}


def _bootstrap_fresh(name, spec):
    host = Host.start(spec["image"], name=f"webstack-test-single-{name.replace('_', '-')}", publish=(80, 443),
                      hostname="single1", systemd=spec.get("systemd", False), cap_add=spec.get("cap_add", ()))
    host.put_dir(str(REPO), "/root/webstack")
    if spec["settings"]:
        write_local_pillar(host, spec["settings"])
    # What the operator would look at first: the prediction (it installs Salt where the
    # image has none, and changes nothing else), then the real run.
    test_code, test_out = host.exec("cd /root/webstack && ./bootstrap.sh --test", check=False, timeout=1800)
    start = time.monotonic()
    code, out = host.exec("cd /root/webstack && ./bootstrap.sh", check=False, timeout=1800)
    if code == 0:
        trust_host(host)  # the self-signed certificate the formula made: what a user would trust
    return Bootstrapped(host, out, time.monotonic() - start, code, test_out, test_code)


@pytest.fixture(scope="session")
def fresh_servers(testbed, timings):
    """{setup: Bootstrapped} for every setup of FRESH_SERVERS."""
    servers = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(FRESH_SERVERS)) as pool:
        futures = {name: pool.submit(_bootstrap_fresh, name, spec) for name, spec in FRESH_SERVERS.items()}
        errors = []
        for name, future in futures.items():
            try:
                servers[name] = future.result()
                timings[f"bootstrap_first_{name}"] = servers[name].first_seconds
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(f"{name}: {exc}")
    try:
        assert not errors, "starting the fresh servers failed:\n" + "\n".join(errors)
        yield servers
    finally:
        if not KEEP:
            for server in servers.values():
                server.host.remove()


@pytest.fixture(scope="module", params=["gunicorn", "uwsgi", "mod_wsgi"])
def single_server(request, fresh_servers):
    """Role single with each WSGI server, after a first `./bootstrap.sh` that succeeded."""
    server = fresh_servers[request.param]
    server.wsgi = request.param
    assert server.first_code == 0, f"./bootstrap.sh ({request.param}) exited {server.first_code}:\n" \
                                   f"{server.first_output[-6000:]}"
    return server
