"""
Supervisord programs: their config files and their control through ``supervisorctl``.

Salt 3008 core has no supervisord state; this module is what the
``webstack_supervisor`` state module stands on. A program's config lives in one
file, ``<conf_dir>/<name>.conf``, holding one ``[program:<name>]`` section.

Defaults can be set in the minion config:

.. code-block:: yaml

    webstack_supervisor.conf_dir: /etc/supervisor/conf.d
    webstack_supervisor.conf_file: ''      # supervisorctl -c FILE, '' for its default
    webstack_supervisor.supervisorctl: supervisorctl
"""

import configparser
import hashlib
import http.client
import os
import re
import shutil
import socket
import time
import xmlrpc.client

import salt.utils.atomicfile
from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_supervisor"

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_STATUS_RE = re.compile(r"(?P<name>\S+)\s+(?P<state>[A-Z]+)\s*(?P<info>.*)")
_PID_RE = re.compile(r"pid (\d+)")
_UNREACHABLE_RE = re.compile(r"^\S+://\S* (refused connection|no such file)", re.M)
# where supervisorctl looks for its config when not given one (supervisor 4.x)
_CTL_CONFS = ("/etc/supervisor/supervisord.conf", "/etc/supervisord.conf", "/etc/supervisor.conf")
_STATES = ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")


def __virtual__():
    return __virtualname__


def _opt(key, default):
    value = __opts__.get(f"webstack_supervisor.{key}")
    return value if value not in (None, "") else default


def _conf_dir(conf_dir=None):
    return conf_dir or _opt("conf_dir", "/etc/supervisor/conf.d")


def _check_name(name):
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise CommandExecutionError(
            f"program name {name!r}: expected letters, digits, '.', '_' or '-'"
        )


def _ctl(args, conf_file=None, check=True):
    binary = _opt("supervisorctl", "supervisorctl")
    if shutil.which(binary) is None and not os.path.isfile(binary):
        raise CommandExecutionError(f"{binary} not found: is supervisor installed?")
    cmd = [binary]
    conf_file = conf_file or _opt("conf_file", "")
    if conf_file:
        cmd += ["-c", conf_file]
    res = __salt__["cmd.run_all"](cmd + list(args), python_shell=False, ignore_retcode=True)
    out = (res.get("stdout", "") + "\n" + res.get("stderr", "")).strip()
    # supervisorctl exits non-zero for "not running" programs in `status`; the
    # callers decide from the text, but a dead supervisord is always an error.
    # ("<serverurl> no such file"; a program's own spawn error reads
    # "<name>: ERROR (no such file)" and is the caller's to report.)
    if _UNREACHABLE_RE.search(out):
        raise CommandExecutionError(f"supervisord is not reachable: {out}")
    if check and res["retcode"] != 0:
        raise CommandExecutionError(f"supervisorctl {' '.join(args)} failed: {out}")
    return out


def program_path(name, conf_dir=None):
    """
    Path of a program's config file.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.program_path webapp-gunicorn
    """
    _check_name(name)
    return os.path.join(_conf_dir(conf_dir), f"{name}.conf")


def _quote_env(key, value):
    # supervisord splits environment= with a non-POSIX shlex: there are no
    # backslash escapes, a value is quoted with " or ', and quote characters at
    # either end of a value are stripped. Refuse what it cannot hold (without
    # echoing the value, which may be a secret).
    value = str(value).replace("%", "%%")
    if value[:1] in ("'", '"') or value[-1:] in ("'", '"') or ('"' in value and "'" in value):
        raise CommandExecutionError(
            f"environment {key}: supervisord cannot hold a value that starts or ends with a "
            "quote or holds both ' and \""
        )
    quote = "'" if '"' in value else '"'
    return f"{quote}{value}{quote}"


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
):
    """
    Render the text of a ``[program:<name>]`` config file. ``command`` is an argv
    list or a string; ``environment`` a mapping. ``%`` is escaped as supervisord
    expects.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.render_program web command='[/usr/bin/sleep, "60"]'
    """
    _check_name(name)
    if isinstance(command, (list, tuple)):
        command = " ".join(_shell_word(str(part)) for part in command)
    if not command or "\n" in command:
        raise CommandExecutionError(f"program {name}: command must be one non-empty line")
    lines = [
        "; Managed by Salt (webstack): local changes are overwritten.",
        f"[program:{name}]",
        "command=" + command.replace("%", "%%"),
    ]
    if directory:
        lines.append(f"directory={directory}")
    if user:
        lines.append(f"user={user}")
    if environment:
        env = ",".join(f"{k}={_quote_env(k, v)}" for k, v in sorted(environment.items()))
        lines.append(f"environment={env}")
    if umask:
        lines.append(f"umask={umask}")
    lines += [
        f"autostart={str(bool(autostart)).lower()}",
        f"autorestart={str(bool(autorestart)).lower()}",
        f"startsecs={int(startsecs)}",
        f"startretries={int(startretries)}",
        f"stopsignal={stopsignal}",
        f"stopwaitsecs={int(stopwaitsecs)}",
        f"stopasgroup={str(bool(stopasgroup)).lower()}",
        f"killasgroup={str(bool(killasgroup)).lower()}",
        f"priority={int(priority)}",
        "redirect_stderr=true",
    ]
    if stdout_logfile:
        lines += [
            f"stdout_logfile={stdout_logfile}",
            "stdout_logfile_maxbytes=50MB",
            "stdout_logfile_backups=5",
        ]
    return "\n".join(lines) + "\n"


def _shell_word(word):
    if word and re.fullmatch(r"[A-Za-z0-9_./:=@,+-]+", word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def read_program(name, conf_dir=None):
    """
    The current text of a program's config file, or ``None`` when it has none.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.read_program webapp-gunicorn
    """
    path = program_path(name, conf_dir)
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_program(name, text, conf_dir=None):
    """
    Write a program's config file atomically (mode 0644: it must hold no secret).
    Returns the path. Does not tell supervisord: call :py:func:`update`.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.write_program web "$(cat web.conf)"
    """
    path = program_path(name, conf_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with salt.utils.atomicfile.atomic_open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o644)
    return path


def remove_program(name, conf_dir=None, conf_file=None):
    """
    Stop a program, delete its config file and drop it from supervisord.
    Returns ``True`` if there was something to remove.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.remove_program webapp-celery
    """
    path = program_path(name, conf_dir)
    existed = os.path.exists(path)
    if existed:
        os.unlink(path)
    known = name in status(name, conf_file=conf_file)
    if existed or known:
        update(name, conf_file=conf_file)
    return existed or known


def digest(text):
    """
    Short sha256 of a config text (``None`` for ``None``), used in state changes so
    that a config's content never shows in output.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.digest "some text"
    """
    if text is None:
        return None
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix socket."""

    def __init__(self, path):
        super().__init__()
        self._path = path

    def make_connection(self, host):
        conn = http.client.HTTPConnection("localhost", timeout=10)
        path = self._path

        def connect():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            sock.connect(path)
            conn.sock = sock

        conn.connect = connect
        return conn


def _rpc_socket(conf_file):
    """supervisord's unix socket, where supervisorctl's config names one without a user
    and it exists; else None (supervisorctl is asked instead)."""
    conf_file = conf_file or _opt("conf_file", "")
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))  # as supervisor reads it
    try:
        found = parser.read([conf_file] if conf_file else list(_CTL_CONFS))
    except configparser.Error:
        return None
    if not found or parser.get("supervisorctl", "username", fallback=None):
        return None
    url = parser.get("supervisorctl", "serverurl", fallback="")
    path = url[len("unix://"):] if url.startswith("unix://") else None
    return path if path and os.path.exists(path) else None


def _rpc_status(path):
    try:
        proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(path))
        infos = proxy.supervisor.getAllProcessInfo()
    except (OSError, xmlrpc.client.Error, http.client.HTTPException) as exc:
        raise CommandExecutionError(f"supervisord is not reachable: unix://{path} {exc}") from None
    result = {}
    for info in infos:
        name = info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"
        if info["statename"] in _STATES:
            result[name] = {"state": info["statename"], "pid": info["pid"] or None}
    return result


def status(name=None, conf_file=None):
    """
    Program states as ``{name: {"state": "RUNNING", "pid": 123}}``; a program that
    supervisord does not know is absent from the result. Asked over supervisord's unix
    socket (XML-RPC, as supervisorctl asks it, without starting one) where its config
    names one, else through ``supervisorctl status``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.status
        salt-call webstack_supervisor.status webapp-gunicorn
    """
    if name:
        _check_name(name)
    path = _rpc_socket(conf_file)
    if path:
        found = _rpc_status(path)
        return {k: v for k, v in found.items() if k == name} if name else found
    args = ["status"] + ([name] if name else [])
    out = _ctl(args, conf_file=conf_file, check=False)
    result = {}
    for line in out.splitlines():
        match = _STATUS_RE.fullmatch(line.strip())
        if not match or match.group("state") not in _STATES:
            continue
        pid = _PID_RE.search(match.group("info"))
        result[match.group("name")] = {
            "state": match.group("state"),
            "pid": int(pid.group(1)) if pid else None,
        }
    return result


def wait(timeout=30, conf_file=None):
    """
    Wait (sleeping 0.5 s between tries) until supervisord answers, for up to
    ``timeout`` seconds: right after its service starts, its socket may not
    exist yet. Returns ``True`` or raises.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.wait timeout=10
    """
    deadline = time.monotonic() + float(timeout)
    while True:
        try:
            status(conf_file=conf_file)
            return True
        except CommandExecutionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def wait_settled(name, timeout=30, conf_file=None):
    """
    Wait (sleeping 0.5 s between looks) while a program is STARTING or
    STOPPING, for up to ``timeout`` seconds; returns the state it settled in.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.wait_settled webapp-celery
    """
    deadline = time.monotonic() + float(timeout)
    while True:
        now = state(name, conf_file=conf_file)
        if now not in ("STARTING", "STOPPING") or time.monotonic() >= deadline:
            return now
        time.sleep(0.5)


def state(name, conf_file=None):
    """
    The state of one program (``RUNNING``, ``STOPPED``, ...) or ``None`` when
    supervisord does not know it.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.state webapp-gunicorn
    """
    return status(name, conf_file=conf_file).get(name, {}).get("state")


def pid(name, conf_file=None):
    """
    The PID of a running program, or ``None``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.pid webapp-gunicorn
    """
    return status(name, conf_file=conf_file).get(name, {}).get("pid")


def update(name=None, conf_file=None):
    """
    Make supervisord re-read its config and apply it for ``name`` (or for every
    program): adds new programs, removes deleted ones and restarts changed ones.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.update webapp-gunicorn
    """
    _ctl(["reread"], conf_file=conf_file)
    args = ["update"]
    if name:
        _check_name(name)
        args.append(name)
    return _ctl(args, conf_file=conf_file)


def start(name, conf_file=None):
    """
    Start a program; supervisord waits ``startsecs`` for it to stay up.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.start webapp-gunicorn
    """
    _check_name(name)
    out = _ctl(["start", name], conf_file=conf_file, check=False)
    if "ERROR" in out and "already started" not in out:
        raise CommandExecutionError(f"could not start {name}: {out}")
    return out


def stop(name, conf_file=None):
    """
    Stop a program with its ``stopsignal`` (a warm shutdown for Celery), waiting
    up to ``stopwaitsecs``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.stop webapp-celery
    """
    _check_name(name)
    out = _ctl(["stop", name], conf_file=conf_file, check=False)
    if "ERROR" in out and "not running" not in out:
        raise CommandExecutionError(f"could not stop {name}: {out}")
    return out


def restart(name, conf_file=None):
    """
    Stop (with the program's ``stopsignal``) and start a program.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.restart webapp-celery
    """
    stop(name, conf_file=conf_file)
    return start(name, conf_file=conf_file)


def signal(name, sig="HUP", conf_file=None):
    """
    Send a signal to a running program (``HUP``: Gunicorn's graceful reload).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_supervisor.signal webapp-gunicorn HUP
    """
    _check_name(name)
    if not re.fullmatch(r"[A-Z0-9]+", str(sig)):
        raise CommandExecutionError(f"signal {sig!r}: expected a name such as HUP")
    return _ctl(["signal", str(sig), name], conf_file=conf_file)
