"""
Nginx as the load balancer: the app nodes of its upstream, each in service or
drained, and the reload that makes a change live. Open-source Nginx has no
runtime API, so a drain is a config change: the node is marked ``down`` in the
upstream's server list, the config is checked (``nginx -t``) and Nginx reloaded
(``SIGHUP`` to its master). The new workers never send a request to the node;
the old ones finish the requests they have in hand, then exit. When the last
old worker is gone, no request to the node is left in flight: that is the wait
for the node's sessions to end.

The server list is a file of its own that this module writes (``include``\\ d in
the ``upstream`` block of nginx.conf), one node per line, its name in a
trailing comment; the file is also where a drain is kept, so a state run while
a node is drained keeps it drained:

.. code-block:: text

    server 10.0.0.3:80 max_fails=3 fail_timeout=10s; # app1
    server 10.0.0.4:80 max_fails=3 fail_timeout=10s down; # app2

What a reload costs (Nginx's own behaviour, not this module's): the old workers
close their clients' idle keep-alive connections at once, and a client that
sends on one at that instant finds it closed. So the formula reloads only a pool
instance of Nginx that its front (and Varnish) reach with a connection per
request; the front, which holds the clients' connections, is not reloaded. An
in-flight request is never cut.

CLI Example:

.. code-block:: bash

    salt lb1 webstack_nginx.servers /etc/nginx/webstack-upstream.conf
"""

import os
import re
import signal
import tempfile
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_nginx"

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_ADDRESS_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
_TIME_RE = re.compile(r"[0-9]{1,9}(ms|s|m)")
_LINE_RE = re.compile(
    r"server (?P<address>[0-9.]+):(?P<port>[0-9]+) max_fails=(?P<max_fails>[0-9]+) "
    r"fail_timeout=(?P<fail_timeout>[0-9]+(?:ms|s|m))(?P<down> down)?; # (?P<name>\S+)"
)
HEADER = "# Managed by Salt (webstack_nginx): the load balancer's app nodes; a drained one is down.\n"
# an upstream needs a server: with no node known, one that is down (Nginx answers 502)
NONE_LINE = "server 127.0.0.1:9 down; # none\n"


def __virtual__():
    if not os.path.isdir("/proc/self"):
        return (False, "webstack_nginx reads Nginx's processes from /proc")
    return __virtualname__


def _test_argv(nginx, conf):
    return [nginx or "nginx", "-q", "-t"] + (["-c", conf] if conf else [])


def _check_server(server):
    if not isinstance(server, dict):
        raise CommandExecutionError(f"a server must be a mapping of name, address and port, got {server!r}")
    name, address, port = server.get("name"), server.get("address"), server.get("port")
    _check_name(name)
    if not isinstance(address, str) or not _ADDRESS_RE.fullmatch(address) \
            or any(int(part) > 255 for part in address.split(".")):
        raise CommandExecutionError(f"server {name}: the address must be an IPv4 address, got {address!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise CommandExecutionError(f"server {name}: the port must be a number from 1 to 65535, got {port!r}")
    return {"name": name, "address": address, "port": port}


def _check_options(max_fails, fail_timeout):
    if isinstance(max_fails, bool) or not isinstance(max_fails, int) or not 0 <= max_fails <= 100:
        raise CommandExecutionError(f"max_fails must be a number from 0 to 100, got {max_fails!r}")
    if not isinstance(fail_timeout, str) or not _TIME_RE.fullmatch(fail_timeout):
        raise CommandExecutionError(f"fail_timeout must be a duration such as 10s, got {fail_timeout!r}")


def _check_name(name):
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise CommandExecutionError(f"a server's name must be a minion id, got {name!r}")


def servers(path):
    """
    The upstream's servers as the file at ``path`` lists them: a list of
    ``{name, address, port, max_fails, fail_timeout, down}``, in the file's
    order; an empty list when the file does not exist yet.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.servers /etc/nginx/webstack-upstream.conf
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    found = []
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#") or line + "\n" == NONE_LINE:
            continue
        match = _LINE_RE.fullmatch(line)
        if not match:
            raise CommandExecutionError(f"{path}:{number}: not a line this module writes: {line!r}; "
                                        "the file is Salt's (webstack_nginx), remove it and apply again")
        found.append({"name": match["name"], "address": match["address"], "port": int(match["port"]),
                      "max_fails": int(match["max_fails"]), "fail_timeout": match["fail_timeout"],
                      "down": bool(match["down"])})
    return found


def render(entries):
    """The file's text for ``entries`` (as ``servers`` returns them)."""
    lines = [HEADER]
    for s in entries:
        lines.append(f"server {s['address']}:{s['port']} max_fails={s['max_fails']} "
                     f"fail_timeout={s['fail_timeout']}{' down' if s['down'] else ''}; # {s['name']}\n")
    if not entries:
        lines.append(NONE_LINE)
    return "".join(lines)


def plan(path, wanted, max_fails=1, fail_timeout="10s"):
    """
    The servers the file at ``path`` should list for ``wanted`` (a list of
    ``{name, address, port}``), each with ``max_fails`` and ``fail_timeout``
    (Nginx's passive health check: that many failed attempts within that time
    and the node is left alone for that time), a node that is drained there now
    kept drained. Checks every value before it reaches the file.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.plan /etc/nginx/webstack-upstream.conf '[{name: app1, address: 10.0.0.3, port: 80}]'
    """
    _check_options(max_fails, fail_timeout)
    if not isinstance(wanted, list):
        raise CommandExecutionError(f"the servers must be a list, got {wanted!r}")
    drained = {s["name"] for s in servers(path) if s["down"]}
    entries, names = [], set()
    for server in wanted:
        server = _check_server(server)
        if server["name"] in names:
            raise CommandExecutionError(f"server {server['name']} is listed twice")
        names.add(server["name"])
        entries.append(dict(server, max_fails=max_fails, fail_timeout=fail_timeout,
                            down=server["name"] in drained))
    return entries


def write(path, entries, nginx=None, conf=None):
    """
    Write the server list ``entries`` to ``path`` (atomically, mode 0644) and
    check Nginx's whole config with it (``nginx -t``, ``-c conf`` where given,
    unless that config does not exist yet); if the check fails the old file is
    put back and the error raised. Nginx is not reloaded. Returns whether the
    file changed.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.write /etc/nginx/webstack-upstream.conf "$(salt lb1 webstack_nginx.servers ...)"
    """
    text = render(entries)
    try:
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
    except FileNotFoundError:
        old = None
    if old == text:
        return False
    _replace(path, text)
    if conf and not os.path.exists(conf):
        return True  # nothing includes the list yet: the config's own check will
    res = __salt__["cmd.run_all"](_test_argv(nginx, conf), python_shell=False, ignore_retcode=True)
    if res["retcode"] != 0:
        if old is None:
            os.unlink(path)
        else:
            _replace(path, old)
        raise CommandExecutionError(f"nginx -t fails with the new server list of {path} (the old one is back): "
                                    f"{(res['stderr'] or res['stdout']).strip()}")
    return True


def _replace(path, text):
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".webstack-upstream.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _master(pidfile):
    try:
        with open(pidfile, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError) as exc:
        raise CommandExecutionError(f"Nginx is not running (its pid file {pidfile}: {exc})") from exc
    return pid


def running(pidfile="/run/nginx.pid"):
    """
    Whether Nginx runs (its pid file names a live process).

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.running
    """
    try:
        _master(pidfile)
    except CommandExecutionError:
        return False
    return True


def _children(master):
    """{pid: title} of the processes whose parent is ``master``."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
            if int(stat.rsplit(")", 1)[1].split()[1]) != master:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                found[int(entry)] = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return found


def workers(pidfile="/run/nginx.pid"):
    """
    Nginx's worker processes: ``{"master": pid, "serving": [pids],
    "shutting_down": [pids]}``; the ones shutting down are the old generation
    of a reload, finishing the requests they had.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.workers
    """
    master = _master(pidfile)
    children = _children(master)
    old = sorted(pid for pid, title in children.items() if "shutting down" in title)
    return {"master": master, "serving": sorted(set(children) - set(old)), "shutting_down": old}


def _wait(what, done, timeout, interval):
    deadline = time.monotonic() + timeout
    while True:
        result = done()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise CommandExecutionError(f"{what} within {timeout} s")
        time.sleep(interval)


def reload(pidfile="/run/nginx.pid", wait_old=True, timeout=60, interval=0.2):
    """
    Reload Nginx (``SIGHUP`` to its master) and wait, up to ``timeout`` seconds,
    until it runs new workers and its old ones take no new connection (they are
    shutting down) and, with ``wait_old``, until every old worker has finished
    its requests and exited. Returns the seconds waited. Check the
    config (``nginx -t``) first: a config the master cannot load leaves the old
    workers serving, and this fails saying so.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.reload
    """
    start = time.monotonic()
    master = _master(pidfile)
    old = set(_children(master))
    os.kill(master, signal.SIGHUP)
    _wait(f"Nginx (master {master}) started no new worker after its reload (a config it could not load? "
          "see its error log)", lambda: set(_children(master)) - old, timeout, interval)

    def old_stopped_accepting():
        children = _children(master)
        return all(pid not in children or "shutting down" in children[pid] for pid in old)

    # an old worker takes no new connection once it is shutting down (its title says so)
    _wait(f"Nginx's old workers {sorted(old)} did not start shutting down", old_stopped_accepting,
          timeout, interval)
    if wait_old:
        _wait(f"Nginx's old workers {sorted(old)} did not finish their requests",
              lambda: not old & set(_children(master)), max(0.0, timeout - (time.monotonic() - start)) or 0.1,
              interval)
    return round(time.monotonic() - start, 3)


def wait_old_workers(pidfile="/run/nginx.pid", timeout=60, interval=0.2):
    """
    Wait, up to ``timeout`` seconds, until no Nginx worker is shutting down (the
    old generation of an earlier reload has finished its requests). Returns the
    seconds waited.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.wait_old_workers timeout=30
    """
    start = time.monotonic()
    _wait("Nginx's old workers did not finish their requests",
          lambda: not workers(pidfile)["shutting_down"], timeout, interval)
    return round(time.monotonic() - start, 3)


def set_down(path, name, down, pidfile="/run/nginx.pid", timeout=60, nginx=None, conf=None):
    """
    Mark server ``name`` of the list at ``path`` drained (``down=True``) or in
    service, check the config and reload Nginx. Draining waits, up to
    ``timeout`` seconds, until the old workers have finished their requests:
    then no request to the node is in flight. Returns ``{changed, seconds}``;
    nothing is reloaded when the server is already so (a drain still waits for
    the old workers of an earlier reload).

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_nginx.set_down /etc/nginx/webstack-upstream.conf app1 True
    """
    _check_name(name)
    entries = servers(path)
    match = [s for s in entries if s["name"] == name]
    if not match:
        raise CommandExecutionError(f"server {name} is not in Nginx's server list {path}")
    if match[0]["down"] == bool(down):
        seconds = wait_old_workers(pidfile, timeout) if down else 0.0
        return {"changed": False, "seconds": seconds}
    _master(pidfile)  # not running: raise before the list changes
    match[0]["down"] = bool(down)
    write(path, entries, nginx=nginx, conf=conf)
    return {"changed": True, "seconds": reload(pidfile, wait_old=bool(down), timeout=timeout)}
