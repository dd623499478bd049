"""
Functional tests of ``webstack_health`` against real local HTTP servers: one on
127.0.0.1 (port picked by the kernel) and one on a unix socket, like the WSGI
server's socket that the deploy checks directly.
"""

import http.server
import socket
import socketserver
import threading
import time
import types

import pytest
from salt.exceptions import CommandExecutionError


class Handler(http.server.BaseHTTPRequestHandler):
    """/healthz 200, /down 503, /flaky 503 twice then 200, /slow answers after 2 s."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        seen = self.server.seen
        seen.append({"path": self.path, "host": self.headers.get("Host"),
                     "agent": self.headers.get("User-Agent")})
        if self.path == "/healthz":
            self._answer(200, b"ok")
        elif self.path == "/down":
            self._answer(503, b"maintenance: database migration running")
        elif self.path == "/flaky":
            hits = sum(1 for s in seen if s["path"] == "/flaky")
            self._answer(200 if hits > 2 else 503, b"warming up" if hits <= 2 else b"ok")
        elif self.path == "/slow":
            time.sleep(2)
            self._answer(200, b"late")
        else:
            self._answer(404, b"not found")

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet, and unix sockets have no client address
        pass


class TCPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _serve(server):
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def http_server():
    server = TCPServer(("127.0.0.1", 0), Handler)
    thread = _serve(server)
    yield types.SimpleNamespace(port=server.server_address[1], seen=server.seen)
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def unix_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("wsgi-run") / "wsgi.sock"
    server = UnixServer(str(path), Handler)
    thread = _serve(server)
    yield types.SimpleNamespace(path=str(path), seen=server.seen)
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def seen(http_server, unix_server):
    """Requests received during this test only."""
    http_server.seen.clear()
    unix_server.seen.clear()
    return types.SimpleNamespace(tcp=http_server.seen, unix=unix_server.seen)


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_check_ok_over_tcp(modules, http_server, seen):
    res = modules.webstack_health.check("/healthz", port=http_server.port)
    assert res == {"ok": True, "status": 200, "body": "ok", "tries": 1, "error": None}
    assert seen.tcp == [{"path": "/healthz", "host": "127.0.0.1", "agent": "webstack-health"}]


def test_check_sends_the_host_header_asked_for(modules, http_server, seen):
    res = modules.webstack_health.check("/healthz", port=http_server.port, host_header="www.example.org")
    assert res["ok"] is True
    assert seen.tcp[0]["host"] == "www.example.org"


def test_state_ok_when_healthy(states, http_server, testmode):
    ret = states.webstack_health.ok(name="/healthz", port=http_server.port, retries=3, interval=0.05,
                                    test=testmode)
    assert ret.result is True
    assert ret.changes == {}
    assert ret.comment == f"GET /healthz on 127.0.0.1:{http_server.port}: 200 after 1 tries"


def test_503_fails_after_bounded_retries(states, modules, http_server, seen, testmode):
    start = time.monotonic()
    ret = states.webstack_health.ok(name="/down", port=http_server.port, retries=2, interval=0.2,
                                    test=testmode)
    elapsed = time.monotonic() - start
    assert ret.changes == {}
    if testmode:
        # test mode looks once and reports "not yet" in the comment only: the check changes
        # nothing, so it is not among the states that test=True predicts will change
        assert ret.result is True
        assert ret.comment == (f"GET /down on 127.0.0.1:{http_server.port} does not answer yet "
                               "(status 503: maintenance: database migration running); "
                               "the real run checks it after the states before it")
        assert len(seen.tcp) == 1
    else:
        assert ret.result is False
        assert ret.comment == (f"Health check GET /down on 127.0.0.1:{http_server.port} failed after 3 tries: "
                               "status 503: maintenance: database migration running")
        assert len(seen.tcp) == 3
        assert 0.4 <= elapsed < 5


def test_expected_status_other_than_200(modules, http_server):
    res = modules.webstack_health.check("/down", port=http_server.port, expect=503)
    assert res["ok"] is True
    assert res["status"] == 503


def test_retries_until_the_app_answers(modules, http_server, seen):
    res = modules.webstack_health.check("/flaky", port=http_server.port, retries=5, interval=0.05)
    assert res == {"ok": True, "status": 200, "body": "ok", "tries": 3, "error": None}
    assert [s["path"] for s in seen.tcp] == ["/flaky"] * 3


def test_connection_refused_with_bounded_retries(modules, closed_port):
    start = time.monotonic()
    res = modules.webstack_health.check("/healthz", port=closed_port, retries=3, interval=0.2)
    elapsed = time.monotonic() - start
    assert res["ok"] is False
    assert res["status"] is None
    assert res["tries"] == 4
    assert res["error"].startswith("ConnectionRefusedError")
    assert 0.6 <= elapsed < 5  # three sleeps of 0.2 s, no busy loop, no runaway


def test_require_names_the_failed_check(modules, closed_port):
    with pytest.raises(CommandExecutionError) as excinfo:
        modules.webstack_health.require("/healthz", port=closed_port, retries=1, interval=0.05)
    message = str(excinfo.value)
    assert message.startswith(f"health check GET /healthz on 127.0.0.1:{closed_port} failed after 2 tries: ")
    assert "ConnectionRefusedError" in message


def test_state_fails_on_connection_refused(states, closed_port, testmode):
    ret = states.webstack_health.ok(name="/healthz", port=closed_port, retries=1, interval=0.05, test=testmode)
    assert ret.changes == {}
    if testmode:
        assert ret.result is True
        assert "does not answer yet (ConnectionRefusedError" in ret.comment
    else:
        assert ret.result is False
        assert ret.comment.startswith(
            f"Health check GET /healthz on 127.0.0.1:{closed_port} failed after 2 tries: ConnectionRefusedError")


def test_timeout_is_reported(modules, http_server):
    start = time.monotonic()
    res = modules.webstack_health.check("/slow", port=http_server.port, timeout=0.3)
    assert res["ok"] is False
    assert res["tries"] == 1
    assert "timed out" in res["error"]
    assert time.monotonic() - start < 1.5


def test_check_over_unix_socket(modules, states, unix_server, seen, testmode):
    res = modules.webstack_health.check("/healthz", unix_socket=unix_server.path)
    assert res == {"ok": True, "status": 200, "body": "ok", "tries": 1, "error": None}
    assert seen.unix[0]["path"] == "/healthz"
    assert seen.tcp == []

    ret = states.webstack_health.ok(name="/healthz", unix_socket=unix_server.path, test=testmode)
    assert ret.result is True
    assert ret.changes == {}
    assert ret.comment == f"GET /healthz on {unix_server.path}: 200 after 1 tries"


def test_503_over_unix_socket(states, unix_server):
    ret = states.webstack_health.ok(name="/down", unix_socket=unix_server.path, retries=1, interval=0.05)
    assert ret.result is False
    assert ret.comment == (f"Health check GET /down on {unix_server.path} failed after 2 tries: "
                           "status 503: maintenance: database migration running")


def test_missing_unix_socket(modules, tmp_path):
    missing = str(tmp_path / "not-started.sock")
    res = modules.webstack_health.check("/healthz", unix_socket=missing, retries=2, interval=0.05)
    assert res["ok"] is False
    assert res["tries"] == 3
    assert res["error"].startswith("FileNotFoundError")
    with pytest.raises(CommandExecutionError, match=f"health check GET /healthz on {missing} failed after 1 tries"):
        modules.webstack_health.require("/healthz", unix_socket=missing)
