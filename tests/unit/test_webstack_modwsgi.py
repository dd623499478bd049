"""
Unit tests of ``_modules/webstack_modwsgi.py`` and of the ``webstack_wsgi`` state
with ``server: mod_wsgi``: the daemon processes
found in a fake /proc (mod_wsgi names them ``(wsgi:<group>)``), and the rolling
restart's order: one SIGUSR1 at a time, the next only once Apache's replacement
has loaded the app (more than one thread). Apache itself restarts them for real in
tests/integration/test_single.py (wsgi:server mod_wsgi, a release under load).
"""

import signal

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.loader import load as _load

mw = _load("modules", "webstack_modwsgi")
mw_state = _load("states", "webstack_wsgi")


class FakeProc:
    """A /proc with processes (argv, thread count); a SIGUSR1 replaces a daemon by a new PID
    that is seen loading (1 thread) ``loading_scans`` times before it is ready (4 threads)."""

    def __init__(self, root, loading_scans=2):
        self.root, self.loading_scans, self.next_pid, self.signals = root, loading_scans, 1000, []
        self.pending = {}  # new pid -> scans left while loading

    def add(self, argv, threads=4):
        pid = self.next_pid
        self.next_pid += 1
        d = self.root / str(pid)
        (d / "task").mkdir(parents=True)
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        self.set_threads(pid, threads)
        return pid

    def set_threads(self, pid, n):
        task = self.root / str(pid) / "task"
        for t in task.iterdir():
            t.rmdir()
        for i in range(n):
            (task / str(pid + i * 100000)).mkdir()

    def kill(self, pid, sig):
        self.signals.append((pid, sig))
        d = self.root / str(pid)
        for t in (d / "task").iterdir():
            t.rmdir()
        (d / "task").rmdir()
        (d / "cmdline").unlink()
        d.rmdir()
        new = self.add(["(wsgi:webapp)     ", "-k", "start"], threads=1)
        self.pending[new] = self.loading_scans

    def tick(self):
        for pid in list(self.pending):
            self.pending[pid] -= 1
            if self.pending[pid] <= 0:
                self.set_threads(pid, 4)
                del self.pending[pid]


@pytest.fixture
def proc(tmp_path, monkeypatch):
    fake = FakeProc(tmp_path)
    monkeypatch.setattr(mw, "PROC", str(tmp_path))
    monkeypatch.setattr(mw.os, "kill", fake.kill)
    real_daemons = mw.daemons

    def daemons(group):
        fake.tick()
        return real_daemons(group)

    monkeypatch.setattr(mw, "daemons", daemons)
    monkeypatch.setattr(mw.time, "sleep", lambda s: None)
    return fake


@pytest.fixture
def configure_loader_modules():
    return {mw: {}, mw_state: {"__opts__": {"test": False}, "__salt__": {}}}


def test_daemons_are_found_by_their_display_name(proc):
    a = proc.add(["(wsgi:webapp)     ", "-k", "start"])
    b = proc.add(["(wsgi:webapp)     ", "-k", "start"], threads=1)
    proc.add(["(wsgi:other)", "-k", "start"])
    proc.add(["/usr/sbin/apache2", "-k", "start"])
    proc.add(["python", "(wsgi:webapp)"])
    assert mw.daemons("webapp") == {a: 4, b: 1}


def test_rolling_restart_replaces_one_process_at_a_time(proc):
    old = [proc.add(["(wsgi:webapp)     ", "-k", "start"]) for _ in range(3)]
    res = mw.rolling_restart("webapp", 3, timeout=5)
    assert proc.signals == [(pid, signal.SIGUSR1) for pid in old]
    assert res["old"] == old
    assert len(res["new"]) == 3 and not set(res["new"]) & set(old)
    assert all(n == 4 for n in mw.daemons("webapp").values())


def test_the_next_signal_waits_for_the_replacement_to_load(proc, monkeypatch):
    old = [proc.add(["(wsgi:webapp)     ", "-k", "start"]) for _ in range(2)]
    seen = []
    kill = proc.kill

    def watching_kill(pid, sig):
        seen.append(sorted(mw.daemons("webapp").values()))  # every daemon is ready at each signal
        kill(pid, sig)

    monkeypatch.setattr(mw.os, "kill", watching_kill)
    mw.rolling_restart("webapp", 2, timeout=5)
    assert [pid for pid, _ in proc.signals] == old
    assert seen == [[4, 4], [4, 4]]


def test_rolling_restart_first_waits_for_the_expected_count_and_names_it(proc):
    proc.add(["(wsgi:webapp)     ", "-k", "start"])
    with pytest.raises(CommandExecutionError, match="expected 3 ready daemon processes, found 1"):
        mw.rolling_restart("webapp", 3, timeout=0.01)
    assert proc.signals == []


def test_state_restarts_only_on_a_watch_event():
    calls = []

    def rolling_restart(group, processes, timeout=120):
        calls.append((group, processes, timeout))
        return {"old": [1, 2], "new": [3, 4], "seconds": 1.5}

    mw_state.__salt__["webstack_modwsgi.rolling_restart"] = rolling_restart
    assert mw_state.reloaded("webapp", "mod_wsgi", processes=2)["changes"] == {}
    assert calls == []
    ret = mw_state.mod_watch("webapp", sfun="reloaded", server="mod_wsgi", processes=2, timeout=60)
    assert calls == [("webapp", 2, 60)]
    assert ret["changes"] == {"workers": {"old": [1, 2], "new": [3, 4]}}
    assert ret["result"] is True
    assert ret["comment"] == "mod_wsgi (webapp) restarted one daemon process at a time: 2 workers replaced in 1.5 s"
    mw_state.__opts__["test"] = True
    ret = mw_state.mod_watch("webapp", sfun="reloaded", server="mod_wsgi", processes=2)
    assert ret["result"] is None and len(calls) == 1


def test_state_reports_a_failed_restart():
    def rolling_restart(group, processes, timeout=120):
        raise CommandExecutionError("mod_wsgi group webapp: expected 2 ready daemon processes, found 1")

    mw_state.__salt__["webstack_modwsgi.rolling_restart"] = rolling_restart
    ret = mw_state.mod_watch("webapp", sfun="reloaded", server="mod_wsgi", processes=2)
    assert ret["result"] is False
    assert ret["comment"].startswith("Reload of mod_wsgi (webapp) failed: mod_wsgi group webapp: expected 2")


def test_state_refuses_an_unknown_server():
    for ret in (mw_state.reloaded("webapp", "waitress"),
                mw_state.mod_watch("webapp", sfun="reloaded", server="waitress")):
        assert ret["result"] is False
        assert ret["comment"] == "server 'waitress': expected one of uwsgi, mod_wsgi"
