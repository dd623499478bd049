"""
webstack_nginx: the server list's format and checks, edge cases a real Nginx does not
reach (tests/functional/test_nginx_lb.py drives a real one).
"""

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.loader import load as _load

nginx = _load("modules", "webstack_nginx")

WANTED = [{"name": "app1", "address": "10.0.0.3", "port": 80}, {"name": "app2", "address": "10.0.0.4", "port": 80}]


def test_a_missing_file_lists_no_server_and_an_empty_list_keeps_nginx_valid(tmp_path):
    path = str(tmp_path / "upstream.conf")
    assert nginx.servers(path) == []
    text = nginx.render([])
    assert text.endswith("server 127.0.0.1:9 down; # none\n")
    (tmp_path / "upstream.conf").write_text(text)
    assert nginx.servers(path) == []


def test_plan_keeps_a_drained_node_drained_and_drops_a_removed_one(tmp_path):
    path = tmp_path / "upstream.conf"
    entries = nginx.plan(str(path), WANTED + [{"name": "app3", "address": "10.0.0.5", "port": 80}], 3, "10s")
    entries[1]["down"] = True
    entries[2]["down"] = True
    path.write_text(nginx.render(entries))
    again = nginx.plan(str(path), WANTED, 3, "10s")
    assert [(e["name"], e["down"]) for e in again] == [("app1", False), ("app2", True)]
    assert nginx.servers(str(path)) == entries


def test_a_line_the_module_did_not_write_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "upstream.conf"
    path.write_text(nginx.render(nginx.plan(str(path), WANTED)) + "server 10.9.9.9:80 backup;\n")
    with pytest.raises(CommandExecutionError, match=r"upstream.conf:4: not a line this module writes"):
        nginx.servers(str(path))


@pytest.mark.parametrize("server, message", [
    ("app1", "must be a mapping"),
    ({"name": "app1", "address": "10.0.0.256", "port": 80}, "must be an IPv4 address"),
    ({"name": "app1", "address": "::1", "port": 80}, "must be an IPv4 address"),
    ({"name": "-app1", "address": "10.0.0.3", "port": 80}, "must be a minion id"),
    ({"name": "app1", "address": "10.0.0.3", "port": True}, "from 1 to 65535"),
    ({"name": "app1", "address": "10.0.0.3", "port": 0}, "from 1 to 65535"),
])
def test_a_bad_server_is_refused(tmp_path, server, message):
    with pytest.raises(CommandExecutionError, match=message):
        nginx.plan(str(tmp_path / "upstream.conf"), [server])


@pytest.mark.parametrize("max_fails, fail_timeout, message", [
    (True, "10s", "max_fails"), (101, "10s", "max_fails"), (3, "10", "fail_timeout"), (3, "1h", "fail_timeout"),
])
def test_bad_options_are_refused(tmp_path, max_fails, fail_timeout, message):
    with pytest.raises(CommandExecutionError, match=message):
        nginx.plan(str(tmp_path / "upstream.conf"), WANTED, max_fails, fail_timeout)


def test_set_down_refuses_a_name_that_is_not_a_minion_id_before_reading_anything(tmp_path):
    with pytest.raises(CommandExecutionError, match="must be a minion id"):
        nginx.set_down(str(tmp_path / "nothing-here"), "app1 down; server evil", True)


def test_reload_without_a_running_nginx_says_so(tmp_path):
    with pytest.raises(CommandExecutionError, match="Nginx is not running"):
        nginx.reload(pidfile=str(tmp_path / "nginx.pid"))
