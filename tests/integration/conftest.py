"""
Integration tier: real hosts in containers, built from the local images that
tests/testbed/images.sh makes (debootstrap + docker import; nothing is pulled).
The fixtures start dockerd and build the images themselves when needed, so a
missing Docker fails loudly instead of skipping.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.containers import Host, remove_all

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "webstack-base:bookworm"
SALT_IMAGE = "webstack-salt:bookworm"
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
    """A fresh container after `./bootstrap.sh` ran in it, as the README says."""

    def __init__(self, host, first_output, first_seconds):
        self.host = host
        self.first_output = first_output
        self.first_seconds = first_seconds

    def run_bootstrap(self):
        start = time.monotonic()
        code, out = self.host.exec("cd /root/webstack && ./bootstrap.sh", check=False, timeout=1800)
        return code, out, time.monotonic() - start


@pytest.fixture(scope="module")
def single_server(testbed, timings):
    host = Host.start(BASE_IMAGE, name="webstack-test-single", publish=(80,), hostname="single1")
    try:
        host.put_dir(str(REPO), "/root/webstack")
        start = time.monotonic()
        code, out = host.exec("cd /root/webstack && ./bootstrap.sh", check=False, timeout=1800)
        seconds = time.monotonic() - start
        timings["bootstrap_first"] = seconds
        assert code == 0, f"./bootstrap.sh exited {code}:\n{out[-6000:]}"
        yield Bootstrapped(host, out, seconds)
    finally:
        if not KEEP:
            host.remove()
