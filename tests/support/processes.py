"""Local processes that the functional tests start (uWSGI, supervisord, HAProxy)."""

import subprocess


def wait_or_kill(proc, timeout):
    """Wait up to ``timeout`` s for ``proc``, already asked to stop, to exit; then kill it."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
