"""
webstack_glusterfs: what it makes of ``gluster volume info --xml`` and how it calls gluster,
with Salt's ``cmd.run_all`` as a fake glusterd. A real one: the engines cluster's uploads test
(tests/integration/test_cluster_engines.py).
"""

import pytest

from tests.support.clock import Clock
from tests.support.loader import load as _load

gluster = _load("modules", "webstack_glusterfs")
gluster_state = _load("states", "webstack_glusterfs")

BRICK = "10.0.0.5:/srv/glusterfs/uploads"
# glusterfs 11.1's answers (Debian 13), cut to what is read
MISSING = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>-1</opRet><opErrno>30806</opErrno><opErrstr>Volume does not exist</opErrstr>
<volInfo><volumes><count>0</count></volumes></volInfo></cliOutput>"""
INFO = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><volInfo><volumes><volume>
<name>uploads</name><status>{code}</status><statusStr>{status}</statusStr><brickCount>1</brickCount>
<bricks><brick uuid="d1d3">{brick}<name>{brick}</name><hostUuid>d1d3</hostUuid><isArbiter>0</isArbiter></brick></bricks>
<optCount>2</optCount><options>{options}
<option><name>nfs.disable</name><value>on</value></option></options>
</volume><count>1</count></volumes></volInfo></cliOutput>"""


class FakeGluster:
    def __init__(self, status=None, brick=BRICK, allow=None, running=True):
        self.status, self.brick, self.allow, self.running = status, brick, allow, running
        self.calls = []

    def __call__(self, cmd, **kwargs):
        assert kwargs["python_shell"] is False and cmd[:2] == ["gluster", "--mode=script"]
        self.calls.append(cmd[2:])
        if not self.running:
            return {"retcode": 1, "stdout": "", "stderr": "Connection failed. Please check if gluster daemon is "
                                                          "operational."}
        verb = cmd[2:4]
        if verb == ["volume", "info"]:
            if self.status is None:
                return {"retcode": 0, "stdout": MISSING, "stderr": ""}
            option = f"<option><name>auth.allow</name><value>{self.allow}</value></option>" if self.allow else ""
            code = {"Created": 0, "Started": 1, "Stopped": 2}[self.status]
            return {"retcode": 0, "stdout": INFO.format(code=code, status=self.status, brick=self.brick,
                                                        options=option), "stderr": ""}
        if verb == ["volume", "create"]:
            self.status, self.brick = "Created", cmd[5]
        elif verb == ["volume", "start"]:
            self.status = "Started"
        elif verb == ["volume", "set"]:
            self.allow = cmd[6]
        return {"retcode": 0, "stdout": "", "stderr": ""}


@pytest.fixture
def fake():
    return FakeGluster()


@pytest.fixture
def configure_loader_modules(fake):
    return {gluster: {"__salt__": {"cmd.run_all": fake}},
            gluster_state: {"__salt__": {f"webstack_glusterfs.{f}": getattr(gluster, f)
                                         for f in ("volume", "create", "start", "set_option", "wait_ready")},
                            "__opts__": {"test": False}}}


def test_info_reads_status_bricks_and_options(fake):
    fake.status, fake.allow = "Started", "10.0.0.7,10.0.0.8"
    assert gluster.volume("uploads") == {"name": "uploads", "status": "Started", "bricks": [BRICK],
                                         "options": {"auth.allow": "10.0.0.7,10.0.0.8", "nfs.disable": "on"}}
    fake.status = None
    assert gluster.volume("uploads") is None


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_a_new_volume_is_created_restricted_and_started_then_nothing_changes(fake, test):
    gluster_state.__opts__["test"] = test
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7", "10.0.0.8"])
    assert ret["result"] is (None if test else True), ret
    assert ret["changes"] == {"status": {"old": None, "new": "Started"},
                              "auth.allow": {"old": "*", "new": "10.0.0.7,10.0.0.8"}}
    if test:
        assert [c[:2] for c in fake.calls] == [["volume", "info"]]
        return
    assert [c[:2] for c in fake.calls[1:]] == [["volume", "info"], ["volume", "create"], ["volume", "set"],
                                               ["volume", "start"]]
    assert fake.calls[2] == ["volume", "create", "uploads", BRICK]  # no force: not on the root filesystem
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7", "10.0.0.8"])
    assert (ret["result"], ret["changes"]) == (True, {})


def test_a_new_app_node_is_allowed_without_touching_the_volume_otherwise(fake):
    fake.status, fake.allow = "Started", "10.0.0.7"
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7", "10.0.0.9"])
    assert ret["changes"] == {"auth.allow": {"old": "10.0.0.7", "new": "10.0.0.7,10.0.0.9"}}
    assert fake.calls[-1] == ["volume", "set", "uploads", "auth.allow", "10.0.0.7,10.0.0.9"]


def test_without_clients_only_loopback_may_mount_and_force_is_passed_on(fake):
    gluster_state.volume_present("uploads", BRICK, [], force=True)
    assert ["volume", "create", "uploads", BRICK, "force"] in fake.calls
    assert fake.allow == "127.0.0.1"


def test_a_volume_on_another_brick_is_reported_not_moved(fake):
    fake.status, fake.brick = "Started", "10.0.0.5:/data/old"
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7"])
    assert ret["result"] is False and ret["changes"] == {}
    assert "has the bricks 10.0.0.5:/data/old, not " + BRICK in ret["comment"]
    assert [c[:2] for c in fake.calls if c[:2] != ["pool", "list"]] == [["volume", "info"]]


def test_before_glusterd_runs_test_mode_predicts_the_volume_and_a_real_run_fails_clearly(fake, monkeypatch):
    monkeypatch.setattr(gluster, "time", Clock())
    fake.running = False
    gluster_state.__opts__["test"] = True
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7"])
    assert ret["result"] is None and ret["changes"] == {"volume": {"old": None, "new": "uploads"}}
    gluster_state.__opts__["test"] = False
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7"])
    assert ret["result"] is False and "glusterd does not answer after 30 s" in ret["comment"]
