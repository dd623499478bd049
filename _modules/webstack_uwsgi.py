"""
uWSGI's master process, through its stats socket (JSON) and its master FIFO.

A new release reaches uWSGI by a chain reload (``c`` written to the master
FIFO): with ``lazy-apps`` the master replaces one worker at a time, each new
worker loading the app from the ``current`` release before the next old one
goes, so requests keep being served throughout. :py:func:`chain_reload` waits
until every worker that ran before has been replaced.
"""

import errno
import json
import os
import socket
import stat
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_uwsgi"


def __virtual__():
    return __virtualname__


def stats(stats_socket, timeout=5):
    """
    The JSON document of uWSGI's stats server on a unix socket (``stats =``).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_uwsgi.stats /srv/webapp/run/uwsgi-stats.sock
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(float(timeout))
    chunks = []
    try:
        sock.connect(stats_socket)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise CommandExecutionError(f"uWSGI stats socket {stats_socket}: {exc}") from exc
    finally:
        sock.close()
    try:
        return json.loads(b"".join(chunks).decode("utf-8", "replace"))
    except ValueError as exc:
        raise CommandExecutionError(f"uWSGI stats socket {stats_socket}: not JSON: {exc}") from exc


def workers(stats_socket):
    """
    The workers as ``{id: {"pid", "accepting", "status", "requests"}}`` (a
    worker being respawned has pid 0).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_uwsgi.workers /srv/webapp/run/uwsgi-stats.sock
    """
    doc = stats(stats_socket)
    return {
        int(w["id"]): {
            "pid": int(w.get("pid") or 0),
            "accepting": bool(w.get("accepting")),
            "status": w.get("status"),
            "requests": int(w.get("requests") or 0),
        }
        for w in doc.get("workers", [])
    }


def fifo_command(fifo, command):
    """
    Write one command to uWSGI's master FIFO (``c``: chain reload, ``r``:
    graceful reload, ``q``: graceful shutdown). An error when no master reads it. The
    FIFO lies in a directory that the app's user writes: it is opened without following
    a symlink and written only when what was opened is a FIFO.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_uwsgi.fifo_command /srv/webapp/run/uwsgi.fifo c
    """
    if not isinstance(command, str) or len(command) != 1 or not command.isalnum():
        raise CommandExecutionError(f"master FIFO command {command!r}: expected one letter such as c")
    try:
        if not stat.S_ISFIFO(os.lstat(fifo).st_mode):
            raise CommandExecutionError(f"{fifo} is not a FIFO")
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise CommandExecutionError(f"no uWSGI master reads {fifo}: is it running?") from exc
        raise CommandExecutionError(f"uWSGI master FIFO {fifo}: {exc}") from exc
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):  # replaced between the two looks
            raise CommandExecutionError(f"{fifo} is not a FIFO")
        os.write(fd, command.encode())
    finally:
        os.close(fd)
    return True


def _ready(worker):
    return worker["pid"] > 0 and worker["accepting"] and worker["status"] not in ("cheap", "pause", "sig")


def chain_reload(fifo, stats_socket, timeout=120, interval=0.5):
    """
    Chain-reload uWSGI (one worker at a time) and wait, polling the stats
    socket every ``interval`` seconds, until every worker that ran before has
    been replaced by one that accepts requests. Waits first until the stats socket
    answers and every worker accepts requests (a master just started has not
    opened it yet; uWSGI ignores a chain reload while a worker still loads).
    Returns ``{"old", "new", "seconds"}`` (worker PIDs); raises after
    ``timeout`` seconds, naming the workers still waiting.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_uwsgi.chain_reload /srv/webapp/run/uwsgi.fifo /srv/webapp/run/uwsgi-stats.sock
    """
    start = time.monotonic()
    deadline = start + float(timeout)
    # A master just started (systemd's start returns once it has forked) may not
    # have opened its stats socket yet, and a chain reload asked for while its
    # workers still load the app is reported complete by uWSGI without replacing
    # them: wait for both first.
    while True:
        try:
            current, error = workers(stats_socket), None
        except CommandExecutionError as exc:
            current, error = {}, exc
        if current and all(_ready(w) for w in current.values()):
            break
        if time.monotonic() >= deadline:
            loading = sorted(wid for wid, w in current.items() if not _ready(w))
            raise CommandExecutionError(
                f"uWSGI at {stats_socket}: {error or f'workers {loading or None} not ready'} "
                f"after {timeout} s, no chain reload sent (see the uWSGI log)")
        time.sleep(float(interval))
    before = {wid: w["pid"] for wid, w in current.items()}
    fifo_command(fifo, "c")
    while True:
        time.sleep(float(interval))
        try:
            now = workers(stats_socket)
        except CommandExecutionError:
            now = {}  # the master is busy forking: ask again
        waiting = sorted(wid for wid, pid in before.items()
                         if wid not in now or now[wid]["pid"] in (0, pid) or not _ready(now[wid]))
        if not waiting:
            return {
                "old": sorted(before.values()),
                "new": sorted(now[wid]["pid"] for wid in before),
                "seconds": round(time.monotonic() - start, 2),
            }
        if time.monotonic() >= deadline:
            raise CommandExecutionError(
                f"uWSGI chain reload not finished after {timeout} s: workers {waiting} not replaced "
                f"(see the uWSGI log)")
