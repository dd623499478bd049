"""
webstack_glusterfs: what it makes of ``gluster volume info --xml`` and how it calls gluster,
with Salt's ``cmd.run_all`` as a fake glusterd. A real one: the engines cluster's uploads test
(tests/integration/test_cluster_engines.py).
"""

import pytest
import yaml

from tests.support.clock import Clock
from tests.support.config import UTILS, schema_util
from tests.support.loader import REPO
from tests.support.loader import load as _load
from tests.support.tls import Authority, _key_pem, _pem

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
    def __init__(self, status=None, brick=BRICK, options=None, running=True):
        self.status, self.brick, self.running = status, brick, running
        self.options = dict(options or {})
        self.calls = []

    @property
    def allow(self):
        return self.options.get("auth.allow")

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
            options = "".join(f"<option><name>{k}</name><value>{v}</value></option>" for k, v in self.options.items())
            code = {"Created": 0, "Started": 1, "Stopped": 2}[self.status]
            return {"retcode": 0, "stdout": INFO.format(code=code, status=self.status, brick=self.brick,
                                                        options=options), "stderr": ""}
        if verb == ["volume", "create"]:
            self.status, self.brick = "Created", cmd[5]
        elif verb == ["volume", "start"]:
            self.status = "Started"
        elif verb == ["volume", "stop"]:
            self.status = "Stopped"
        elif verb == ["volume", "set"]:
            self.options[cmd[5]] = cmd[6]
        return {"retcode": 0, "stdout": "", "stderr": ""}


TLS_ON = {"client.ssl": "on", "server.ssl": "on"}
TLS_CHANGES = {"auth.ssl-allow": {"old": "*", "new": "storage1,app1"}, "client.ssl": {"old": "off", "new": "on"},
               "server.ssl": {"old": "off", "new": "on"}}


def parameters():
    """webstack_config.parameters's roles: the repo's registry."""
    return {"roles": schema_util.role_registry(yaml.safe_load((REPO / "salt/webstack/parameters/roles.yaml")
                                                              .read_text()))}


@pytest.fixture
def fake():
    return FakeGluster()


@pytest.fixture
def configure_loader_modules(fake):
    return {gluster: {"__salt__": {"cmd.run_all": fake, "webstack_config.parameters": parameters}},
            gluster_state: {"__salt__": {f"webstack_glusterfs.{f}": getattr(gluster, f)
                                         for f in ("volume", "create", "start", "stop", "set_option", "wait_ready")},
                            "__opts__": {"test": False}}}


def test_info_reads_status_bricks_and_options(fake):
    fake.status, fake.options = "Started", {"auth.allow": "10.0.0.7,10.0.0.8"}
    assert gluster.volume("uploads") == {"name": "uploads", "status": "Started", "bricks": [BRICK],
                                         "options": {"auth.allow": "10.0.0.7,10.0.0.8", "nfs.disable": "on"}}
    fake.status = None
    assert gluster.volume("uploads") is None


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_a_new_volume_is_created_restricted_and_started_then_nothing_changes(fake, test):
    gluster_state.__opts__["test"] = test
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7", "10.0.0.8"], ["storage1", "app1"])
    assert ret["result"] is (None if test else True), ret
    assert ret["changes"] == {"volume": {"old": None, "new": "uploads"}, "status": {"old": None, "new": "Started"},
                              "auth.allow": {"old": "*", "new": "10.0.0.7,10.0.0.8"}, **TLS_CHANGES}
    if test:
        assert [c[:2] for c in fake.calls] == [["volume", "info"]]
        return
    # TLS set before the bricks start: nothing is started twice
    assert [c[:2] for c in fake.calls[1:]] == [["volume", "info"], ["volume", "create"]] + [["volume", "set"]] * 4 \
        + [["volume", "start"]]
    assert fake.calls[2] == ["volume", "create", "uploads", BRICK]  # no force: not on the root filesystem
    assert fake.options == {"auth.allow": "10.0.0.7,10.0.0.8", "auth.ssl-allow": "storage1,app1", **TLS_ON}
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7", "10.0.0.8"], ["storage1", "app1"])
    assert (ret["result"], ret["changes"]) == (True, {})


def test_a_started_volume_without_tls_is_stopped_and_started_again_with_it(fake):
    """Its bricks read server.ssl when they start: turned on for a volume of an older release
    of the formula, the volume starts again (its clients mount it again over TLS)."""
    fake.status, fake.options = "Started", {"auth.allow": "10.0.0.7"}
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7"], ["storage1", "app1"])
    assert ret["result"] is True, ret
    assert ret["changes"] == {**TLS_CHANGES, "status": {"old": "Started", "new": "Started"}}
    assert "(stopped and started again: TLS turned on)" in ret["comment"]
    assert [c[:3] for c in fake.calls if c[1] in ("stop", "start")] == [["volume", "stop", "uploads"],
                                                                        ["volume", "start", "uploads"]]


def test_a_new_app_node_is_allowed_without_touching_the_volume_otherwise(fake):
    fake.status, fake.options = "Started", {"auth.allow": "10.0.0.7", "auth.ssl-allow": "storage1,app1", **TLS_ON}
    ret = gluster_state.volume_present("uploads", BRICK, ["10.0.0.7", "10.0.0.9"], ["storage1", "app1", "app2"])
    assert ret["changes"] == {"auth.allow": {"old": "10.0.0.7", "new": "10.0.0.7,10.0.0.9"},
                              "auth.ssl-allow": {"old": "storage1,app1", "new": "storage1,app1,app2"}}
    assert fake.calls[-2:] == [["volume", "set", "uploads", "auth.allow", "10.0.0.7,10.0.0.9"],
                               ["volume", "set", "uploads", "auth.ssl-allow", "storage1,app1,app2"]]
    assert not [c for c in fake.calls if c[1] in ("stop", "start")]


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


# ---------------------------------------------------------------- TLS

@pytest.fixture
def tls_files(tmp_path, monkeypatch):
    """The module's TLS files under tmp_path; this minion app1 of a cluster with a storage node."""
    for name, rel in (("KEY", "ssl/glusterfs.key"), ("CERT", "ssl/glusterfs.pem"), ("CA", "ssl/glusterfs.ca"),
                      ("SECURE_ACCESS", "glusterd/secure-access")):
        monkeypatch.setattr(gluster, name, str(tmp_path / rel))
    pillar = {"webstack": {"nodes": {"files1": ["storage"], "app1": ["app"], "lb1": ["lb"]}, "roles": ["app"]}}
    dunders = {"__grains__": {"id": "app1"}, "__pillar__": pillar, "__utils__": UTILS}
    for name, value in dunders.items():
        monkeypatch.setattr(gluster, name, value, raising=False)
    funcs = {f"webstack_glusterfs.{f}": getattr(gluster, f) for f in ("tls", "set_up_tls", "trusted", "ca_path")}
    monkeypatch.setattr(gluster_state, "__salt__", funcs, raising=False)
    monkeypatch.setattr(gluster_state, "__grains__", {"id": "app1"}, raising=False)
    monkeypatch.setattr(gluster_state, "__opts__", {"test": False}, raising=False)
    return tmp_path


def test_the_certificate_the_mine_publishes_is_made_once_for_this_minion(tls_files):
    pem = gluster.certificate()
    assert pem.startswith("-----BEGIN CERTIFICATE-----") and gluster.trusted(pem) == ["app1"]
    assert oct((tls_files / "ssl/glusterfs.key").stat().st_mode & 0o777) == "0o600"
    assert gluster.certificate() == pem  # kept
    # a key that is not the certificate's: both made again
    (tls_files / "ssl/glusterfs.key").write_text(_key_pem(Authority().key))
    assert gluster.certificate(create=False) is None
    assert gluster.certificate() != pem


def test_a_node_that_neither_serves_nor_mounts_publishes_no_certificate(tls_files, monkeypatch):
    monkeypatch.setitem(gluster.__pillar__["webstack"], "roles", ["lb"])
    assert gluster.certificate() is None
    monkeypatch.setitem(gluster.__pillar__["webstack"], "roles", ["app"])
    monkeypatch.setitem(gluster.__pillar__["webstack"], "nodes", {"app1": ["app"]})  # no storage node
    assert gluster.certificate() is None
    assert not (tls_files / "ssl").exists()


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_tls_trusts_its_own_certificate_and_the_peers_then_changes_nothing(tls_files, test):
    storage = _pem(Authority("files1").cert)
    gluster_state.__opts__["test"] = test
    ret = gluster_state.tls_present(gluster.CA, {"files1": storage})
    assert ret["result"] is (None if test else True), ret
    assert set(ret["changes"]) == {"certificate", "trusted", "secure-access"}
    assert ret["changes"]["trusted"] == {"old": None, "new": ["app1", "files1"]}
    if test:
        assert list(tls_files.iterdir()) == []
        return
    ca = (tls_files / "ssl/glusterfs.ca").read_text()
    assert gluster.trusted(ca) == ["app1", "files1"] and ca.endswith(storage.strip() + "\n")
    assert (tls_files / "glusterd/secure-access").is_file()
    for again in (False, True):
        gluster_state.__opts__["test"] = again
        ret = gluster_state.tls_present(gluster.CA, {"files1": storage})
        assert (ret["result"], ret["changes"]) == (True, {}), ret
    # the storage node's certificate made again: trusted anew, this node's own kept
    other = _pem(Authority("files1").cert)
    gluster_state.__opts__["test"] = False
    ret = gluster_state.tls_present(gluster.CA, {"files1": other})
    assert ret["changes"] == {"trusted": {"old": ["app1", "files1"], "new": ["app1", "files1"]}}
    assert (tls_files / "ssl/glusterfs.ca").read_text().endswith(other.strip() + "\n")


def test_tls_names_where_glusterfs_reads_its_ca_file(tls_files):
    ret = gluster_state.tls_present("/etc/glusterfs.ca", {})
    assert ret["result"] is False and "reads its CA file at" in ret["comment"]


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_a_tls_change_starts_a_started_volume_again_and_nothing_else(fake, test):
    """The bricks read the certificates when they start: a watched change of the node's TLS
    stops and starts the volume (not one that is not started, nor on another state's watch)."""
    fake.status = "Started"
    gluster_state.__opts__["test"] = test
    ret = gluster_state.mod_watch("uploads", sfun="volume_present")
    assert ret["result"] is (None if test else True), ret
    assert ret["changes"] == {"status": {"old": "Started",
                                         "new": "Started (again: its bricks read the new certificates)"}}
    assert [c[:2] for c in fake.calls] == ([] if test else [["volume", "info"], ["volume", "stop"],
                                                            ["volume", "start"]])
    fake.calls.clear()
    fake.status = "Stopped"
    gluster_state.__opts__["test"] = False
    assert gluster_state.mod_watch("uploads", sfun="volume_present")["changes"] == {}
    assert gluster_state.mod_watch("uploads", sfun="tls_present")["changes"] == {}
    assert ["volume", "stop"] not in [c[:2] for c in fake.calls]
