"""
webstack_haproxy: the edge of "HAProxy is not running" (a real HAProxy: tests/functional/test_haproxy.py).
"""

import socket

from tests.support.loader import load as _load

haproxy = _load("modules", "webstack_haproxy")


def test_a_stopped_haproxy_has_no_server_whether_its_socket_file_is_gone_or_left_behind(tmp_path):
    haproxy.__opts__ = {}
    path = str(tmp_path / "admin.sock")
    assert haproxy.has_server("app", "app1", socket=path) is False
    assert haproxy.running(socket=path) is False
    assert haproxy.save_state(str(tmp_path / "server-state"), socket=path) is None  # nothing to keep
    left = socket.socket(socket.AF_UNIX)
    left.bind(path)  # the file of a socket that nobody listens on any more
    left.close()
    assert haproxy.has_server("app", "app1", socket=path) is False
    assert haproxy.running(socket=path) is False
    assert haproxy.save_state(str(tmp_path / "server-state"), socket=path) is None  # nothing to keep
