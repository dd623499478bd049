"""
Unit tests of ``_modules/webstack_systemd.py`` (the systemd backend of the
``webstack_process`` state) and of that state with ``manager: systemd``: the
rendered unit text, its quoting as systemd parses it (``systemd-analyze`` reads
the real file here), ``systemctl show`` parsing, and the order of the
``systemctl`` calls, with ``cmd.run_all`` replaced by an autospec'd mock.
"""

import shutil
import subprocess
from unittest.mock import create_autospec

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.loader import load as _load

sd = _load("modules", "webstack_systemd")
proc_state = _load("states", "webstack_process")


@pytest.fixture
def booted(tmp_path, monkeypatch):
    """systemd counts as PID 1 (its run directory exists) and systemctl is found."""
    run_dir = tmp_path / "run-systemd-system"
    run_dir.mkdir()
    monkeypatch.setattr(sd, "RUN_DIR", str(run_dir))
    monkeypatch.setattr(sd.shutil, "which", lambda name: f"/usr/bin/{name}")
    return run_dir


@pytest.fixture
def configure_loader_modules(run_all, tmp_path):
    opts = {"test": False, "webstack_systemd.unit_dir": str(tmp_path / "units")}
    return {
        sd: {"__opts__": opts, "__salt__": {"cmd.run_all": run_all}},
        proc_state: {"__opts__": dict(opts), "__salt__": {}},
    }


# ---------------------------------------------------------------- rendering


def test_render_program_full_text():
    text = sd.render_program(
        "webapp-gunicorn",
        ["/srv/webapp/current/venv/bin/python", "-m", "gunicorn", "--config", "/etc/webstack/webapp/g.py",
         "exampleproject.wsgi:application"],
        directory="/srv/webapp/current/src",
        user="webapp",
        environment={"WEBSTACK_CONFIG": "/etc/webstack/webapp/app.env", "HOME": "/srv/webapp"},
        stopsignal="TERM",
        stopwaitsecs=35,
        stdout_logfile="/var/log/webstack/webapp-gunicorn.log",
        reload_signal="HUP",
    )
    assert text == (
        "# Managed by Salt (webstack): local changes are overwritten.\n"
        "[Unit]\n"
        "Description=webstack program webapp-gunicorn\n"
        "After=network.target\n"
        "StartLimitBurst=4\n"
        "StartLimitIntervalSec=60\n"
        "\n"
        "[Service]\n"
        "Type=exec\n"
        "User=webapp\n"
        "WorkingDirectory=/srv/webapp/current/src\n"
        'Environment="HOME=/srv/webapp"\n'
        'Environment="WEBSTACK_CONFIG=/etc/webstack/webapp/app.env"\n'
        "ExecStart=/srv/webapp/current/venv/bin/python -m gunicorn --config /etc/webstack/webapp/g.py "
        "exampleproject.wsgi:application\n"
        "ExecReload=/bin/kill -s HUP $MAINPID\n"
        "KillSignal=SIGTERM\n"
        "KillMode=mixed\n"
        "TimeoutStopSec=35\n"
        "Restart=always\n"
        "RestartSec=1\n"
        "StandardOutput=append:/var/log/webstack/webapp-gunicorn.log\n"
        "StandardError=inherit\n"
        "SyslogIdentifier=webapp-gunicorn\n"
        "NoNewPrivileges=yes\n"
        "PrivateTmp=yes\n"
        "ProtectSystem=full\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def test_render_maps_the_supervisord_keys():
    text = sd.render_program("w", "/bin/true", stopasgroup=True, autorestart=False, autostart=False,
                             startretries=9, umask="027", stopsignal="INT")
    assert "KillMode=control-group\n" in text
    assert "Restart=no\n" in text
    assert "StartLimitBurst=10\n" in text
    assert "UMask=027\n" in text
    assert "KillSignal=SIGINT\n" in text
    assert "WantedBy=" not in text and "ExecReload" not in text


@pytest.mark.parametrize("name, command, why", [
    ("bad name", "/bin/true", "unit name"),
    ("../etc", "/bin/true", "unit name"),
    ("w", "", "one non-empty line"),
    ("w", "/bin/true\nExecStartPre=/bin/rm -rf /", "one non-empty line"),
])
def test_render_refuses_bad_names_and_commands(name, command, why):
    with pytest.raises(CommandExecutionError, match=why):
        sd.render_program(name, command)


def test_render_refuses_bad_signals():
    with pytest.raises(CommandExecutionError, match="reload_signal 'HUP; reboot'"):
        sd.render_program("w", "/bin/true", reload_signal="HUP; reboot")


def test_environment_with_a_line_break_is_refused_without_echo():
    with pytest.raises(CommandExecutionError) as excinfo:
        sd.render_program("w", "/bin/true", environment={"TOKEN": "s3cret\nExecStartPre=/bin/sh"})
    assert "TOKEN" in str(excinfo.value) and "s3cret" not in str(excinfo.value)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (Debian: systemd)")
def test_quoting_passes_systemds_own_parser(tmp_path):
    """systemd-analyze reads the rendered file: quotes, spaces, % and $ in arguments and in the
    environment parse without a complaint (a stray quote fails with 'Unbalanced quoting')."""
    argv = ["/bin/echo", "two words", 'a "quote"', "100%", "$HOME", "back\\slash", "name@%h", "it's"]
    env = {"A": "x y", "B": 'say "hi"', "C": "50%", "D": "$NOT_EXPANDED", "E": "back\\slash"}
    unit = tmp_path / "quoting-test.service"
    unit.write_text(sd.render_program("quoting-test", argv, environment=env))
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True,
                         check=False)
    assert (res.returncode, res.stdout + res.stderr) == (0, "")
    text = unit.read_text()
    assert 'ExecStart=/bin/echo "two words" "a \\"quote\\"" "100%%" "$$HOME" "back\\\\slash" "name@%%h" "it\'s"' in text
    assert 'Environment="C=50%%"' in text and 'Environment="B=say \\"hi\\""' in text


# ---------------------------------------------------------------- systemctl


def test_not_booted_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sd, "RUN_DIR", str(tmp_path / "absent"))
    assert sd.booted() is False
    with pytest.raises(CommandExecutionError, match="systemd is not PID 1 on this host"):
        sd.status()


@pytest.mark.parametrize("active, expected", [
    ("active", "RUNNING"), ("reloading", "RUNNING"), ("activating", "STARTING"),
    ("deactivating", "STOPPING"), ("inactive", "STOPPED"), ("failed", "FATAL"),
])
def test_status_maps_systemd_states(booted, run_all, active, expected):
    run_all.return_value = {"retcode": 0, "stdout": f"MainPID=412\nLoadState=loaded\nActiveState={active}\n",
                            "stderr": ""}
    assert sd.status("webapp-gunicorn") == {"webapp-gunicorn": {"state": expected, "pid": 412}}
    assert run_all.call_args.args[0] == ["systemctl", "show", "--property=LoadState,ActiveState,MainPID",
                                         "webapp-gunicorn.service"]


def test_unknown_unit_is_absent(booted, run_all):
    run_all.return_value = {"retcode": 0, "stdout": "MainPID=0\nLoadState=not-found\nActiveState=inactive\n",
                            "stderr": ""}
    assert sd.status("nope") == {}
    assert sd.state("nope") is None
    assert sd.pid("nope") is None


def test_update_reloads_enables_and_restarts(booted, run_all):
    sd.write_program("w", sd.render_program("w", "/bin/true"))
    sd.update("w")
    assert [c.args[0][1:] for c in run_all.call_args_list] == [
        ["daemon-reload"], ["enable", "--quiet", "w.service"], ["restart", "w.service"]]


def test_update_of_a_unit_not_wanted_at_boot_does_not_enable_it(booted, run_all):
    sd.write_program("w", sd.render_program("w", "/bin/true", autostart=False))
    sd.update("w")
    assert [c.args[0][1:] for c in run_all.call_args_list] == [["daemon-reload"], ["restart", "w.service"]]


def test_failing_systemctl_names_the_command(booted, run_all):
    run_all.return_value = {"retcode": 1, "stdout": "", "stderr": "Job for w.service failed."}
    with pytest.raises(CommandExecutionError, match=r"systemctl restart w.service failed: Job for w.service"):
        sd.restart("w")


def test_signal_goes_to_the_main_process(booted, run_all):
    sd.signal("w", "HUP")
    assert run_all.call_args.args[0] == ["systemctl", "kill", "--kill-whom=main", "--signal=SIGHUP", "w.service"]
    with pytest.raises(CommandExecutionError, match="expected a name such as HUP"):
        sd.signal("w", "9; reboot")


def test_remove_program_disables_deletes_and_reloads(booted, run_all):
    sd.write_program("w", sd.render_program("w", "/bin/true"))
    run_all.return_value = {"retcode": 0, "stdout": "MainPID=7\nLoadState=loaded\nActiveState=active\n",
                            "stderr": ""}
    assert sd.remove_program("w") is True
    assert sd.read_program("w") is None
    assert [c.args[0][1:] for c in run_all.call_args_list] == [
        ["show", "--property=LoadState,ActiveState,MainPID", "w.service"],
        ["disable", "--now", "w.service"], ["daemon-reload"], ["reset-failed", "w.service"]]


def test_write_program_is_0644_and_atomic(tmp_path):
    path = sd.write_program("w", "[Service]\nExecStart=/bin/true\n")
    assert path == str(tmp_path / "units" / "w.service")
    assert oct((tmp_path / "units" / "w.service").stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in (tmp_path / "units").iterdir()] == ["w.service"]


def test_verify_reports_systemds_message(run_all, monkeypatch):
    monkeypatch.setattr(sd.shutil, "which", lambda name: f"/usr/bin/{name}")
    run_all.return_value = {"retcode": 1, "stdout": "",
                            "stderr": "w.service: Command /nope is not executable: No such file or directory"}
    with pytest.raises(CommandExecutionError, match="does not pass systemd-analyze verify: .*/nope is not"):
        sd.verify("w", "[Service]\nExecStart=/nope\n")


# ---------------------------------------------------------------- the state, manager systemd


def _salt_for_state(mocks):
    funcs = {f"webstack_systemd.{n}": getattr(sd, n) for n in ("render_program", "read_program", "write_program",
                                                              "digest")}
    funcs.update({f"webstack_systemd.{n}": m for n, m in mocks.items()})
    proc_state.__salt__.clear()
    proc_state.__salt__.update(funcs)


def _control_mocks(state=None):
    mocks = {n: create_autospec(getattr(sd, n)) for n in ("status", "state", "pid", "wait", "wait_settled",
                                                          "update", "start", "restart", "signal", "verify",
                                                          "remove_program")}
    mocks["state"].return_value = state
    mocks["status"].side_effect = lambda name=None, conf_file=None: {name: {"state": state, "pid": None}} \
        if state and name else {}
    mocks["wait_settled"].return_value = "RUNNING"
    return mocks


def test_running_verifies_the_unit_before_it_goes_live():
    mocks = _control_mocks()
    _salt_for_state(mocks)
    ret = proc_state.running("w", ["/bin/sleep", "60"], manager="systemd", reload_signal="HUP", user="nobody")
    assert ret["result"] is True, ret["comment"]
    text = sd.render_program("w", ["/bin/sleep", "60"], reload_signal="HUP", user="nobody")
    mocks["verify"].assert_called_once_with("w", text)
    assert sd.read_program("w") == text  # ExecReload= is in the unit
    mocks["update"].assert_called_once_with("w", conf_file=None)
    assert ret["changes"]["state"] == {"old": "absent", "new": "RUNNING"}


def test_a_unit_that_fails_verify_is_not_written():
    mocks = _control_mocks(state="RUNNING")
    mocks["verify"].side_effect = CommandExecutionError("unit w.service does not pass systemd-analyze verify: x")
    _salt_for_state(mocks)
    ret = proc_state.running("w", "/nope/bin", manager="systemd")
    assert ret["result"] is False
    assert "does not pass systemd-analyze verify" in ret["comment"]
    assert ret["changes"] == {}
    assert sd.read_program("w") is None
    mocks["update"].assert_not_called()


def test_mod_watch_reloads_through_systemd():
    mocks = _control_mocks()
    mocks["pid"].side_effect = [300, 300]
    _salt_for_state(mocks)
    ret = proc_state.mod_watch("w", sfun="running", manager="systemd", reload_signal="HUP")
    mocks["signal"].assert_called_once_with("w", "HUP", conf_file=None)
    assert ret["changes"] == {"reload": {"old": None, "new": "reloaded with SIGHUP"}, "pid": {"old": 300, "new": 300}}


def test_absent_where_systemd_is_not_pid_1_changes_nothing():
    mocks = _control_mocks()
    mocks["status"].side_effect = CommandExecutionError("systemd is not PID 1 on this host")
    _salt_for_state(mocks)
    ret = proc_state.absent("w", manager="systemd")
    assert ret == {"name": "w", "result": True, "changes": {}, "comment": "Program w is absent"}


def test_unknown_manager_is_refused():
    ret = proc_state.running("w", "/bin/true", manager="runit")
    assert ret["result"] is False
    assert ret["comment"] == "manager 'runit': expected one of supervisord, systemd"
