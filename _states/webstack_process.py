"""
Long-running programs under a process manager, Supervisord or systemd, as states
(Salt 3008 core has no supervisord state).

.. code-block:: yaml

    webstack-gunicorn-service-webstack_process-running:
      webstack_process.running:
        - name: webapp-gunicorn
        - manager: supervisord      # or systemd (where systemd is PID 1)
        - command: [/srv/webapp/current/venv/bin/python, -m, gunicorn, ...]
        - user: webapp
        - reload_signal: HUP        # mod_watch: graceful reload instead of restart
        - watch:
          - webstack_release: webstack-app-release-webstack_release-deployed

The program is described once, with Supervisord's ``[program:x]`` keys; for
systemd the same arguments render a unit file (see ``webstack_systemd``). A
program is rewritten and restarted only when its config text changed, started
only when it is not running, and on a watch event reloaded with
``reload_signal`` or, without one, restarted with its own ``stopsignal`` (a warm
shutdown for Celery workers). ``absent`` removes it from one manager: the SLS
pairs the ``running`` of the chosen manager with the ``absent`` of the other,
so switching managers leaves nothing behind.
"""

__virtualname__ = "webstack_process"

# manager -> execution module; both offer the same functions (render_program,
# read_program, write_program, remove_program, digest, status, wait,
# wait_settled, state, pid, update, start, restart, signal).
BACKENDS = {"supervisord": "webstack_supervisor", "systemd": "webstack_systemd"}

_PROGRAM_KEYS = (
    "directory",
    "user",
    "environment",
    "autostart",
    "autorestart",
    "startsecs",
    "startretries",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "umask",
    "stdout_logfile",
    "priority",
)


def __virtual__():
    missing = [mod for mod in BACKENDS.values() if f"{mod}.status" not in __salt__]
    if missing:
        return (False, f"the execution modules {', '.join(missing)} are not loaded")
    return __virtualname__


def _backend(manager):
    if manager not in BACKENDS:
        raise ValueError(f"manager {manager!r}: expected one of {', '.join(BACKENDS)}")
    return BACKENDS[manager] + "."


def _program_kwargs(manager, kwargs, reload_signal):
    found = {k: kwargs[k] for k in _PROGRAM_KEYS if k in kwargs and kwargs[k] is not None}
    if manager == "systemd" and reload_signal:
        found["reload_signal"] = reload_signal  # ExecReload=, for `systemctl reload`
    return found


def running(name, command, manager="supervisord", conf_dir=None, conf_file=None, reload_signal=None,
            **kwargs):
    """
    Make sure a program has this config and is running under ``manager``.

    name
        The program name (Supervisord: ``[program:<name>]`` in
        ``<conf_dir>/<name>.conf``; systemd: ``<conf_dir>/<name>.service``).
    command
        An argv list or one command line.
    manager
        ``supervisord`` (default) or ``systemd``.
    conf_dir
        Supervisord's include directory (default ``/etc/supervisor/conf.d``) or
        systemd's unit directory (default ``/etc/systemd/system``).
    conf_file
        Supervisord's main config, for ``supervisorctl -c`` (default: its own).
    reload_signal
        The signal that ``mod_watch`` sends for a graceful reload (``HUP`` for
        Gunicorn); with systemd also the unit's ``ExecReload``. Without it, a
        watch event restarts the program.
    directory, user, environment, autostart, autorestart, startsecs, startretries,
    stopsignal, stopwaitsecs, stopasgroup, killasgroup, umask, stdout_logfile, priority
        As in Supervisord's ``[program:x]`` section.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    try:
        mod = _backend(manager)
        text = __salt__[mod + "render_program"](name, command, **_program_kwargs(manager, kwargs, reload_signal))
        old_text, current = _observe(mod, name, conf_dir, conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret

    changes = {}
    if text != old_text:
        digest = __salt__[mod + "digest"]
        changes["config"] = {"old": digest(old_text), "new": digest(text)}
    if current != "RUNNING":
        changes["state"] = {"old": current or "absent", "new": "RUNNING"}
    if not changes:
        ret["comment"] = f"Program {name} is configured and running"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = changes
        what = "rewritten and restarted" if "config" in changes else "started"
        ret["comment"] = f"Program {name} would be {what}"
        return ret

    try:
        __salt__[mod + "wait"](conf_file=conf_file)
        if "config" in changes:
            if mod + "verify" in __salt__:
                __salt__[mod + "verify"](name, text)  # before it goes live
            __salt__[mod + "write_program"](name, text, conf_dir=conf_dir)
        settle = int(kwargs.get("startsecs") or 1) + 30
        # A new program is added and started, a changed one restarted. One that is stopped
        # or crash-looping (BACKOFF, EXITED, FATAL) with its config unchanged is restarted:
        # it runs the release current now, with its start retries reset (a plain start
        # would leave a BACKOFF program to retry on its own time: "already started").
        action = "update" if "config" in changes or current is None else "restart"
        __salt__[mod + action](name, conf_file=conf_file)
        now = __salt__[mod + "wait_settled"](name, timeout=settle, conf_file=conf_file)
        if now != "RUNNING" and action == "update":  # one that the update did not start
            __salt__[mod + "restart"](name, conf_file=conf_file)
            now = __salt__[mod + "wait_settled"](name, timeout=settle, conf_file=conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Program {name}: {exc}{_log_tail(kwargs)}"
        written = __salt__[mod + "read_program"](name, conf_dir=conf_dir) == text
        ret["changes"] = {k: v for k, v in changes.items() if k == "config" and written}
        return ret

    if current != "RUNNING" or now != "RUNNING":
        changes["state"] = {"old": current or "absent", "new": now}
    ret["changes"] = changes
    if now != "RUNNING":
        ret["result"] = False
        ret["comment"] = f"Program {name} is {now} after the update{_log_tail(kwargs) or '; see its log'}"
    else:
        ret["comment"] = f"Program {name} updated and running"
    return ret


def absent(name, manager="supervisord", conf_dir=None, conf_file=None):
    """
    Make sure a program is stopped, its config file gone and ``manager`` no
    longer knows it. Where the manager is not installed or not running (systemd
    not PID 1), a program without a config file is absent.

    name
        The program name.
    manager
        ``supervisord`` (default) or ``systemd``.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    try:
        mod = _backend(manager)
        old_text, current = _observe(mod, name, conf_dir, conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    if old_text is None and current is None:
        ret["comment"] = f"Program {name} is absent"
        return ret
    ret["changes"] = {"program": {"old": current or "configured", "new": "absent"}}
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"Program {name} would be stopped and removed from {manager}"
        return ret
    try:
        __salt__[mod + "remove_program"](name, conf_dir=conf_dir, conf_file=conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Program {name}: {exc}"
        return ret
    ret["comment"] = f"Program {name} stopped and removed from {manager}"
    return ret


def mod_watch(name, sfun=None, manager="supervisord", conf_file=None, reload_signal=None, **kwargs):
    """
    On a watch event, reload a running program gracefully with its
    ``reload_signal``, or restart it (stop with its ``stopsignal``, then start).
    Salt calls this only when ``running`` itself changed nothing.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if sfun != "running":
        ret["comment"] = f"Nothing to do on a watch event for {sfun}"
        return ret
    action = f"reloaded with SIG{reload_signal}" if reload_signal else "restarted"
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"reload": {"old": None, "new": action}}
        ret["comment"] = f"Program {name} would be {action}"
        return ret
    try:
        mod = _backend(manager)
        old_pid = __salt__[mod + "pid"](name, conf_file=conf_file)
        if reload_signal and old_pid:
            __salt__[mod + "signal"](name, reload_signal, conf_file=conf_file)
        else:
            __salt__[mod + "restart"](name, conf_file=conf_file)
        new_pid = __salt__[mod + "pid"](name, conf_file=conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Program {name}: {exc}{_log_tail(kwargs)}"
        return ret
    if not new_pid:
        ret["result"] = False
        ret["comment"] = f"Program {name} is not running after being {action}{_log_tail(kwargs)}"
        return ret
    ret["changes"] = {"reload": {"old": None, "new": action}, "pid": {"old": old_pid, "new": new_pid}}
    ret["comment"] = f"Program {name} {action}"
    return ret


LOG_LINES = 20


def _log_tail(kwargs):
    """The last lines of the program's log, for a failure's comment ('' without a log)."""
    path = kwargs.get("stdout_logfile")
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()[-LOG_LINES:]
    except OSError:
        return ""
    return f"; the last lines of {path}:\n" + "\n".join(lines) if lines else ""


def _observe(mod, name, conf_dir, conf_file):
    """The program's config text on disk and its state under the manager: None where the
    manager does not know it, or does not answer (Supervisord may not be installed yet in
    test mode, systemd may not be PID 1 here). One question to the manager."""
    old_text = __salt__[mod + "read_program"](name, conf_dir=conf_dir)
    try:
        current = __salt__[mod + "status"](name, conf_file=conf_file).get(name, {}).get("state")
    except Exception:  # pylint: disable=broad-except
        current = None
    return old_text, current
