"""
webstack_nftables: when a table is loaded again, with Salt's ``cmd.run_all`` as a fake nft.
A real one: the engines cluster's Memcached firewall (tests/integration/test_cluster_engines.py).
"""

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.loader import load as _load

nft = _load("modules", "webstack_nftables")
nft_state = _load("states", "webstack_nftables")

TABLE = "webstack_memcached"


class FakeNft:
    """The kernel's tables: ``nft -f`` makes the table the file's text (as nft would list it)."""

    def __init__(self, permitted=True):
        self.tables, self.permitted, self.calls = {}, permitted, []

    def __call__(self, cmd, **kwargs):
        assert kwargs["python_shell"] is False and cmd[0] == "nft"
        self.calls.append(cmd[1:])
        if cmd[1:3] == ["list", "table"]:
            if cmd[4] not in self.tables:
                return {"retcode": 1, "stdout": "", "stderr": "Error: No such file or directory"}
            return {"retcode": 0, "stdout": self.tables[cmd[4]], "stderr": ""}
        if not self.permitted:
            return {"retcode": 1, "stdout": "", "stderr": "Error: Operation not permitted"}
        if cmd[1] == "-f":
            with open(cmd[2], encoding="utf-8") as fh:
                self.tables[TABLE] = fh.read() + "\tcounter packets 3 bytes 180 drop\n"
        return {"retcode": 0, "stdout": "", "stderr": ""}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.setattr(nft, "STATE_DIR", str(tmp_path / "state"))
    return FakeNft()


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "memcached-firewall.nft"
    path.write_text("table inet webstack_memcached {\n\tset clients { elements = { 10.0.0.21 } }\n")
    return path


@pytest.fixture
def configure_loader_modules(fake):
    return {nft: {"__salt__": {"cmd.run_all": fake}},
            nft_state: {"__salt__": {f"webstack_nftables.{f}": getattr(nft, f) for f in ("current", "live", "load")},
                        "__opts__": {"test": False}}}


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_the_table_is_loaded_once_then_left_alone(fake, rules, test):
    nft_state.__opts__["test"] = test
    ret = nft_state.table_loaded(TABLE, str(rules))
    assert ret["result"] is (None if test else True), ret
    assert ret["changes"] == {"table": {"old": None, "new": f"loaded from {rules}"}}
    if test:
        assert fake.tables == {}
        return
    assert [c[:2] for c in fake.calls if c[0] != "list"] == [["-c", "-f"], ["-f", str(rules)]]
    fake.tables[TABLE] = fake.tables[TABLE].replace("packets 3 bytes 180", "packets 90 bytes 5400")  # traffic
    assert nft_state.table_loaded(TABLE, str(rules))["changes"] == {}


@pytest.mark.parametrize("change", ["file", "hand-edit", "gone"])
def test_a_changed_file_a_hand_edit_or_a_lost_table_loads_it_again(fake, rules, change):
    nft.load(TABLE, str(rules))
    if change == "file":
        rules.write_text(rules.read_text().replace("10.0.0.21", "10.0.0.21, 10.0.0.22"))
    elif change == "hand-edit":
        fake.tables[TABLE] = fake.tables[TABLE].replace("drop", "accept")
    else:
        del fake.tables[TABLE]
    ret = nft_state.table_loaded(TABLE, str(rules))
    assert ret["changes"]["table"]["old"] == (None if change == "gone" else f"present, not as {rules} makes it")
    assert nft.current(TABLE, str(rules)) is True


def test_without_net_admin_the_message_says_why(rules):
    fake = FakeNft(permitted=False)
    nft.__salt__["cmd.run_all"] = fake
    nft_state.__salt__["webstack_nftables.current"] = nft.current
    ret = nft_state.table_loaded(TABLE, str(rules))
    assert ret["result"] is False and "no CAP_NET_ADMIN" in ret["comment"]


def test_before_nftables_is_installed_test_mode_predicts_the_load(rules):
    def missing(cmd, **kwargs):
        raise CommandExecutionError("Unable to run command ['nft', ...]: No such file or directory")
    nft.__salt__["cmd.run_all"] = missing
    nft_state.__opts__["test"] = True
    ret = nft_state.table_loaded(TABLE, str(rules))
    assert ret["result"] is None and ret["changes"] == {"table": {"old": None, "new": f"loaded from {rules}"}}


@pytest.mark.parametrize("table", ["filter", "webstack_x; flush ruleset", "", None])
def test_a_table_not_of_the_formula_is_refused(fake, table):
    with pytest.raises(CommandExecutionError, match="table must be webstack_"):
        nft.live(table)
    assert fake.calls == []
