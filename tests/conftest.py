"""Shared fixtures for every tier."""

import pytest


@pytest.fixture(scope="session")
def salt_factories_config(tmp_path_factory):
    # Daemon dirs of pytest-salt-factories live in this run's own temp dir.
    return {"root_dir": str(tmp_path_factory.mktemp("salt-factories"))}
