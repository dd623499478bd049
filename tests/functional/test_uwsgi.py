"""
Functional tests of ``webstack_uwsgi``, of the ``webstack_wsgi.reloaded`` state
for uWSGI and of the uwsgi protocol of ``webstack_health``, against a real uWSGI (Debian's uwsgi-core and its Python 3
plugin, installed by tests/testbed/host-deps.sh) started for this module the way
the formula starts it: master, lazy-apps, a unix socket, a master FIFO and a
stats socket, the app imported through a ``current`` symlink.
"""

import concurrent.futures
import contextlib
import os
import shutil
import signal
import subprocess
import textwrap
import threading
import time
import types

import pytest

from tests.support.processes import wait_or_kill

UWSGI = shutil.which("uwsgi-core") or "/usr/bin/uwsgi-core"
WORKERS = 3
APP = textwrap.dedent(
    """\
    import os

    RELEASE = open(os.path.join(os.path.dirname(__file__), "RELEASE")).read().strip()


    def application(environ, start_response):
        path = environ["PATH_INFO"]
        status = "503 Service Unavailable" if path == "/fail" else "200 OK"
        start_response(status, [("Content-Type", "text/plain")])
        return [f"{RELEASE} {os.getpid()} {environ.get('HTTP_HOST')} {path}".encode()]
    """
)


def _release(root, name, app=APP):
    path = root / "releases" / name
    path.mkdir(parents=True)
    (path / "app.py").write_text(app)
    (path / "RELEASE").write_text(name + "\n")
    return path


def _switch(root, name):
    tmp = root / ".current.tmp"
    tmp.symlink_to(root / "releases" / name)
    os.replace(tmp, root / "current")


@contextlib.contextmanager
def _uwsgi(root, app=APP):
    """A uWSGI master for the releases under ``root`` (``current`` -> rel1), as the formula
    configures one; stopped (SIGINT) on exit."""
    for name in ("rel1", "rel2", "rel3"):
        _release(root, name, app)
    _switch(root, "rel1")
    u = types.SimpleNamespace(root=root, socket=str(root / "uwsgi.sock"), fifo=str(root / "uwsgi.fifo"),
                              stats=str(root / "uwsgi-stats.sock"))
    ini = root / "uwsgi.ini"
    ini.write_text(textwrap.dedent(
        f"""\
        [uwsgi]
        strict = true
        plugins = python3
        master = true
        lazy-apps = true
        need-app = true
        die-on-term = true
        processes = {WORKERS}
        socket = {u.socket}
        chmod-socket = 660
        master-fifo = {u.fifo}
        stats = {u.stats}
        pythonpath = {root}/current
        module = app:application
        """
    ))
    with open(root / "uwsgi.log", "wb") as log:
        proc = subprocess.Popen([UWSGI, "--ini", str(ini)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (os.path.exists(u.stats) and os.path.exists(u.socket)):
            assert proc.poll() is None, (root / "uwsgi.log").read_text()
            assert time.monotonic() < deadline, "uWSGI did not start within 30 s"
            time.sleep(0.2)
        u.proc = proc
        yield u
    finally:
        proc.send_signal(signal.SIGINT)
        wait_or_kill(proc, 30)


@pytest.fixture(scope="module")
def uwsgi(tmp_path_factory):
    with _uwsgi(tmp_path_factory.mktemp("uwsgi")) as u:
        yield u


def _get(modules, u, path="/healthz", **kwargs):
    return modules.webstack_health.check(path, unix_socket=u.socket, protocol="uwsgi",
                                         host_header="www.example.org", **kwargs)


def _releases_served(modules, u, n=12):
    return {_get(modules, u)["body"].split()[0] for _ in range(n)}


def test_health_check_speaks_the_uwsgi_protocol(modules, uwsgi):
    res = _get(modules, uwsgi, retries=20, interval=0.5)
    assert res["ok"] is True and res["status"] == 200, res
    release, _, host, path = res["body"].split()
    assert (host, path) == ("www.example.org", "/healthz")
    failing = _get(modules, uwsgi, "/fail")
    assert failing["ok"] is False and failing["status"] == 503


def test_health_check_argument_errors(modules, uwsgi):
    from salt.exceptions import CommandExecutionError

    with pytest.raises(CommandExecutionError, match="protocol uwsgi: expected unix_socket"):
        modules.webstack_health.check("/healthz", protocol="uwsgi")
    with pytest.raises(CommandExecutionError, match="protocol 'fastcgi': expected http or uwsgi"):
        modules.webstack_health.check("/healthz", unix_socket=uwsgi.socket, protocol="fastcgi")
    res = modules.webstack_health.check("/healthz", unix_socket=str(uwsgi.root / "nope.sock"), protocol="uwsgi")
    assert res["ok"] is False and "FileNotFoundError" in res["error"]


def test_workers_from_the_stats_socket(modules, uwsgi):
    workers = modules.webstack_uwsgi.workers(uwsgi.stats)
    assert sorted(workers) == list(range(1, WORKERS + 1))
    assert all(w["pid"] > 0 for w in workers.values())
    doc = modules.webstack_uwsgi.stats(uwsgi.stats)
    assert doc["pid"] == uwsgi.proc.pid


def test_chain_reload_replaces_every_worker_and_serves_the_new_release(modules, uwsgi):
    assert _releases_served(modules, uwsgi) == {"rel1"}
    before = {w["pid"] for w in modules.webstack_uwsgi.workers(uwsgi.stats).values()}
    _switch(uwsgi.root, "rel2")
    assert _releases_served(modules, uwsgi) == {"rel1"}  # lazy-apps: loaded once per worker

    res = modules.webstack_uwsgi.chain_reload(uwsgi.fifo, uwsgi.stats, timeout=60)

    assert sorted(before) == res["old"]
    assert not set(res["new"]) & before and len(res["new"]) == WORKERS
    assert {w["pid"] for w in modules.webstack_uwsgi.workers(uwsgi.stats).values()} == set(res["new"])
    assert _releases_served(modules, uwsgi) == {"rel2"}
    assert uwsgi.proc.poll() is None  # the master stayed


def test_chain_reload_under_load_fails_no_request(modules, uwsgi):
    stop, results = threading.Event(), []

    def client():
        while not stop.is_set():
            res = _get(modules, uwsgi, timeout=10)
            results.append((res["status"], res["error"]))

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(8):
            pool.submit(client)
        time.sleep(0.5)
        _switch(uwsgi.root, "rel3")
        modules.webstack_uwsgi.chain_reload(uwsgi.fifo, uwsgi.stats, timeout=60)
        time.sleep(0.5)
        stop.set()
    failed = [r for r in results if r != (200, None)]
    assert len(results) > 100 and failed == [], f"{len(failed)} of {len(results)} failed: {failed[:5]}"
    assert _releases_served(modules, uwsgi) == {"rel3"}


def test_state_reloads_only_on_a_watch_event(modules, states, uwsgi, state_tree, testmode):
    before = {w["pid"] for w in modules.webstack_uwsgi.workers(uwsgi.stats).values()}
    ret = states.webstack_wsgi.reloaded(name=uwsgi.fifo, server="uwsgi", stats_socket=uwsgi.stats, test=testmode)
    assert ret.result is True and ret.changes == {}
    (state_tree / "uwsgi_watch.sls").write_text(
        "release-switched:\n"
        "  test.succeed_with_changes: []\n"
        f"{uwsgi.fifo}:\n"
        "  webstack_wsgi.reloaded:\n"
        "    - server: uwsgi\n"
        f"    - stats_socket: {uwsgi.stats}\n"
        "    - watch:\n"
        "      - test: release-switched\n")

    multi = modules.state.sls("uwsgi_watch", test=testmode)

    (ret,) = [r for r in multi.raw.values() if r["__id__"] != "release-switched"]
    after = {w["pid"] for w in modules.webstack_uwsgi.workers(uwsgi.stats).values()}
    if testmode:
        assert ret["result"] is None
        assert ret["comment"] == f"uwsgi ({uwsgi.fifo}) would be chain-reloaded"
        assert after == before
    else:
        assert ret["result"] is True, ret["comment"]
        assert ret["changes"] == {"workers": {"old": sorted(before), "new": sorted(after)}}
        assert not after & before


def test_errors_name_the_fifo_or_the_socket(modules, uwsgi, tmp_path):
    from salt.exceptions import CommandExecutionError

    fifo = tmp_path / "orphan.fifo"
    os.mkfifo(fifo)
    with pytest.raises(CommandExecutionError, match=f"no uWSGI master reads {fifo}"):
        modules.webstack_uwsgi.fifo_command(str(fifo), "c")
    with pytest.raises(CommandExecutionError, match="expected one letter"):
        modules.webstack_uwsgi.fifo_command(uwsgi.fifo, "c; q")
    # the app's user owns the run directory: a symlink there to the live FIFO (or to any file
    # of root's) is never followed, and a plain file is never written
    link, plain = tmp_path / "link.fifo", tmp_path / "plain.fifo"
    link.symlink_to(uwsgi.fifo)
    plain.write_text("")
    for path in (link, plain):
        with pytest.raises(CommandExecutionError, match=f"{path} is not a FIFO"):
            modules.webstack_uwsgi.fifo_command(str(path), "q")
    assert plain.read_text() == ""
    with pytest.raises(CommandExecutionError,
                       match=f"uWSGI stats socket {tmp_path}/nope.sock: .*No such file.* after 1 s, no chain reload"):
        modules.webstack_uwsgi.chain_reload(uwsgi.fifo, str(tmp_path / "nope.sock"), timeout=1, interval=0.2)


def test_chain_reload_of_a_master_that_just_started_waits_for_its_workers(modules, tmp_path):
    """uWSGI reports a chain reload asked for while workers still load the app as complete
    without replacing any: the first deploy starts the master and reloads it at once."""
    slow = "import time\ntime.sleep(1.5)\n" + APP
    with _uwsgi(tmp_path, app=slow) as u:
        res = modules.webstack_uwsgi.chain_reload(u.fifo, u.stats, timeout=60)
        assert len(res["old"]) == WORKERS and not set(res["old"]) & set(res["new"])
        assert res["seconds"] > 1.5  # it waited for the first workers, then for their replacements
        assert _releases_served(modules, u) == {"rel1"}


def test_chain_reload_asked_before_the_master_opened_its_stats_socket_waits_for_it(modules, tmp_path):
    """systemd's start returns once uWSGI has forked: the reload of a first deploy can come
    before the master has opened its stats socket (seen in CI under systemd)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(modules.webstack_uwsgi.chain_reload, str(tmp_path / "uwsgi.fifo"),
                              str(tmp_path / "uwsgi-stats.sock"), timeout=60, interval=0.2)
        time.sleep(1)
        assert not pending.done()
        with _uwsgi(tmp_path) as u:
            res = pending.result(timeout=60)
            assert len(res["old"]) == WORKERS and not set(res["old"]) & set(res["new"])
            assert _releases_served(modules, u) == {"rel1"}
