"""
Functional tests of ``webstack_nginx`` (execution and state modules) against a
real Nginx (the Debian ``nginx`` package) started for this module, its config,
pid file and server list in the test's temp dir, balancing over two app
servers: ``http.server`` instances in threads of the test process that answer
their own name, and hold a request open on ``/slow``.
"""

import concurrent.futures
import http.client
import http.server
import os
import pathlib
import shutil
import socket
import subprocess
import textwrap
import threading
import time

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.processes import wait_or_kill

SLOW_SECONDS = 3
SERVERS = ("s1", "s2")


class _AppHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


def _start_app(name):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AppHandler)
    httpd.daemon_threads = True
    httpd.name = name
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return httpd


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Nginx:
    def __init__(self, root, apps):
        self.root = root
        self.port = _free_port()
        self.conf = str(root / "nginx.conf")
        self.pidfile = str(root / "nginx.pid")
        self.upstream = str(root / "upstream.conf")
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.wanted = [{"name": name, "address": "127.0.0.1", "port": app.server_address[1]}
                       for name, app in apps.items()]
        temp = "\n".join(f"    {kind}_temp_path {root}/{kind};" for kind in
                         ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (root / "nginx.conf").write_text(textwrap.dedent(f"""\
            user root;
            worker_processes 2;
            pid {self.pidfile};
            error_log {root}/error.log;
            daemon off;
            events {{ worker_connections 64; }}
            http {{
            access_log off;
            {temp}
                upstream webstack_lb {{
                    zone webstack_lb 64k;
                    include {self.upstream};
                }}
                server {{
                    listen 127.0.0.1:{self.port};
                    location / {{
                        proxy_pass http://webstack_lb;
                        proxy_next_upstream error timeout http_502 http_503 http_504;
                    }}
                }}
            }}
            """))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.pidfile) and self.get("/")[0] == 200):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"nginx did not start: {(self.root / 'error.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            wait_or_kill(self.proc, 10)

    def get(self, path, timeout=10):
        """(status, body) through Nginx; (None, error) when it does not answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        except OSError as exc:
            return None, str(exc)
        finally:
            conn.close()

    def served_by(self, n=10):
        return [self.get("/")[1] for _ in range(n)]


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    if not os.path.exists(shutil.which("nginx") or "/usr/sbin/nginx"):
        pytest.fail("nginx is not installed (Debian: apt-get install -y nginx)")
    root = tmp_path_factory.mktemp("nginx")
    apps = {name: _start_app(name) for name in SERVERS}
    server = _Nginx(root, apps)
    yield server
    server.stop()
    for app in apps.values():
        app.shutdown()


def _lines(nginx):
    return [line for line in pathlib.Path(nginx.upstream).read_text(encoding="utf-8").splitlines()
            if not line.startswith("#")]


def test_the_server_list_is_written_checked_and_then_left_alone(nginx, states):
    ret = states.webstack_nginx.upstream_managed(nginx.upstream, servers=nginx.wanted, max_fails=3,
                                                  fail_timeout="10s", conf=nginx.conf, test=True)
    assert ret.result is None and ret.changes["old"] == [] and len(ret.changes["new"]) == 2
    assert not os.path.exists(nginx.upstream)
    ret = states.webstack_nginx.upstream_managed(nginx.upstream, servers=nginx.wanted, max_fails=3,
                                                  fail_timeout="10s", conf=nginx.conf)
    assert ret.result is True and len(ret.changes["new"]) == 2
    assert _lines(nginx) == [f"server 127.0.0.1:{s['port']} max_fails=3 fail_timeout=10s; # {s['name']}"
                             for s in nginx.wanted]
    assert oct(os.stat(nginx.upstream).st_mode & 0o777) == "0o644"
    nginx.start()
    assert set(nginx.served_by()) == {"s1", "s2"}
    for test in (True, False):
        ret = states.webstack_nginx.upstream_managed(nginx.upstream, servers=nginx.wanted, max_fails=3,
                                                      fail_timeout="10s", conf=nginx.conf, test=test)
        assert ret.result is True and ret.changes == {}, ret


def test_a_drain_waits_for_the_requests_in_flight_and_new_ones_go_elsewhere(nginx, states, modules):
    master = modules.webstack_nginx.workers(nginx.pidfile)["master"]
    ret = states.webstack_nginx.drained("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf,
                                        test=True)
    assert ret.result is None and ret.changes == {"down": {"old": False, "new": True}}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        slow = [pool.submit(nginx.get, "/slow") for _ in range(2)]  # round robin: one on each server
        time.sleep(0.5)
        start = time.monotonic()
        ret = states.webstack_nginx.drained("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf,
                                            timeout=20)
        waited = time.monotonic() - start
        assert ret.result is True and ret.changes == {"down": {"old": False, "new": True}}, ret
        # the drain returned once the old workers had finished the slow requests, not before
        assert all(f.done() for f in slow)
        assert waited > SLOW_SECONDS - 1.5, waited
        assert sorted(f.result()[1] for f in slow) == ["s1", "s2"]
        assert all(f.result()[0] == 200 for f in slow)
    assert set(nginx.served_by()) == {"s2"}
    after = modules.webstack_nginx.workers(nginx.pidfile)
    assert after["master"] == master and after["shutting_down"] == []
    assert "down; # s1" in _lines(nginx)[0]
    # a highstate meanwhile keeps the drain
    ret = states.webstack_nginx.upstream_managed(nginx.upstream, servers=nginx.wanted, max_fails=3,
                                                  fail_timeout="10s", conf=nginx.conf)
    assert ret.result is True and ret.changes == {}, ret
    for test in (True, False):
        ret = states.webstack_nginx.drained("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf,
                                            test=test)
        assert ret.result is True and ret.changes == {}, ret


def test_ready_puts_the_server_back_with_one_reload(nginx, states, modules):
    before = modules.webstack_nginx.workers(nginx.pidfile)
    ret = states.webstack_nginx.ready("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf, test=True)
    assert ret.result is None and ret.changes == {"down": {"old": True, "new": False}}
    assert set(nginx.served_by()) == {"s2"}
    ret = states.webstack_nginx.ready("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf)
    assert ret.result is True and ret.changes == {"down": {"old": True, "new": False}}, ret
    assert set(nginx.served_by()) == {"s1", "s2"}
    after = modules.webstack_nginx.workers(nginx.pidfile)
    assert after["master"] == before["master"] and not set(after["serving"]) & set(before["serving"])
    ret = states.webstack_nginx.ready("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf)
    assert ret.result is True and ret.changes == {}, ret


def test_an_unknown_server_is_an_error_unless_missing_is_ok(nginx, states):
    ret = states.webstack_nginx.drained("app9", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf)
    assert ret.result is False and "app9 is not in Nginx's server list" in ret.comment
    ret = states.webstack_nginx.drained("app9", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf,
                                        missing_ok=True)
    assert ret.result is True and ret.changes == {} and "nothing to drain" in ret.comment


def test_a_list_that_nginx_refuses_is_not_left_in_place(nginx, modules):
    before = pathlib.Path(nginx.upstream).read_text(encoding="utf-8")
    entries = modules.webstack_nginx.servers(nginx.upstream)
    entries[0] = dict(entries[0], address="999.0.0.1")  # only a direct caller can get past plan's checks
    with pytest.raises(CommandExecutionError, match="nginx -t fails"):
        modules.webstack_nginx.write(nginx.upstream, entries, conf=nginx.conf)
    assert pathlib.Path(nginx.upstream).read_text(encoding="utf-8") == before
    assert set(nginx.served_by()) == {"s1", "s2"}


def test_bad_arguments_are_refused_before_the_file_is_touched(nginx, modules):
    before = pathlib.Path(nginx.upstream).read_text(encoding="utf-8")
    bad = [
        ([{"name": "s1", "address": "127.0.0.1; server evil", "port": 80}], "must be an IPv4 address"),
        ([{"name": "s1\nserver", "address": "127.0.0.1", "port": 80}], "must be a minion id"),
        ([{"name": "s1", "address": "127.0.0.1", "port": "80"}], "must be a number from 1 to 65535"),
        ([{"name": "s1", "address": "127.0.0.1", "port": 80}] * 2, "listed twice"),
    ]
    for servers, message in bad:
        with pytest.raises(CommandExecutionError, match=message):
            modules.webstack_nginx.plan(nginx.upstream, servers)
    with pytest.raises(CommandExecutionError, match="fail_timeout must be a duration"):
        modules.webstack_nginx.plan(nginx.upstream, nginx.wanted, fail_timeout="10s; evil")
    assert pathlib.Path(nginx.upstream).read_text(encoding="utf-8") == before


def test_a_stopped_nginx_has_nothing_to_drain_when_missing_is_ok(nginx, states):
    """During a switch to HAProxy (lb:engine), Nginx's list stays behind and Nginx is stopped:
    with missing_ok there is nothing to drain there; without, it is an error that says so."""
    nginx.stop()
    nginx.proc = None
    ret = states.webstack_nginx.drained("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf,
                                        missing_ok=True)
    assert ret.result is True and ret.changes == {} and "Nginx is not running" in ret.comment, ret
    ret = states.webstack_nginx.drained("s1", path=nginx.upstream, pidfile=nginx.pidfile, conf=nginx.conf)
    assert ret.result is False and "Nginx is not running" in ret.comment, ret
    assert " down;" not in pathlib.Path(nginx.upstream).read_text(encoding="utf-8")
