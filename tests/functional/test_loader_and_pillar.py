"""
The functional harness itself (the repo's modules really are the ones loaded,
salt-factories writes into this run's temp dir), and the pillar validation
state through the real loader, where Salt 3008 hands modules a masked pillar.
"""

import inspect
import json
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

SECRET_KEY = "Funct10nal-Signing-Key_" + "x7Y" * 12
VALID = {
    "roles": ["single"],
    "app": {"name": "webapp", "secret_key": SECRET_KEY, "allowed_hosts": ["localhost"]},
    "postgres": {"password": "pg-Functional-Pass-1"},
    "redis": {"password": "redis-Functional-Pass-1"},
    "nginx": {"port": 80},
}


@pytest.mark.parametrize(
    "function, module",
    [
        ("webstack_pillar.validate", "webstack_pillar"),
        ("webstack_config.get", "webstack_config"),
        ("webstack_supervisor.status", "webstack_supervisor"),
        ("webstack_release.list", "webstack_release"),
        ("webstack_health.check", "webstack_health"),
        ("webstack_haproxy.servers", "webstack_haproxy"),
        ("webstack_network.private_address", "webstack_network"),
        ("webstack_systemd.render_program", "webstack_systemd"),
        ("webstack_uwsgi.chain_reload", "webstack_uwsgi"),
        ("webstack_modwsgi.rolling_restart", "webstack_modwsgi"),
        ("webstack_app.run", "webstack_app"),
        ("webstack_celery.wait_ready", "webstack_celery"),
        ("webstack_mariadb.ensure_user", "webstack_mariadb"),
        ("webstack_nginx.set_down", "webstack_nginx"),
        ("webstack_varnish.ban", "webstack_varnish"),
        ("webstack_glusterfs.certificate", "webstack_glusterfs"),
        ("webstack_nftables.load", "webstack_nftables"),
        ("webstack_backup.restore", "webstack_backup"),
    ],
)
def test_repo_execution_modules_are_loaded(loaders, function, module):
    assert function in loaders.modules
    assert inspect.getsourcefile(loaders.modules[function].func) == str(REPO / "_modules" / f"{module}.py")


def test_repo_state_modules_are_loaded(loaders):
    names = {name for name in loaders.states if name.startswith("webstack_")}
    assert names == {
        "webstack_backup.backup_present",
        "webstack_backup.drill_present",
        "webstack_backup.files_repository_present",
        "webstack_backup.stanza_present",
        "webstack_celery.ready",
        "webstack_glusterfs.mod_watch",
        "webstack_glusterfs.tls_present",
        "webstack_glusterfs.volume_present",
        "webstack_haproxy.drained",
        "webstack_haproxy.ready",
        "webstack_haproxy.state_saved",
        "webstack_health.ok",
        "webstack_mariadb.database_present",
        "webstack_mariadb.user_present",
        "webstack_nginx.drained",
        "webstack_nginx.ready",
        "webstack_nginx.upstream_managed",
        "webstack_nftables.table_loaded",
        "webstack_pillar.validated",
        "webstack_varnish.vcl_active",
        "webstack_release.built",
        "webstack_release.deployed",
        "webstack_release.migrated",
        "webstack_release.mod_watch",
        "webstack_process.absent",
        "webstack_process.mod_watch",
        "webstack_process.running",
        "webstack_wsgi.mod_watch",
        "webstack_wsgi.reloaded",
    }


def test_salt_factories_writes_into_this_runs_tmp_dir(minion_opts, tmp_path_factory):
    basetemp = tmp_path_factory.getbasetemp()
    for key in ("root_dir", "cachedir", "pki_dir", "conf_file"):
        assert pathlib.Path(minion_opts[key]).is_relative_to(basetemp), (key, minion_opts[key])


@pytest.fixture(scope="module")
def pillar_tree(tmp_path_factory):
    path = tmp_path_factory.mktemp("pillar-tree")
    (path / "top.sls").write_text("base:\n  '*':\n    - webstack\n")
    return path


@pytest.fixture(scope="module")
def minion_config_overrides(pillar_tree):
    return {"pillar_roots": {"base": [str(pillar_tree)]}}


@pytest.fixture
def set_pillar(loaders, pillar_tree):
    """Write pillar/webstack.sls and reload the loaders, as a pillar refresh on a minion does."""

    def _set(webstack):
        (pillar_tree / "webstack.sls").write_text(json.dumps({"webstack": webstack}))
        loaders.reload_all()

    return _set


def test_valid_pillar_passes(loaders, set_pillar, testmode):
    set_pillar(VALID)
    ret = loaders.states.webstack_pillar.validated(name="webstack", test=testmode)
    assert ret.result is True, ret.comment
    assert ret.changes == {}
    assert ret.comment == "Pillar webstack is valid for roles: single"


def test_invalid_pillar_fails_naming_keys_and_hiding_secrets(loaders, set_pillar, testmode):
    set_pillar({**VALID, "nginx": {"port": "80"}, "app": {**VALID["app"], "secret_key": "short-Secret-Value"}})
    ret = loaders.states.webstack_pillar.validated(name="webstack", test=testmode)
    assert ret.result is False
    assert ret.changes == {}
    assert "webstack:nginx:port: expected a port number from 1 to 65535, got the string '80'" in ret.comment
    assert "webstack:app:secret_key: expected a secret of at least 50" in ret.comment
    assert "short-Secret-Value" not in ret.comment


def test_modules_read_plain_values_where_pillar_get_masks_them(loaders, set_pillar):
    set_pillar(VALID)
    assert loaders.modules.pillar.get("webstack:postgres:password") != VALID["postgres"]["password"]
    assert loaders.modules.webstack_pillar.public("nginx:port") == 80
    assert loaders.modules.webstack_pillar.validate() == []


def test_the_configuration_comes_through_the_real_loader_masked_outside_templates(loaders, set_pillar):
    set_pillar(dict(VALID, wsgi={"server": "uwsgi"}))
    config = loaders.modules.webstack_config.get()
    assert config["wsgi_sls"] == "webstack.uwsgi"
    assert config["app"]["socket"] == "/srv/webapp/run/uwsgi.sock"
    assert config["postgres"]["password"] == "**********"
    assert config["redis"]["users"]["cache"]["password"] == "**********"
    assert loaders.modules.webstack_pillar.public("app")["secret_key"] == "**********"
