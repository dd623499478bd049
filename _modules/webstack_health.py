"""
HTTP health checks of the application, over TCP or straight to the WSGI
server's unix socket (bypassing the web server and any load balancer).
"""

import http.client
import socket
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_health"


def __virtual__():
    return __virtualname__


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _get_once(path, host, port, unix_socket, host_header, timeout):
    if unix_socket:
        conn = _UnixHTTPConnection(unix_socket, timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host_header or host, "User-Agent": "webstack-health"})
        resp = conn.getresponse()
        return resp.status, resp.read(2000).decode("utf-8", "replace")
    finally:
        conn.close()


def check(path="/healthz", host="127.0.0.1", port=80, unix_socket=None, host_header=None,
          expect=200, timeout=5, retries=0, interval=1):
    """
    GET ``path`` and compare the status with ``expect``. Retries (with
    ``interval`` seconds of sleep between tries) while the answer differs or the
    connection fails. Returns ``{"ok", "status", "body", "tries", "error"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_health.check /healthz unix_socket=/srv/webapp/run/wsgi.sock
        salt-call webstack_health.check /healthz port=80 retries=10
    """
    tries = int(retries) + 1
    status, body, error = None, "", None
    for attempt in range(1, tries + 1):
        try:
            status, body = _get_once(path, host, int(port), unix_socket, host_header, float(timeout))
            error = None
            if status == int(expect):
                return {"ok": True, "status": status, "body": body[:500], "tries": attempt, "error": None}
        except (OSError, http.client.HTTPException) as exc:
            status, body, error = None, "", f"{type(exc).__name__}: {exc}"
        if attempt < tries:
            time.sleep(float(interval))
    return {"ok": False, "status": status, "body": body[:500], "tries": tries, "error": error}


def require(path="/healthz", **kwargs):
    """
    Like :py:func:`check`, but raise an error naming the check when it fails.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_health.require /healthz unix_socket=/srv/webapp/run/wsgi.sock retries=20
    """
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}  # __pub_* from a remote call
    res = check(path, **kwargs)
    if not res["ok"]:
        where = kwargs.get("unix_socket") or f"{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 80)}"
        raise CommandExecutionError(
            f"health check GET {path} on {where} failed after {res['tries']} tries: "
            f"{res['error'] or 'status ' + str(res['status']) + ': ' + res['body'][:200]}"
        )
    return res
