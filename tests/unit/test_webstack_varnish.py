"""
webstack_varnish: what it makes of varnishadm's and varnishstat's answers and how it calls
them, with Salt's ``cmd.run_all`` as a fake Varnish. A real one: the cluster's Varnish test
(tests/integration/test_cluster.py).
"""

import json

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.clock import Clock
from tests.support.loader import load as _load

varnish = _load("modules", "webstack_varnish")
varnish_state = _load("states", "webstack_varnish")


class FakeVarnish:
    def __init__(self, active="boot", available=(), running=True):
        self.active, self.available, self.running = active, list(available), running
        self.calls = []

    def __call__(self, cmd, **kwargs):
        assert kwargs["python_shell"] is False
        self.calls.append(cmd)
        if not self.running:
            return {"retcode": 1, "stdout": "", "stderr": "Connection failed (127.0.0.1:6083): Connection refused"}
        if cmd[0] == "varnishstat":
            counters = {f: {"value": n} for f, n in (("MAIN.cache_hit", 7), ("MAIN.cache_miss", 2), ("MAIN.s_pass", 1))}
            return {"retcode": 0, "stdout": json.dumps({"version": 1, "counters": counters}), "stderr": ""}
        verb, args = cmd[5], cmd[6:]
        if verb == "vcl.list":
            lines = [f"active   auto   warm   3   {self.active}"] + [f"available   auto   warm   0   {n}"
                                                                      for n in self.available]
            return {"retcode": 0, "stdout": "\n".join(lines) + "\n", "stderr": ""}
        if verb == "vcl.load":
            self.available.append(args[0])
        elif verb == "vcl.use":
            self.available.remove(args[0])
            self.available.append(self.active)
            self.active = args[0]
        elif verb == "vcl.discard":
            self.available.remove(args[0])
        return {"retcode": 0, "stdout": "", "stderr": ""}


@pytest.fixture
def fake():
    return FakeVarnish()


@pytest.fixture
def configure_loader_modules(fake):
    return {varnish: {"__salt__": {"cmd.run_all": fake}},
            varnish_state: {"__salt__": {f"webstack_varnish.{f}": getattr(varnish, f)
                                         for f in ("vcl_name", "vcls", "load_vcl", "wait_ready")},
                            "__opts__": {"test": False}}}


@pytest.fixture
def vcl(tmp_path):
    path = tmp_path / "webstack.vcl"
    path.write_text("vcl 4.1;\nbackend pool { .host = \"127.0.0.1\"; .port = \"6082\"; }\n")
    return str(path)


def test_a_new_vcl_is_loaded_used_and_the_boot_one_discarded(fake, vcl):
    name = varnish.vcl_name(vcl)
    assert varnish.load_vcl(vcl) == {"old": "boot", "new": name}
    assert (fake.active, fake.available) == (name, [])
    assert varnish.load_vcl(vcl) is None
    assert all(call[:5] == ["varnishadm", "-T", "127.0.0.1:6083", "-S", "/etc/varnish/secret"] for call in fake.calls)


def test_a_vcl_loaded_before_is_used_again_without_a_second_load(fake, vcl):
    name = varnish.vcl_name(vcl)
    fake.available = [name, "webstack_000000000000"]
    varnish.load_vcl(vcl)
    assert [c[5] for c in fake.calls] == ["vcl.list", "vcl.use", "vcl.discard", "vcl.discard"]
    assert fake.available == []


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_the_state_changes_only_what_differs(fake, vcl, test):
    varnish_state.__opts__["test"] = test
    ret = varnish_state.vcl_active(vcl)
    assert ret["result"] is (None if test else True)
    assert ret["changes"] == {"vcl": {"old": "boot", "new": varnish.vcl_name(vcl)}}
    if not test:
        assert varnish_state.vcl_active(vcl)["changes"] == {}


def test_before_varnish_runs_test_mode_predicts_the_load_and_a_real_run_fails_naming_the_port(fake, vcl,
                                                                                            monkeypatch):
    monkeypatch.setattr(varnish, "time", Clock())
    fake.running = False
    varnish_state.__opts__["test"] = True
    ret = varnish_state.vcl_active(vcl)
    assert ret["result"] is None and ret["changes"]["vcl"]["new"] == vcl
    varnish_state.__opts__["test"] = False
    ret = varnish_state.vcl_active(vcl)
    assert ret["result"] is False and "does not answer on 127.0.0.1:6083" in ret["comment"]


def test_stats_reads_the_nested_counters(fake):
    assert varnish.stats() == {"hit": 7, "miss": 2, "pass": 1}


def test_ban_bans_every_object(fake):
    assert varnish.ban(admin_port=7000, secret="/etc/s") is True
    assert fake.calls[-1] == ["varnishadm", "-T", "127.0.0.1:7000", "-S", "/etc/s", "ban", "obj.status", "!=", "0"]


@pytest.mark.parametrize("port", [0, "6083", True, 70000])
def test_a_bad_admin_port_is_refused_before_anything_runs(fake, port):
    with pytest.raises(CommandExecutionError, match="admin_port must be a port number"):
        varnish.vcls(admin_port=port)
    assert fake.calls == []
