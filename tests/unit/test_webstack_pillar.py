"""
Unit tests of the pillar validation (``_modules/webstack_pillar.py`` over the schema,
``salt/webstack/parameters/schema.yaml``, and ``_utils/webstack_schema.py``) and its
state (``_states/webstack_pillar.py``): every bad pillar is reported with the exact
key path and the expected form, and no secret value is ever echoed.
"""

import copy
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from salt.exceptions import CommandExecutionError
from salt.utils.secret import hide

from tests.support.config import loader_modules, pillar_mod
from tests.support.loader import load as _load

pillar_state = _load("states", "webstack_pillar")

# Names the unit tests treat as resolving; any other name does not (no DNS here).
RESOLVING = {"localhost", "db.example.org"}


@pytest.fixture(autouse=True)
def _resolver(monkeypatch):
    def getaddrinfo(host, *_args, **_kwargs):
        if host in RESOLVING:
            return [(2, 1, 6, "", ("127.0.0.1", 0))]
        raise pillar_mod.socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(pillar_mod.socket, "getaddrinfo", getaddrinfo)


SECRET_KEY = "k3y-Of-Fifty-Plus-Chars_" + "Zq7" * 12  # 60 characters
PG_PASSWORD = "pg-Pass-W0rd-7654321"
REDIS_PASSWORD = "redis-Pass-W0rd-987"
BACKUP_PASSPHRASE = "backup-Pass-Phr4se-2468"
# backups with their off-site copy, as valid
OFFSITE = {"backup:enabled": True, "backup:passphrase": BACKUP_PASSPHRASE, "backup:offsite": True,
           "backup:s3_endpoint": "s3.eu-west-1.amazonaws.com", "backup:s3_bucket": "example-backups",
           "backup:s3_access_key": "AKIAIOSFODNN7EXAMPLE",
           "backup:s3_secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}

VALID = {
    "roles": ["single"],
    "process_manager": "supervisord",
    "app": {
        "name": "webapp",
        "user": "webapp",
        "base_dir": "/srv/webapp",
        "config_dir": "/etc/webstack/webapp",
        "source": "salt://example",
        "rev": "main",
        "requirements": "requirements.txt",
        "python": "python3",
        "wsgi_app": "exampleproject.wsgi:application",
        "django_settings_module": "exampleproject.settings",
        "celery_app": "exampleproject",
        "secret_key": SECRET_KEY,
        "debug": False,
        "allowed_hosts": ["localhost", "127.0.0.1", ".example.org"],
        "static_url": "/static/",
        "media_url": "/media/",
        "env": {"SENTRY_ENVIRONMENT": "production", "WORKERS": 3, "FEATURE_X": True},
        "build_commands": ["python manage.py collectstatic --noinput"],
        "migrate": True,
        "migrate_commands": ["python manage.py migrate --noinput"],
        "post_deploy_commands": [],
        "keep_releases": 5,
        "release": "",
        "health_path": "/healthz",
    },
    "wsgi": {
        "server": "gunicorn",
        "workers": "auto",
        "threads": 1,
        "timeout": 30,
        "graceful_timeout": 30,
        "max_requests": 0,
    },
    "postgres": {
        "name": "webapp",
        "user": "webapp",
        "password": PG_PASSWORD,
        "host": "127.0.0.1",
        "port": 5432,
        "listen_addresses": "localhost",
    },
    "redis": {
        "password": REDIS_PASSWORD,
        "host": "127.0.0.1",
        "bind": ["127.0.0.1", "-::1"],
        "port": 6379,
        "cache_db": 0,
        "broker_db": 1,
        "maxmemory": "256mb",
    },
    "nginx": {
        "port": 80,
        "server_name": "_",
        "client_max_body_size": "10m",
        "static_expires": "30d",
    },
    "apache": {"port": 80, "server_name": "www.example.org", "limit_request_body": 10485760,
               "static_max_age": 2592000},
    "celery": {"enabled": True, "concurrency": 2, "stop_wait_secs": 600, "loglevel": "INFO"},
    "lb": {
        "port": 80,
        "balance": "roundrobin",
        "check_inter": "1s",
        "fall": 3,
        "rise": 2,
        "retries": 3,
        "maxconn": 4096,
        "timeout_connect": "5s",
        "timeout_client": "60s",
        "timeout_server": "60s",
    },
    "network": {"private_cidr": "", "private_interface": ""},
    "nodes": {},
    "supervisor": {"conf_dir": "/etc/supervisor/conf.d", "log_dir": "/var/log/webstack"},
    "tls": {"enabled": True, "port": 443, "certificate": "", "private_key": "", "hsts_max_age": 63072000,
            "hsts_include_subdomains": False, "hsts_preload": False, "self_signed_days": 397},
}


def _self_signed():
    """A key (PEM) and its self-signed certificate (PEM), made here."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


TLS_KEY, TLS_CERT = _self_signed()
OTHER_KEY, _ = _self_signed()

_DELETE = object()


def _with(changes):
    """A deep copy of VALID with ``{"a:b": value}`` applied (_DELETE drops the key)."""
    pillar = copy.deepcopy(VALID)
    for path, value in changes.items():
        *parents, last = path.split(":")
        node = pillar
        for part in parents:
            node = node.setdefault(part, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return pillar


def _secrets(pillar):
    """Every secret value of a pillar, for the never-echoed check."""
    found = [SECRET_KEY, PG_PASSWORD, REDIS_PASSWORD, BACKUP_PASSPHRASE]
    for path in ("app:secret_key", "postgres:password", "redis:password", "tls:private_key", "backup:passphrase"):
        section, key = path.split(":")
        value = pillar.get(section, {}).get(key) if isinstance(pillar.get(section), dict) else None
        if isinstance(value, str) and value:
            found.append(value)
    return found


MINE = {}  # what mine.get answers in a test (the cluster tests set it)


@pytest.fixture
def configure_loader_modules():
    MINE.clear()
    modules = loader_modules({"webstack": copy.deepcopy(VALID)}, salt={"mine.get": lambda *_a, **_k: dict(MINE)})
    modules[pillar_state] = {"__salt__": modules[pillar_mod]["__salt__"], "__opts__": {"test": False}}
    return modules


# (id, changes to VALID, the key path that must be named, a piece of the expected form)
BAD = [
    ("secret-key-missing", {"app:secret_key": _DELETE}, "webstack:app:secret_key", "it is missing"),
    ("secret-key-empty", {"app:secret_key": ""}, "webstack:app:secret_key", "at least 50"),
    ("secret-key-short", {"app:secret_key": "Sh0rt-but-not-fifty-characters-long!"},
     "webstack:app:secret_key", "at least 50 printable characters"),
    ("secret-key-with-space", {"app:secret_key": "x" * 30 + " " + "y" * 30},
     "webstack:app:secret_key", "without spaces"),
    ("secret-key-not-a-string", {"app:secret_key": 12345678901234567890123456789012345678901234567890},
     "webstack:app:secret_key", "at least 50"),
    ("postgres-password-short", {"postgres:password": "tiny-Pw1"}, "webstack:postgres:password",
     "at least 16"),
    ("redis-password-quote", {"redis:password": 'quote"In-The-Redis-Pass'}, "webstack:redis:password",
     "without spaces, quotes"),
    ("secret-key-few-distinct", {"app:secret_key": "ab" * 30}, "webstack:app:secret_key", "(10 different)"),
    ("secret-key-django-insecure", {"app:secret_key": "django-insecure-" + "Zq7Rt9Lm2" * 5},
     "webstack:app:secret_key", "at least 50 printable characters"),
    ("postgres-password-placeholder", {"postgres:password": "Changeme-Changeme-42"}, "webstack:postgres:password",
     "a placeholder word such as 'changeme'"),
    ("redis-password-one-char", {"redis:password": "a" * 40}, "webstack:redis:password", "(8 different)"),
    ("redis-password-reused", {"redis:password": PG_PASSWORD}, "webstack:redis:password",
     "a secret of its own, got the same value as webstack:postgres:password"),
    ("postgres-host-unresolvable", {"postgres:host": "db.does-not-resolve.invalid"}, "webstack:postgres:host",
     "a host name that resolves on this minion, or an IP address, got the string "
     "'db.does-not-resolve.invalid', which does not resolve"),
    ("redis-host-unresolvable", {"redis:host": "cache-9"}, "webstack:redis:host", "which does not resolve"),
    ("ports-redis-on-postgres", {"redis:port": 5432}, "webstack:redis:port",
     "a port apart from webstack:postgres:port (both listen on this host), got the same port 5432"),
    ("ports-nginx-on-redis", {"nginx:port": 6379}, "webstack:nginx:port", "a port apart from webstack:redis:port"),
    ("ports-apache-on-postgres", {"wsgi:server": "mod_wsgi", "apache:port": 5432}, "webstack:apache:port",
     "a port apart from webstack:postgres:port"),
    ("ports-app-and-lb", {"roles": ["app", "lb"]}, "webstack:lb:port",
     "a port apart from webstack:nginx:port (both listen on this host), got the same port 80"),
    ("wsgi-server-uwsgi2", {"wsgi:server": "uwsgi2"}, "webstack:wsgi:server",
     "one of gunicorn, uwsgi, mod_wsgi"),
    ("wsgi-server-capitalised", {"wsgi:server": "Gunicorn"}, "webstack:wsgi:server", "one of gunicorn"),
    ("uwsgi-with-other-python", {"wsgi:server": "uwsgi", "app:python": "/opt/python3.12/bin/python3"},
     "webstack:app:python", "python3 with wsgi:server uwsgi"),
    ("mod-wsgi-with-other-python", {"wsgi:server": "mod_wsgi", "app:python": "python3.12"},
     "webstack:app:python", "python3 with wsgi:server mod_wsgi"),
    ("apache-port-0", {"apache:port": 0}, "webstack:apache:port", "a port number from 1 to 65535"),
    ("apache-server-name-injection", {"apache:server_name": "x\nInclude /etc/shadow"},
     "webstack:apache:server_name", "a host name"),
    ("apache-body-negative", {"apache:limit_request_body": -1}, "webstack:apache:limit_request_body",
     "a number of bytes from 0"),
    ("apache-max-age-string", {"apache:static_max_age": "30d"}, "webstack:apache:static_max_age",
     "a number of seconds"),
    ("apache-not-mapping", {"apache": "on"}, "webstack:apache", "a mapping"),
    ("wsgi-workers-zero", {"wsgi:workers": 0}, "webstack:wsgi:workers", "'auto' or an integer"),
    ("role-unknown", {"roles": ["web"]}, "webstack:roles",
     "each item one of single, db, cache, app, worker, lb, storage, got the string 'web' among its items"),
    ("role-single-plus-app", {"roles": ["single", "app"]}, "webstack:roles", "either [single]"),
    ("roles-not-a-list", {"roles": "single"}, "webstack:roles", "a list, each item one of single"),
    ("nginx-port-0", {"nginx:port": 0}, "webstack:nginx:port", "a port number from 1 to 65535"),
    ("nginx-port-70000", {"nginx:port": 70000}, "webstack:nginx:port", "a port number from 1 to 65535"),
    ("nginx-port-string", {"nginx:port": "80"}, "webstack:nginx:port", "got the string '80'"),
    ("nginx-port-bool", {"nginx:port": True}, "webstack:nginx:port", "got the boolean True"),
    ("redis-port-float", {"redis:port": 6379.0}, "webstack:redis:port", "a port number"),
    ("postgres-host-bad", {"postgres:host": "bad host!"}, "webstack:postgres:host",
     "a host name or an IP address"),
    ("redis-bind-hostname", {"redis:bind": ["localhost"]}, "webstack:redis:bind", "each item an IP address"),
    ("redis-bind-not-list", {"redis:bind": "127.0.0.1"}, "webstack:redis:bind", "a non-empty list"),
    ("redis-cache-equals-broker", {"redis:cache_db": 3, "redis:broker_db": 3}, "webstack:redis:broker_db",
     "apart from webstack:redis:cache_db"),
    ("redis-db-16", {"redis:cache_db": 16}, "webstack:redis:cache_db", "from 0 to 15"),
    ("source-shell-metachar-salt", {"app:source": "salt://example; rm -rf /"}, "webstack:app:source",
     "salt://<path>"),
    ("source-shell-metachar-git", {"app:source": "https://example.org/app.git$(reboot)"},
     "webstack:app:source", "a git URL"),
    ("source-http-tarball", {"app:source": "ftp://example.org/app.tar.gz"}, "webstack:app:source",
     "salt://<path>"),
    ("rev-option-injection", {"app:rev": "--upload-pack=touch /tmp/x"}, "webstack:app:rev",
     "a git branch, tag or commit"),
    ("base-dir-dotdot", {"app:base_dir": "/srv/../etc"}, "webstack:app:base_dir", "without '..'"),
    ("base-dir-relative", {"app:base_dir": "srv/webapp"}, "webstack:app:base_dir", "an absolute path"),
    ("app-name-uppercase", {"app:name": "WebApp"}, "webstack:app:name", "a lowercase name"),
    ("app-user-with-space", {"app:user": "web app"}, "webstack:app:user", "a lowercase name"),
    ("allowed-hosts-not-list", {"app:allowed_hosts": "localhost"}, "webstack:app:allowed_hosts",
     "a non-empty list"),
    ("allowed-hosts-empty", {"app:allowed_hosts": []}, "webstack:app:allowed_hosts", "a non-empty list"),
    ("env-key-lowercase", {"app:env": {"debug": "1"}}, "webstack:app:env",
     "an UPPER_CASE variable name, and not one that chooses what a program loads or runs (PYTHON*, LD_*, "
     "PATH, HOME, IFS, ...) for each key, got the string 'debug'"),
    ("env-value-multiline", {"app:env": {"BANNER": "one\ntwo"}}, "webstack:app:env:BANNER", "single-line"),
    ("build-command-multiline", {"app:build_commands": ["python manage.py check\nrm -rf /"]},
     "webstack:app:build_commands", "each item a single-line command"),
    ("migrate-commands-string", {"app:migrate_commands": "python manage.py migrate"},
     "webstack:app:migrate_commands", "a list, each item a single-line command"),
    ("requirements-escapes-root", {"app:requirements": "../requirements.txt"}, "webstack:app:requirements",
     "relative to the project root"),
    ("wsgi-app-no-module", {"app:wsgi_app": "wsgi application"}, "webstack:app:wsgi_app",
     "module.path:callable"),
    ("debug-string", {"app:debug": "yes"}, "webstack:app:debug", "true or false"),
    ("keep-releases-zero", {"app:keep_releases": 0}, "webstack:app:keep_releases", "from 1 to 100"),
    ("static-url-no-slash", {"app:static_url": "/static"}, "webstack:app:static_url", "ends with '/'"),
    ("health-path-relative", {"app:health_path": "healthz"}, "webstack:app:health_path",
     "a URL path starting with '/'"),
    ("process-manager-runit", {"process_manager": "runit"}, "webstack:process_manager",
     "one of supervisord, systemd"),
    ("process-manager-systemd-not-booted", {"process_manager": "systemd"}, "webstack:process_manager",
     "expected supervisord on this host, where systemd is not PID 1"),
    ("celery-loglevel-lowercase", {"celery:loglevel": "info"}, "webstack:celery:loglevel",
     "one of DEBUG, INFO"),
    ("nginx-body-size", {"nginx:client_max_body_size": "10 MB"}, "webstack:nginx:client_max_body_size",
     "a size such as 10m"),
    ("supervisor-conf-dir-relative", {"supervisor:conf_dir": "conf.d"}, "webstack:supervisor:conf_dir",
     "an absolute path"),
    ("postgres-name-sql-injection", {"postgres:name": "app; DROP TABLE x"}, "webstack:postgres:name",
     "SQL identifier"),
    ("section-not-mapping", {"celery": ["enabled"]}, "webstack:celery", "a mapping"),
    # app:release (a pin for orch.rollback)
    ("release-word", {"app:release": "latest"}, "webstack:app:release", "a release id (YYYYmmddTHHMMSSZ-<8 hex>)"),
    ("release-uppercase-hex", {"app:release": "0123ABCD"}, "webstack:app:release", "its 8 hex digits"),
    ("release-seven-hex", {"app:release": "20261126T210000Z-0123abc"}, "webstack:app:release",
     "YYYYmmddTHHMMSSZ-<8 hex>"),
    ("release-path", {"app:release": "../0123abcd"}, "webstack:app:release", "its 8 hex digits, or ''"),
    ("release-list", {"app:release": ["0123abcd"]}, "webstack:app:release", "got a list of 1 items"),
    ("release-octal-in-yaml", {"app:release": 0o1234567}, "webstack:app:release", "got the number 342391"),
    # lb
    ("lb-port-0", {"lb:port": 0}, "webstack:lb:port", "a port number from 1 to 65535"),
    ("lb-port-string", {"lb:port": "80"}, "webstack:lb:port", "got the string '80'"),
    ("lb-balance-random", {"lb:balance": "random"}, "webstack:lb:balance",
     "one of roundrobin, leastconn, first, source"),
    ("lb-check-inter-words", {"lb:check_inter": "1 second"}, "webstack:lb:check_inter",
     "a check interval such as 1s or 500ms"),
    ("lb-check-inter-no-unit", {"lb:check_inter": 1}, "webstack:lb:check_inter", "a check interval"),
    ("lb-fall-0", {"lb:fall": 0}, "webstack:lb:fall", "an integer from 1 to 100"),
    ("lb-rise-101", {"lb:rise": 101}, "webstack:lb:rise", "an integer from 1 to 100"),
    ("lb-retries-string", {"lb:retries": "3"}, "webstack:lb:retries", "an integer from 1 to 100"),
    ("lb-fall-bool", {"lb:fall": True}, "webstack:lb:fall", "got the boolean True"),
    ("lb-engine-varnish", {"lb:engine": "varnish"}, "webstack:lb:engine", "one of haproxy, nginx"),
    ("lb-engine-nginx-beside-app", {"lb:engine": "nginx", "roles": ["app", "lb"], "lb:port": 8080},
     "webstack:lb:engine", "expected haproxy where a node has roles lb and app (this node)"),
    ("lb-engine-nginx-app-node-in-nodes", {"lb:engine": "nginx", "nodes": {"db1": ["db", "cache"],
                                                                           "web1": ["app", "lb"]}},
     "webstack:lb:engine", "expected haproxy where a node has roles lb and app (web1)"),
    ("lb-engine-nginx-balance-first", {"lb:engine": "nginx", "lb:balance": "first"}, "webstack:lb:balance",
     "expected roundrobin, leastconn or source with lb:engine nginx"),
    ("lb-fail-timeout-words", {"lb:fail_timeout": "10 seconds"}, "webstack:lb:fail_timeout",
     "a duration such as 5s"),
    ("varnish-enabled-string", {"varnish:enabled": "yes"}, "webstack:varnish:enabled", "got the string 'yes'"),
    ("varnish-memory-tiny", {"varnish:memory": 1}, "webstack:varnish:memory", "a size in megabytes from 16"),
    ("varnish-ttl-negative", {"varnish:default_ttl": -1}, "webstack:varnish:default_ttl", "from 0 to 31536000"),
    ("varnish-port-on-the-lb-port", {"roles": ["lb"], "varnish:enabled": True, "varnish:port": 80},
     "webstack:varnish:port", "a port apart from webstack:lb:port (both listen on this host), got the same port 80"),
    ("lb-pool-port-on-varnishs-port", {"roles": ["lb"], "varnish:enabled": True, "lb:pool_port": 6081},
     "webstack:lb:pool_port", "a port apart from webstack:varnish:port"),
    ("lb-pool-port-on-the-tls-port", {"roles": ["lb"], "lb:engine": "nginx", "lb:pool_port": 443},
     "webstack:lb:pool_port", "a port apart from webstack:tls:port"),
    ("lb-maxconn-0", {"lb:maxconn": 0}, "webstack:lb:maxconn", "an integer from 1 to 1000000"),
    ("lb-maxconn-huge", {"lb:maxconn": 10**6 + 1}, "webstack:lb:maxconn", "an integer from 1 to 1000000"),
    ("lb-timeout-connect-words", {"lb:timeout_connect": "5 seconds"}, "webstack:lb:timeout_connect",
     "a duration such as 5s"),
    ("lb-timeout-client-injection", {"lb:timeout_client": "60s\n    stats enable"}, "webstack:lb:timeout_client",
     "a duration such as 5s"),
    ("lb-timeout-server-number", {"lb:timeout_server": 60}, "webstack:lb:timeout_server", "a duration"),
    ("lb-not-mapping", {"lb": "haproxy"}, "webstack:lb", "a mapping"),
    # network
    ("network-cidr-bad", {"network:private_cidr": "10.0.0.0/33"}, "webstack:network:private_cidr",
     "a network such as 10.0.0.0/8, or ''"),
    ("network-cidr-hostname", {"network:private_cidr": "lan"}, "webstack:network:private_cidr",
     "got the string 'lan'"),
    ("network-cidr-list", {"network:private_cidr": ["10.0.0.0/8"]}, "webstack:network:private_cidr",
     "a network such as"),
    ("network-interface-bad", {"network:private_interface": "eth1; reboot"},
     "webstack:network:private_interface", "an interface name such as eth1, or ''"),
    ("network-not-mapping", {"network": "10.0.0.0/8"}, "webstack:network", "a mapping"),
    # nodes: the cluster's shape
    ("nodes-not-mapping", {"nodes": ["db1", "app1"]}, "webstack:nodes",
     "a mapping of a minion id of letters, digits, '.', '_' or '-' to a non-empty list"),
    ("nodes-id-glob", {"nodes": {"app*1": ["lb"]}}, "webstack:nodes",
     "a minion id of letters, digits, '.', '_' or '-' for each key, got the string 'app*1'"),
    ("nodes-id-leading-dash", {"nodes": {"-app1": ["lb"]}}, "webstack:nodes", "got the string '-app1'"),
    ("nodes-id-space", {"nodes": {"app 1": ["lb"]}}, "webstack:nodes", "got the string 'app 1'"),
    ("nodes-id-number", {"nodes": {1: ["lb"]}}, "webstack:nodes", "got the number 1"),
    ("nodes-role-unknown", {"nodes": {"app1": ["web"]}}, "webstack:nodes:app1",
     "a non-empty list, each item one of single, db, cache, app, worker, lb"),
    ("nodes-role-single-with-others", {"nodes": {"db1": ["db"], "cache1": ["cache"], "app1": ["single", "app"]}},
     "webstack:nodes:app1",
     "[single] alone or cluster roles"),
    ("nodes-roles-empty", {"nodes": {"app1": []}}, "webstack:nodes:app1", "got a list of 0 items"),
    ("nodes-roles-string", {"nodes": {"app1": "app"}}, "webstack:nodes:app1", "got the string 'app'"),
    ("nodes-two-db", {"nodes": {"db2": ["db"], "db1": ["db"]}}, "webstack:nodes", "one db node, got db1, db2"),
    ("nodes-two-cache", {"nodes": {"db1": ["db", "cache"], "cache1": ["cache"]}}, "webstack:nodes",
     "one cache node, got cache1, db1"),
    ("nodes-app-without-db", {"nodes": {"cache1": ["cache"], "app1": ["app"]}}, "webstack:nodes",
     "a db node for the app nodes, got none"),
    ("nodes-app-without-cache", {"nodes": {"db1": ["db"], "app1": ["app"]}}, "webstack:nodes",
     "a cache node for the app nodes, got none"),
    ("nodes-worker-without-db", {"nodes": {"cache1": ["cache"], "worker1": ["worker"]}}, "webstack:nodes",
     "a db node for the worker nodes, got none"),
    ("nodes-lb-without-app", {"nodes": {"db1": ["db"], "cache1": ["cache"], "lb1": ["lb"]}}, "webstack:nodes",
     "an app node for the lb nodes, got none"),
    ("nodes-two-storage", {"nodes": {"db1": ["db", "cache", "storage"], "files1": ["storage"]}}, "webstack:nodes",
     "one storage node, got db1, files1"),
    # the shared uploads
    ("app-uid-root", {"app:uid": 0}, "webstack:app:uid", "a user id from 100 to 60000, got the number 0"),
    ("app-uid-string", {"app:uid": "1500"}, "webstack:app:uid", "got the string '1500'"),
    ("glusterfs-volume-space", {"glusterfs:volume": "my uploads"}, "webstack:glusterfs:volume",
     "a lowercase name matching"),
    ("glusterfs-brick-relative", {"glusterfs:brick_dir": "srv/bricks"}, "webstack:glusterfs:brick_dir",
     "an absolute path"),
    ("glusterfs-force-string", {"glusterfs:force": "yes"}, "webstack:glusterfs:force", "true or false"),
    # tls
    ("tls-not-mapping", {"tls": True}, "webstack:tls", "a mapping"),
    ("tls-enabled-string", {"tls:enabled": "yes"}, "webstack:tls:enabled", "true or false"),
    ("tls-port-0", {"tls:port": 0}, "webstack:tls:port", "a port number from 1 to 65535"),
    ("tls-port-is-http-port", {"tls:port": 80}, "webstack:tls:port",
     "a port apart from webstack:nginx:port (both listen on this host), got the same port 80"),
    ("tls-hsts-negative", {"tls:hsts_max_age": -1}, "webstack:tls:hsts_max_age", "a number of seconds from 0"),
    ("tls-hsts-string", {"tls:hsts_max_age": "2y"}, "webstack:tls:hsts_max_age", "got the string '2y'"),
    ("tls-preload-without-subdomains", {"tls:hsts_preload": True}, "webstack:tls:hsts_preload",
     "tls:hsts_include_subdomains true with it"),
    ("tls-preload-short-max-age", {"tls:hsts_preload": True, "tls:hsts_include_subdomains": True,
                                   "tls:hsts_max_age": 86400}, "webstack:tls:hsts_preload",
     "at least 31536000 (one year) with it, got 86400"),
    ("tls-self-signed-days-0", {"tls:self_signed_days": 0}, "webstack:tls:self_signed_days", "from 30 to 3650"),
    ("tls-certificate-not-pem", {"tls:certificate": "www.example.org.crt", "tls:private_key": TLS_KEY},
     "webstack:tls:certificate", "'' (a self-signed one) or PEM text"),
    ("tls-certificate-garbled", {"tls:certificate": TLS_CERT.replace("MI", "AA", 1), "tls:private_key": TLS_KEY},
     "webstack:tls:certificate", "does not load"),
    ("tls-certificate-without-key", {"tls:certificate": TLS_CERT}, "webstack:tls:private_key",
     "with webstack:tls:certificate (both or neither"),
    ("tls-key-without-certificate", {"tls:private_key": TLS_KEY}, "webstack:tls:certificate",
     "with webstack:tls:private_key (both or neither"),
    ("tls-key-not-pem", {"tls:certificate": TLS_CERT, "tls:private_key": "secret-key-file-path"},
     "webstack:tls:private_key", "PEM text of one unencrypted private key"),
    ("tls-key-of-another-certificate", {"tls:certificate": TLS_CERT, "tls:private_key": OTHER_KEY},
     "webstack:tls:private_key", "the key of the first certificate in tls:certificate, got another key"),
    ("tls-certificate-with-its-key", {"tls:certificate": TLS_CERT + TLS_KEY, "tls:private_key": TLS_KEY},
     "webstack:tls:certificate", "and no private key"),
    # a grammar per sink: what a Python parser accepts is not what a config file or a shell does
    ("allowed-host-zone-id-shell", {"app:allowed_hosts": ["localhost", "fe80::1%'$(touch${IFS}/tmp/x)'"]},
     "webstack:app:allowed_hosts", "got the string \"fe80::1%'$(touch${IFS}/tmp/x)'\" among its items"),
    ("redis-bind-zone-id-newline", {"redis:bind": ["127.0.0.1", "fe80::1%x\nuser evil on nopass +@all"]},
     "webstack:redis:bind", "each item an IP address"),
    ("apache-server-name-zone-id", {"apache:server_name": "fe80::1%x;Include /etc/shadow"},
     "webstack:apache:server_name", "a host name or an IPv4 address"),
    ("listen-addresses-zone-id", {"postgres:listen_addresses": "localhost,fe80::1%x'"},
     "webstack:postgres:listen_addresses", "a comma-separated list of host names or IP addresses"),
    ("postgres-host-zone-id", {"postgres:host": "fe80::1%x@evil"}, "webstack:postgres:host",
     "a host name or an IP address (without a zone)"),
    ("allowed-host-trailing-newline", {"app:allowed_hosts": ["localhost\n"]}, "webstack:app:allowed_hosts",
     "got the string 'localhost\\n' among its items"),
    ("rev-trailing-newline", {"app:rev": "main\n"}, "webstack:app:rev", "a git branch, tag or commit"),
    ("static-expires-trailing-newline", {"nginx:static_expires": "30d\n"}, "webstack:nginx:static_expires",
     "an nginx duration"),
    ("health-path-trailing-newline", {"app:health_path": "/healthz\n"}, "webstack:app:health_path",
     "a URL path starting with '/'"),
    ("server-name-tab", {"nginx:server_name": "www.example.org\tevil"}, "webstack:nginx:server_name",
     "separated by single spaces"),
    ("command-nul", {"app:post_deploy_commands": ["python manage.py check\x00"]},
     "webstack:app:post_deploy_commands", "a single-line command of printable characters"),
    ("command-unbalanced-quote", {"app:build_commands": ["python -c 'print(1)"]}, "webstack:app:build_commands",
     "a single-line command"),
    # distribution facts reach cmd.run, check_cmd and boot links: each has its grammar
    ("fact-service-payload", {"services": {"nginx": "nginx; touch /tmp/pwned"}}, "webstack:services:nginx",
     "a service name such as nginx"),
    ("fact-package-payload", {"pkgs": {"python": ["python3", "$(reboot)"]}}, "webstack:pkgs:python",
     "each item a package name"),
    ("fact-binary-payload", {"haproxy_bin": "/usr/sbin/haproxy -v; id #"}, "webstack:haproxy_bin",
     "an absolute path"),
    ("fact-ctl-payload", {"apache_ctl": "apache2ctl && reboot"}, "webstack:apache_ctl",
     "a command name or an absolute path"),
    ("fact-conf-dir-payload", {"postgres_conf_dir": "/etc/postgresql/{version}/main$(id)"},
     "webstack:postgres_conf_dir", "an absolute path (it may hold {version})"),
    ("fact-version-string", {"postgres_version": "15; reboot"}, "webstack:postgres_version",
     "an integer from 9 to 99"),
    ("fact-user-payload", {"nginx_user": "www-data;"}, "webstack:nginx_user", "a system user name"),
    ("fact-tls-dir-relative", {"tls_dir": "tls"}, "webstack:tls_dir", "an absolute path"),
    ("fact-pkgs-not-mapping", {"pkgs": "nginx"}, "webstack:pkgs", "a mapping"),
    # credentials never go in a git URL: a deploy key does
    ("source-https-user-and-token", {"app:source": "https://deploy:ghp_t0kenT0ken@github.com/acme/app.git"},
     "webstack:app:source", "give the server a deploy key"),
    ("source-https-token-as-user", {"app:source": "https://ghp_t0kenT0ken@github.com/acme/app.git"},
     "webstack:app:source", "without credentials"),
    ("source-ssh-password", {"app:source": "ssh://git:hunter2hunter2@git.example.org/app.git"},
     "webstack:app:source", "without credentials"),
    # the project's own names and secrets: one source per variable, secrets never shown
    ("env-reserved-key", {"app:env": {"SECRET_KEY": "mine"}}, "webstack:app:env:SECRET_KEY",
     "a name of no other variable, got SECRET_KEY, which is a setting of the formula; rename the formula's "
     "with webstack:app:env_names"),
    ("env-names-collide", {"app:env_names": {"CACHE_URL": "DATABASE_URL"}}, "webstack:app:env_names:CACHE_URL",
     "a name of no other variable, got 'DATABASE_URL', which is a setting of the formula"),
    ("env-names-renamed-twice", {"app:env_names": {"CACHE_URL": "REDIS_URL", "CELERY_BROKER_URL": "REDIS_URL"}},
     "webstack:app:env_names:CELERY_BROKER_URL", "got 'REDIS_URL', which is the formula's CACHE_URL"),
    ("env-names-unknown-setting", {"app:env_names": {"SECRET": "DJANGO_SECRET"}}, "webstack:app:env_names",
     "a setting the formula provides (SECRET_KEY, DEBUG"),
    ("env-names-lowercase", {"app:env_names": {"SECRET_KEY": "django_secret_key"}},
     "webstack:app:env_names:SECRET_KEY", "IFS, ...), or '', got the string 'django_secret_key'"),
    ("secret-shadows-a-setting", {"app:env_names": {"SECRET_KEY": "DJANGO_SECRET_KEY"},
                                  "app:secrets": {"DJANGO_SECRET_KEY": "t0kenT0ken-" * 6}},
     "webstack:app:secrets:DJANGO_SECRET_KEY", "which is the formula's SECRET_KEY"),
    ("secret-in-env-too", {"app:env": {"MAIL_PASSWORD": "x"}, "app:secrets": {"MAIL_PASSWORD": "t0kenT0ken"}},
     "webstack:app:secrets:MAIL_PASSWORD", "which is in webstack:app:env"),
    ("secret-multiline", {"app:secrets": {"MAIL_PASSWORD": "t0kenT0ken\nhunter2hunter2"}},
     "webstack:app:secrets:MAIL_PASSWORD", "a single-line value"),
    ("system-package-injection", {"app:system_packages": ["libpq-dev; reboot"]}, "webstack:app:system_packages",
     "each item a Debian package name such as libpq-dev"),
    ("system-package-option", {"app:system_packages": ["--allow-unauthenticated"]},
     "webstack:app:system_packages", "a Debian package name"),
    ("static-root-escapes", {"app:static_root": "../static"}, "webstack:app:static_root", "without '..'"),
    ("media-root-absolute", {"app:media_root": "/var/www/media"}, "webstack:app:media_root",
     "relative to the project root"),
    ("list-format-unknown", {"app:list_format": "yaml"}, "webstack:app:list_format", "one of comma, space, json"),
    ("beat-scheduler-words", {"celery:beat_scheduler": "the database"}, "webstack:celery:beat_scheduler",
     "module.path:Name"),
    ("start-timeout-small", {"celery:start_timeout": 1}, "webstack:celery:start_timeout", "from 5 to 3600"),
    # the other engines
    ("db-engine-unknown", {"db:engine": "mysql"}, "webstack:db:engine",
     "one of postgresql, mariadb, got the string 'mysql'"),
    ("mariadb-password-missing", {"db:engine": "mariadb"}, "webstack:mariadb:password", "it is missing"),
    ("mariadb-password-quote", {"db:engine": "mariadb", "mariadb:password": "t0kenT0ken'; DROP USER root"},
     "webstack:mariadb:password", "without spaces, quotes, backslashes"),
    ("mariadb-bind-zone-id", {"mariadb:bind": ["127.0.0.1", "fe80::1%x\nskip-grant-tables"]},
     "webstack:mariadb:bind", "each item an IP address"),
    ("mariadb-name-not-sql", {"mariadb:name": "web-app"}, "webstack:mariadb:name", "SQL identifier"),
    ("mariadb-host-does-not-resolve", {"db:engine": "mariadb", "mariadb:password": "Mb-Kq7Zt2Lx9Vw4Rn8",
                                       "mariadb:host": "db-9"}, "webstack:mariadb:host", "which does not resolve"),
    ("memcached-memory-words", {"memcached:memory": "64m"}, "webstack:memcached:memory",
     "a size in megabytes from 8 to 65536, got the string '64m'"),
    ("memcached-port-collides", {"cache:engine": "memcached", "memcached:port": 6379}, "webstack:memcached:port",
     "a port apart from webstack:redis:port"),
    ("mariadb-port-collides", {"db:engine": "mariadb", "mariadb:password": "Mb-Kq7Zt2Lx9Vw4Rn8",
                               "mariadb:port": 6379}, "webstack:redis:port", "a port apart from webstack:mariadb:port"),
    ("queue-unknown", {"app:queue": "huey"}, "webstack:app:queue", "one of celery, rq"),
    ("rq-queue-flag", {"rq:queues": ["default --burst"]}, "webstack:rq:queues", "each item a queue name"),
    ("rq-command-two-lines", {"rq:command": "rq worker\nreboot"}, "webstack:rq:command", "a single-line command"),
    # backups
    ("backup-without-passphrase", {"backup:enabled": True}, "webstack:backup:passphrase",
     "a password of at least 16 printable characters"),
    ("backup-passphrase-weak", {"backup:enabled": True, "backup:passphrase": "changeme-changeme"},
     "webstack:backup:passphrase", "a placeholder word"),
    ("backup-passphrase-reused", {"backup:enabled": True, "backup:passphrase": PG_PASSWORD},
     "webstack:postgres:password", "a secret of its own, got the same value as webstack:backup:passphrase"),
    ("backup-on-mariadb", {"backup:enabled": True, "backup:passphrase": BACKUP_PASSPHRASE, "db:engine": "mariadb",
                           "mariadb:password": "maria-Pass-W0rd-1234"},
     "webstack:backup:enabled", "expected false with db:engine mariadb (the backups are PostgreSQL's, so far)"),
    ("backup-schedule-hour-24", {"backup:full_schedule": "15 24 * * 0"}, "webstack:backup:full_schedule",
     "cron's five fields (minute 0-59, hour 0-23"),
    ("backup-schedule-daily-word", {"backup:diff_schedule": "@daily"}, "webstack:backup:diff_schedule",
     "cron's five fields"),
    ("backup-schedule-newline", {"backup:diff_schedule": "15 3 * * 1-6\n* * * * * root sh"},
     "webstack:backup:diff_schedule", "cron's five fields"),
    ("backup-path-relative", {"backup:path": "backups"}, "webstack:backup:path", "an absolute path"),
    ("backup-retention-zero", {"backup:retention_full": 0}, "webstack:backup:retention_full",
     "a number of backups from 1 to 100"),
    # the off-site copy
    ("offsite-without-backups", dict(OFFSITE, **{"backup:enabled": False}), "webstack:backup:offsite",
     "expected false while backup:enabled is false"),
    ("offsite-without-endpoint", dict(OFFSITE, **{"backup:s3_endpoint": ""}), "webstack:backup:s3_endpoint",
     "expected the S3 endpoint's host name with backup:offsite true, it is missing"),
    ("offsite-without-secret-key", {k: v for k, v in OFFSITE.items() if k != "backup:s3_secret_key"},
     "webstack:backup:s3_secret_key", "it is missing"),
    ("offsite-bucket-uppercase", dict(OFFSITE, **{"backup:s3_bucket": "My_Backups"}), "webstack:backup:s3_bucket",
     "a bucket name of 3 to 63 lowercase letters"),
    ("offsite-endpoint-url", dict(OFFSITE, **{"backup:s3_endpoint": "https://s3.example.org/"}),
     "webstack:backup:s3_endpoint", "a host name or an IP address"),
    ("offsite-key-newline", dict(OFFSITE, **{"backup:s3_secret_key": "abcdef\nrepo3-path=/tmp"}),
     "webstack:backup:s3_secret_key", "3 to 128 letters, digits"),
    ("offsite-uri-style", dict(OFFSITE, **{"backup:s3_uri_style": "virtual"}), "webstack:backup:s3_uri_style",
     "one of host, path"),
    ("offsite-ca-with-key", dict(OFFSITE, **{"backup:s3_ca": "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                                             "-----END PRIVATE KEY-----\n"}),
     "webstack:backup:s3_ca", "PEM"),
    # a key the formula does not read: a typo, named with its neighbour
    ("unknown-key-typo", {"wsgi:worker": 4}, "webstack:wsgi:worker",
     "no such key, the formula does not read it (did you mean wsgi:workers?)"),
    ("unknown-section", {"gunicorn": {"workers": 4}}, "webstack:gunicorn", "no such key"),
]


@pytest.mark.parametrize(
    "changes, key, expected",
    [pytest.param(changes, key, expected, id=case_id) for case_id, changes, key, expected in BAD],
)
def test_bad_pillar_names_key_and_form_and_hides_secrets(changes, key, expected):
    pillar = _with(changes)
    errors = pillar_mod.validate(pillar=pillar)

    # exactly one message, about the faulty key (no noise from the valid rest)
    assert len(errors) == 1, errors
    message = errors[0]
    assert message.startswith(f"{key}: expected "), message
    assert expected in message, message
    for secret in _secrets(pillar) + ["t0kenT0ken", "hunter2hunter2"]:
        assert secret not in message


def test_a_host_that_resolves_is_valid():
    pillar = _with({"postgres:host": "db.example.org", "redis:host": "localhost"})
    assert pillar_mod.validate(pillar=pillar) == []
    # the nodes that do not connect to them do not resolve them
    pillar = _with({"postgres:host": "db-9", "roles": ["db"]})
    assert pillar_mod.validate(pillar=pillar) == []


def test_certificate_with_its_key_is_valid():
    assert pillar_mod.validate(pillar=_with({"tls:certificate": TLS_CERT, "tls:private_key": TLS_KEY})) == []
    assert pillar_mod.validate(pillar=_with({"tls:certificate": TLS_CERT + TLS_CERT,
                                             "tls:private_key": TLS_KEY})) == []


def test_tls_port_may_equal_the_front_port_where_tls_is_off_or_behind_the_lb():
    assert pillar_mod.validate(pillar=_with({"tls:enabled": False, "tls:port": 80})) == []
    nodes = {"db1": ["db"], "cache1": ["cache"], "app1": ["app"], "lb1": ["lb"]}
    assert pillar_mod.validate(pillar=_with({"nodes": nodes, "tls:port": 80}), roles=["app"]) == []
    assert pillar_mod.validate(pillar=_with({"nodes": nodes, "tls:port": 80}), roles=["lb"]) == [
        "webstack:tls:port: expected a port apart from webstack:lb:port (both listen on this host), "
        "got the same port 80"]


def test_backups_on_a_single_server_with_their_passphrase_are_valid():
    assert pillar_mod.validate(pillar=_with({"backup:enabled": True, "backup:passphrase": BACKUP_PASSPHRASE})) == []


def test_backups_with_an_off_site_copy_are_valid():
    assert pillar_mod.validate(pillar=_with(OFFSITE)) == []


def test_backups_on_a_clusters_node_are_refused():
    nodes = {"db1": ["db"], "cache1": ["cache"], "app1": ["app"]}
    errors = pillar_mod.validate(pillar=_with({"nodes": nodes, "backup:enabled": True}), roles=["db"])
    assert errors == ["webstack:backup:enabled: expected false on a cluster's node (a single server's backups only, "
                      "so far), got true with roles db"]


def test_bad_table_is_large_enough():
    assert len(BAD) >= 20
    assert len({case_id for case_id, *_ in BAD}) == len(BAD)


def test_secret_of_wrong_form_is_not_echoed_even_when_short():
    # a short secret would be quoted by _describe(); it must not be
    short = "hunter2-hunter2!"  # 16 characters: a valid redis password, too short a secret key
    errors = pillar_mod.validate(pillar=_with({"app:secret_key": short, "redis:password": "x"}))
    assert [e.split(":", 3)[:3] for e in errors] == [
        ["webstack", "app", "secret_key"],
        ["webstack", "redis", "password"],
    ]
    joined = "\n".join(errors)
    assert short not in joined
    assert "'x'" not in joined
    assert "got a value that does not match" in joined


def test_several_faults_give_one_message_each():
    pillar = _with({"nginx:port": 0, "wsgi:server": "uwsgi2", "app:secret_key": _DELETE})
    errors = pillar_mod.validate(pillar=pillar)
    keys = sorted(e.split(": expected")[0] for e in errors)
    assert keys == ["webstack:app:secret_key", "webstack:nginx:port", "webstack:wsgi:server"]


def test_complete_valid_pillar_has_no_errors():
    assert pillar_mod.validate(pillar=copy.deepcopy(VALID)) == []


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi", "mod_wsgi"])
def test_every_wsgi_server_is_valid(server):
    assert pillar_mod.validate(pillar=_with({"wsgi:server": server})) == []


def test_systemd_is_valid_where_it_is_pid_1(tmp_path, monkeypatch):
    monkeypatch.setattr(pillar_mod, "SYSTEMD_RUN_DIR", str(tmp_path))  # stands for /run/systemd/system
    assert pillar_mod.validate(pillar=_with({"process_manager": "systemd"})) == []
    monkeypatch.setattr(pillar_mod, "SYSTEMD_RUN_DIR", str(tmp_path / "absent"))
    assert pillar_mod.validate(pillar=_with({"process_manager": "systemd"})) == [
        f"webstack:process_manager: expected supervisord on this host, where systemd is not PID 1 "
        f"(no {tmp_path / 'absent'}), got 'systemd'"]


@pytest.mark.parametrize("server, front", [("gunicorn", "nginx"), ("uwsgi", "nginx"), ("mod_wsgi", "apache")])
def test_front_names_the_web_server_and_its_port(server, front):
    pillar_mod.__pillar__["webstack"] = _with({"wsgi:server": server, "nginx:port": 8080, "apache:port": 8081})
    assert pillar_mod.front() == {"server": front, "port": 8080 if front == "nginx" else 8081, "tls": True,
                                  "url": "https://{host}/"}
    pillar_mod.__pillar__["webstack"] = {}
    assert pillar_mod.front() == {"server": "nginx", "port": 80, "tls": True, "url": "https://{host}/"}


def test_front_url_follows_the_tls_settings():
    pillar_mod.__pillar__["webstack"] = _with({"tls:port": 8443})
    assert pillar_mod.front()["url"] == "https://{host}:8443/"
    pillar_mod.__pillar__["webstack"] = _with({"tls:enabled": False, "nginx:port": 8080})
    assert pillar_mod.front() == {"server": "nginx", "port": 8080, "tls": False, "url": "http://{host}:8080/"}
    pillar_mod.__pillar__["webstack"] = _with({"tls:enabled": False})
    assert pillar_mod.front()["url"] == "http://{host}/"


def test_valid_pillar_is_read_from_dunder_pillar():
    assert pillar_mod.validate() == []
    assert pillar_mod.check() is True


def test_masked_pillar_is_validated_on_plain_values():
    # Salt 3008 hands modules a masked pillar; validation must see the real values
    masked = hide({"webstack": _with({"nginx:port": "80"})})
    pillar_mod.__pillar__.clear()
    pillar_mod.__pillar__.update(masked)
    errors = pillar_mod.validate()
    assert errors == ["webstack:nginx:port: expected a port number from 1 to 65535, got the string '80'"]


def test_missing_webstack_pillar():
    pillar_mod.__pillar__.clear()
    assert pillar_mod.validate() == ["webstack: expected a mapping of the formula's settings, it is missing"]


@pytest.mark.parametrize(
    "roles, present, missing",
    [
        (["lb"], [], []),
        (["db"], ["postgres:password"], ["app:secret_key", "redis:password"]),
        (["cache"], ["redis:password"], ["app:secret_key", "postgres:password"]),
        (["app"], ["app:secret_key", "postgres:password", "redis:password"], []),
    ],
)
def test_secrets_required_per_role(roles, present, missing):
    pillar = _with({"app:secret_key": _DELETE, "postgres:password": _DELETE, "redis:password": _DELETE})
    errors = pillar_mod.validate(pillar=pillar, roles=roles)
    assert sorted(e.split(": expected")[0] for e in errors) == [f"webstack:{k}" for k in present]
    for key in missing:
        assert not any(f"webstack:{key}" in e for e in errors)


_USER_PASSWORDS = {"cache": "c4f1a07e" * 8, "broker": "9b2e63d5" * 8}


def test_an_app_node_may_hold_only_its_redis_users_passwords():
    pillar = _with({"redis:password": _DELETE, "redis:user_passwords": dict(_USER_PASSWORDS)})
    assert pillar_mod.validate(pillar=pillar, roles=["app", "worker"]) == []


@pytest.mark.parametrize("roles, changes, named", [
    (["app"], {"redis:user_passwords": {"cache": "c4f1a07e" * 8}}, "webstack:redis:user_passwords:broker"),
    (["worker"], {"redis:user_passwords": {"cache": "short", "broker": "9b2e63d5" * 8}},
     "webstack:redis:user_passwords:cache"),
    (["app", "cache"], {"redis:user_passwords": _USER_PASSWORDS}, "webstack:redis:password"),
], ids=["missing-one", "weak-one", "cache-needs-the-admin-password"])
def test_redis_user_passwords_are_checked_and_do_not_replace_the_cache_nodes_password(roles, changes, named):
    errors = pillar_mod.validate(pillar=_with(dict(changes, **{"redis:password": _DELETE})), roles=roles)
    assert [e.split(": expected")[0] for e in errors] == [named], errors
    assert not any("c4f1" in e or "short" in e for e in errors)


def test_check_raises_with_every_problem():
    pillar = _with({"nginx:port": 70000, "postgres:password": "pw-Sh0rt"})
    with pytest.raises(CommandExecutionError) as excinfo:
        pillar_mod.check(pillar=pillar)
    lines = str(excinfo.value).splitlines()
    assert lines[0] == "invalid pillar:"
    assert sorted(lines[1:]) == [
        "webstack:nginx:port: expected a port number from 1 to 65535, got the number 70000",
        "webstack:postgres:password: expected a password of at least 16 printable characters (8 different) "
        "without spaces, quotes, backslashes or a placeholder word such as 'changeme' (generate one with: "
        "openssl rand -base64 24), got a value that does not match",
    ]
    assert "pw-Sh0rt" not in str(excinfo.value)


def test_public_refuses_secret_keys_and_returns_plain_values():
    assert pillar_mod.public("nginx:port") == 80
    assert pillar_mod.public("app:nope", "dflt") == "dflt"
    with pytest.raises(CommandExecutionError, match="webstack:app:secret_key holds a secret"):
        pillar_mod.public("app:secret_key")
    with pytest.raises(CommandExecutionError):
        pillar_mod.public("postgres:password")


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_state_fails_with_messages_and_no_changes(test):
    pillar_mod.__pillar__["webstack"] = _with({"nginx:port": "80", "app:secret_key": "too-short-secret"})
    pillar_state.__opts__["test"] = test
    ret = pillar_state.validated("webstack")
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert ret["comment"].startswith("Invalid pillar, nothing was changed:")
    assert "webstack:nginx:port: expected a port number from 1 to 65535" in ret["comment"]
    assert "webstack:app:secret_key: expected a secret of at least 50" in ret["comment"]
    assert "too-short-secret" not in ret["comment"]


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_state_succeeds_without_changes_when_valid(test):
    pillar_state.__opts__["test"] = test
    ret = pillar_state.validated("webstack")
    assert ret == {
        "name": "webstack",
        "result": True,
        "changes": {},
        "comment": "Pillar webstack is valid for roles: single",
    }
    ret = pillar_state.validated("webstack", roles=["db", "cache"])
    assert ret["result"] is True
    assert ret["comment"] == "Pillar webstack is valid for roles: db, cache"


# ---------------------------------------------------------------- cluster

# pillar/webstack/nodes.yaml's cluster
NODES = {"db1": ["db"], "cache1": ["cache"], "app1": ["app"], "app2": ["app"], "worker1": ["worker"],
         "lb1": ["lb"]}


@pytest.mark.parametrize(
    "nodes",
    [
        NODES,
        {"all-in-one.example.org": ["db", "cache", "app", "worker", "lb"]},
        {"db_1": ["db", "cache"], "APP-1": ["app", "worker"], "App.2": ["app", "lb"]},
        {"db1": ["db"], "cache1": ["cache"]},  # no app node yet: nothing needs them
        {},
        None,
    ],
    ids=["nodes-yaml", "one-node", "shared-roles", "db-and-cache-only", "empty", "null"],
)
def test_good_cluster_pillar_has_no_errors(nodes):
    # lb:port apart from nginx:port, for the nodes that are both app and lb
    pillar = _with({"nodes": nodes, "network:private_cidr": "10.0.0.0/16",
                    "network:private_interface": "eth1", "lb:port": 8080})
    for roles in {tuple(r) for r in (nodes or {}).values()} | {("single",)}:
        role_list = ["single"] if roles == ("single",) else list(roles)
        assert pillar_mod.validate(pillar=pillar, roles=role_list) == [], role_list


@pytest.mark.parametrize("roles, uid, named", [
    (["app"], None, True), (["worker"], None, True), (["app", "worker"], 1500, False),
    (["storage"], None, False), (["lb"], None, False), (["db", "cache", "storage"], None, False)])
def test_a_storage_node_needs_the_app_uid_on_the_app_and_worker_nodes(roles, uid, named):
    nodes = {"db1": ["db", "cache", "storage"], "app1": ["app", "worker"], "lb1": ["lb"]}
    errors = pillar_mod.validate(pillar=_with({"nodes": nodes, "app:uid": uid}), roles=roles)
    assert errors == (["webstack:app:uid: expected a user id (e.g. 1500) with a storage node in webstack:nodes: "
                       "every app and worker node writes the shared uploads as this one uid, got none"]
                      if named else [])


@pytest.mark.parametrize("balance", ["roundrobin", "leastconn", "source"])
def test_nginx_as_the_load_balancer_on_a_node_of_its_own_is_valid(balance):
    pillar = _with({"nodes": NODES, "lb:engine": "nginx", "lb:balance": balance, "lb:fail_timeout": "30s"})
    assert pillar_mod.validate(pillar=pillar, roles=["lb"]) == []


@pytest.mark.parametrize("release", ["", None, "0123abcd", "20261126T210000Z-0123abcd"])
def test_good_release_pins_have_no_errors(release):
    assert pillar_mod.validate(pillar=_with({"app:release": release})) == []


def test_good_lb_and_network_values_have_no_errors():
    pillar = _with({"lb:balance": "leastconn", "lb:check_inter": "500ms", "lb:timeout_client": "5m",
                    "lb:maxconn": 1, "lb:fall": 100, "network:private_cidr": "192.168.56.0/24",
                    "network:private_interface": "enp0s8"})
    assert pillar_mod.validate(pillar=pillar) == []


def test_cluster_faults_give_one_message_each():
    pillar = _with({"nodes": {"app1": ["app"], "app*2": ["app"], "lb1": ["lb", "web"]}})
    assert pillar_mod.validate(pillar=pillar, roles=["app"]) == [
        "webstack:nodes: expected a minion id of letters, digits, '.', '_' or '-' for each key, "
        "got the string 'app*2'",
        "webstack:nodes:lb1: expected a non-empty list, each item one of single, db, cache, app, worker, lb, storage, "
        "got the string 'web' among its items",
    ]


def _cluster_pillar():
    return _with({"roles": ["lb"], "nodes": dict(NODES)})


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_state_fails_naming_the_nodes_without_an_address(test):
    pillar_mod.__pillar__["webstack"] = _cluster_pillar()
    pillar_mod.__grains__["id"] = "lb1"
    pillar_state.__opts__["test"] = test
    MINE.update({"db1": "10.0.0.10", "app1": "10.0.0.21", "lb1": "10.0.0.40"})
    ret = pillar_state.validated("webstack")
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert ret["comment"] == (
        "Invalid pillar, nothing was changed:\n"
        "webstack:nodes:app2: expected a private address in the Salt mine (run mine.update on app2; see "
        "webstack_network.private_address), it is missing"
    )


@pytest.mark.parametrize("value, why", [
    ("10.0.0.22/0 trust\nhost all all 0.0.0.0/0", "an IPv4 address, got the string '10.0.0.22/0 trust\\nhost all"),
    ("10.0.0.22\n", "an IPv4 address, got the string '10.0.0.22\\n'"),
    ("fe80::1%eth0", "an IPv4 address, got the string 'fe80::1%eth0'"),
    ("93.184.216.34", "a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10; or name the "
                      "cluster's network in webstack:network:private_cidr), got '93.184.216.34'"),
    ("0.0.0.0", "a unicast IPv4 address of the node, got '0.0.0.0'"),
    ("127.0.0.1", "a unicast IPv4 address of the node, got '127.0.0.1'"),
    (["10.0.0.22"], "an IPv4 address, got a list of 1 items"),
], ids=["pg-hba-line", "trailing-newline", "zone", "public", "unspecified", "loopback", "list"])
def test_a_crafted_mine_address_fails_the_state_naming_the_minion_and_is_never_rendered(value, why):
    pillar_mod.__pillar__["webstack"] = _with({"roles": ["db"], "nodes": dict(NODES)})
    pillar_mod.__grains__["id"] = "db1"
    MINE.update({"db1": "10.0.0.10", "app1": "10.0.0.21", "app2": value, "worker1": "10.0.0.30"})
    ret = pillar_state.validated("webstack")
    assert ret["result"] is False
    (line,) = ret["comment"].splitlines()[1:]
    assert line.startswith(f"webstack:nodes:app2: expected {why}"), line
    assert line.endswith("(webstack_network.private_address of minion app2); it is not used, and nothing "
                         "was changed"), line
    # what the templates render from: pg_hba.conf's clients without it
    from tests.support.config import config_mod  # pylint: disable=import-outside-toplevel
    assert config_mod.get()["cluster"]["db_clients"] == ["10.0.0.21", "10.0.0.30"]


def test_state_reports_pillar_faults_before_the_mine():
    pillar_mod.__pillar__["webstack"] = _with({"roles": ["lb"], "nodes": dict(NODES), "lb:port": 0})
    pillar_mod.__grains__["id"] = "lb1"
    ret = pillar_state.validated("webstack")
    assert ret["result"] is False
    assert ret["comment"].splitlines()[1:] == [
        "webstack:lb:port: expected a port number from 1 to 65535, got the number 0"]


def test_state_succeeds_when_every_node_has_an_address():
    pillar_mod.__pillar__["webstack"] = _cluster_pillar()
    pillar_mod.__grains__["id"] = "lb1"
    MINE.update({"app1": "10.0.0.21", "app2": "10.0.0.22", "db1": "10.0.0.10"})
    ret = pillar_state.validated("webstack")
    assert ret == {"name": "webstack", "result": True, "changes": {},
                   "comment": "Pillar webstack is valid for roles: lb"}


@pytest.mark.parametrize("path, secrets", [
    ("app", ["secret_key"]),
    ("postgres", ["password"]),
    ("redis", ["password"]),
    ("tls", ["private_key"]),
    ("", ["app:secret_key", "postgres:password", "redis:password", "tls:private_key"]),
], ids=["app", "postgres", "redis", "tls", "everything"])
def test_public_masks_the_secrets_of_a_whole_section(path, secrets):
    pillar_mod.__pillar__["webstack"] = _with({"tls:certificate": TLS_CERT, "tls:private_key": TLS_KEY,
                                               "redis:user_passwords": dict(_USER_PASSWORDS)})
    value = pillar_mod.public(path)
    text = repr(value)
    for secret in [SECRET_KEY, PG_PASSWORD, REDIS_PASSWORD] + list(_USER_PASSWORDS.values()):
        assert secret not in text
    assert "PRIVATE KEY" not in text
    for key in secrets:
        node = value
        for part in key.split(":"):
            node = node[part]
        assert node == "**********", key
    if path in ("", "tls"):
        assert (value["tls"] if path == "" else value)["certificate"] == TLS_CERT  # not a secret
