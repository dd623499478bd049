"""
HTTP health checks of the application, over TCP or straight to the WSGI
server's unix socket (bypassing the web server and any load balancer). The
socket speaks HTTP (Gunicorn) or the uwsgi protocol (uWSGI, ``protocol=uwsgi``).
"""

import http.client
import socket
import ssl
import struct
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


def _headers(host_header, forwarded_proto):
    """What the front server sends the app: the Host, the client's address, and the scheme
    the client used where TLS ends in front of it."""
    headers = {"Host": host_header, "User-Agent": "webstack-health", "X-Forwarded-For": "127.0.0.1"}
    if forwarded_proto:
        headers["X-Forwarded-Proto"] = forwarded_proto
    return headers


def _uwsgi_packet(path, host_header, forwarded_proto=None):
    """A uwsgi-protocol request (modifier 0: a WSGI request) for GET ``path``, with the
    variables that Nginx's uwsgi_param lines send."""
    path_info, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": "GET", "REQUEST_URI": path, "PATH_INFO": path_info, "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": host_header, "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1", "UWSGI_SCHEME": "http",
    }
    for key, value in _headers(host_header, forwarded_proto).items():
        env["HTTP_" + key.upper().replace("-", "_")] = value
    body = b""
    for key, value in env.items():
        k, v = key.encode(), value.encode()
        body += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    return struct.pack("<BHB", 0, len(body), 0) + body


def _get_uwsgi_once(path, unix_socket, host_header, timeout, forwarded_proto=None):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(unix_socket)
        sock.sendall(_uwsgi_packet(path, host_header or "localhost", forwarded_proto))
        resp = http.client.HTTPResponse(sock)  # uWSGI answers in plain HTTP
        resp.begin()
        return resp.status, resp.read(2000).decode("utf-8", "replace")
    finally:
        sock.close()


def _get_once(path, host, port, unix_socket, host_header, timeout, protocol="http", tls=False,
              forwarded_proto=None):
    if protocol == "uwsgi":
        return _get_uwsgi_once(path, unix_socket, host_header, timeout, forwarded_proto)
    if unix_socket:
        conn = _UnixHTTPConnection(unix_socket, timeout)
    elif tls:
        # the server's own port, on this host: its certificate (maybe self-signed,
        # for other names) is not what this check is about
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=_headers(host_header or host, forwarded_proto))
        resp = conn.getresponse()
        return resp.status, resp.read(2000).decode("utf-8", "replace")
    finally:
        conn.close()


def check(path="/healthz", host="127.0.0.1", port=80, unix_socket=None, host_header=None,
          expect=200, timeout=5, retries=0, interval=1, protocol="http", tls=False, forwarded_proto=None):
    """
    GET ``path`` and compare the status with ``expect``. Retries (with
    ``interval`` seconds of sleep between tries) while the answer differs or the
    connection fails. ``protocol``: ``http``, or ``uwsgi`` for a uWSGI socket.
    ``tls``: HTTPS to ``host``:``port`` (the certificate is not verified: the
    check is of the app behind it). The request carries what the front server
    sends: ``host_header`` as the Host, ``X-Forwarded-For: 127.0.0.1`` and, with
    ``forwarded_proto`` (``https`` where TLS ends in front of the app),
    ``X-Forwarded-Proto``, so that an app that redirects plain HTTP answers as it
    answers its clients.
    Returns ``{"ok", "status", "body", "tries", "error"}``.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_health.check /healthz unix_socket=/srv/webapp/run/gunicorn.sock
        salt-call webstack_health.check /healthz unix_socket=/srv/webapp/run/uwsgi.sock protocol=uwsgi
        salt-call webstack_health.check /healthz port=80 retries=10
        salt-call webstack_health.check /healthz port=443 tls=True
        salt-call webstack_health.check / unix_socket=/srv/webapp/run/gunicorn.sock forwarded_proto=https
    """
    if protocol not in ("http", "uwsgi"):
        raise CommandExecutionError(f"protocol {protocol!r}: expected http or uwsgi")
    if forwarded_proto not in (None, "", "http", "https"):
        raise CommandExecutionError(f"forwarded_proto {forwarded_proto!r}: expected http or https")
    if protocol == "uwsgi" and not unix_socket:
        raise CommandExecutionError("protocol uwsgi: expected unix_socket, the uWSGI socket's path")
    tries = int(retries) + 1
    status, body, error = None, "", None
    for attempt in range(1, tries + 1):
        try:
            status, body = _get_once(path, host, int(port), unix_socket, host_header, float(timeout),
                                     protocol, _bool(tls), forwarded_proto or None)
            error = None
            if status == int(expect):
                return {"ok": True, "status": status, "body": body[:500], "tries": attempt, "error": None}
        except (OSError, http.client.HTTPException) as exc:
            status, body, error = None, "", f"{type(exc).__name__}: {exc}"
        if attempt < tries:
            time.sleep(float(interval))
    return {"ok": False, "status": status, "body": body[:500], "tries": tries, "error": error}


def _bool(value):
    """True, False, or their spelling on the command line."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def require(path="/healthz", **kwargs):
    """
    Like :py:func:`check`, but raise an error naming the check when it fails.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_health.require /healthz unix_socket=/srv/webapp/run/gunicorn.sock retries=20
    """
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("__")}  # __pub_* from a remote call
    res = check(path, **kwargs)
    if not res["ok"]:
        where = kwargs.get("unix_socket") or (f"{'https://' if _bool(kwargs.get('tls')) else ''}"
                                              f"{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 80)}")
        raise CommandExecutionError(
            f"health check GET {path} on {where} failed after {res['tries']} tries: "
            f"{res['error'] or 'status ' + str(res['status']) + ': ' + res['body'][:200]}"
        )
    return res
