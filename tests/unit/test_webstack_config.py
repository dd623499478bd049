"""
Unit tests of the merged and derived configuration (``_modules/webstack_config.py``)
that every SLS and template renders from through ``map.jinja``: the layers (schema
defaults, OS files, pillar), the values derived once per run, faulty values never
reaching a template, the mine's addresses checked where they are used, and secrets
masked outside templates.
"""

import copy

import pytest
import salt.utils.hashutils
import salt.utils.secret

from tests.support.config import config_mod, get_file_str, loader_modules
from tests.support.tls import Authority, _key_pem, _pem

SECRETS = {"app": {"secret_key": "k3y-Of-Fifty-Plus-Chars_" + "Zq7" * 12},
           "postgres": {"password": "pg-Pass-W0rd-7654321"},
           "redis": {"password": "redis-Pass-W0rd-987"}}
NODES = {"db1": ["db"], "cache1": ["cache"], "app1": ["app"], "app2": ["app"], "worker1": ["worker"],
         "lb1": ["lb"]}
CALLS = {"files": 0, "mine": 0}
MINE = {}


def _counted_file(path, saltenv="base"):
    CALLS["files"] += 1
    return get_file_str(path, saltenv)


CERTS = {}  # what mine.get answers for webstack_glusterfs.certificate


def _counted_mine(_tgt, fun, **_kwargs):
    CALLS["mine"] += 1
    return dict(CERTS if fun == "webstack_glusterfs.certificate" else MINE)


@pytest.fixture
def configure_loader_modules():
    CALLS.update(files=0, mine=0)
    MINE.clear()
    CERTS.clear()
    pillar = {"webstack": dict(copy.deepcopy(SECRETS), roles=["single"])}
    return loader_modules(pillar, salt={"cp.get_file_str": _counted_file, "mine.get": _counted_mine})


@pytest.fixture
def plain():
    """As inside a template: Salt renders SLS files and templates with the pillar unmasked."""
    token = salt.utils.secret.mask_pillar.set(False)
    yield
    salt.utils.secret.mask_pillar.reset(token)


def _pillar(**sections):
    config_mod.__pillar__["webstack"] = dict(copy.deepcopy(SECRETS), **sections)


def test_role_single_derives_paths_servers_and_checks(plain):
    c = config_mod.get()
    assert c["app"]["socket"] == "/srv/webapp/run/gunicorn.sock"
    assert c["app"]["config_file"] == "/etc/webstack/webapp/app.env"
    assert c["wsgi_sls"] == "webstack.gunicorn"
    assert c["wsgi_clean_sls"] == ["webstack.uwsgi.clean", "webstack.apache.clean"]
    assert c["wsgi"]["workers"] == 5  # auto: 2 x 2 cores + 1
    # the check sends what Nginx sends: TLS is on, so X-Forwarded-Proto https
    assert c["wsgi_check"] == {"unix_socket": "/srv/webapp/run/gunicorn.sock", "protocol": "http",
                               "host_header": "localhost", "forwarded_proto": "https"}
    assert c["postgres_conf_dir"] == "/etc/postgresql/15/main"
    assert c["tls"]["front"] is True and c["tls"]["lb"] is False
    assert c["tls"]["subject"] == "/CN=localhost"
    assert c["tls"]["san"] == "DNS:localhost,IP:127.0.0.1,DNS:single1"
    assert c["redis"]["users"]["cache"]["name"] == "webapp-cache"
    # the same derivation as pillar/webstack/role_secrets.sls's hmac_compute filter
    assert c["redis"]["users"]["broker"]["password"] == \
        salt.utils.hashutils.hmac_compute("broker", SECRETS["redis"]["password"])


@pytest.mark.parametrize("server, sls, clean, check", [
    ("uwsgi", "webstack.uwsgi", ["webstack.gunicorn.clean", "webstack.apache.clean"],
     {"unix_socket": "/srv/webapp/run/uwsgi.sock", "protocol": "uwsgi", "host_header": "localhost",
      "forwarded_proto": "https"}),
    ("mod_wsgi", "webstack.apache", ["webstack.gunicorn.clean", "webstack.uwsgi.clean", "webstack.nginx.clean"],
     {"host": "127.0.0.1", "port": 443, "tls": True, "host_header": "localhost", "forwarded_proto": "https"}),
])
def test_each_wsgi_server_has_its_sls_its_clean_ups_and_its_check(plain, server, sls, clean, check):
    _pillar(roles=["single"], wsgi={"server": server})
    c = config_mod.get()
    assert (c["wsgi_sls"], c["wsgi_clean_sls"], c["wsgi_check"]) == (sls, clean, check)


def test_computed_once_per_run_and_handed_out_as_copies(plain):
    first = config_mod.get()
    first["app"]["name"] = "changed by a template"
    for _ in range(30):  # every SLS and template of a role imports map.jinja
        assert config_mod.get()["app"]["name"] == "webapp"
    assert CALLS["files"] == 4  # schema, roles, os_family, osfinger: once
    # another pillar (an orchestration's inline pillar) is another configuration
    _pillar(roles=["single"], app={"release": "0123abcd"})
    assert config_mod.get()["app"]["release"] == "0123abcd"
    assert CALLS["files"] == 4


def test_a_faulty_value_never_reaches_a_template(plain):
    """Validation stops the run first; even so, the configuration holds the default in its
    place, so no template can render it."""
    _pillar(roles=["single"], app={"allowed_hosts": ["x'$(reboot)'"], "name": "web;rm"},
            redis={"bind": ["127.0.0.1\nuser evil on nopass +@all"]}, services={"nginx": "nginx; id"})
    c = config_mod.get()
    assert c["app"]["allowed_hosts"] == ["localhost", "127.0.0.1"]
    assert c["app"]["name"] == "webapp"
    assert c["redis"]["bind"] == ["127.0.0.1", "-::1"]
    assert c["services"]["nginx"] == "nginx"


def test_os_files_are_layered_under_the_pillar(plain):
    config_mod.__grains__.update(osfinger="Ubuntu-22.04")
    c = config_mod.get()
    assert (c["postgres_version"], c["postgres_conf_dir"]) == (14, "/etc/postgresql/14/main")
    assert c["postgres_bin_dir"] == "/usr/lib/postgresql/14/bin"
    config_mod.__context__.clear()
    config_mod.__grains__.update(os_family="RedHat", osfinger="unknown")
    _pillar(roles=["single"], postgres_conf_dir="/srv/pg/{version}")
    c = config_mod.get()
    assert c["services"]["redis"] == "redis" and c["apache_ctl"] == "apachectl"
    assert c["postgres_conf_dir"] == "/srv/pg/15"  # the pillar over the OS files


def test_each_debian_release_gets_its_own_facts(plain):
    """Debian 13 (the first target) and Debian 12: PostgreSQL's version and paths, and
    HAProxy's idle-close-on-response only where HAProxy has it (2.7 and newer)."""
    seen = {}
    for osfinger in ("Debian-13", "Debian-12"):
        config_mod.__context__.clear()
        config_mod.__grains__.update(osfinger=osfinger)
        c = config_mod.get()
        seen[osfinger] = (c["postgres_version"], c["postgres_bin_dir"], c["haproxy_idle_close_on_response"])
    assert seen == {"Debian-13": (17, "/usr/lib/postgresql/17/bin", True),
                    "Debian-12": (15, "/usr/lib/postgresql/15/bin", False)}


def test_secrets_are_masked_outside_a_template():
    _pillar(roles=["single"], redis={"password": SECRETS["redis"]["password"],
                                     "user_passwords": {"cache": "c4f1a07e" * 8, "broker": ""}})
    c = config_mod.get()
    text = repr(c)
    for secret in ("k3y-Of-Fifty", "pg-Pass-W0rd", "redis-Pass-W0rd", "c4f1a07e"):
        assert secret not in text
    assert c["app"]["secret_key"] == c["redis"]["users"]["cache"]["password"] == "**********"
    assert c["app"]["name"] == "webapp"


def _cluster(node, mine, **sections):
    config_mod.__grains__["id"] = node
    MINE.update(mine)
    _pillar(roles=NODES[node], nodes=copy.deepcopy(NODES), **sections)
    return config_mod.get()


ADDRESSES = {"db1": "10.0.0.10", "cache1": "10.0.0.11", "app1": "10.0.0.21", "app2": "10.0.0.22",
             "worker1": "10.0.0.30", "lb1": "10.0.0.40"}


def test_a_db_node_listens_on_its_address_and_admits_the_app_and_worker_nodes(plain):
    c = _cluster("db1", ADDRESSES)
    assert c["postgres"]["listen_addresses"] == "localhost,10.0.0.10"
    assert c["cluster"]["db_clients"] == ["10.0.0.21", "10.0.0.22", "10.0.0.30"]
    assert c["cluster"]["problems"] == []
    assert c["app"]["migrate"] is False  # not an app node
    assert CALLS["mine"] == 1


def test_an_app_node_reaches_the_db_and_cache_nodes_and_the_first_one_migrates(plain):
    c = _cluster("app1", ADDRESSES)
    assert (c["postgres"]["host"], c["redis"]["host"]) == ("10.0.0.10", "10.0.0.11")
    assert c["app"]["migrate"] is True
    assert c["tls"]["front"] is False  # the load balancer ends TLS
    assert c["forwarded_proto"] == "$http_x_forwarded_proto"
    config_mod.__context__.clear()
    assert _cluster("app2", ADDRESSES)["app"]["migrate"] is False


def test_only_a_cache_node_of_a_cluster_puts_a_firewall_in_front_of_memcached(plain):
    assert _cluster("cache1", ADDRESSES)["memcached"]["firewall"] is True
    for node in ("db1", "app1"):
        config_mod.__context__.clear()
        assert _cluster(node, ADDRESSES)["memcached"]["firewall"] is False
    config_mod.__context__.clear()
    _pillar(roles=["single"])
    assert config_mod.get()["memcached"]["firewall"] is False  # Memcached on loopback only


def test_a_storage_node_serves_the_app_and_worker_nodes_which_mount_its_volume(plain):
    NODES["files1"] = ["storage"]
    try:
        addresses = dict(ADDRESSES, files1="10.0.0.50")
        c = _cluster("files1", addresses)
        assert (c["glusterfs"]["brick_host"], c["glusterfs"]["shared"]) == ("10.0.0.50", True)
        assert c["cluster"]["db_clients"] == ["10.0.0.21", "10.0.0.22", "10.0.0.30"]  # auth.allow
        for node in ("app2", "worker1"):
            config_mod.__context__.clear()
            c = _cluster(node, addresses)
            assert (c["glusterfs"]["server"], c["glusterfs"]["brick_host"]) == ("10.0.0.50", None)
            assert c["glusterfs"]["shared"] is True
        config_mod.__context__.clear()
        assert _cluster("lb1", addresses)["glusterfs"]["server"] is None  # it mounts nothing
    finally:
        del NODES["files1"]
    config_mod.__context__.clear()
    assert _cluster("app1", ADDRESSES)["glusterfs"]["shared"] is False


def test_the_storage_node_and_its_clients_trust_each_others_certificate_from_the_mine(plain):
    """The storage node trusts the app and worker nodes' certificates, a client the storage
    node's; the volume is mounted by those names; the storage node's firewall admits the
    storage, app and worker nodes' addresses. A certificate that is not the node's is left
    out and named."""
    NODES["files1"] = ["storage"]
    certs = {node: _pem(Authority(node).cert) for node in ("files1", "app1", "app2", "worker1")}
    CERTS.update(certs, lb1=None)
    try:
        addresses = dict(ADDRESSES, files1="10.0.0.50")
        c = _cluster("files1", addresses)
        g = c["glusterfs"]
        assert g["peers"] == {node: certs[node] for node in ("app1", "app2", "worker1")}
        assert g["ssl_allow"] == ["files1", "app1", "app2", "worker1"]
        assert g["members"] == ["10.0.0.21", "10.0.0.22", "10.0.0.30", "10.0.0.50"]
        assert g["ports"] == [24007, 24008, "49152-60999"]
        assert c["cluster"]["problems"] == []
        config_mod.__context__.clear()
        g = _cluster("app1", addresses)["glusterfs"]
        assert (g["peers"], g["members"]) == ({"files1": certs["files1"]}, [])
        config_mod.__context__.clear()
        assert _cluster("lb1", addresses)["glusterfs"]["peers"] == {}  # it mounts nothing
        # app2 publishes app1's certificate, worker1 one with a private key, files1 nothing
        CERTS.update(app2=certs["app1"], worker1=certs["worker1"] + _key_pem(Authority().key), files1=None)
        config_mod.__context__.clear()
        c = _cluster("files1", addresses)
        assert list(c["glusterfs"]["peers"]) == ["app1"]
        assert [p.split(" in the Salt mine")[0] for p in c["cluster"]["problems"]] == [
            "webstack:nodes:app2: expected one PEM certificate whose CN is app2, got one for app1",
            "webstack:nodes:worker1: expected one PEM certificate whose CN is worker1, got other text"]
        config_mod.__context__.clear()
        assert _cluster("app1", addresses)["cluster"]["problems"] == [
            "webstack:nodes:files1: expected its GlusterFS certificate in the Salt mine (run mine.update on "
            "files1; see webstack_glusterfs.certificate), it is missing"]
    finally:
        del NODES["files1"]


def test_a_crafted_address_is_left_out_of_every_list_and_named(plain):
    crafted = dict(ADDRESSES, app2="10.0.0.22:80 backup\n    server evil 203.0.113.9")
    c = _cluster("lb1", crafted)
    assert c["cluster"]["backends"] == [{"name": "app1", "address": "10.0.0.21", "port": 80}]
    assert [p.split(": expected")[0] for p in c["cluster"]["problems"]] == ["webstack:nodes:app2"]
    config_mod.__context__.clear()
    c = _cluster("db1", crafted)
    assert c["cluster"]["db_clients"] == ["10.0.0.21", "10.0.0.30"]
    assert [p.split(": expected")[0] for p in c["cluster"]["problems"]] == ["webstack:nodes:app2"]


def test_an_address_two_minions_publish_is_neithers_and_both_are_named(plain):
    """A worker that publishes an app node's address first does not take it over: the address
    is neither's, wherever either is used (the load balancer, which never asks the worker,
    included)."""
    crafted = dict(ADDRESSES, worker1="10.0.0.21")
    c = _cluster("lb1", crafted)
    assert c["cluster"]["backends"] == [{"name": "app2", "address": "10.0.0.22", "port": 80}]
    assert c["cluster"]["problems"] == [
        "webstack:nodes:app1: expected an address of its own, got 10.0.0.21, which worker1 publishes too in the "
        "Salt mine (webstack_network.private_address of minion app1); it is not used, and nothing was changed"]
    config_mod.__context__.clear()
    c = _cluster("db1", crafted)
    assert c["cluster"]["db_clients"] == ["10.0.0.22"]
    assert [p.split(" in the Salt mine")[0] for p in c["cluster"]["problems"]] == [
        "webstack:nodes:app1: expected an address of its own, got 10.0.0.21, which worker1 publishes too",
        "webstack:nodes:worker1: expected an address of its own, got 10.0.0.21, which app1 publishes too"]


@pytest.mark.parametrize("cidr, value, why", [
    ("", "93.184.216.34", "a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10; or name "
                          "the cluster's network in webstack:network:private_cidr), got '93.184.216.34'"),
    ("", "192.0.2.10", "a private address (10.0.0.0/8"),  # documentation: private to Python, not a node's
    ("10.0.0.0/24", "10.9.0.22", "an address in webstack:network:private_cidr (10.0.0.0/24), got '10.9.0.22'"),
    ("", "224.0.0.1", "a unicast IPv4 address of the node, got '224.0.0.1'"),
], ids=["public", "documentation", "outside-the-cidr", "multicast"])
def test_an_address_outside_the_clusters_network_is_left_out_and_named(plain, cidr, value, why):
    c = _cluster("lb1", dict(ADDRESSES, app2=value), **({"network": {"private_cidr": cidr}} if cidr else {}))
    assert c["cluster"]["backends"] == [{"name": "app1", "address": "10.0.0.21", "port": 80}]
    (problem,) = c["cluster"]["problems"]
    assert problem.startswith(f"webstack:nodes:app2: expected {why}"), problem


def test_a_missing_address_is_named_and_falls_back_to_loopback(plain):
    c = _cluster("app1", {k: v for k, v in ADDRESSES.items() if k != "db1"})
    assert c["postgres"]["host"] == "127.0.0.1"
    assert c["cluster"]["problems"] == [
        "webstack:nodes:db1: expected a private address in the Salt mine (run mine.update on db1; see "
        "webstack_network.private_address), it is missing"]


def test_the_apps_settings_by_the_formulas_names(plain):
    c = config_mod.get()
    s = c["app_settings"]
    assert s["SECRET_KEY"] == SECRETS["app"]["secret_key"]
    assert s["ALLOWED_HOSTS"] == "localhost,127.0.0.1" and s["DEBUG"] == "0"
    assert s["DATABASE_URL"] == "postgresql://webapp:pg-Pass-W0rd-7654321@127.0.0.1:5432/webapp"
    assert s["STATIC_ROOT"] == "/srv/webapp/current/static" and s["MEDIA_ROOT"] == "/srv/webapp/shared/media"
    assert s["SECURE_SSL_REDIRECT"] == "1" and "SECURE_REDIRECT_EXEMPT" not in s
    assert s["SILENCED_SYSTEM_CHECKS"] == "security.W005,security.W021"
    assert s["DJANGO_SETTINGS_MODULE"] == "exampleproject.settings"
    assert c["release_settings"] == {"STATIC_ROOT": "static", "RELEASE_FILE": "RELEASE"}


@pytest.mark.parametrize("fmt, hosts", [("comma", "a.example,b.example"), ("space", "a.example b.example"),
                                        ("json", '["a.example", "b.example"]')])
def test_the_projects_names_list_format_and_secrets(plain, fmt, hosts):
    """app:env_names renames (or leaves out) the formula's settings; app:static_root moves
    STATIC_ROOT into the source, for the processes and the build alike; app:env and
    app:secrets follow."""
    _pillar(roles=["single"], app=dict(
        copy.deepcopy(SECRETS["app"]), allowed_hosts=["a.example", "b.example"], list_format=fmt,
        static_root="staticfiles", media_root="project/media",
        env_names={"SECRET_KEY": "DJANGO_SECRET_KEY", "ALLOWED_HOSTS": "DJANGO_ALLOWED_HOSTS", "DEBUG": "",
                   "STATIC_ROOT": "DJANGO_STATIC_ROOT"},
        env={"SENTRY_ENVIRONMENT": "production"}, secrets={"EMAIL_HOST_PASSWORD": "m4il-Secret"}))
    c = config_mod.get()
    s = c["app_settings"]
    assert s["DJANGO_SECRET_KEY"] == SECRETS["app"]["secret_key"] and "SECRET_KEY" not in s
    assert s["DJANGO_ALLOWED_HOSTS"] == hosts and "ALLOWED_HOSTS" not in s
    assert "DEBUG" not in s and "DJANGO_DEBUG" not in s
    assert s["DJANGO_STATIC_ROOT"] == "/srv/webapp/current/src/staticfiles"
    assert c["release_settings"] == {"DJANGO_STATIC_ROOT": "src/staticfiles", "RELEASE_FILE": "RELEASE"}
    assert (s["SENTRY_ENVIRONMENT"], s["EMAIL_HOST_PASSWORD"]) == ("production", "m4il-Secret")
    assert c["app"]["static_dir"] == "/srv/webapp/current/src/staticfiles"
    assert c["app"]["media_link"] == "project/media"


def test_the_settings_are_masked_outside_a_template():
    _pillar(roles=["single"], app=dict(copy.deepcopy(SECRETS["app"]), secrets={"EMAIL_HOST_PASSWORD": "m4il-Secret"}))
    c = config_mod.get()
    assert c["app_settings"] == "**********"
    assert "m4il-Secret" not in repr(c) and c["app"]["secrets"] == "**********"


@pytest.mark.parametrize("node, here", [("worker1", True), ("app1", False), ("db1", False)])
def test_beat_runs_on_the_first_worker_node_only(plain, node, here):
    config_mod.__grains__["id"] = node
    MINE.update(ADDRESSES)
    nodes = dict(copy.deepcopy(NODES), worker2=["worker"])
    _pillar(roles=NODES[node], nodes=nodes, celery={"beat": True})
    assert config_mod.get()["celery"]["beat_here"] is here


def test_beat_on_role_single_and_never_without_a_celery_app(plain):
    _pillar(roles=["single"], celery={"beat": True})
    assert config_mod.get()["celery"]["beat_here"] is True
    _pillar(roles=["single"], celery={"beat": True}, app=dict(copy.deepcopy(SECRETS["app"]), celery_app=""))
    assert config_mod.get()["celery"]["beat_here"] is False


def test_mariadb_memcached_and_rq_settings(plain):
    """db:engine mariadb: DATABASE_URL mysql://... (utf8mb4), the user from this host only;
    cache:engine memcached: CACHE_URL pymemcache://; app:queue rq: RQ_REDIS_URL (the broker
    user) and no Celery setting, the worker's command from the project's kind."""
    _pillar(roles=["single"], db={"engine": "mariadb"}, cache={"engine": "memcached"}, mariadb={
        "password": "Mb-Kq7Zt2Lx9Vw4Rn8"}, app=dict(copy.deepcopy(SECRETS["app"]), queue="rq"),
        rq={"queues": ["high", "default"], "scheduler": True})
    c = config_mod.get()
    s = c["app_settings"]
    assert s["DATABASE_URL"] == "mysql://webapp:Mb-Kq7Zt2Lx9Vw4Rn8@localhost:3306/webapp?charset=utf8mb4"
    assert s["CACHE_URL"] == "pymemcache://127.0.0.1:11211"
    broker = c["redis"]["users"]["broker"]
    assert s["RQ_REDIS_URL"] == f"redis://webapp-broker:{broker['password']}@127.0.0.1:6379/1"
    assert "CELERY_BROKER_URL" not in s and "CELERY_TASK_ACKS_LATE" not in s
    assert c["mariadb"]["client_hosts"] == ["localhost", "127.0.0.1"]
    assert c["celery"]["runs"] is False and c["celery"]["beat_here"] is False
    assert c["rq"]["argv"] == ["/srv/webapp/current/venv/bin/python", "manage.py", "rqworker", "high", "default",
                               "--with-scheduler"]
    _pillar(roles=["single"], app=dict(copy.deepcopy(SECRETS["app"]), queue="rq", django_settings_module=""),
            rq={"command": "rq worker --serializer json"})
    assert config_mod.get()["rq"]["argv"] == ["/srv/webapp/current/venv/bin/rq", "worker", "--serializer", "json",
                                              "default"]


def test_a_mariadb_db_node_admits_the_app_and_worker_nodes_and_listens_on_its_address(plain):
    c = _cluster("db1", ADDRESSES)
    assert c["mariadb"]["client_hosts"] == ["10.0.0.21", "10.0.0.22", "10.0.0.30"]
    assert c["mariadb"]["bind"] == ["127.0.0.1", "10.0.0.10"]
    config_mod.__context__.clear()
    c = _cluster("app1", ADDRESSES)
    assert (c["mariadb"]["host"], c["memcached"]["host"]) == ("10.0.0.10", "10.0.0.11")


def test_an_app_node_asks_mariadb_on_another_node_for_tls_and_the_db_node_makes_a_certificate(plain):
    config_mod.__grains__["id"] = "app1"
    MINE.update(ADDRESSES)
    _pillar(roles=NODES["app1"], nodes=copy.deepcopy(NODES), db={"engine": "mariadb"},
            mariadb={"password": "Mb-Kq7Zt2Lx9Vw4Rn8"})
    c = config_mod.get()
    assert c["app_settings"]["DATABASE_URL"] == \
        "mysql://webapp:Mb-Kq7Zt2Lx9Vw4Rn8@10.0.0.10:3306/webapp?charset=utf8mb4&ssl_mode=REQUIRED"
    assert c["mariadb"]["tls"] is False  # not the db node
    config_mod.__context__.clear()
    config_mod.__grains__["id"] = "db1"
    _pillar(roles=NODES["db1"], nodes=copy.deepcopy(NODES), db={"engine": "mariadb"},
            mariadb={"password": "Mb-Kq7Zt2Lx9Vw4Rn8"})
    assert config_mod.get()["mariadb"]["tls"] is True

