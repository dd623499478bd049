"""
Supervisord programs as states (Salt 3008 core has none).

.. code-block:: yaml

    webstack-gunicorn-service-webstack_supervisor-running:
      webstack_supervisor.running:
        - name: webapp-gunicorn
        - command: /srv/webapp/current/venv/bin/python -m gunicorn -c /etc/webstack/webapp/gunicorn.conf.py app.wsgi
        - user: webapp
        - reload_signal: HUP        # mod_watch: graceful reload instead of restart
        - watch:
          - webstack_release: webstack-app-release-webstack_release-deployed

A program is rewritten, re-read and restarted (``supervisorctl update``) only when
its config text changed, started only when it is not running, and on a watch
event reloaded with ``reload_signal`` or, without one, restarted with its own
``stopsignal`` (a warm shutdown for Celery workers).
"""

__virtualname__ = "webstack_supervisor"

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
    if "webstack_supervisor.status" not in __salt__:
        return (False, "the webstack_supervisor execution module is not loaded")
    return __virtualname__


def _program_kwargs(kwargs):
    return {k: kwargs[k] for k in _PROGRAM_KEYS if k in kwargs and kwargs[k] is not None}


def running(name, command, conf_dir=None, conf_file=None, reload_signal=None, **kwargs):
    """
    Make sure a supervisord program has this config and is running.

    name
        The program name (``[program:<name>]``, file ``<conf_dir>/<name>.conf``).
    command
        An argv list or one command line.
    conf_dir
        supervisord's include directory (default ``/etc/supervisor/conf.d``).
    conf_file
        supervisord's main config, for ``supervisorctl -c`` (default: its own).
    reload_signal
        The signal that ``mod_watch`` sends for a graceful reload (``HUP`` for
        Gunicorn). Without it, a watch event restarts the program.
    directory, user, environment, autostart, autorestart, startsecs, startretries,
    stopsignal, stopwaitsecs, stopasgroup, killasgroup, umask, stdout_logfile, priority
        As in supervisord's ``[program:x]`` section.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_supervisor."
    try:
        text = __salt__[mod + "render_program"](name, command, **_program_kwargs(kwargs))
        old_text, current = _observe(name, conf_dir, conf_file)
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
            __salt__[mod + "write_program"](name, text, conf_dir=conf_dir)
        # reread + update adds a new program, restarts a changed one
        __salt__[mod + "update"](name, conf_file=conf_file)
        settle = int(kwargs.get("startsecs") or 1) + 30
        if __salt__[mod + "wait_settled"](name, timeout=settle, conf_file=conf_file) != "RUNNING":
            __salt__[mod + "start"](name, conf_file=conf_file)
        now = __salt__[mod + "wait_settled"](name, timeout=settle, conf_file=conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Program {name}: {exc}"
        ret["changes"] = {k: v for k, v in changes.items() if k == "config"}
        return ret

    if current != "RUNNING" or now != "RUNNING":
        changes["state"] = {"old": current or "absent", "new": now}
    ret["changes"] = changes
    if now != "RUNNING":
        ret["result"] = False
        ret["comment"] = f"Program {name} is {now} after the update; see its log"
    else:
        ret["comment"] = f"Program {name} updated and running"
    return ret


def absent(name, conf_dir=None, conf_file=None):
    """
    Make sure a supervisord program is stopped, its config file gone and
    supervisord no longer knows it.

    name
        The program name.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_supervisor."
    try:
        old_text, current = _observe(name, conf_dir, conf_file)
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
        ret["comment"] = f"Program {name} would be stopped and removed"
        return ret
    try:
        __salt__[mod + "remove_program"](name, conf_dir=conf_dir, conf_file=conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Program {name}: {exc}"
        return ret
    ret["comment"] = f"Program {name} stopped and removed"
    return ret


def mod_watch(name, sfun=None, conf_file=None, reload_signal=None, **kwargs):
    """
    On a watch event, reload a running program gracefully with its
    ``reload_signal``, or restart it (stop with its ``stopsignal``, then start).
    Salt calls this only when ``running`` itself changed nothing.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if sfun != "running":
        ret["comment"] = f"Nothing to do on a watch event for {sfun}"
        return ret
    mod = "webstack_supervisor."
    action = f"reloaded with SIG{reload_signal}" if reload_signal else "restarted"
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"reload": {"old": None, "new": action}}
        ret["comment"] = f"Program {name} would be {action}"
        return ret
    try:
        old_pid = __salt__[mod + "pid"](name, conf_file=conf_file)
        if reload_signal and old_pid:
            __salt__[mod + "signal"](name, reload_signal, conf_file=conf_file)
        else:
            __salt__[mod + "restart"](name, conf_file=conf_file)
        new_pid = __salt__[mod + "pid"](name, conf_file=conf_file)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Program {name}: {exc}"
        return ret
    if not new_pid:
        ret["result"] = False
        ret["comment"] = f"Program {name} is not running after being {action}"
        return ret
    ret["changes"] = {"reload": {"old": None, "new": action}, "pid": {"old": old_pid, "new": new_pid}}
    ret["comment"] = f"Program {name} {action}"
    return ret


def _observe(name, conf_dir, conf_file):
    """The program's config text on disk and its supervisord state (None: unknown)."""
    old_text = __salt__["webstack_supervisor.read_program"](name, conf_dir=conf_dir)
    current = __salt__["webstack_supervisor.state"](name, conf_file=conf_file) if _supervisord_up(conf_file) else None
    return old_text, current


def _supervisord_up(conf_file):
    """True when supervisorctl can talk to supervisord (it may not be installed yet in test mode)."""
    try:
        __salt__["webstack_supervisor.status"](conf_file=conf_file)
        return True
    except Exception:  # pylint: disable=broad-except
        return False
