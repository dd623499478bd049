"""
Functional tests of ``webstack_varnish`` (execution and state modules) against a real
Varnish (the Debian ``varnish`` package, from tests/testbed/host-deps.sh) started for this
module in the foreground with its own work directory, management port and secret, in front
of an ``http.server`` in a thread of the test process that counts the requests it gets.
"""

import http.server
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from tests.support.processes import wait_or_kill

VCL = """vcl 4.1;
backend app {{ .host = "127.0.0.1"; .port = "{port}"; }}
sub vcl_deliver {{
    if (obj.hits > 0) {{
        set resp.http.X-Cache = "HIT";
    }} else {{
        set resp.http.X-Cache = "MISS";
    }}
{extra}}}
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.hits += 1
        body = b"page"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=300")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def varnish(tmp_path_factory):
    binary = shutil.which("varnishd") or "/usr/sbin/varnishd"
    if not os.path.exists(binary):
        pytest.fail("varnishd is not installed (Debian: apt-get install -y varnish)")
    root = tmp_path_factory.mktemp("varnish")
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    app.hits = 0
    threading.Thread(target=app.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    secret = root / "secret"
    secret.write_text(secrets.token_hex(16))
    secret.chmod(0o600)
    vcl = root / "webstack.vcl"
    vcl.write_text(VCL.format(port=app.server_address[1], extra=""))
    port, admin = _free_port(), _free_port()
    workdir = str(root / "work")
    proc = subprocess.Popen([binary, "-F", "-j", "none", "-n", workdir, "-a", f"127.0.0.1:{port}",
                             "-T", f"127.0.0.1:{admin}", "-S", str(secret), "-f", str(vcl), "-s", "malloc,16m"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    class Varnish:
        pass

    v = Varnish()
    v.proc, v.app, v.port, v.admin, v.secret, v.vcl, v.workdir = proc, app, port, admin, str(secret), vcl, workdir
    yield v
    proc.terminate()
    wait_or_kill(proc, 10)
    app.shutdown()


def _get(varnish):
    with urllib.request.urlopen(f"http://127.0.0.1:{varnish.port}/page", timeout=10) as resp:
        return resp.headers.get("X-Cache"), resp.headers.get("X-Version")


def test_the_vcl_is_made_active_and_a_new_one_is_used_without_a_restart_and_the_cache_kept(varnish, states, modules):
    kwargs = {"admin_port": varnish.admin, "secret": varnish.secret}
    modules.webstack_varnish.wait_ready(**kwargs)
    ret = states.webstack_varnish.vcl_active(str(varnish.vcl), **kwargs)
    assert ret.result is True and ret.changes["vcl"]["old"] == "boot", ret
    assert states.webstack_varnish.vcl_active(str(varnish.vcl), **kwargs).changes == {}
    assert [_get(varnish)[0] for _ in range(2)] == ["MISS", "HIT"]
    assert varnish.app.hits == 1

    varnish.vcl.write_text(VCL.format(port=varnish.app.server_address[1],
                                      extra='    set resp.http.X-Version = "2";\n'))
    ret = states.webstack_varnish.vcl_active(str(varnish.vcl), test=True, **kwargs)
    assert ret.result is None and ret.changes["vcl"]["new"] == modules.webstack_varnish.vcl_name(str(varnish.vcl))
    ret = states.webstack_varnish.vcl_active(str(varnish.vcl), **kwargs)
    assert ret.result is True and ret.changes, ret
    assert _get(varnish) == ("HIT", "2")  # the new VCL, the same cache
    assert varnish.proc.poll() is None and varnish.app.hits == 1
    held = modules.webstack_varnish.vcls(**kwargs)
    assert held == {"active": modules.webstack_varnish.vcl_name(str(varnish.vcl)), "available": []}


def test_a_ban_sends_the_next_request_to_the_app_and_the_counters_show_it(varnish, modules):
    kwargs = {"admin_port": varnish.admin, "secret": varnish.secret}
    before = modules.webstack_varnish.stats(workdir=varnish.workdir)
    assert _get(varnish)[0] == "HIT"
    assert modules.webstack_varnish.ban(**kwargs) is True
    hits = varnish.app.hits
    assert [_get(varnish)[0] for _ in range(2)] == ["MISS", "HIT"]
    assert varnish.app.hits == hits + 1
    time.sleep(1.5)  # varnishstat's counters are published about once a second
    after = modules.webstack_varnish.stats(workdir=varnish.workdir)
    assert (after["hit"] - before["hit"], after["miss"] - before["miss"]) == (2, 1)
