"""
mod_wsgi's daemon processes (``WSGIDaemonProcess ... display-name=%{GROUP}``),
found by their process name ``(wsgi:<group>)``, and their rolling restart.

A new release reaches Apache + mod_wsgi by a rolling restart: one daemon process
at a time gets SIGUSR1 (mod_wsgi's graceful restart: it finishes its requests,
up to ``graceful-timeout``, then exits), Apache starts its replacement, which
loads the app from ``current`` before it accepts requests (the WSGI script is
preloaded: ``WSGIScriptAlias`` names both the process and the application
group), and only then does the next one go. The other processes keep serving
throughout. Apache's own ``graceful`` would instead restart every daemon at
once and close its clients' idle keep-alive connections.
"""

import contextlib
import os
import signal
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_modwsgi"

PROC = "/proc"


def __virtual__():
    return __virtualname__


def _threads(pid):
    try:
        return len(os.listdir(os.path.join(PROC, str(pid), "task")))
    except OSError:
        return 0


def daemons(group):
    """
    The daemon processes of a ``WSGIDaemonProcess`` group as ``{pid: threads}``.
    A process with one thread is still loading the app (mod_wsgi starts its
    request threads once the WSGI script is imported).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_modwsgi.daemons webapp
    """
    name = f"(wsgi:{group})".encode()
    found = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(PROC, entry, "cmdline"), "rb") as fh:
                argv0 = fh.read().split(b"\0", 1)[0].strip()
        except OSError:
            continue
        if argv0 == name:
            found[int(entry)] = _threads(entry)
    return found


def _wait(group, processes, deadline, interval, gone=()):
    """Until ``processes`` daemons run, all ready, none of ``gone``; returns them."""
    while True:
        now = daemons(group)
        if len(now) == processes and all(n > 1 for n in now.values()) and not set(gone) & set(now):
            return now
        if time.monotonic() >= deadline:
            raise CommandExecutionError(
                f"mod_wsgi group {group}: expected {processes} ready daemon processes, found "
                f"{len(now)} ({sum(1 for n in now.values() if n <= 1)} still loading); see Apache's error log")
        time.sleep(interval)


def rolling_restart(group, processes, timeout=120, interval=0.2):
    """
    Restart the daemon processes of ``group`` one at a time (SIGUSR1), each
    time waiting until Apache has started its replacement and the replacement
    has loaded the app. Starts by waiting until ``processes`` daemons are ready
    (after a graceful restart of Apache, the new ones). Returns ``{"old",
    "new", "seconds"}`` (PIDs); raises after ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_modwsgi.rolling_restart webapp 5
    """
    start = time.monotonic()
    deadline = start + float(timeout)
    processes = int(processes)
    before = sorted(_wait(group, processes, deadline, interval))
    for pid in before:
        with contextlib.suppress(ProcessLookupError):  # gone on its own (maximum-requests): replaced too
            os.kill(pid, signal.SIGUSR1)
        _wait(group, processes, deadline, interval, gone=[pid])
    after = daemons(group)
    return {"old": before, "new": sorted(after), "seconds": round(time.monotonic() - start, 2)}
