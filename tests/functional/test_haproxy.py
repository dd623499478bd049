"""
Functional tests of ``webstack_haproxy`` against a real HAProxy (the Debian
``haproxy`` package) started for this module in the foreground, its admin
socket in the test's temp dir, balancing a frontend over two app servers: two
``http.server`` instances in threads of the test process that answer their own
name, fail their health check on demand, and hold a request open on
``.../slow``. ``use-server`` pins ``/pin/<server>/...`` to one server, so a
test can hold a session open on the server it drains.

Every call passes ``socket=``; ``webstack_haproxy.socket`` in the minion config
points at a socket that does not exist, so a forgotten ``socket=`` fails.
"""

import contextlib
import http.client
import http.server
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
import time
import types

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.processes import wait_or_kill

SLOW_SECONDS = 3
SERVERS = ("s1", "s2")


class _AppHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        app = self.server
        if self.path == "/healthz":
            code, body = (200, b"ok") if app.healthy else (503, b"unhealthy")
        elif self.path.endswith("/slow"):
            time.sleep(SLOW_SECONDS)
            code, body = 200, f"{app.name} slow".encode()
        else:
            code, body = 200, app.name.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle(self):
        # HAProxy closes a health check's connection once it has the status line
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def log_message(self, *args):  # keep the test output clean
        pass


def _start_app(name):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AppHandler)
    httpd.daemon_threads = True
    httpd.name = name
    httpd.healthy = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return httpd


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runtime(sock_path, command):
    """The test's own runtime API client, independent of the module under test."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(5)
        conn.connect(str(sock_path))
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
    return b"".join(chunks).decode()


def _raw_servers(sock_path):
    """{server: (status, scur, srv_admin_state bits)} of backend app, read directly."""
    stat = {}
    for line in _runtime(sock_path, "show stat").splitlines():
        fields = line.split(",")
        if fields[0] == "app" and fields[1] in SERVERS:
            stat[fields[1]] = (fields[17], int(fields[4]))
    admin = {}
    for line in _runtime(sock_path, "show servers state app").splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[1] == "app":
            admin[fields[3]] = int(fields[6])
    return {name: (*stat[name], admin[name]) for name in SERVERS}


def _until(what, predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not reached within {timeout} s")
        time.sleep(0.05)


@contextlib.contextmanager
def _haproxy_process(root, config, *args):
    """HAProxy in the foreground on ``config`` (written to ``root/haproxy.cfg``) with
    extra command-line ``args``; yields (process, log path), stops it on the way out."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(binary):
        pytest.fail("haproxy is not installed (Debian: apt-get install -y haproxy)")
    cfg = root / "haproxy.cfg"
    cfg.write_text(textwrap.dedent(config))
    log = root / "haproxy.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, *args, "-f", str(cfg), "-db"], stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc, log
    finally:
        proc.terminate()
        wait_or_kill(proc, 10)


@pytest.fixture(scope="module")
def haproxy(tmp_path_factory):
    root = tmp_path_factory.mktemp("haproxy")
    apps = {name: _start_app(name) for name in SERVERS}
    port = _free_port()
    sock_path = root / "admin.sock"
    config = f"""\
        global
            stats socket {sock_path} mode 600 level admin
            pidfile {root}/haproxy.pid

        defaults
            mode http
            timeout connect 1s
            timeout client 10s
            timeout server 10s

        frontend web
            bind 127.0.0.1:{port}
            default_backend app

        backend app
            balance roundrobin
            option httpchk GET /healthz
            use-server s1 if {{ path_beg /pin/s1/ }}
            use-server s2 if {{ path_beg /pin/s2/ }}
            server s1 127.0.0.1:{apps['s1'].server_port} check inter 200ms fall 2 rise 1
            server s2 127.0.0.1:{apps['s2'].server_port} check inter 200ms fall 2 rise 1
        """
    try:
        with _haproxy_process(root, config) as (proc, log):
            hap = types.SimpleNamespace(root=root, socket=sock_path, port=port, apps=apps, proc=proc, log=log)
            deadline = time.monotonic() + 15
            while True:
                assert proc.poll() is None, f"haproxy exited {proc.returncode}: {log.read_text()}"
                try:
                    if all(v[0] == "UP" for v in _raw_servers(sock_path).values()):
                        break
                except (OSError, KeyError):
                    pass
                assert time.monotonic() < deadline, f"haproxy not up with both servers in 15 s: {log.read_text()}"
                time.sleep(0.1)
            yield hap
    finally:
        for httpd in apps.values():
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture(scope="module")
def minion_config_overrides(haproxy):
    return {"webstack_haproxy.socket": str(haproxy.root / "not-this.sock")}


@pytest.fixture(autouse=True)
def both_servers_in_service(haproxy):
    """Every test starts (and leaves the next one) with s1 and s2 healthy, ready, UP and idle."""
    def reset():
        for name in SERVERS:
            haproxy.apps[name].healthy = True
            assert _runtime(haproxy.socket, f"set server app/{name} state ready").strip() == ""
        _until("s1 and s2 ready, UP and idle",
               lambda: all(v == ("UP", 0, 0) for v in _raw_servers(haproxy.socket).values()))

    reset()
    yield
    reset()


@pytest.fixture
def hap(haproxy):
    """The HAProxy under test and the keyword that every call passes."""
    return types.SimpleNamespace(**vars(haproxy), kw={"socket": str(haproxy.socket)})


def _get(hap, path="/", timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", hap.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def _bodies(hap, count=10):
    answers = [_get(hap) for _ in range(count)]
    assert {status for status, _ in answers} == {200}, answers
    return [body for _, body in answers]


class _Held:
    """A slow request held open on one server (through the frontend, pinned with use-server)."""

    def __init__(self, hap, name):
        self.answer = None
        self.thread = threading.Thread(target=self._run, args=(hap, f"/pin/{name}/slow"), daemon=True)
        self.thread.start()
        _until(f"a session open on app/{name}", lambda: _raw_servers(hap.socket)[name][1] == 1, timeout=2)

    def _run(self, hap, path):
        self.answer = _get(hap, path)

    def join(self):
        self.thread.join(timeout=SLOW_SECONDS + 10)
        assert not self.thread.is_alive(), "the held request did not finish"
        return self.answer


def test_servers_lists_both_up_and_ready(modules, hap):
    mod = modules.webstack_haproxy
    everything = mod.servers(**hap.kw)
    assert set(everything) == {"app/s1", "app/s2"}
    for entry in everything.values():
        assert entry["status"] == "UP"
        assert entry["admin"] == "ready"
        assert entry["sessions"] == 0
        assert entry["check"] == "L7OK"
    assert mod.servers("app", **hap.kw) == everything
    assert mod.server("app", "s2", **hap.kw) == everything["app/s2"]
    assert sorted(_bodies(hap)) == ["s1"] * 5 + ["s2"] * 5  # roundrobin over both


def test_drain_sends_new_traffic_only_to_the_other_server(modules, hap):
    mod = modules.webstack_haproxy
    assert mod.drain("app", "s1", **hap.kw) == "drain"

    entry = mod.server("app", "s1", **hap.kw)
    assert (entry["status"], entry["admin"]) == ("DRAIN", "drain")
    assert _raw_servers(hap.socket)["s1"] == ("DRAIN", 0, 0x08)  # forced drain, as HAProxy sees it
    assert mod.server("app", "s2", **hap.kw)["admin"] == "ready"
    assert _bodies(hap) == ["s2"] * 10


def test_wait_sessions_returns_zero_for_an_idle_drained_server(modules, hap):
    mod = modules.webstack_haproxy
    mod.drain("app", "s1", **hap.kw)
    start = time.monotonic()
    assert mod.wait_sessions("app", "s1", timeout=5, **hap.kw) == 0
    assert time.monotonic() - start < 1  # answered at the first poll


def test_wait_sessions_times_out_while_a_request_is_held(modules, hap):
    mod = modules.webstack_haproxy
    held = _Held(hap, "s1")  # in flight before the drain, as in a deploy
    assert mod.drain("app", "s1", **hap.kw) == "drain"

    start = time.monotonic()
    with pytest.raises(CommandExecutionError) as err:
        mod.wait_sessions("app", "s1", timeout=1, interval=0.1, **hap.kw)
    elapsed = time.monotonic() - start
    assert str(err.value) == "server app/s1 still has 1 session(s) after 1 s (waited for at most 0)"
    assert 1 <= elapsed < 2.5
    assert mod.wait_sessions("app", "s1", max_sessions=1, timeout=0, **hap.kw) == 1

    # draining lets the request in flight finish, then the wait succeeds
    assert held.join() == (200, "s1 slow")
    assert mod.wait_sessions("app", "s1", timeout=5, interval=0.1, **hap.kw) == 0


def test_ready_after_drain_brings_traffic_back(modules, hap):
    mod = modules.webstack_haproxy
    mod.drain("app", "s1", **hap.kw)
    assert _bodies(hap, 4) == ["s2"] * 4

    assert mod.ready("app", "s1", **hap.kw) == "ready"
    entry = mod.wait_status("app", "s1", "UP", timeout=5, interval=0.1, **hap.kw)
    assert (entry["status"], entry["admin"], entry["check"]) == ("UP", "ready", "L7OK")
    assert sorted(_bodies(hap)) == ["s1"] * 5 + ["s2"] * 5


def test_maint_stops_traffic_and_ready_waits_for_a_passing_check(modules, hap):
    mod = modules.webstack_haproxy
    assert mod.maint("app", "s1", **hap.kw) == "maint"
    entry = mod.server("app", "s1", **hap.kw)
    assert (entry["status"], entry["admin"]) == ("MAINT", "maint")
    assert _raw_servers(hap.socket)["s1"][2] & 0x01  # forced maintenance
    assert _bodies(hap) == ["s2"] * 10

    assert mod.ready("app", "s1", **hap.kw) == "ready"
    entry = mod.wait_status("app", "s1", "UP", timeout=5, interval=0.05, **hap.kw)
    assert (entry["status"], entry["check"]) == ("UP", "L7OK")
    assert sorted(_bodies(hap)) == ["s1"] * 5 + ["s2"] * 5


def test_wait_status_names_status_and_failing_check(modules, hap):
    mod = modules.webstack_haproxy
    hap.apps["s1"].healthy = False
    down = mod.wait_status("app", "s1", "DOWN", timeout=5, interval=0.05, **hap.kw)
    assert (down["status"], down["admin"], down["check"]) == ("DOWN", "ready", "L7STS")
    assert _bodies(hap) == ["s2"] * 10

    with pytest.raises(CommandExecutionError) as err:
        mod.wait_status("app", "s1", "UP", timeout=1, interval=0.1, **hap.kw)
    assert str(err.value) == (
        "server app/s1 is DOWN, not UP, after 1 s (admin state ready, last check: L7STS (Layer7 wrong status))"
    )


@pytest.mark.parametrize("func", ["server", "drain", "ready", "maint", "wait_sessions", "wait_status"])
def test_unknown_server_or_backend_is_named(modules, hap, func):
    call = getattr(modules.webstack_haproxy, func)
    with pytest.raises(CommandExecutionError, match=r"^HAProxy has no server app/s9\b"):
        call("app", "s9", **hap.kw)
    with pytest.raises(CommandExecutionError, match=r"^HAProxy has no (server|backend) nope\b"):
        call("nope", "s1", **hap.kw)
    assert _raw_servers(hap.socket) == {"s1": ("UP", 0, 0), "s2": ("UP", 0, 0)}


def test_set_state_answers_from_haproxy_are_reported(modules, hap):
    mod = modules.webstack_haproxy
    with pytest.raises(CommandExecutionError) as err:
        mod.drain("app", "s9", **hap.kw)
    assert str(err.value) == "HAProxy has no server app/s9 (it answered: No such server.)"
    with pytest.raises(CommandExecutionError) as err:
        mod.drain("nope", "s1", **hap.kw)
    assert str(err.value) == "HAProxy has no server nope/s1 (it answered: No such backend.)"
    with pytest.raises(CommandExecutionError) as err:
        mod.servers("nope", **hap.kw)
    assert str(err.value) == "HAProxy has no backend nope (it answered: Can't find backend.)"


@pytest.mark.parametrize(
    "backend,server",
    [
        ("app", "s2; set server app/s2 state maint"),
        ("app", "s2\nset server app/s2 state maint"),
        ("app/s2", "s2"),
        ("app", "s 2"),
        ("app", ""),
        ("app", None),
    ],
    ids=["semicolon", "newline", "slash", "space", "empty", "none"],
)
def test_invalid_names_are_rejected_before_anything_is_sent(modules, hap, tmp_path, backend, server):
    mod = modules.webstack_haproxy
    with socket.socket(socket.AF_UNIX) as listener:  # a socket that records any connection
        listener.bind(str(tmp_path / "spy.sock"))
        listener.listen(1)
        listener.setblocking(False)
        for func in ("server", "drain", "ready", "maint", "wait_sessions", "wait_status"):
            with pytest.raises(CommandExecutionError, match=r"name .*: expected letters, digits"):
                getattr(mod, func)(backend, server, socket=str(tmp_path / "spy.sock"))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    with pytest.raises(CommandExecutionError, match=r"name .*: expected letters, digits"):
        mod.maint(backend, server, **hap.kw)
    assert _raw_servers(hap.socket) == {"s1": ("UP", 0, 0), "s2": ("UP", 0, 0)}


def test_missing_socket_is_a_clear_error(modules, hap):
    configured = str(hap.root / "not-this.sock")
    with pytest.raises(CommandExecutionError) as err:
        modules.webstack_haproxy.servers()  # the path from webstack_haproxy.socket
    assert str(err.value) == (
        f"HAProxy admin socket {configured} does not exist: is haproxy running with "
        f"'stats socket {configured} level admin'?"
    )


def test_drained_state(states, modules, hap, testmode):
    ret = states.webstack_haproxy.drained(name="s1", backend="app", timeout=5, test=testmode, **hap.kw)
    assert ret.changes == {"admin": {"old": "ready", "new": "drain"}}
    entry = modules.webstack_haproxy.server("app", "s1", **hap.kw)
    if testmode:
        assert ret.result is None
        assert ret.comment == (
            "Server app/s1 would be drained, then waited on until it has at most 0 session(s) (0 session(s) now)"
        )
        assert (entry["status"], entry["admin"]) == ("UP", "ready")  # HAProxy untouched
        assert sorted(_bodies(hap, 4)) == ["s1", "s1", "s2", "s2"]
        return
    assert ret.result is True, ret.comment
    assert ret.comment == "Server app/s1 drained, 0 session(s) left"
    assert (entry["status"], entry["admin"]) == ("DRAIN", "drain")
    assert _bodies(hap, 4) == ["s2"] * 4

    for test in (False, True):
        again = states.webstack_haproxy.drained(name="s1", backend="app", timeout=5, test=test, **hap.kw)
        assert again.result is True, again.comment
        assert again.changes == {}
    assert again.comment == "Server app/s1 is drained (0 session(s) now)"


def test_drained_state_fails_naming_the_sessions_left(states, modules, hap):
    held = _Held(hap, "s1")
    try:
        ret = states.webstack_haproxy.drained(name="s1", backend="app", timeout=1, **hap.kw)
        assert ret.result is False
        assert ret.changes == {"admin": {"old": "ready", "new": "drain"}}  # the drain itself happened
        assert ret.comment == (
            "Server app/s1: server app/s1 still has 1 session(s) after 1 s (waited for at most 0)"
        )
        assert modules.webstack_haproxy.server("app", "s1", **hap.kw)["admin"] == "drain"
    finally:
        assert held.join() == (200, "s1 slow")
    again = states.webstack_haproxy.drained(name="s1", backend="app", timeout=5, **hap.kw)
    assert (again.result, again.changes) == (True, {})
    assert again.comment == "Server app/s1 is drained, 0 session(s) left"


def test_drained_state_for_an_unknown_server_fails(states, hap):
    ret = states.webstack_haproxy.drained(name="s9", backend="app", **hap.kw)
    assert (ret.result, ret.changes) == (False, {})
    assert ret.comment == "HAProxy has no server app/s9"


@pytest.mark.parametrize("before", ["maint", "drain"])
def test_ready_state(states, modules, hap, testmode, before):
    mod = modules.webstack_haproxy
    getattr(mod, before)("app", "s1", **hap.kw)
    status_before = "MAINT" if before == "maint" else "DRAIN"

    ret = states.webstack_haproxy.ready(name="s1", backend="app", timeout=5, test=testmode, **hap.kw)
    assert ret.changes == {"admin": {"old": before, "new": "ready"}}
    entry = mod.server("app", "s1", **hap.kw)
    if testmode:
        assert ret.result is None
        assert ret.comment == (
            f"Server app/s1 would be made ready, then waited on until HAProxy reports it UP "
            f"(status {status_before} now)"
        )
        assert (entry["status"], entry["admin"]) == (status_before, before)  # HAProxy untouched
        assert _bodies(hap, 4) == ["s2"] * 4
        return
    assert ret.result is True, ret.comment
    assert ret.comment == "Server app/s1 made ready, status UP"
    assert (entry["status"], entry["admin"]) == ("UP", "ready")
    assert sorted(_bodies(hap, 4)) == ["s1", "s1", "s2", "s2"]

    for test in (False, True):
        again = states.webstack_haproxy.ready(name="s1", backend="app", timeout=5, test=test, **hap.kw)
        assert again.result is True, again.comment
        assert again.changes == {}
    assert again.comment == "Server app/s1 is ready (status UP)"


def test_ready_state_fails_naming_status_and_check(states, modules, hap):
    hap.apps["s1"].healthy = False
    modules.webstack_haproxy.maint("app", "s1", **hap.kw)

    ret = states.webstack_haproxy.ready(name="s1", backend="app", timeout=1, **hap.kw)
    assert ret.result is False
    assert ret.changes == {"admin": {"old": "maint", "new": "ready"}}
    assert ret.comment == (
        "Server app/s1: server app/s1 is DOWN, not UP, after 1 s "
        "(admin state ready, last check: L7STS (Layer7 wrong status))"
    )
    assert _bodies(hap, 4) == ["s2"] * 4


# ---------------------------------------------------------------- has_server, missing_ok


def test_has_server(modules, hap, tmp_path):
    mod = modules.webstack_haproxy
    assert mod.has_server("app", "s1", **hap.kw) is True
    assert mod.has_server("app", "s9", **hap.kw) is False
    assert mod.has_server("nope", "s1", **hap.kw) is False
    assert mod.has_server("web", "s1", **hap.kw) is False  # a frontend holds no server
    assert mod.has_server("app", "s1", socket=str(tmp_path / "no-haproxy.sock")) is False
    with pytest.raises(CommandExecutionError, match=r"server name 's1; disable server app/s2': expected letters"):
        mod.has_server("app", "s1; disable server app/s2", **hap.kw)
    assert _raw_servers(hap.socket) == {"s1": ("UP", 0, 0), "s2": ("UP", 0, 0)}


@pytest.mark.parametrize("func, what", [("drained", "drain"), ("ready", "make ready")])
def test_missing_ok_states_have_nothing_to_do_for_an_unknown_server(states, hap, tmp_path, testmode, func, what):
    state = getattr(states.webstack_haproxy, func)
    for backend, name, kw in [
        ("app", "s9", hap.kw),  # a node the next load-balancer config adds
        ("nope", "s1", hap.kw),
        ("app", "s1", {"socket": str(tmp_path / "no-haproxy.sock")}),  # HAProxy not set up yet
    ]:
        ret = state(name=name, backend=backend, missing_ok=True, timeout=1, test=testmode, **kw)
        assert ret.result is True, ret.comment
        assert ret.changes == {}
        assert ret.comment == f"Server {backend}/{name} is not in HAProxy's config (yet): nothing to {what}"
    assert _raw_servers(hap.socket) == {"s1": ("UP", 0, 0), "s2": ("UP", 0, 0)}


def test_missing_ok_still_drains_and_readies_a_known_server(states, modules, hap):
    drained = states.webstack_haproxy.drained(name="s1", backend="app", timeout=5, missing_ok=True, **hap.kw)
    assert drained.result is True, drained.comment
    assert drained.changes == {"admin": {"old": "ready", "new": "drain"}}
    assert _bodies(hap, 4) == ["s2"] * 4

    ready = states.webstack_haproxy.ready(name="s1", backend="app", timeout=5, missing_ok=True, **hap.kw)
    assert ready.result is True, ready.comment
    assert ready.changes == {"admin": {"old": "drain", "new": "ready"}}
    assert modules.webstack_haproxy.server("app", "s1", **hap.kw)["admin"] == "ready"


def test_ready_state_for_an_unknown_server_fails(states, hap):
    ret = states.webstack_haproxy.ready(name="s9", backend="app", timeout=1, **hap.kw)
    assert (ret.result, ret.changes) == (False, {})
    assert ret.comment == "HAProxy has no server app/s9"


def test_missing_ok_with_an_invalid_name_fails(states, hap):
    ret = states.webstack_haproxy.drained(name="s1;x", backend="app", missing_ok=True, **hap.kw)
    assert (ret.result, ret.changes) == (False, {})
    assert ret.comment == "server name 's1;x': expected letters, digits, '.', '_' or '-'"


# ---------------------------------------------------------------- save_state, state_saved


def _saved_admin(path):
    """{server: srv_admin_state} of backend app, read from a saved state file."""
    lines = path.read_text().splitlines()
    header = lines[1][2:].split()
    rows = [dict(zip(header, line.split(), strict=False)) for line in lines[2:]
            if line.strip() and not line.startswith("#")]
    return {row["srv_name"]: int(row["srv_admin_state"]) for row in rows if row["be_name"] == "app"}


def test_save_state_writes_the_servers_state_file(modules, hap, tmp_path):
    mod = modules.webstack_haproxy
    path = tmp_path / "server-state"
    path.write_text("stale\n")
    path.chmod(0o644)
    mod.drain("app", "s1", **hap.kw)

    assert mod.save_state(str(path), **hap.kw) == 2
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert text.splitlines()[0] == "1"  # the format version HAProxy expects
    assert text.splitlines()[1].startswith("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state")
    assert text.endswith("\n")
    assert _saved_admin(path) == {"s1": 0x08, "s2": 0}
    assert os.listdir(tmp_path) == ["server-state"]  # no temporary file left


def test_save_state_without_haproxy_writes_nothing(modules, hap, tmp_path):
    path = tmp_path / "server-state"
    assert modules.webstack_haproxy.save_state(str(path), socket=str(tmp_path / "no-haproxy.sock")) is None
    assert not path.exists()


def test_save_state_refuses_a_relative_path(modules, hap):
    with pytest.raises(CommandExecutionError) as err:
        modules.webstack_haproxy.save_state("server-state", **hap.kw)
    assert str(err.value) == "path 'server-state': expected an absolute path"
    assert not os.path.exists("server-state")


def test_state_saved_state(states, hap, tmp_path, testmode):
    path = tmp_path / "server-state"
    ret = states.webstack_haproxy.state_saved(name=str(path), test=testmode, **hap.kw)
    if testmode:
        assert ret.result is None
        assert ret.changes == {}
        assert ret.comment == f"HAProxy's server states would be saved to {path} before the reload"
        assert not path.exists()
        return
    assert ret.result is True, ret.comment
    assert ret.changes == {"saved": {"old": None, "new": "2 server(s)"}}
    assert ret.comment == f"Saved the state of 2 server(s) to {path}"
    assert _saved_admin(path) == {"s1": 0, "s2": 0}


def test_state_saved_without_haproxy_changes_nothing(states, tmp_path, testmode):
    path = tmp_path / "server-state"
    ret = states.webstack_haproxy.state_saved(name=str(path), socket=str(tmp_path / "no-haproxy.sock"),
                                              test=testmode)
    assert (ret.result, ret.changes) == (True, {})
    assert ret.comment == "HAProxy is not running: no server state to keep"
    assert not path.exists()


def test_state_saved_to_a_relative_path_fails(states, hap):
    ret = states.webstack_haproxy.state_saved(name="server-state", **hap.kw)
    assert (ret.result, ret.changes) == (False, {})
    assert ret.comment == ("Cannot save HAProxy's server states to server-state: "
                           "path 'server-state': expected an absolute path")


# ---------------------------------------------------------------- a reload keeps the saved states


@pytest.fixture
def reloadable(haproxy, tmp_path):
    """
    A second HAProxy over the same two app servers, run as the formula runs it:
    master-worker (``-W``) in the foreground, reloaded with USR2, reading its
    ``server-state-file`` at each (re)start.
    """
    port = _free_port()
    sock_path = tmp_path / "admin.sock"
    state_file = tmp_path / "server-state"
    config = f"""\
        global
            stats socket {sock_path} mode 600 level admin expose-fd listeners
            server-state-file {state_file}

        defaults
            mode http
            timeout connect 1s
            timeout client 10s
            timeout server 10s
            load-server-state-from-file global

        frontend web
            bind 127.0.0.1:{port}
            default_backend app

        backend app
            balance roundrobin
            option httpchk GET /healthz
            server s1 127.0.0.1:{haproxy.apps['s1'].server_port} check inter 200ms fall 2 rise 1
            server s2 127.0.0.1:{haproxy.apps['s2'].server_port} check inter 200ms fall 2 rise 1
        """
    with _haproxy_process(tmp_path, config, "-W") as (proc, log):
        yield _reloadable(proc, log, sock_path, port, state_file)


def _reloadable(proc, log, sock_path, port, state_file):
    """The handle of the ``reloadable`` fixture: reload() and up() on a running master."""
    hap = types.SimpleNamespace(socket=sock_path, port=port, proc=proc, log=log, state_file=state_file,
                                kw={"socket": str(sock_path)})

    def worker_pid():
        try:
            for line in _runtime(sock_path, "show info").splitlines():
                if line.startswith("Pid:"):
                    return int(line.split(":", 1)[1])
        except OSError:
            pass
        return None

    def gone(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    def reload():
        """
        USR2 to the master; returns once a new worker answers on the admin socket
        and the former one has exited: the master takes no other reload before.
        """
        old = worker_pid()
        proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while worker_pid() in (None, old) or not gone(old):
            if time.monotonic() >= deadline:
                pytest.fail(f"no new HAProxy worker 10 s after a reload (worker {old}):\n{log.read_text()}")
            time.sleep(0.05)

    def up():
        try:
            return all(v[0] in ("UP", "DRAIN") for v in _raw_servers(sock_path).values())
        except (OSError, KeyError):
            return False

    hap.reload, hap.up = reload, up
    _until(f"both servers checked by the reloadable haproxy ({log})", up, timeout=15)
    return hap


def test_a_reload_keeps_a_drained_server_drained_only_with_the_saved_state(states, modules, reloadable):
    mod = modules.webstack_haproxy
    hap = reloadable

    # without a saved state, a reload forgets the drain: the server takes traffic again
    mod.drain("app", "s1", **hap.kw)
    hap.reload()
    _until("both servers checked after the reload", hap.up)
    assert mod.server("app", "s1", **hap.kw)["admin"] == "ready"

    # saved just before the reload (as the formula's state_saved does), the drain survives it
    mod.drain("app", "s1", **hap.kw)
    saved = states.webstack_haproxy.state_saved(name=str(hap.state_file), **hap.kw)
    assert saved.result is True, saved.comment
    hap.reload()
    _until("both servers checked after the reload", hap.up)
    s1 = mod.server("app", "s1", **hap.kw)
    assert (s1["status"], s1["admin"]) == ("DRAIN", "drain")
    assert mod.server("app", "s2", **hap.kw)["admin"] == "ready"
    assert _bodies(hap, 4) == ["s2"] * 4

    # and a ready server stays ready
    mod.ready("app", "s1", **hap.kw)
    assert mod.save_state(str(hap.state_file), **hap.kw) == 2
    hap.reload()
    _until("s1 UP after the reload", lambda: mod.server("app", "s1", **hap.kw)["status"] == "UP")
    assert mod.server("app", "s1", **hap.kw)["admin"] == "ready"
    assert sorted(_bodies(hap, 4)) == ["s1", "s1", "s2", "s2"]
    assert hap.proc.poll() is None, hap.log.read_text()
