"""
webstack_celery: the worker's ping and the wait for it, with ``webstack_release.execute``
(the command in the release) and the process manager's state as autospec mocks; the
log is a real file.
"""

import json
from unittest.mock import create_autospec

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.loader import load as _load

celery_mod = _load("modules", "webstack_celery")

NODE = "webapp@worker1"


def _execute(base_dir, command, settings_file=None, env=None, runas=None, timeout=1800):
    raise NotImplementedError


def _state(name, conf_file=None):
    raise NotImplementedError


@pytest.fixture
def execute():
    return create_autospec(_execute)


@pytest.fixture
def state():
    return create_autospec(_state, return_value="RUNNING")


@pytest.fixture
def configure_loader_modules(execute, state):
    return {celery_mod: {"__salt__": {"webstack_release.execute": execute, "webstack_supervisor.state": state}}}


def _answer(retcode, stdout="", stderr=""):
    return {"release": "r1", "retcode": retcode, "stdout": stdout, "stderr": stderr}


def test_ping_asks_the_node_from_the_release_and_reads_its_pong(execute):
    execute.return_value = _answer(0, "-> webapp@worker1: OK\n" + json.dumps({NODE: {"ok": "pong"}}))
    assert celery_mod.ping("/srv/webapp", "config.celery_app", NODE, runas="webapp")["ok"] is True
    command = execute.call_args.args[1]
    assert command.startswith("python -m celery --app config.celery_app inspect ping --destination webapp@worker1")
    assert execute.call_args.kwargs["runas"] == "webapp"


@pytest.mark.parametrize("answer", [
    _answer(1, "", "Error: No nodes replied within time constraint"),
    _answer(0, json.dumps({"webapp@other": {"ok": "pong"}})),
    _answer(0, "not json"),
])
def test_no_pong_from_this_node_is_not_ok(execute, answer):
    execute.return_value = answer
    assert celery_mod.ping("/srv/webapp", "config.celery_app", NODE)["ok"] is False


def test_a_node_name_with_a_shell_character_is_refused_before_anything_runs(execute):
    with pytest.raises(CommandExecutionError, match="node"):
        celery_mod.ping("/srv/webapp", "config.celery_app", "webapp@x;reboot")
    execute.assert_not_called()


def test_a_worker_given_up_fails_at_once_with_its_program_and_log(execute, state, tmp_path):
    log = tmp_path / "webapp-celery.log"
    log.write_text("".join(f"line {i}\n" for i in range(30)) + "ModuleNotFoundError: No module named 'nope'\n")
    execute.return_value = _answer(1, "", "Error: No nodes replied within time constraint")
    state.return_value = "FATAL"
    with pytest.raises(CommandExecutionError) as err:
        celery_mod.wait_ready("/srv/webapp", "config.celery_app", "webapp-celery", node=NODE,
                              log_file=str(log), timeout=60, interval=0)
    text = str(err.value)
    assert "Celery worker webapp-celery does not answer a ping as webapp@worker1" in text
    assert "it died (supervisord: FATAL)" in text
    assert text.endswith("ModuleNotFoundError: No module named 'nope'") and "line 10" not in text
    assert execute.call_count == 1


def test_a_worker_that_starts_late_is_waited_for(execute, state):
    execute.side_effect = [_answer(1), _answer(1), _answer(0, json.dumps({NODE: {"ok": "pong"}}))]
    state.return_value = "STARTING"
    res = celery_mod.wait_ready("/srv/webapp", "config.celery_app", "webapp-celery", node=NODE, timeout=60,
                                interval=0)
    assert res["tries"] == 3 and res["node"] == NODE


def test_a_worker_that_died_and_waits_to_restart_fails_at_once(execute, state):
    execute.return_value = _answer(1)
    state.return_value = "BACKOFF"
    with pytest.raises(CommandExecutionError, match=r"it died \(supervisord: BACKOFF\)"):
        celery_mod.wait_ready("/srv/webapp", "config.celery_app", "webapp-celery", node=NODE, timeout=60,
                              interval=0)
    assert execute.call_count == 1


def test_a_worker_still_starting_at_the_deadline_fails(execute, state):
    execute.return_value = _answer(1)
    state.return_value = "RUNNING"
    with pytest.raises(CommandExecutionError, match=r"not within 0 s \(supervisord: RUNNING\)"):
        celery_mod.wait_ready("/srv/webapp", "config.celery_app", "webapp-celery", node=NODE, timeout=0,
                              interval=0)
