"""
HAProxy servers through HAProxy's runtime API: drain, make ready or put in
maintenance one server of a backend, read its status and current sessions, and
wait (bounded, sleeping between polls) until it reaches a session count or a
status. The rolling deploy stands on it: drain, wait for zero sessions, deploy,
make ready, wait until HAProxy reports the server UP.

It talks to HAProxy's admin ``stats socket`` (a unix socket) directly: one
connection per command, the command and ``\\n`` sent, the answer read to EOF
(HAProxy's non-interactive mode). HAProxy must expose it with ``level admin``:

.. code-block:: text

    global
        stats socket /run/haproxy/admin.sock mode 600 level admin

Defaults can be set in the minion config; every function takes ``socket=`` too:

.. code-block:: yaml

    webstack_haproxy.socket: /run/haproxy/admin.sock
    webstack_haproxy.timeout: 10       # seconds for one runtime API command

Why not ``saltext-haproxy`` (1.0.0, the only release on PyPI): its
``haproxyconn`` module needs the ``haproxyctl`` library (last released 2013,
not even declared as a dependency, so the module does not load once installed
alone); it has no drain/ready/maint helpers beyond a raw ``set_state``, no
admin state at all (``show stat`` cannot tell a drained DOWN server from a
ready one), returns ``scur`` as a string and matches backends by prefix, sends
names unchecked into the runtime API (a ``;`` or newline in a name runs another
command), validates with ``assert`` and polls in ``wait_state`` without
sleeping. The part needed here is a few lines of ``socket``.

Where the data comes from:

- ``show servers state`` is the list of servers and their *admin* state, from
  the ``srv_admin_state`` bits: 0x01 forced maint, 0x02 maint inherited from a
  tracked server, 0x04 maint from the config (``disabled``), 0x20 maint while
  the address does not resolve, 0x40 maint by hostname; 0x08 forced drain, 0x10
  drain inherited. Any maint bit reads ``maint``, else any drain bit ``drain``,
  else ``ready``.
- ``show stat`` gives the *operational* status as HAProxy prints it (``UP``,
  ``DOWN``, ``DRAIN``, ``MAINT``, ``NOLB``, ``no check``, and the transitional
  ``UP 1/2`` - up, last check failed - or ``DOWN 1/2`` - down, last check
  passed), the current sessions (``scur``) and the last check status
  (``L7OK``, ``L4CON``, ``L7STS``...).

The two answers are two snapshots, not one; each poll reads both again.
"""

import csv
import io
import os
import re
import socket as socketlib
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_haproxy"

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_STATES = ("ready", "drain", "maint")
_ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40
_ADMIN_DRAIN = 0x08 | 0x10


def __virtual__():
    if not hasattr(socketlib, "AF_UNIX"):
        return (False, "webstack_haproxy needs unix sockets to reach HAProxy's runtime API")
    return __virtualname__


def _opt(key, default):
    value = __opts__.get(f"webstack_haproxy.{key}")
    return value if value not in (None, "") else default


def _socket_path(socket=None):
    return socket or _opt("socket", "/run/haproxy/admin.sock")


def _check_name(kind, name):
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise CommandExecutionError(
            f"{kind} name {name!r}: expected letters, digits, '.', '_' or '-'"
        )


def _number(what, value, minimum):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CommandExecutionError(f"{what} {value!r}: expected a number") from None
    if number < minimum:
        raise CommandExecutionError(f"{what} {value!r}: expected at least {minimum}")
    return number


class _NotRunning(CommandExecutionError):
    """Nothing answers on the admin socket: HAProxy is not running (or not set up)."""


def _runtime(command, socket=None):
    """Send one runtime API command and return HAProxy's whole answer."""
    # Names are checked by the callers; this is the last line against a second
    # command smuggled in (';' chains commands, a newline ends one).
    if any(c in command for c in ";\r\n"):
        raise CommandExecutionError(f"refusing to send {command!r} to HAProxy")
    path = _socket_path(socket)
    timeout = _number("webstack_haproxy.timeout", _opt("timeout", 10), 0.1)
    conn = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        try:
            conn.connect(path)
        except FileNotFoundError:
            raise _NotRunning(
                f"HAProxy admin socket {path} does not exist: is haproxy running with "
                f"'stats socket {path} level admin'?"
            ) from None
        except ConnectionRefusedError:
            raise _NotRunning(
                f"nothing listens on HAProxy admin socket {path}: is haproxy running?"
            ) from None
        except PermissionError:
            raise CommandExecutionError(
                f"permission denied on HAProxy admin socket {path} (its mode and owner "
                "come from 'stats socket ... mode/user/group')"
            ) from None
        except OSError as exc:
            raise CommandExecutionError(f"HAProxy admin socket {path}: {exc}") from None
        chunks = []
        try:
            conn.sendall(command.encode("ascii") + b"\n")
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            raise CommandExecutionError(
                f"HAProxy did not finish answering {command!r} on {path} within {timeout:g} s"
            ) from None
        except OSError as exc:
            raise CommandExecutionError(f"HAProxy admin socket {path}: {exc}") from None
    finally:
        conn.close()
    return b"".join(chunks).decode("utf-8", "replace")


def _admin(bits):
    if bits & _ADMIN_MAINT:
        return "maint"
    if bits & _ADMIN_DRAIN:
        return "drain"
    return "ready"


def _servers_state(backend, socket):
    """``{(backend, server): admin}`` from ``show servers state [backend]``."""
    command = "show servers state" + (f" {backend}" if backend else "")
    answer = _runtime(command, socket)
    lines = answer.splitlines()
    if not lines or lines[0].strip() != "1":
        text = answer.strip()
        if backend and "find backend" in text:
            raise CommandExecutionError(f"HAProxy has no backend {backend} (it answered: {text})")
        raise CommandExecutionError(f"unexpected answer to '{command}' from HAProxy: {text[:300]}")
    header = None
    result = {}
    for line in lines[1:]:
        if line.startswith("# "):
            header = line[2:].split()
            continue
        fields = line.split()
        if not fields or header is None:
            continue
        row = dict(zip(header, fields, strict=False))  # a row may have fewer fields than its header
        try:
            bits = int(row["srv_admin_state"])
        except (KeyError, ValueError):
            raise CommandExecutionError(f"cannot read '{command}' line from HAProxy: {line}") from None
        result[(row["be_name"], row["srv_name"])] = _admin(bits)
    return result


def _stat(socket):
    """``{(backend, server): row}`` of the server rows of ``show stat``."""
    answer = _runtime("show stat", socket)
    if not answer.startswith("# pxname,"):
        raise CommandExecutionError(f"unexpected answer to 'show stat' from HAProxy: {answer.strip()[:300]}")
    reader = csv.DictReader(io.StringIO(answer[2:]))
    return {
        (row["pxname"], row["svname"]): row
        for row in reader
        if row.get("svname") not in (None, "FRONTEND", "BACKEND")
    }


def servers(backend=None, socket=None):
    """
    The servers HAProxy knows (of one backend, or of all), as
    ``{"backend/server": {"status": "UP", "admin": "ready", "sessions": 0,
    "check": "L7OK", "check_desc": "Layer7 check passed"}}``.

    ``status`` is HAProxy's operational status as ``show stat`` prints it
    (``UP``, ``DOWN``, ``DRAIN``, ``MAINT``, ``NOLB``, ``no check``, or a
    transitional ``UP 1/2`` / ``DOWN 1/2``); ``admin`` the administrative state
    from ``show servers state`` (``ready``, ``drain`` or ``maint``);
    ``sessions`` the current sessions (``scur``); ``check`` the last health
    check status (``None`` before any check or without checks).

    An unknown ``backend`` is an error.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.servers
        salt-call webstack_haproxy.servers app socket=/run/haproxy/admin.sock
    """
    if backend is not None:
        _check_name("backend", backend)
    admin = _servers_state(backend, socket)
    stats = _stat(socket)
    result = {}
    for key, state in sorted(admin.items()):
        row = stats.get(key)
        if row is None:  # added between the two snapshots
            continue
        check = (row.get("check_status") or "").lstrip("* ").strip()
        try:
            sessions = int(row.get("scur") or 0)
        except ValueError:
            sessions = 0
        result["/".join(key)] = {
            "status": row.get("status", ""),
            "admin": state,
            "sessions": sessions,
            "check": check or None,
            "check_desc": row.get("check_desc") or None,
        }
    return result


def has_server(backend, server, socket=None):  # pylint: disable=redefined-outer-name
    """
    True when HAProxy runs and its ``backend`` holds ``server``; False when
    nothing answers on the admin socket (HAProxy not set up, or stopped: another
    load balancer took its place) or the backend or the server is not in its
    config (a node that the next config will add).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.has_server app app3
    """
    _check_name("backend", backend)
    _check_name("server", server)
    if not os.path.exists(_socket_path(socket)):
        return False
    try:
        return any(key == (backend, server) for key in _servers_state(None, socket))
    except _NotRunning:
        return False


def running(socket=None):
    """
    True when HAProxy answers on its admin socket (set up and running); False
    when the socket does not exist or nothing listens on it (HAProxy stopped:
    another load balancer took its place, its socket file left behind).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.running
    """
    path = _socket_path(socket)
    if not os.path.exists(path):
        return False
    conn = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    conn.settimeout(2)
    try:
        conn.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    finally:
        conn.close()
    return True


def save_state(path, socket=None):
    """
    Write ``show servers state`` to ``path`` (atomically, mode 0600): the
    ``server-state-file`` that a reloaded HAProxy reads, so that a reload keeps
    each server's drain or maintenance state. Returns the number of servers
    saved, or ``None`` when HAProxy is not running (nothing to keep).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.save_state /var/lib/haproxy/server-state
    """
    if not os.path.isabs(str(path)):
        raise CommandExecutionError(f"path {path!r}: expected an absolute path")
    try:
        answer = _runtime("show servers state", socket)
    except _NotRunning:
        return None
    lines = answer.splitlines()
    if not lines or lines[0].strip() != "1":
        raise CommandExecutionError(f"unexpected answer to 'show servers state': {answer[:200]!r}")
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(answer if answer.endswith("\n") else answer + "\n")
    os.replace(tmp, path)
    return sum(1 for line in lines[2:] if line.strip() and not line.startswith("#"))


def _entry(backend, name, socket):
    _check_name("backend", backend)
    _check_name("server", name)
    entry = servers(backend, socket=socket).get(f"{backend}/{name}")
    if entry is None:
        raise CommandExecutionError(f"HAProxy has no server {backend}/{name}")
    return entry


def server(backend, server, socket=None):  # pylint: disable=redefined-outer-name
    """
    One server's entry of :py:func:`servers`; an unknown backend or server is an
    error naming it.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.server app app1
    """
    return _entry(backend, server, socket)


def _set_state(backend, server, state, socket):  # pylint: disable=redefined-outer-name
    _check_name("backend", backend)
    _check_name("server", server)
    if state not in _STATES:
        raise CommandExecutionError(f"state {state!r}: expected one of {', '.join(_STATES)}")
    command = f"set server {backend}/{server} state {state}"
    answer = _runtime(command, socket).strip()
    if answer:
        if answer.startswith("No such server") or answer.startswith("No such backend"):
            raise CommandExecutionError(f"HAProxy has no server {backend}/{server} (it answered: {answer})")
        raise CommandExecutionError(f"HAProxy refused '{command}': {answer}")
    return _entry(backend, server, socket)["admin"]


def drain(backend, server, socket=None):  # pylint: disable=redefined-outer-name
    """
    Drain a server (``set server <backend>/<server> state drain``): it gets no
    new load-balanced traffic, keeps its current sessions, still receives
    persistent connections and is still health-checked. Returns the admin state
    read back (``drain``, or ``maint`` if it is in maintenance through something
    that draining does not lift, such as a tracked server).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.drain app app1
    """
    return _set_state(backend, server, "drain", socket)


def ready(backend, server, socket=None):  # pylint: disable=redefined-outer-name
    """
    Put a server back in service (``set server <backend>/<server> state
    ready``), leaving drain or forced maintenance. Returns the admin state read
    back (``ready``, or what HAProxy kept, e.g. ``maint`` inherited from a
    tracked server). HAProxy sends it traffic once its health checks pass: see
    :py:func:`wait_status`.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.ready app app1
    """
    return _set_state(backend, server, "ready", socket)


def maint(backend, server, socket=None):  # pylint: disable=redefined-outer-name
    """
    Put a server in maintenance (``set server <backend>/<server> state
    maint``): no traffic at all and no health checks; current sessions are not
    killed. Returns the admin state read back (``maint``).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.maint app app1
    """
    return _set_state(backend, server, "maint", socket)


def wait_sessions(backend, server, max_sessions=0, timeout=60, interval=0.5, socket=None):
    # pylint: disable=redefined-outer-name
    """
    Wait until a server has at most ``max_sessions`` current sessions, polling
    every ``interval`` seconds for up to ``timeout`` seconds; returns the count.
    Raises, naming the server, its session count and the timeout, when it does
    not get there.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.wait_sessions app app1 timeout=120
    """
    max_sessions = int(_number("max_sessions", max_sessions, 0))
    timeout = _number("timeout", timeout, 0)
    interval = _number("interval", interval, 0.01)
    deadline = time.monotonic() + timeout
    while True:
        count = _entry(backend, server, socket)["sessions"]
        if count <= max_sessions:
            return count
        left = deadline - time.monotonic()
        if left <= 0:
            raise CommandExecutionError(
                f"server {backend}/{server} still has {count} session(s) after {timeout:g} s "
                f"(waited for at most {max_sessions})"
            )
        time.sleep(min(interval, left))


def wait_status(backend, server, status="UP", timeout=60, interval=0.5, socket=None):
    # pylint: disable=redefined-outer-name
    """
    Wait until HAProxy reports ``status`` for a server (case-insensitive, the
    whole status: ``UP 1/2``, up but with a failed last check, is not ``UP``),
    polling every ``interval`` seconds for up to ``timeout`` seconds. Returns
    the server's entry (see :py:func:`servers`). Raises, naming the server, its
    last status and its last check status, when it does not get there.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_haproxy.wait_status app app1 UP timeout=30
    """
    if not isinstance(status, str) or not status.strip():
        raise CommandExecutionError(f"status {status!r}: expected a status such as UP")
    timeout = _number("timeout", timeout, 0)
    interval = _number("interval", interval, 0.01)
    wanted = status.strip().upper()
    deadline = time.monotonic() + timeout
    while True:
        entry = _entry(backend, server, socket)
        if entry["status"].upper() == wanted:
            return entry
        left = deadline - time.monotonic()
        if left <= 0:
            check = entry["check"] or "none"
            if entry["check_desc"]:
                check += f" ({entry['check_desc']})"
            raise CommandExecutionError(
                f"server {backend}/{server} is {entry['status']}, not {wanted}, after {timeout:g} s "
                f"(admin state {entry['admin']}, last check: {check})"
            )
        time.sleep(min(interval, left))
