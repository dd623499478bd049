"""
Long-running programs as systemd units, where systemd is PID 1.

The systemd backend of the ``webstack_process`` state, with the same functions
(and the same meaning) as ``webstack_supervisor``: a program ``<name>`` is the
unit file ``<unit_dir>/<name>.service``, rendered from the same arguments as a
Supervisord ``[program:<name>]`` section, checked with ``systemd-analyze
verify`` before it goes live. Where systemd is not PID 1 (no
``/run/systemd/system``), every function that needs it raises an error that
says so.

Defaults can be set in the minion config:

.. code-block:: yaml

    webstack_systemd.unit_dir: /etc/systemd/system
"""

import hashlib
import os
import re
import shutil
import tempfile
import time

import salt.utils.atomicfile
from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_systemd"

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_SIGNAL_RE = re.compile(r"[A-Z0-9]+")
_ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a line break for some reader (\n, \r, \x0b, \x0c, \x1c-\x1e, \x85, U+2028, U+2029) or another control
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
RUN_DIR = "/run/systemd/system"
# systemd's ActiveState/SubState, in the words supervisorctl uses
_STATES = {
    "active": "RUNNING",
    "reloading": "RUNNING",
    "activating": "STARTING",
    "deactivating": "STOPPING",
    "inactive": "STOPPED",
    "failed": "FATAL",
}


def __virtual__():
    return __virtualname__


def _conf_dir(conf_dir=None):
    return conf_dir or __opts__.get("webstack_systemd.unit_dir") or "/etc/systemd/system"


def _check_name(name):
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise CommandExecutionError(
            f"unit name {name!r}: expected letters, digits, '.', '_' or '-'"
        )


def booted():
    """
    True when systemd is PID 1 on this host (``/run/systemd/system`` exists).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.booted
    """
    return os.path.isdir(RUN_DIR)


def _systemctl(args, check=True):
    if not booted():
        raise CommandExecutionError(
            f"systemd is not PID 1 on this host (no {RUN_DIR}): process_manager systemd needs it"
        )
    if shutil.which("systemctl") is None:
        raise CommandExecutionError("systemctl not found: is systemd installed?")
    res = __salt__["cmd.run_all"](["systemctl", *args], python_shell=False, ignore_retcode=True)
    out = (res.get("stdout", "") + "\n" + res.get("stderr", "")).strip()
    if check and res["retcode"] != 0:
        raise CommandExecutionError(f"systemctl {' '.join(args)} failed: {out}")
    return out


def program_path(name, conf_dir=None):
    """
    Path of a program's unit file.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.program_path webapp-gunicorn
    """
    _check_name(name)
    return os.path.join(_conf_dir(conf_dir), f"{name}.service")


def _exec_word(word):
    """One argument of ExecStart=: quoted as systemd splits it, with % and $ escaped."""
    word = str(word).replace("%", "%%").replace("$", "$$")
    if word and re.fullmatch(r"[A-Za-z0-9_./:=@,+-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _env_assignment(key, value):
    if not _ENV_KEY_RE.fullmatch(str(key)):
        raise CommandExecutionError(f"environment {key!r}: expected a variable name")
    value = str(value)
    if _CONTROL_RE.search(value):
        # no echo: the value may be a secret
        raise CommandExecutionError(f"environment {key}: a unit cannot hold a value with a line break or another "
                                    "control character")
    text = f"{key}={value}".replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_program(
    name,
    command,
    directory=None,
    user=None,
    environment=None,
    autostart=True,
    autorestart=True,
    startsecs=1,
    startretries=3,
    stopsignal="TERM",
    stopwaitsecs=10,
    stopasgroup=False,
    killasgroup=True,
    umask=None,
    stdout_logfile=None,
    priority=999,
    reload_signal=None,
):
    """
    Render the text of a unit file from the arguments of a Supervisord program:
    ``stopsignal`` becomes ``KillSignal=``, ``stopwaitsecs`` ``TimeoutStopSec=``,
    ``stopasgroup`` ``KillMode=control-group`` (else ``mixed``: the signal to
    the main process only, SIGKILL to all at the timeout), ``stdout_logfile``
    ``StandardOutput=append:``, ``reload_signal`` ``ExecReload=`` (what
    ``systemctl reload`` sends). ``startsecs``, ``killasgroup`` and
    ``priority`` have no systemd counterpart and are ignored.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.render_program web command='[/usr/bin/sleep, "60"]'
    """
    _check_name(name)
    if isinstance(command, (list, tuple)):
        command = " ".join(_exec_word(part) for part in command)
    if not command or "\n" in command:
        raise CommandExecutionError(f"program {name}: command must be one non-empty line")
    for what, sig in (("stopsignal", stopsignal), ("reload_signal", reload_signal)):
        if sig is not None and not _SIGNAL_RE.fullmatch(str(sig)):
            raise CommandExecutionError(f"program {name}: {what} {sig!r}: expected a name such as TERM")
    unit = [
        "# Managed by Salt (webstack): local changes are overwritten.",
        "[Unit]",
        f"Description=webstack program {name}",
        "After=network.target",
        f"StartLimitBurst={int(startretries) + 1}",
        "StartLimitIntervalSec=60",
        "",
        "[Service]",
        "Type=exec",
    ]
    if user:
        unit.append(f"User={user}")
    if directory:
        unit.append(f"WorkingDirectory={directory}")
    for key, value in sorted((environment or {}).items()):
        unit.append("Environment=" + _env_assignment(key, value))
    if umask:
        unit.append(f"UMask={umask}")
    unit.append("ExecStart=" + command)
    if reload_signal:
        unit.append(f"ExecReload=/bin/kill -s {reload_signal} $MAINPID")
    unit += [
        f"KillSignal=SIG{stopsignal}",
        f"KillMode={'control-group' if stopasgroup else 'mixed'}",
        f"TimeoutStopSec={int(stopwaitsecs)}",
        f"Restart={'always' if autorestart else 'no'}",
        "RestartSec=1",
    ]
    if stdout_logfile:
        unit += [f"StandardOutput=append:{stdout_logfile}", "StandardError=inherit"]
    unit += [
        f"SyslogIdentifier={name}",
        # what an app server needs and no more: no new privileges, its own /tmp,
        # /usr and /etc read-only
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=full",
        "",
        "[Install]",
    ]
    unit.append("WantedBy=multi-user.target" if autostart else "# not started at boot (autostart: false)")
    return "\n".join(unit) + "\n"


def verify(name, text):
    """
    Check a unit's text with ``systemd-analyze verify`` (its binaries must
    exist) before it goes live; raises with systemd's message when it fails.
    Returns ``True``, or ``None`` where ``systemd-analyze`` is not installed.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.verify web "$(cat web.service)"
    """
    _check_name(name)
    if shutil.which("systemd-analyze") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="webstack-unit.") as tmp:
        path = os.path.join(tmp, f"{name}.service")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        res = __salt__["cmd.run_all"](["systemd-analyze", "verify", "--man=no", path],
                                      python_shell=False, ignore_retcode=True)
    if res["retcode"] != 0:
        out = (res.get("stdout", "") + "\n" + res.get("stderr", "")).strip()
        raise CommandExecutionError(f"unit {name}.service does not pass systemd-analyze verify: {out}")
    return True


def read_program(name, conf_dir=None):
    """
    The current text of a program's unit file, or ``None`` when it has none.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.read_program webapp-gunicorn
    """
    try:
        with open(program_path(name, conf_dir), encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_program(name, text, conf_dir=None):
    """
    Write a program's unit file atomically (mode 0644: it must hold no secret).
    Returns the path. Does not tell systemd: call :py:func:`update`.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.write_program web "$(cat web.service)"
    """
    path = program_path(name, conf_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with salt.utils.atomicfile.atomic_open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o644)
    return path


def remove_program(name, conf_dir=None, conf_file=None):  # pylint: disable=unused-argument
    """
    Stop and disable a program's unit, delete its file and reload systemd.
    Returns ``True`` if there was something to remove.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.remove_program webapp-celery
    """
    path = program_path(name, conf_dir)
    existed = os.path.exists(path)
    known = state(name) is not None
    if known:
        _systemctl(["disable", "--now", f"{name}.service"], check=False)
    if existed:
        os.unlink(path)
    if existed or known:
        _systemctl(["daemon-reload"])
        _systemctl(["reset-failed", f"{name}.service"], check=False)
    return existed or known


def digest(text):
    """
    Short sha256 of a unit's text (``None`` for ``None``), for state changes.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.digest "some text"
    """
    if text is None:
        return None
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _show(name):
    out = _systemctl(["show", "--property=LoadState,ActiveState,MainPID", f"{name}.service"], check=False)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def status(name=None, conf_file=None):  # pylint: disable=unused-argument
    """
    ``{name: {"state": "RUNNING", "pid": 123}}`` for a unit systemd knows (empty
    when it does not). Without ``name``: ``{}`` when systemd answers, an error
    where it does not run.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.status webapp-gunicorn
    """
    if name is None:
        _systemctl(["is-system-running"], check=False)
        return {}
    _check_name(name)
    props = _show(name)
    if props.get("LoadState") in (None, "not-found"):
        return {}
    pid = int(props.get("MainPID") or 0)
    return {name: {"state": _STATES.get(props.get("ActiveState"), "UNKNOWN"), "pid": pid or None}}


def state(name, conf_file=None):
    """
    The state of one unit in Supervisord's words (``RUNNING``, ``STOPPED``,
    ``FATAL``...), or ``None`` when systemd does not know it.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.state webapp-gunicorn
    """
    return status(name, conf_file=conf_file).get(name, {}).get("state")


def pid(name, conf_file=None):
    """
    The main PID of a running unit, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.pid webapp-gunicorn
    """
    return status(name, conf_file=conf_file).get(name, {}).get("pid")


def wait(timeout=30, conf_file=None):
    """
    Wait (0.5 s between tries) until systemd answers; ``True`` or an error.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.wait
    """
    deadline = time.monotonic() + float(timeout)
    while True:
        try:
            status(conf_file=conf_file)
            return True
        except CommandExecutionError:
            if time.monotonic() >= deadline or not booted():
                raise
            time.sleep(0.5)


def wait_settled(name, timeout=30, conf_file=None):
    """
    Wait (0.5 s between looks) while a unit is starting or stopping, for up to
    ``timeout`` seconds; returns the state it settled in.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.wait_settled webapp-gunicorn
    """
    deadline = time.monotonic() + float(timeout)
    while True:
        now = state(name, conf_file=conf_file)
        if now not in ("STARTING", "STOPPING") or time.monotonic() >= deadline:
            return now
        time.sleep(0.5)


def update(name, conf_file=None):  # pylint: disable=unused-argument
    """
    Make systemd read a unit's new file and run it: ``daemon-reload``,
    ``enable`` (when the unit is wanted at boot), ``restart``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.update webapp-gunicorn
    """
    _check_name(name)
    _systemctl(["daemon-reload"])
    text = read_program(name) or ""
    if "WantedBy=" in text:
        _systemctl(["enable", "--quiet", f"{name}.service"])
    return _systemctl(["restart", f"{name}.service"])


def start(name, conf_file=None):  # pylint: disable=unused-argument
    """
    Start a unit.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.start webapp-gunicorn
    """
    _check_name(name)
    return _systemctl(["start", f"{name}.service"])


def stop(name, conf_file=None):  # pylint: disable=unused-argument
    """
    Stop a unit with its ``KillSignal`` (a warm shutdown for Celery), waiting up
    to its ``TimeoutStopSec``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.stop webapp-celery
    """
    _check_name(name)
    return _systemctl(["stop", f"{name}.service"])


def restart(name, conf_file=None):  # pylint: disable=unused-argument
    """
    Restart a unit (stop with its ``KillSignal``, then start).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.restart webapp-celery
    """
    _check_name(name)
    return _systemctl(["restart", f"{name}.service"])


def signal(name, sig="HUP", conf_file=None):  # pylint: disable=unused-argument
    """
    Send a signal to a unit's main process (``HUP``: Gunicorn's graceful reload).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_systemd.signal webapp-gunicorn HUP
    """
    _check_name(name)
    if not _SIGNAL_RE.fullmatch(str(sig)):
        raise CommandExecutionError(f"signal {sig!r}: expected a name such as HUP")
    return _systemctl(["kill", "--kill-whom=main", f"--signal=SIG{sig}", f"{name}.service"])
