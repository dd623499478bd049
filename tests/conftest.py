"""Shared fixtures for every tier."""

import time

import pytest

from tests.support import tls

# Every HTTPS client of the tests verifies against this run's own trust store.
tls.use_bundle()


@pytest.fixture(scope="session")
def salt_factories_config(tmp_path_factory):
    # Daemon dirs of pytest-salt-factories live in this run's own temp dir.
    return {"root_dir": str(tmp_path_factory.mktemp("salt-factories"))}


@pytest.fixture(scope="session", autouse=True)
def _salt_temp_log_handler_flushed():
    """
    Salt buffers early log records in a deferred handler bound to the stderr that
    pytest captured, and flushes it at exit, after pytest closed that stream
    ("--- Logging error --- ValueError: I/O operation on closed file" after the
    summary). Hand its records to the live handlers before the session ends.
    """
    yield
    import salt._logging.impl  # pylint: disable=import-outside-toplevel

    salt._logging.impl.shutdown_temp_handler()


# Per tier, shown at the end of the run (what docs/testing.md and the CI budget speak of):
# its wall time, from the start of its first test to the end of its last (setup, call and
# teardown, fixtures included), and the time of its tests summed, which is larger when two
# xdist workers run it side by side.
TIER_SECONDS = {}
TIER_SPANS = {}


_START = time.monotonic()
_SETUP_SECONDS = {}


def pytest_runtest_logreport(report):
    parts = report.nodeid.split("/")
    tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
    TIER_SECONDS[tier] = TIER_SECONDS.get(tier, 0.0) + report.duration
    if report.start:
        first, last = TIER_SPANS.get(tier, (report.start, report.stop))
        TIER_SPANS[tier] = (min(first, report.start), max(last, report.stop))


def pytest_terminal_summary(terminalreporter):
    if TIER_SECONDS:
        terminalreporter.write_line("webstack tiers (wall time; tests' time summed): " + ", ".join(
            f"{tier} {(TIER_SPANS[tier][1] - TIER_SPANS[tier][0]) / 60:.1f} min ({seconds / 60:.1f})"
            for tier, seconds in sorted(TIER_SECONDS.items()) if tier in TIER_SPANS))


def pytest_report_teststatus(report, config):
    """A passed test's line says how long it took (its fixtures' setup included) and when
    it ended in the run, so a run cut short by CI's limit still shows where time went."""
    if report.when == "setup":
        _SETUP_SECONDS[report.nodeid] = report.duration
    elif report.when == "call" and report.passed and config.option.verbose > 0:
        seconds = _SETUP_SECONDS.pop(report.nodeid, 0.0) + report.duration
        ended = (time.monotonic() - _START) / 60
        return "passed", ".", f"PASSED ({seconds:.0f} s, at {ended:.1f} min)"
    return None
