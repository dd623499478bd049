"""
Unit tests of ``_modules/webstack_supervisor.py`` and ``_states/webstack_process.py`` (manager supervisord):
the rendered config as supervisord itself parses it, ``supervisorctl status``
parsing from real output, and the state's decisions with the control
functions replaced by autospec'd mocks.
"""

import pathlib
import shlex
from unittest.mock import create_autospec

import pytest
from salt.exceptions import CommandExecutionError
from supervisor.options import ServerOptions

from tests.support.loader import load as _load

sup = _load("modules", "webstack_supervisor")
sup_state = _load("states", "webstack_process")

CTL = "/usr/local/bin/supervisorctl-under-test"
CONF = "/etc/supervisor/supervisord.conf"


@pytest.fixture
def configure_loader_modules(run_all, tmp_path):
    ctl = tmp_path / "supervisorctl"
    ctl.write_text("#!/bin/sh\nexit 99\n")  # exists, never run: cmd.run_all is mocked
    opts = {
        "test": False,
        "webstack_supervisor.conf_dir": str(tmp_path / "conf.d"),
        "webstack_supervisor.supervisorctl": str(ctl),
        "webstack_supervisor.conf_file": CONF,
    }
    return {
        sup: {"__opts__": opts, "__salt__": {"cmd.run_all": run_all}},
        sup_state: {"__opts__": dict(opts), "__salt__": {}},
    }


def _parse_with_supervisord(tmp_path, program_text):
    """Let supervisord's own config parser read a rendered program; returns its ProcessConfig."""
    main = tmp_path / "supervisord.conf"
    main.write_text(f"[supervisord]\nlogfile={tmp_path}/supervisord.log\n\n" + program_text)
    options = ServerOptions()
    options.realize(args=["-c", str(main)])
    (group,) = options.process_group_configs
    (process,) = group.process_configs
    return process


# ---------------------------------------------------------------- render_program


def test_render_program_full_text():
    text = sup.render_program(
        "webapp-gunicorn",
        ["/srv/webapp/current/venv/bin/python", "-m", "gunicorn", "app.wsgi"],
        directory="/srv/webapp/current/src",
        user="webapp",
        environment={"B": "2", "A": "1"},
        stdout_logfile="/var/log/webstack/webapp-gunicorn.log",
        stopsignal="QUIT",
    )
    assert text == (
        "; Managed by Salt (webstack): local changes are overwritten.\n"
        "[program:webapp-gunicorn]\n"
        "command=/srv/webapp/current/venv/bin/python -m gunicorn app.wsgi\n"
        "directory=/srv/webapp/current/src\n"
        "user=webapp\n"
        'environment=A="1",B="2"\n'
        "autostart=true\n"
        "autorestart=true\n"
        "startsecs=1\n"
        "startretries=3\n"
        "stopsignal=QUIT\n"
        "stopwaitsecs=10\n"
        "stopasgroup=false\n"
        "killasgroup=true\n"
        "priority=999\n"
        "redirect_stderr=true\n"
        "stdout_logfile=/var/log/webstack/webapp-gunicorn.log\n"
        "stdout_logfile_maxbytes=50MB\n"
        "stdout_logfile_backups=5\n"
    )


def test_render_program_without_logfile_has_no_logfile_lines():
    text = sup.render_program("w", "/bin/sleep 60")
    assert "stdout_logfile" not in text
    assert "environment=" not in text
    assert "directory=" not in text
    assert "command=/bin/sleep 60\n" in text


def test_argv_quoting_survives_supervisord_parsing(tmp_path):
    argv = [
        "/srv/app/venv/bin/gunicorn",
        "--access-logformat",
        '%(h)s "%(r)s" %(s)s',
        "--name",
        "it's mine",
        "--bind",
        "unix:/run/webapp/wsgi.sock",
        "",
    ]
    text = sup.render_program("web", argv)
    assert "command=/srv/app/venv/bin/gunicorn --access-logformat '%%(h)s \"%%(r)s\" %%(s)s'" in text
    process = _parse_with_supervisord(tmp_path, text)
    assert shlex.split(process.command) == argv


def test_string_command_percent_is_escaped(tmp_path):
    text = sup.render_program("web", "/bin/echo 100%")
    assert "command=/bin/echo 100%%\n" in text
    assert _parse_with_supervisord(tmp_path, text).command == "/bin/echo 100%"


def test_environment_escaping_survives_supervisord_parsing(tmp_path):
    environment = {
        "DATABASE_URL": "postgres://webapp:p%40ss@db.internal:5432/webapp",
        "GREETING": 'say "hi" now',
        "LIST": "a,b=c d",
        "WINDOWS_PATH": "C:\\temp\\",
        "APOSTROPHE": "it's",
        "EXPANSION": "%(ENV_HOME)s",
        "WORKERS": 3,
        "DEBUG": False,
    }
    text = sup.render_program("web", ["/bin/sleep", "60"], environment=environment)
    (env_line,) = [line for line in text.splitlines() if line.startswith("environment=")]
    assert '"postgres://webapp:p%%40ss@db.internal:5432/webapp"' in env_line
    assert "%%(ENV_HOME)s" in env_line
    process = _parse_with_supervisord(tmp_path, text)
    assert process.environment == {k: str(v) for k, v in environment.items()}


@pytest.mark.parametrize("value", ['it\'s "quoted" here', '"leading-quote', "trailing-quote'"])
def test_environment_value_supervisord_cannot_hold_is_refused_without_echo(value):
    with pytest.raises(CommandExecutionError) as excinfo:
        sup.render_program("web", "/bin/true", environment={"TOKEN": value})
    assert "TOKEN" in str(excinfo.value)
    assert value not in str(excinfo.value)


@pytest.mark.parametrize(
    "name, command",
    [("bad name", "/bin/true"), ("../etc/passwd", "/bin/true"), ("web", "/bin/true\n/bin/false"), ("web", "")],
)
def test_render_program_rejects_bad_names_and_commands(name, command):
    with pytest.raises(CommandExecutionError):
        sup.render_program(name, command)


def test_program_path_uses_conf_dir_option_or_argument(tmp_path):
    assert sup.program_path("web") == str(tmp_path / "conf.d" / "web.conf")
    assert sup.program_path("web", conf_dir="/etc/other") == "/etc/other/web.conf"


def test_write_and_read_program(tmp_path):
    assert sup.read_program("web") is None
    path = sup.write_program("web", "[program:web]\ncommand=/bin/true\n")
    assert path == str(tmp_path / "conf.d" / "web.conf")
    assert sup.read_program("web") == "[program:web]\ncommand=/bin/true\n"
    assert oct(pathlib.Path(path).stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in (tmp_path / "conf.d").iterdir()] == ["web.conf"]  # no temp file left


# ---------------------------------------------------------------- status parsing

# `supervisorctl status` of supervisor 4.x, as printed (exit code 3: some not running)
STATUS_ALL = """\
webapp-celery                    RUNNING   pid 4242, uptime 2 days, 3:04:05
webapp-gunicorn                  STARTING  
webapp-flower                    STOPPED   Nov 26 09:00 PM
webapp-rq                        FATAL     Exited too quickly (process log may have details)
webapp-beat                      BACKOFF   Exited too quickly (process log may have details)
webapp-old                       EXITED    Nov 26 08:59 PM
webapp-stopping                  STOPPING  pid 77, uptime 0:00:09
"""


def test_status_parses_every_state(run_all):
    run_all.return_value = {"retcode": 3, "stdout": STATUS_ALL, "stderr": ""}
    assert sup.status() == {
        "webapp-celery": {"state": "RUNNING", "pid": 4242},
        "webapp-gunicorn": {"state": "STARTING", "pid": None},
        "webapp-flower": {"state": "STOPPED", "pid": None},
        "webapp-rq": {"state": "FATAL", "pid": None},
        "webapp-beat": {"state": "BACKOFF", "pid": None},
        "webapp-old": {"state": "EXITED", "pid": None},
        "webapp-stopping": {"state": "STOPPING", "pid": 77},
    }
    (args, kwargs), = run_all.call_args_list
    assert args[0][1:] == ["-c", CONF, "status"]
    assert kwargs["python_shell"] is False


def test_status_of_one_program_and_its_pid(run_all):
    run_all.return_value = {
        "retcode": 0,
        "stdout": "webapp-gunicorn                  RUNNING   pid 31337, uptime 0:10:00\n",
        "stderr": "",
    }
    assert sup.state("webapp-gunicorn") == "RUNNING"
    assert sup.pid("webapp-gunicorn") == 31337
    assert run_all.call_args.args[0][-2:] == ["status", "webapp-gunicorn"]


def test_status_of_unknown_program_is_empty(run_all):
    run_all.return_value = {"retcode": 4, "stdout": "nope: ERROR (no such process)", "stderr": ""}
    assert sup.status("nope") == {}
    assert sup.state("nope") is None
    assert sup.pid("nope") is None


@pytest.mark.parametrize(
    "output",
    ["unix:///var/run/supervisor.sock no such file", "http://localhost:9001 refused connection"],
)
def test_status_when_supervisord_is_down_raises(run_all, output):
    run_all.return_value = {"retcode": 4, "stdout": output, "stderr": ""}
    with pytest.raises(CommandExecutionError, match="supervisord is not reachable"):
        sup.status()


def test_spawn_error_of_a_program_is_not_reported_as_supervisord_down(run_all):
    # supervisorctl's answer when the program's executable does not exist
    run_all.return_value = {"retcode": 7, "stdout": "web: ERROR (no such file)", "stderr": ""}
    with pytest.raises(CommandExecutionError) as excinfo:
        sup.start("web")
    assert "could not start web" in str(excinfo.value)
    assert "not reachable" not in str(excinfo.value)


def test_missing_supervisorctl_is_reported(run_all):
    sup.__opts__["webstack_supervisor.supervisorctl"] = "/nonexistent/supervisorctl"
    with pytest.raises(CommandExecutionError, match="/nonexistent/supervisorctl not found"):
        sup.status()
    run_all.assert_not_called()


def test_start_tolerates_already_started_and_stop_not_running(run_all):
    run_all.return_value = {"retcode": 7, "stdout": "web: ERROR (already started)", "stderr": ""}
    assert sup.start("web") == "web: ERROR (already started)"
    run_all.return_value = {"retcode": 7, "stdout": "web: ERROR (not running)", "stderr": ""}
    assert sup.stop("web") == "web: ERROR (not running)"
    run_all.return_value = {"retcode": 7, "stdout": "web: ERROR (spawn error)", "stderr": ""}
    with pytest.raises(CommandExecutionError, match="could not start web: web: ERROR \\(spawn error\\)"):
        sup.start("web")


def test_signal_and_update_commands(run_all):
    run_all.return_value = {"retcode": 0, "stdout": "web: signalled", "stderr": ""}
    sup.signal("web", "HUP")
    sup.update("web")
    assert [c.args[0][3:] for c in run_all.call_args_list] == [
        ["signal", "HUP", "web"],
        ["reread"],
        ["update", "web"],
    ]
    with pytest.raises(CommandExecutionError, match="expected a name such as HUP"):
        sup.signal("web", "HUP; reboot")


# ---------------------------------------------------------------- state: running


def _control_mocks(status=None):
    """Autospec'd stand-ins for every function that talks to supervisord."""
    mocks = {
        name: create_autospec(getattr(sup, name))
        for name in ("status", "state", "pid", "wait", "wait_settled", "update", "start", "stop",
                     "restart", "signal", "remove_program")
    }
    status = status or {}
    mocks["status"].return_value = status
    mocks["state"].side_effect = lambda name, conf_file=None: status.get(name, {}).get("state")
    return mocks


def _salt_for_state(mocks):
    funcs = {
        f"webstack_supervisor.{name}": getattr(sup, name)
        for name in ("render_program", "read_program", "write_program", "digest", "program_path")
    }
    funcs.update({f"webstack_supervisor.{name}": mock for name, mock in mocks.items()})
    sup_state.__salt__.clear()
    sup_state.__salt__.update(funcs)


def test_running_in_test_mode_predicts_config_change_and_writes_nothing(tmp_path):
    old = sup.render_program("web", ["/bin/sleep", "60"])
    sup.write_program("web", old)
    mocks = _control_mocks({"web": {"state": "RUNNING", "pid": 10}})
    _salt_for_state(mocks)
    sup_state.__opts__["test"] = True

    ret = sup_state.running("web", ["/bin/sleep", "61"])

    new = sup.render_program("web", ["/bin/sleep", "61"])
    assert ret["result"] is None
    assert ret["changes"] == {"config": {"old": sup.digest(old), "new": sup.digest(new)}}
    assert ret["comment"] == "Program web would be rewritten and restarted"
    assert sup.read_program("web") == old
    for name in ("wait", "update", "start", "restart", "signal", "wait_settled"):
        mocks[name].assert_not_called()


def test_running_in_test_mode_with_supervisord_not_installed_yet(tmp_path):
    mocks = _control_mocks()
    mocks["status"].side_effect = CommandExecutionError("supervisorctl not found")
    _salt_for_state(mocks)
    sup_state.__opts__["test"] = True

    ret = sup_state.running("web", "/bin/sleep 60", conf_dir=str(tmp_path / "other"))

    assert ret["result"] is None
    assert ret["changes"] == {
        "config": {"old": None, "new": sup.digest(sup.render_program("web", "/bin/sleep 60"))},
        "state": {"old": "absent", "new": "RUNNING"},
    }
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_running_without_differences_changes_nothing(test):
    sup.write_program("web", sup.render_program("web", "/bin/sleep 60", user="nobody"))
    mocks = _control_mocks({"web": {"state": "RUNNING", "pid": 10}})
    _salt_for_state(mocks)
    sup_state.__opts__["test"] = test

    ret = sup_state.running("web", "/bin/sleep 60", user="nobody", reload_signal="HUP")

    assert ret == {"name": "web", "result": True, "changes": {},
                   "comment": "Program web is configured and running"}
    mocks["update"].assert_not_called()


def test_running_writes_then_updates_then_rechecks():
    mocks = _control_mocks({})
    mocks["wait_settled"].return_value = "RUNNING"
    _salt_for_state(mocks)

    ret = sup_state.running("web", "/bin/sleep 60", startsecs=2, conf_file="/etc/s.conf")

    assert ret["result"] is True
    assert ret["changes"]["state"] == {"old": "absent", "new": "RUNNING"}
    assert ret["changes"]["config"]["old"] is None
    assert sup.read_program("web") == sup.render_program("web", "/bin/sleep 60", startsecs=2)
    mocks["update"].assert_called_once_with("web", conf_file="/etc/s.conf")
    mocks["wait_settled"].assert_called_with("web", timeout=32, conf_file="/etc/s.conf")
    mocks["start"].assert_not_called()


def test_running_reports_a_program_that_does_not_stay_up():
    mocks = _control_mocks({})
    mocks["wait_settled"].return_value = "FATAL"
    _salt_for_state(mocks)

    ret = sup_state.running("web", "/bin/false")

    assert ret["result"] is False
    assert ret["comment"] == "Program web is FATAL after the update; see its log"
    assert ret["changes"]["state"] == {"old": "absent", "new": "FATAL"}
    mocks["restart"].assert_called_once_with("web", conf_file=None)


def test_running_restarts_a_crash_looping_program_whose_config_is_unchanged():
    """supervisord retrying a crash (BACKOFF) answers a start with 'already started': the
    state restarts the program instead, so that it runs the release current now."""
    sup.write_program("web", sup.render_program("web", "/bin/sleep 60"))
    mocks = _control_mocks({"web": {"state": "BACKOFF", "pid": None}})
    mocks["wait_settled"].return_value = "RUNNING"
    _salt_for_state(mocks)

    ret = sup_state.running("web", "/bin/sleep 60")

    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"state": {"old": "BACKOFF", "new": "RUNNING"}}
    mocks["restart"].assert_called_once_with("web", conf_file=None)
    mocks["update"].assert_not_called()
    mocks["start"].assert_not_called()


def test_a_crash_looping_program_that_still_dies_is_restarted_once_and_reported():
    sup.write_program("web", sup.render_program("web", "/bin/false"))
    mocks = _control_mocks({"web": {"state": "BACKOFF", "pid": None}})
    mocks["wait_settled"].return_value = "BACKOFF"
    _salt_for_state(mocks)

    ret = sup_state.running("web", "/bin/false")

    assert ret["result"] is False
    assert ret["comment"] == "Program web is BACKOFF after the update; see its log"
    mocks["restart"].assert_called_once_with("web", conf_file=None)


def test_a_program_that_does_not_stay_up_shows_the_end_of_its_log(tmp_path):
    """The failure names the program and shows the last 20 lines of its log (an import
    error, say), so that the operator needs no second look."""
    log = tmp_path / "web.log"
    log.write_text("".join(f"line {i}\n" for i in range(40)) + "ModuleNotFoundError: No module named 'nope'\n")
    mocks = _control_mocks({})
    mocks["wait_settled"].return_value = "BACKOFF"
    _salt_for_state(mocks)

    ret = sup_state.running("web", "/bin/false", stdout_logfile=str(log))

    assert ret["result"] is False
    assert ret["comment"].startswith(f"Program web is BACKOFF after the update; the last lines of {log}:\nline 21\n")
    assert ret["comment"].endswith("ModuleNotFoundError: No module named 'nope'")


def test_running_with_bad_environment_fails_without_writing():
    mocks = _control_mocks({})
    _salt_for_state(mocks)
    ret = sup_state.running("web", "/bin/true", environment={"TOKEN": "s3cr'et\""})
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert "TOKEN" in ret["comment"]
    assert "s3cr" not in ret["comment"]
    assert sup.read_program("web") is None


# ---------------------------------------------------------------- state: mod_watch


def test_mod_watch_with_reload_signal_sends_it_and_keeps_the_pid():
    mocks = _control_mocks()
    mocks["pid"].side_effect = [4242, 4242]
    _salt_for_state(mocks)

    ret = sup_state.mod_watch("web", sfun="running", reload_signal="HUP", conf_file=CONF,
                              command="/bin/sleep 60")

    mocks["signal"].assert_called_once_with("web", "HUP", conf_file=CONF)
    mocks["restart"].assert_not_called()
    assert ret["result"] is True
    assert ret["changes"] == {"reload": {"old": None, "new": "reloaded with SIGHUP"},
                              "pid": {"old": 4242, "new": 4242}}
    assert ret["comment"] == "Program web reloaded with SIGHUP"


def test_mod_watch_without_reload_signal_restarts():
    mocks = _control_mocks()
    mocks["pid"].side_effect = [4242, 5353]
    _salt_for_state(mocks)

    ret = sup_state.mod_watch("web", sfun="running", command="/bin/sleep 60")

    mocks["restart"].assert_called_once_with("web", conf_file=None)
    mocks["signal"].assert_not_called()
    assert ret["result"] is True
    assert ret["changes"] == {"reload": {"old": None, "new": "restarted"}, "pid": {"old": 4242, "new": 5353}}


def test_mod_watch_with_reload_signal_starts_a_stopped_program():
    mocks = _control_mocks()
    mocks["pid"].side_effect = [None, 6000]
    _salt_for_state(mocks)

    ret = sup_state.mod_watch("web", sfun="running", reload_signal="HUP")

    mocks["signal"].assert_not_called()
    mocks["restart"].assert_called_once_with("web", conf_file=None)
    assert ret["changes"]["pid"] == {"old": None, "new": 6000}


def test_mod_watch_in_test_mode_touches_nothing():
    mocks = _control_mocks()
    _salt_for_state(mocks)
    sup_state.__opts__["test"] = True

    ret = sup_state.mod_watch("web", sfun="running", reload_signal="HUP")

    assert ret["result"] is None
    assert ret["changes"] == {"reload": {"old": None, "new": "reloaded with SIGHUP"}}
    assert mocks["pid"].call_args_list == []
    mocks["signal"].assert_not_called()
    mocks["restart"].assert_not_called()


def test_mod_watch_fails_when_program_is_gone_after_restart():
    mocks = _control_mocks()
    mocks["pid"].side_effect = [4242, None]
    _salt_for_state(mocks)

    ret = sup_state.mod_watch("web", sfun="running")

    assert ret["result"] is False
    assert ret["comment"] == "Program web is not running after being restarted"


def test_mod_watch_for_absent_does_nothing():
    mocks = _control_mocks()
    _salt_for_state(mocks)
    ret = sup_state.mod_watch("web", sfun="absent")
    assert ret["result"] is True
    assert ret["changes"] == {}
    assert mocks["pid"].call_args_list == []


# ---------------------------------------------------------------- state: absent


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_absent_of_unknown_program_changes_nothing(test):
    mocks = _control_mocks({})
    _salt_for_state(mocks)
    sup_state.__opts__["test"] = test
    ret = sup_state.absent("web")
    assert ret == {"name": "web", "result": True, "changes": {}, "comment": "Program web is absent"}
    mocks["remove_program"].assert_not_called()


def test_absent_in_test_mode_predicts_removal():
    sup.write_program("web", "[program:web]\ncommand=/bin/true\n")
    mocks = _control_mocks({"web": {"state": "RUNNING", "pid": 3}})
    _salt_for_state(mocks)
    sup_state.__opts__["test"] = True

    ret = sup_state.absent("web")

    assert ret["result"] is None
    assert ret["changes"] == {"program": {"old": "RUNNING", "new": "absent"}}
    mocks["remove_program"].assert_not_called()
    assert sup.read_program("web") is not None


def test_remove_program_deletes_file_and_updates(run_all):
    sup.write_program("web", "[program:web]\ncommand=/bin/true\n")
    run_all.side_effect = [
        {"retcode": 0, "stdout": "web                              RUNNING   pid 12, uptime 0:00:05", "stderr": ""},
        {"retcode": 0, "stdout": "web: disappeared", "stderr": ""},
        {"retcode": 0, "stdout": "web: stopped\nweb: removed process group", "stderr": ""},
    ]
    assert sup.remove_program("web") is True
    assert sup.read_program("web") is None
    assert [c.args[0][3:] for c in run_all.call_args_list] == [["status", "web"], ["reread"], ["update", "web"]]
