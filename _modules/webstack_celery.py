"""
Whether the app's Celery worker is up: it answers ``celery inspect ping`` under its
own node name (``<app:name>@<host>``), asked from the current release with the app's
environment, as the worker itself runs. A deploy is not done until it does: a worker
that crash-loops (an import error, a dependency mismatch) fails the deploy with its
program's name and the last lines of its log.
"""

import json
import socket
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_celery"

BACKENDS = {"supervisord": "webstack_supervisor", "systemd": "webstack_systemd"}
# states in which the program has died since it was started, or the process manager gave
# it up (Supervisord's words; BACKOFF: it exited and waits to be started again)
GAVE_UP = ("BACKOFF", "FATAL", "STOPPED", "EXITED")
LOG_LINES = 20


def __virtual__():
    if "webstack_release.execute" not in __salt__:
        return (False, "the webstack_release execution module is not loaded (saltutil.sync_all)")
    return __virtualname__


def node_name(name):
    """
    The node name of the worker started with ``--hostname <name>@%h`` on this host.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_celery.node_name webapp
    """
    return f"{name}@{socket.gethostname()}"


def ping(base_dir, celery_app, node, settings_file=None, env=None, runas=None, timeout=2):
    """
    Ask ``node`` for a pong (``celery --app <celery_app> inspect ping --destination
    <node>``, from the current release, with its environment). Returns ``{"ok",
    "output"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_celery.ping /srv/webapp config.celery_app webapp@worker1 settings_file=/etc/webstack/webapp/app.env runas=webapp
    """  # noqa: E501 (a CLI example is one line)
    for what, value in (("celery_app", celery_app), ("node", node)):
        if not value or not all(c.isalnum() or c in "._-@:" for c in str(value)):
            raise CommandExecutionError(f"{what} {value!r}: expected a module path or a node name")
    command = (f"python -m celery --app {celery_app} inspect ping --destination {node} "
               f"--timeout {float(timeout)} --json")
    res = __salt__["webstack_release.execute"](base_dir, command, settings_file=settings_file, env=env,
                                                runas=runas, timeout=float(timeout) + 60)
    output = (res["stdout"] + "\n" + res["stderr"]).strip()
    try:
        replies = json.loads(res["stdout"].strip().splitlines()[-1]) if res["retcode"] == 0 else {}
    except (ValueError, IndexError):
        replies = {}
    ok = isinstance(replies, dict) and isinstance(replies.get(node), dict) and replies[node].get("ok") == "pong"
    return {"ok": ok, "output": output[-2000:]}


def _tail(path, lines=LOG_LINES):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "\n".join(handle.read().splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"


def wait_ready(base_dir, celery_app, program, manager="supervisord", node=None,
               settings_file=None, env=None, runas=None, log_file=None, timeout=60, interval=2):
    """
    Wait until the worker ``program`` answers a ping under ``node`` (default: its
    node name on this host, see :py:func:`node_name`), for up to ``timeout`` seconds.
    Fails as soon as the program has died (the process manager waits to start it again,
    or gave it up), and otherwise when the time is out, naming the program and showing
    the last lines of ``log_file``.
    Returns ``{"node", "tries", "seconds"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_celery.wait_ready /srv/webapp config.celery_app webapp-celery node=webapp@worker1 settings_file=/etc/webstack/webapp/app.env runas=webapp log_file=/var/log/webstack/webapp-celery.log
    """  # noqa: E501 (a CLI example is one line)
    if manager not in BACKENDS:
        raise CommandExecutionError(f"manager {manager!r}: expected supervisord or systemd")
    node = node or node_name(program.rsplit("-", 1)[0])
    start = time.monotonic()
    tries, state = 0, None
    while True:
        tries += 1
        res = ping(base_dir, celery_app, node, settings_file=settings_file, env=env, runas=runas)
        if res["ok"]:
            return {"node": node, "tries": tries, "seconds": round(time.monotonic() - start, 1)}
        state = __salt__[f"{BACKENDS[manager]}.state"](program)
        if state in GAVE_UP or state is None or time.monotonic() - start >= float(timeout):
            break
        time.sleep(float(interval))
    why = f"it died ({manager}: {state or 'unknown'})" if state in GAVE_UP or state is None else \
        f"not within {timeout} s ({manager}: {state})"
    log = f"; the last lines of {log_file}:\n{_tail(log_file)}" if log_file else f":\n{res['output']}"
    raise CommandExecutionError(f"Celery worker {program} does not answer a ping as {node}: {why}{log}")
