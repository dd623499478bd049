"""
Functional tests of ``webstack_supervisor`` against a real supervisord started
for this module (unix socket and include directory in the test's temp dir),
controlled through the venv's supervisorctl, with a tiny Python program that
logs its start and every SIGHUP it receives.
"""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time
import types

import pytest

from tests.support.processes import wait_or_kill

BIN = pathlib.Path(sys.executable).parent  # supervisor is installed in the test venv
SUPERVISORD = BIN / "supervisord"
SUPERVISORCTL = BIN / "supervisorctl"

PROGRAM = textwrap.dedent(
    """\
    import os, signal, sys

    log = sys.argv[1]

    def note(what):
        with open(log, "a") as fh:
            fh.write(f"{what} {os.getpid()}\\n")

    signal.signal(signal.SIGHUP, lambda signum, frame: note("HUP"))
    note("START")
    while True:
        signal.pause()
    """
)


def _ctl(sv, *args):
    return subprocess.run([str(SUPERVISORCTL), "-c", str(sv.conf), *args], capture_output=True, text=True,
                          check=False, timeout=60)


@pytest.fixture(scope="module")
def supervisord(tmp_path_factory):
    root = tmp_path_factory.mktemp("supervisord")
    conf_dir = root / "conf.d"
    conf_dir.mkdir()
    conf = root / "supervisord.conf"
    conf.write_text(textwrap.dedent(
        f"""\
        [unix_http_server]
        file={root}/supervisor.sock
        chmod=0700

        [supervisord]
        logfile={root}/supervisord.log
        pidfile={root}/supervisord.pid
        childlogdir={root}

        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

        [supervisorctl]
        serverurl=unix://{root}/supervisor.sock

        [include]
        files={conf_dir}/*.conf
        """
    ))
    program = root / "hup_logger.py"
    program.write_text(PROGRAM)
    sv = types.SimpleNamespace(root=root, conf=conf, conf_dir=conf_dir, program=program)
    with open(root / "supervisord.out", "wb") as out:
        proc = subprocess.Popen([str(SUPERVISORD), "--nodaemon", "-c", str(conf)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while _ctl(sv, "status").returncode not in (0, 3):
            assert proc.poll() is None, (root / "supervisord.out").read_text()
            assert time.monotonic() < deadline, "supervisord did not answer within 20 s"
            time.sleep(0.2)
        yield sv
    finally:
        _ctl(sv, "shutdown")
        wait_or_kill(proc, 30)


@pytest.fixture(scope="module")
def minion_config_overrides(supervisord):
    return {
        "webstack_supervisor.conf_file": str(supervisord.conf),
        "webstack_supervisor.supervisorctl": str(SUPERVISORCTL),
    }


@pytest.fixture
def program(supervisord, request, tmp_path):
    """A program name of its own per test, and the state arguments that run the HUP logger."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:6]
    name = "t-" + request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:32] + "-" + digest
    log = tmp_path / "events.log"
    prog = types.SimpleNamespace(
        name=name,
        log=log,
        conf_path=supervisord.conf_dir / f"{name}.conf",
        kwargs={
            "name": name,
            "command": [sys.executable, str(supervisord.program), str(log)],
            "conf_dir": str(supervisord.conf_dir),
            "startsecs": 1,
            "stopwaitsecs": 5,
            "stdout_logfile": str(tmp_path / "program.log"),
        },
    )
    yield prog
    if prog.conf_path.exists():
        prog.conf_path.unlink()
    _ctl(supervisord, "reread")
    _ctl(supervisord, "update", name)


def _events(prog, want=None, timeout=10):
    """Lines of the program's event log; with ``want``, wait (bounded) until that line shows."""
    deadline = time.monotonic() + timeout
    while True:
        lines = prog.log.read_text().splitlines() if prog.log.exists() else []
        if want is None or want in lines or time.monotonic() >= deadline:
            return lines
        time.sleep(0.1)


def _environ(pid):
    raw = pathlib.Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_running_starts_program_then_is_idempotent(states, modules, program, supervisord):
    ret = states.webstack_process.running(**program.kwargs)
    assert ret.result is True, ret.comment
    assert set(ret.changes) == {"config", "state"}
    assert ret.changes["config"]["old"] is None
    assert ret.changes["config"]["new"].startswith("sha256:")
    assert ret.changes["state"] == {"old": "absent", "new": "RUNNING"}
    assert ret.comment == f"Program {program.name} updated and running"

    pid = modules.webstack_supervisor.pid(program.name)
    assert pid and _alive(pid)
    assert f"{program.name} " in _ctl(supervisord, "status", program.name).stdout
    assert "RUNNING" in _ctl(supervisord, "status", program.name).stdout
    assert _events(program, f"START {pid}") == [f"START {pid}"]
    assert f"[program:{program.name}]" in program.conf_path.read_text()

    for test in (False, True):
        again = states.webstack_process.running(test=test, **program.kwargs)
        assert again.result is True, again.comment
        assert again.changes == {}
        assert again.comment == f"Program {program.name} is configured and running"
    assert modules.webstack_supervisor.pid(program.name) == pid


def test_config_change_is_predicted_then_applied_with_a_restart(states, modules, program):
    assert states.webstack_process.running(**program.kwargs).result is True
    old_pid = modules.webstack_supervisor.pid(program.name)
    old_text = program.conf_path.read_text()
    environment = {"APP_VERSION": "2", "GREETING": 'say "hi" now', "DISCOUNT": "100%", "LIST": "a,b=c",
                   "ODD": "it's %(ENV_HOME)s"}
    changed = dict(program.kwargs, environment=environment)

    predicted = states.webstack_process.running(test=True, **changed)
    assert predicted.result is None
    assert set(predicted.changes) == {"config"}
    assert predicted.changes["config"]["old"] == modules.webstack_supervisor.digest(old_text)
    assert predicted.comment == f"Program {program.name} would be rewritten and restarted"
    assert program.conf_path.read_text() == old_text  # nothing written
    assert modules.webstack_supervisor.pid(program.name) == old_pid  # nothing restarted

    applied = states.webstack_process.running(**changed)
    assert applied.result is True, applied.comment
    assert applied.changes["config"] == predicted.changes["config"]
    new_pid = modules.webstack_supervisor.pid(program.name)
    assert new_pid and new_pid != old_pid
    assert not _alive(old_pid)
    env = _environ(new_pid)
    assert {k: env.get(k) for k in environment} == environment  # supervisord read the quoting as meant
    assert _events(program, f"START {new_pid}") == [f"START {old_pid}", f"START {new_pid}"]


def test_new_program_in_test_mode_writes_and_starts_nothing(states, modules, program, testmode):
    ret = states.webstack_process.running(test=testmode, **program.kwargs)
    if not testmode:
        assert ret.result is True, ret.comment
        assert modules.webstack_supervisor.state(program.name) == "RUNNING"
        return
    assert ret.result is None
    assert ret.changes["state"] == {"old": "absent", "new": "RUNNING"}
    assert ret.changes["config"]["old"] is None
    assert ret.comment == f"Program {program.name} would be rewritten and restarted"
    assert not program.conf_path.exists()
    assert modules.webstack_supervisor.state(program.name) is None
    assert not program.log.exists()


def _watch_sls(state_tree, prog, **extra):
    """An SLS in which the program's state watches a state that always changes; returns its name."""
    args = dict(prog.kwargs, **extra)
    name = args.pop("name")
    lines = [
        "release-switched:",
        "  test.succeed_with_changes: []",
        f"{json.dumps(name)}:",
        "  webstack_process.running:",
    ]
    lines += [f"    - {key}: {json.dumps(value)}" for key, value in args.items()]
    lines += ["    - watch:", "      - test: release-switched"]
    (state_tree / f"{prog.name}.sls").write_text("\n".join(lines) + "\n")
    return prog.name


def _supervisor_ret(multi):
    (ret,) = [r for r in multi.raw.values() if r["__id__"] != "release-switched"]
    return ret


def test_watch_with_reload_signal_sends_hup_and_keeps_the_pid(states, modules, program, state_tree):
    assert states.webstack_process.running(**program.kwargs).result is True
    pid = modules.webstack_supervisor.pid(program.name)

    multi = modules.state.sls(_watch_sls(state_tree, program, reload_signal="HUP"))
    ret = _supervisor_ret(multi)

    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"reload": {"old": None, "new": "reloaded with SIGHUP"},
                              "pid": {"old": pid, "new": pid}}
    assert modules.webstack_supervisor.pid(program.name) == pid
    assert _events(program, f"HUP {pid}") == [f"START {pid}", f"HUP {pid}"]


def test_watch_without_reload_signal_restarts(states, modules, program, state_tree):
    assert states.webstack_process.running(**program.kwargs).result is True
    old_pid = modules.webstack_supervisor.pid(program.name)

    multi = modules.state.sls(_watch_sls(state_tree, program))
    ret = _supervisor_ret(multi)

    assert ret["result"] is True, ret["comment"]
    new_pid = modules.webstack_supervisor.pid(program.name)
    assert new_pid and new_pid != old_pid
    assert ret["changes"] == {"reload": {"old": None, "new": "restarted"},
                              "pid": {"old": old_pid, "new": new_pid}}
    assert not _alive(old_pid)
    assert _events(program, f"START {new_pid}") == [f"START {old_pid}", f"START {new_pid}"]  # no HUP


def test_watch_in_test_mode_predicts_and_signals_nothing(states, modules, program, state_tree):
    assert states.webstack_process.running(**program.kwargs).result is True
    pid = modules.webstack_supervisor.pid(program.name)

    multi = modules.state.sls(_watch_sls(state_tree, program, reload_signal="HUP"), test=True)
    ret = _supervisor_ret(multi)

    assert ret["result"] is None
    assert ret["changes"] == {"reload": {"old": None, "new": "reloaded with SIGHUP"}}
    time.sleep(0.5)  # a wrongly sent HUP would be logged by now
    assert _events(program) == [f"START {pid}"]
    assert modules.webstack_supervisor.pid(program.name) == pid


def test_absent_stops_and_removes_the_program(states, modules, program, supervisord):
    assert states.webstack_process.running(**program.kwargs).result is True
    pid = modules.webstack_supervisor.pid(program.name)
    absent_kwargs = {"name": program.name, "conf_dir": program.kwargs["conf_dir"]}

    predicted = states.webstack_process.absent(test=True, **absent_kwargs)
    assert predicted.result is None
    assert predicted.changes == {"program": {"old": "RUNNING", "new": "absent"}}
    assert program.conf_path.exists()
    assert _alive(pid)

    ret = states.webstack_process.absent(**absent_kwargs)
    assert ret.result is True, ret.comment
    assert ret.changes == {"program": {"old": "RUNNING", "new": "absent"}}
    assert not program.conf_path.exists()
    assert modules.webstack_supervisor.state(program.name) is None
    assert "no such process" in _ctl(supervisord, "status", program.name).stdout
    assert not _alive(pid)

    for test in (False, True):
        again = states.webstack_process.absent(test=test, **absent_kwargs)
        assert again.result is True
        assert again.changes == {}
        assert again.comment == f"Program {program.name} is absent"


def test_program_that_cannot_start_fails_the_state(states, modules, program):
    kwargs = dict(program.kwargs, command=["/nonexistent/bin/app", "--serve"], startretries=0)
    ret = states.webstack_process.running(**kwargs)
    assert ret.result is False
    assert program.name in ret.comment
    assert "not reachable" not in ret.comment
    assert "config" in ret.changes  # the config was written, and is reported
    assert modules.webstack_supervisor.state(program.name) in ("FATAL", "BACKOFF", "STOPPED", "EXITED")


FLAGGED = textwrap.dedent(
    """\
    import os, sys, time

    flag, program, log = sys.argv[1:]
    with open(flag) as fh:
        if fh.read().strip() == "broken":
            time.sleep(0.2)
            sys.exit("ImportError: the release is broken")
    os.execv(sys.executable, [sys.executable, program, log])
    """
)


def test_crash_looping_program_runs_again_once_its_release_is_fixed(states, modules, program, supervisord,
                                                                     tmp_path):
    """A program whose release is broken crash-loops (supervisord keeps retrying it: BACKOFF);
    after the release is put right, with its config unchanged, the state starts it afresh and
    reports it running, instead of finding it BACKOFF (a plain start is 'already started')."""
    flag = tmp_path / "release"
    flag.write_text("broken")
    wrapper = tmp_path / "flagged.py"
    wrapper.write_text(FLAGGED)
    kwargs = dict(program.kwargs, startretries=100,
                  command=[sys.executable, str(wrapper), str(flag), str(supervisord.program), str(program.log)])
    broken = states.webstack_process.running(**kwargs)
    assert broken.result is False
    assert "the release is broken" in broken.comment
    deadline = time.monotonic() + 20
    while modules.webstack_supervisor.state(program.name) != "BACKOFF":
        assert time.monotonic() < deadline, modules.webstack_supervisor.state(program.name)
        time.sleep(0.1)

    flag.write_text("fixed")
    fixed = states.webstack_process.running(**kwargs)
    assert fixed.result is True, fixed.comment
    assert fixed.changes == {"state": {"old": "BACKOFF", "new": "RUNNING"}}
    pid = modules.webstack_supervisor.pid(program.name)
    assert _events(program, f"START {pid}") == [f"START {pid}"]
    again = states.webstack_process.running(**kwargs)
    assert again.result is True and again.changes == {}, again.comment


def test_status_asks_supervisord_over_its_socket_as_supervisorctl_does(modules, program, supervisord,
                                                                      monkeypatch):
    """One XML-RPC call on supervisord's unix socket answers what `supervisorctl status` prints,
    and needs no supervisorctl process (a no-change apply asks it once per program)."""
    modules.webstack_supervisor.write_program(program.name, modules.webstack_supervisor.render_program(
        program.name, program.kwargs["command"], startsecs=1), conf_dir=str(supervisord.conf_dir))
    _ctl(supervisord, "reread")
    _ctl(supervisord, "update", program.name)
    deadline = time.monotonic() + 20
    while "RUNNING" not in _ctl(supervisord, "status", program.name).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    printed = _ctl(supervisord, "status", program.name).stdout.split()
    def no_supervisorctl(*_args, **_kwargs):
        raise AssertionError("supervisorctl was run")

    monkeypatch.setitem(modules.webstack_supervisor.status.func.__globals__, "_ctl", no_supervisorctl)
    answer = modules.webstack_supervisor.status(program.name)
    assert answer == {program.name: {"state": "RUNNING", "pid": int(printed[3].rstrip(","))}}
    assert modules.webstack_supervisor.status("not-a-program") == {}
