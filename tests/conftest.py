"""Shared fixtures for every tier."""

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
