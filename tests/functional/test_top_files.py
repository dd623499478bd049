"""
The top files, rendered by Salt itself from the roles' registry
(``salt/webstack/parameters/roles.yaml``): which states a minion's roles get
(``salt/top.sls``), and on a master which pillar, which secrets and which TLS files
each minion id receives (``pillar/top.sls``, ``pillar/webstack/role_secrets.sls``,
``pillar/webstack/cluster.sls``). Nothing is mocked: Salt's own pillar compiler and
highstate top matching, over a copy of the repo's pillar tree with a nodes file and
a secrets file of the test's.
"""

import copy
import pathlib
import shutil

import pytest
import salt.pillar
import salt.state
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
REGISTRY = yaml.safe_load((REPO / "salt/webstack/parameters/roles.yaml").read_text())

NODES = {"db1": ["db", "storage"], "cache1": ["cache"], "app1": ["app"], "both1": ["app", "worker"],
         "lb1": ["lb"], "solo1": ["single"]}
SECRETS = {"webstack": {
    "app": {"secret_key": "Top-Files-Signing-Key_" + "q7Z" * 12, "secrets": {"MAIL_PASSWORD": "mail-Pass-1234567"}},
    "postgres": {"password": "pg-Top-Files-Pass-1"},
    "redis": {"password": "redis-Top-Files-Pass-1"},
}}
TLS = {"webstack": {"tls": {"certificate": "CERT", "private_key": "KEY"}}}


@pytest.fixture(scope="module")
def master_tree(tmp_path_factory):
    """The repo's pillar tree as a master has it (its links into salt/ resolve), with the
    test's nodes, secrets and TLS files."""
    root = tmp_path_factory.mktemp("master")
    (root / "salt").symlink_to(REPO / "salt")
    shutil.copytree(REPO / "pillar", root / "pillar", symlinks=True)
    (root / "pillar/webstack/nodes.yaml").write_text(yaml.safe_dump(NODES))
    (root / "pillar/webstack/secrets.sls").write_text(yaml.safe_dump(SECRETS))
    (root / "pillar/webstack/tls.sls").write_text(yaml.safe_dump(TLS))
    return root


@pytest.fixture(scope="module")
def master_pillar(minion_opts, master_tree):
    """minion id -> the pillar a master with the repo's pillar tree gives it."""

    def compile_for(minion_id):
        opts = dict(copy.deepcopy(minion_opts), id=minion_id,
                    pillar_roots={"base": [str(master_tree / "pillar")]})
        pillar = salt.pillar.get_pillar(opts, {"id": minion_id}, minion_id, saltenv="base").compile_pillar()
        assert not pillar.get("_errors"), pillar.get("_errors")
        return pillar.get("webstack", {})

    return compile_for


def _secrets_of(webstack):
    found = set()
    for section, keys in SECRETS["webstack"].items():
        for key in keys:
            if key in (webstack.get(section) or {}):
                found.add(f"{section}:{key}")
    if "user_passwords" in (webstack.get("redis") or {}):
        found.add("redis:user_passwords")
    if "private_key" in (webstack.get("tls") or {}):
        found.add("tls:private_key")
    return found


@pytest.mark.parametrize("minion_id, roles, secrets", [
    ("db1", ["db", "storage"], {"postgres:password"}),
    ("cache1", ["cache"], {"redis:password"}),
    ("app1", ["app"], {"app:secret_key", "app:secrets", "postgres:password", "redis:user_passwords"}),
    ("both1", ["app", "worker"], {"app:secret_key", "app:secrets", "postgres:password", "redis:user_passwords"}),
    ("lb1", ["lb"], {"tls:private_key"}),
    ("solo1", ["single"], {"app:secret_key", "app:secrets", "postgres:password", "redis:password",
                           "tls:private_key"}),
])
def test_each_node_gets_its_roles_and_only_its_roles_secrets(master_pillar, minion_id, roles, secrets):
    webstack = master_pillar(minion_id)
    assert webstack["roles"] == roles
    assert _secrets_of(webstack) == secrets
    if "single" in roles:
        assert "nodes" not in webstack  # a single server is not part of the cluster
    else:
        assert webstack["nodes"] == {n: r for n, r in NODES.items() if "single" not in r}


def test_a_minion_not_in_the_nodes_file_gets_nothing(master_pillar):
    assert master_pillar("stranger1") == {}


def test_an_app_nodes_redis_passwords_are_derived_never_the_admins(master_pillar):
    redis = master_pillar("app1")["redis"]
    assert set(redis) == {"user_passwords"}
    assert set(redis["user_passwords"]) == {"cache", "broker"}
    assert SECRETS["webstack"]["redis"]["password"] not in redis["user_passwords"].values()


@pytest.mark.parametrize("roles", [["single"], ["db", "storage"], ["app", "worker"], ["lb"], ["cache", "app"], []])
def test_the_state_top_gives_each_role_its_states(minion_opts, tmp_path, roles):
    opts = dict(copy.deepcopy(minion_opts), id="node1", cachedir=str(tmp_path),
                file_roots={"base": [str(REPO / "salt"), str(REPO)]},
                pillar={"webstack": {"roles": roles}})
    highstate = salt.state.HighState(opts)
    matches = highstate.top_matches(highstate.get_top())
    assert list(matches.get("base", [])) == [f"webstack.roles.{role}" for role in REGISTRY if role in roles]
