"""Fixtures shared by the unit tests."""

from unittest.mock import create_autospec

import pytest


@pytest.fixture
def run_all():
    """A mock of Salt's ``cmd.run_all`` with its signature (autospec), answering success with
    no output; tests set ``return_value`` or ``side_effect`` to real command answers."""

    def _run_all(cmd, **kwargs):  # signature of the real one, for autospec
        raise NotImplementedError

    return create_autospec(_run_all, return_value={"retcode": 0, "stdout": "", "stderr": ""})
