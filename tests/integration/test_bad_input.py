"""
Bad input on a real host: a table of malformed pillars for every role and of bad
arguments to `./bootstrap.sh` and to the formula's modules. Each case runs on the
same fresh Debian 13 container (Salt installed, set up by `./bootstrap.sh --test`,
nothing else) and must end with a non-zero exit, a message that names the key (or
the argument) and the form it expects, no secret echoed, and the host exactly as
it was: the same packages, the same files (content, mode, owner) and the same
processes.
"""

import json
import shlex
import time

import pytest
import yaml

from tests.integration.conftest import KEEP, REPO, SALT_IMAGE
from tests.support.containers import Host
from tests.support.single import generated_secrets
from tests.support.tls import Authority

PILLAR = "/etc/webstack/pillar"
# the valid secrets, which a case may change
SECRETS = {"app": {"secret_key": "Bad1nput-Suite-Signing-Key_" + "Qm4Tz8Wx" * 5},
           "postgres": {"password": "Pg-Bad1nput-7Hq2Lz9"},
           "redis": {"password": "Rd-Bad1nput-3Kv8Nw5"}}
CLUSTER = {"db1": ["db"], "cache1": ["cache"], "app1": ["app"], "worker1": ["worker"], "lb1": ["lb"]}
_AUTHORITY = Authority()
TLS_CERT, TLS_KEY = _AUTHORITY.issue(["localhost"])
GIT_TOKEN = "ghp_S3cr3tT0kenOfTheDeployUser"
_, OTHER_KEY = _AUTHORITY.issue(["localhost"])

# What "the host as it was" means: packages, files under these roots, processes.
# Salt's own cache and log, and the case's input (local.sls, secrets.sls), are not the host.
SNAPSHOT = r"""
set -o pipefail
walk() {
    find /etc /srv /usr/local /var/lib /var/log /var/spool /run /home /opt -xdev \
        \( -path /opt/webstack/salt -o -path /var/log/webstack/salt-minion.log \
           -o -path /etc/webstack/pillar/local.sls -o -path /etc/webstack/pillar/secrets.sls \) -prune \
        -o "$@"
}
dpkg-query -W -f '${Package} ${Version} ${Status}\n'
walk -printf '%p %y %m %u:%g %l\n' | sort
walk -type f -print0 | xargs -0 md5sum | sort
ps -eo user=,args= | grep -v -e '^root *ps ' -e 'grep' -e 'sort$' -e 'bash -c' | sort
"""


def _merge(base, changes):
    """``changes`` over ``base``, mapping by mapping; a None value removes the key."""
    merged = dict(base)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# (id, role, the case's settings, changes to the valid secrets (None removes one), what the
#  message must contain: the key, then a piece of the expected form). The case's pillar is
# SECRETS, then the changes, then the settings, in local.sls; secrets.sls is emptied (the
# generated pillar merges it last).
CASES = [
    # role single, through ./bootstrap.sh (what an operator runs)
    ("single-secret-key-empty", "single", {}, {"app": {"secret_key": ""}},
     ["webstack:app:secret_key: expected a secret of at least 50", "it is missing"]),
    ("single-password-placeholder", "single", {}, {"postgres": {"password": "Changeme-Changeme-42"}},
     ["webstack:postgres:password: expected a password", "a placeholder word"]),
    ("single-password-reused", "single", {},
     {"redis": {"password": SECRETS["postgres"]["password"]}},
     ["webstack:redis:password: expected a secret of its own, got the same value as webstack:postgres:password"]),
    ("single-secret-key-weak", "single", {}, {"app": {"secret_key": "ab" * 30}},
     ["webstack:app:secret_key:", "(10 different)"]),
    ("single-port-string", "single", {"nginx": {"port": "80"}}, None,
     ["webstack:nginx:port: expected a port number from 1 to 65535, got the string '80'"]),
    ("single-port-out-of-range", "single", {"nginx": {"port": 70000}}, None,
     ["webstack:nginx:port: expected a port number from 1 to 65535, got the number 70000"]),
    ("single-ports-collide", "single", {"redis": {"port": 5432}}, None,
     ["webstack:redis:port: expected a port apart from webstack:postgres:port"]),
    ("single-wsgi-server-unknown", "single", {"wsgi": {"server": "uwsgi2"}}, None,
     ["webstack:wsgi:server: expected one of gunicorn, uwsgi, mod_wsgi, got the string 'uwsgi2'"]),
    ("single-process-manager-unknown", "single", {"process_manager": "runit"}, None,
     ["webstack:process_manager: expected one of supervisord, systemd"]),
    ("single-systemd-not-pid-1", "single", {"process_manager": "systemd"}, None,
     ["webstack:process_manager: expected supervisord on this host, where systemd is not PID 1"]),
    ("single-roles-conflict", "single", {"roles": ["single", "app"]}, None,
     ["webstack:roles: expected either [single] or a combination"]),
    ("single-role-unknown", "single", {"roles": ["web"]}, None,
     ["webstack:roles: expected a list, each item one of single, db, cache, app, worker, lb, storage, "
      "got the string 'web' among its items"]),
    ("single-app-not-mapping", "single", {"app": "webapp"}, None,
     ["webstack:app: expected a mapping, got the string 'webapp'"]),
    ("single-name-injection", "single", {"app": {"name": "web;rm -rf /"}}, None,
     ["webstack:app:name: expected a lowercase name"]),
    ("single-path-traversal", "single", {"app": {"base_dir": "/srv/../etc"}}, None,
     ["webstack:app:base_dir: expected an absolute path", "without '..'"]),
    ("single-server-name-injection", "single", {"nginx": {"server_name": "x; include /etc/shadow"}}, None,
     ["webstack:nginx:server_name: expected '_' or host names separated by single spaces"]),
    ("single-command-two-lines", "single", {"app": {"build_commands": ["true\nrm -rf /srv"]}}, None,
     ["webstack:app:build_commands: expected a list, each item a single-line command"]),
    ("single-source-command-substitution", "single",
     {"app": {"source": "https://example.org/app.git$(reboot)"}}, None,
     ["webstack:app:source: expected salt://<path>", "got the string 'https://example.org/app.git$(reboot)'"]),
    ("single-backup-schedule-injection", "single",
     {"backup": {"enabled": True, "full_schedule": "15 3 * * 0 root sh -c reboot"}}, None,
     ["webstack:backup:full_schedule: expected cron's five fields (minute 0-59, hour 0-23",
      "got the string '15 3 * * 0 root sh -c reboot'"]),
    ("single-backup-offsite-key-injection", "single",
     {"backup": {"enabled": True, "offsite": True, "s3_endpoint": "s3.example.org", "s3_bucket": "example-backups",
                 "s3_access_key": "AKIAEXAMPLE", "s3_secret_key": "abcdefgh\nrepo1-path=/tmp"}}, None,
     ["webstack:backup:s3_secret_key: expected 3 to 128 letters, digits, '+', '/', '=', '_', '.' or '-'"]),
    ("single-env-reserved-key", "single", {"app": {"env": {"SECRET_KEY": "mine"}}}, None,
     ["webstack:app:env:SECRET_KEY: expected a name of no other variable, got SECRET_KEY, which is a setting of "
      "the formula; rename the formula's with webstack:app:env_names"]),
    ("single-env-names-collide", "single", {"app": {"env_names": {"CACHE_URL": "DATABASE_URL"}}}, None,
     ["webstack:app:env_names:CACHE_URL: expected a name of no other variable, got 'DATABASE_URL', which is a "
      "setting of the formula"]),
    ("single-secret-shadows-a-setting", "single",
     {"app": {"env_names": {"SECRET_KEY": "DJANGO_SECRET_KEY"}, "secrets": {"DJANGO_SECRET_KEY": "x" * 60}}}, None,
     ["webstack:app:secrets:DJANGO_SECRET_KEY: expected a name of no other variable, got DJANGO_SECRET_KEY, "
      "which is the formula's SECRET_KEY"]),
    ("single-system-package-injection", "single", {"app": {"system_packages": ["libpq-dev; reboot"]}}, None,
     ["webstack:app:system_packages: expected a list, each item a Debian package name such as libpq-dev, "
      "got the string 'libpq-dev; reboot' among its items"]),
    ("single-db-host-does-not-resolve", "single", {"postgres": {"host": "db.does-not-resolve.invalid"}}, None,
     ["webstack:postgres:host: expected a host name that resolves on this minion, or an IP address, "
      "got the string 'db.does-not-resolve.invalid', which does not resolve"]),
    # the cluster's roles, through salt-call (as a minion applies its highstate)
    ("db-name-not-sql", "db", {"postgres": {"name": "web app"}}, None,
     ["webstack:postgres:name: expected a lowercase SQL identifier"]),
    ("db-password-missing", "db", {}, {"postgres": {"password": None}},
     ["webstack:postgres:password: expected a password", "it is missing"]),
    ("cache-maxmemory-words", "cache", {"redis": {"maxmemory": "lots"}}, None,
     ["webstack:redis:maxmemory: expected a size such as 256mb, got the string 'lots'"]),
    ("cache-bind-hostname", "cache", {"redis": {"bind": ["localhost"]}}, None,
     ["webstack:redis:bind: expected a non-empty list, each item an IP address"]),
    ("app-without-db-node", "app", {"nodes": {"db1": None}}, None,
     ["webstack:nodes: expected a db node for the app nodes, got none"]),
    ("app-and-lb-on-one-port", "app", {"roles": ["app", "lb"]}, None,
     ["webstack:lb:port: expected a port apart from webstack:nginx:port"]),
    ("worker-beat-scheduler-words", "worker", {"celery": {"beat_scheduler": "the database"}}, None,
     ["webstack:celery:beat_scheduler: expected module.path:Name, e.g. "
      "django_celery_beat.schedulers:DatabaseScheduler, or '', got the string 'the database'"]),
    ("worker-concurrency-zero", "worker", {"celery": {"concurrency": 0}}, None,
     ["webstack:celery:concurrency: expected an integer from 1 to 256, got the number 0"]),
    ("worker-redis-host-does-not-resolve", "worker", {"redis": {"host": "cache-9"}}, None,
     ["webstack:redis:host: expected a host name that resolves", "which does not resolve"]),
    ("lb-balance-unknown", "lb", {"lb": {"balance": "random"}}, None,
     ["webstack:lb:balance: expected one of roundrobin, leastconn, first, source"]),
    ("lb-timeout-injection", "lb", {"lb": {"timeout_client": "60s\n    stats enable"}}, None,
     ["webstack:lb:timeout_client: expected a duration such as 5s"]),
    ("lb-nginx-fail-timeout-injection", "lb", {"lb": {"engine": "nginx", "fail_timeout": "10s;\n}\nserver {"}},
     None, ["webstack:lb:fail_timeout: expected a duration such as 5s"]),
    ("storage-brick-dir-shell", "storage", {"glusterfs": {"brick_dir": "/srv/brick;touch${IFS}/etc/pwned"}}, None,
     ["webstack:glusterfs:brick_dir: expected an absolute path of letters, digits"]),
    ("storage-volume-name-words", "storage", {"glusterfs": {"volume": "uploads force"}}, None,
     ["webstack:glusterfs:volume: expected a lowercase name matching [a-z][a-z0-9_-]{0,31}, "
      "got the string 'uploads force'"]),
    ("app-without-uid-beside-a-storage-node", "app", {"nodes": {"files1": ["storage"]}}, None,
     ["webstack:app:uid: expected a user id (e.g. 1500) with a storage node in webstack:nodes"]),
    ("lb-nginx-beside-the-app", "lb", {"roles": ["app", "lb"], "lb": {"engine": "nginx", "port": 8080}}, None,
     ["webstack:lb:engine: expected haproxy where a node has roles lb and app (this node): one Nginx serves "
      "either the app or the load balancer, got 'nginx'"]),
    ("single-tls-certificate-without-key", "single", {"tls": {"certificate": TLS_CERT}}, None,
     ["webstack:tls:private_key: expected it with webstack:tls:certificate (both or neither"]),
    ("lb-tls-key-of-another-certificate", "lb", {"tls": {"certificate": TLS_CERT, "private_key": OTHER_KEY}},
     None, ["webstack:tls:private_key: expected the key of the first certificate in tls:certificate, "
            "got another key"]),
    ("lb-node-id-glob", "lb", {"nodes": {"app*1": ["app"]}}, None,
     ["webstack:nodes: expected a minion id of letters, digits, '.', '_' or '-' for each key, "
      "got the string 'app*1'"]),
    # a grammar per sink: zone ids, trailing newlines and shell words in what reaches a shell or a
    # config file (each payload would write /etc/pwned, which the snapshot would show)
    ("single-allowed-host-zone-id-shell", "single",
     {"app": {"allowed_hosts": ["localhost", "fe80::1%';touch${IFS}/etc/pwned;'"]}}, None,
     ["webstack:app:allowed_hosts: expected a non-empty list, each item a host name, '.domain', an IP address"]),
    ("cache-redis-bind-zone-id-newline", "cache",
     {"redis": {"bind": ["127.0.0.1", "fe80::1%x\nuser evil on nopass ~* &* +@all"]}}, None,
     ["webstack:redis:bind: expected a non-empty list, each item an IP address"]),
    ("single-apache-server-name-zone-id", "single",
     {"wsgi": {"server": "mod_wsgi"}, "apache": {"server_name": "fe80::1%x\nInclude /etc/shadow"}}, None,
     ["webstack:apache:server_name: expected a host name or an IPv4 address"]),
    ("db-listen-addresses-zone-id", "db", {"postgres": {"listen_addresses": "localhost,fe80::1%x'"}}, None,
     ["webstack:postgres:listen_addresses: expected a comma-separated list of host names or IP addresses"]),
    ("single-rev-trailing-newline", "single", {"app": {"rev": "main\n"}}, None,
     ["webstack:app:rev: expected a git branch, tag or commit"]),
    ("single-fact-service-payload", "single", {"services": {"nginx": "nginx;touch /etc/pwned"}}, None,
     ["webstack:services:nginx: expected a service name such as nginx, got the string 'nginx;touch /etc/pwned'"]),
    ("single-fact-package-payload", "single", {"pkgs": {"python": ["python3", "$(touch /etc/pwned)"]}}, None,
     ["webstack:pkgs:python: expected a non-empty list, each item a package name"]),
    ("lb-fact-binary-payload", "lb", {"haproxy_bin": "/usr/sbin/haproxy -v;touch /etc/pwned #"}, None,
     ["webstack:haproxy_bin: expected an absolute path"]),
    ("single-certificate-with-its-key", "single", {"tls": {"certificate": TLS_CERT + TLS_KEY,
                                                          "private_key": TLS_KEY}}, None,
     ["webstack:tls:certificate: expected", "and no private key"]),
    ("single-git-url-with-credentials", "single",
     {"app": {"source": f"https://deploy:{GIT_TOKEN}@github.com/acme/app.git"}}, None,
     ["webstack:app:source: expected", "give the server a deploy key", "https://**********@github.com"]),
    # the other engines: MariaDB, Memcached, RQ
    ("single-db-engine-unknown", "single", {"db": {"engine": "mysql"}}, None,
     ["webstack:db:engine: expected one of postgresql, mariadb, got the string 'mysql'"]),
    ("single-mariadb-password-missing", "single", {"db": {"engine": "mariadb"}}, None,
     ["webstack:mariadb:password: expected a password", "it is missing"]),
    ("db-mariadb-bind-zone-id-newline", "db",
     {"db": {"engine": "mariadb"}, "mariadb": {"bind": ["127.0.0.1", "fe80::1%x\nskip-grant-tables"]}},
     {"mariadb": {"password": "Mb-Bad1nput-5Rt7Yu2"}},
     ["webstack:mariadb:bind: expected a non-empty list, each item an IP address"]),
    ("cache-memcached-memory-words", "cache", {"cache": {"engine": "memcached"}, "memcached": {"memory": "64m"}},
     None, ["webstack:memcached:memory: expected a size in megabytes from 8 to 65536, got the string '64m'"]),
    ("single-memcached-port-collides", "single", {"cache": {"engine": "memcached"}, "memcached": {"port": 6379}},
     None, ["webstack:memcached:port: expected a port apart from webstack:redis:port"]),
    ("single-queue-unknown", "single", {"app": {"queue": "huey"}}, None,
     ["webstack:app:queue: expected one of celery, rq, got the string 'huey'"]),
    ("worker-rq-queue-flag", "worker", {"app": {"queue": "rq"}, "rq": {"queues": ["default --burst"]}}, None,
     ["webstack:rq:queues: expected a non-empty list, each item a queue name of letters, digits"]),
    # what the environment of the app and of the formula's commands may hold (issue 26): no
    # variable that chooses what a program loads or runs, nothing a reader splits into two
    # settings, nothing past the kernel's limits
    ("single-env-pythonpath-into-uploads", "single", {"app": {"env": {"PYTHONPATH": "/srv/webapp/shared/media"}}},
     None, ["webstack:app:env: expected an UPPER_CASE variable name, and not one that chooses what a program loads "
            "or runs (PYTHON*, LD_*, PATH, HOME, IFS, ...) for each key, got the string 'PYTHONPATH'"]),
    ("single-env-ld-preload", "single", {"app": {"env": {"LD_PRELOAD": "/srv/webapp/shared/media/x.so"}}}, None,
     ["webstack:app:env: expected an UPPER_CASE variable name, and not one that chooses what a program loads",
      "got the string 'LD_PRELOAD'"]),
    ("single-secret-ld-library-path", "single", {"app": {"secrets": {"LD_LIBRARY_PATH": "/srv/webapp/shared/media"}}},
     None, ["webstack:app:secrets: expected an UPPER_CASE variable name, and not one that chooses what a program",
            "got the string 'LD_LIBRARY_PATH'"]),
    ("single-env-path", "single", {"app": {"env": {"PATH": "/srv/webapp/shared/media:/usr/bin"}}}, None,
     ["webstack:app:env: expected an UPPER_CASE variable name, and not one that chooses", "got the string 'PATH'"]),
    ("single-env-name-of-a-setting-pythonstartup", "single",
     {"app": {"env_names": {"SECRET_KEY": "PYTHONSTARTUP"}}}, None,
     ["webstack:app:env_names:SECRET_KEY: expected an UPPER_CASE variable name, and not one that chooses",
      "got the string 'PYTHONSTARTUP'"]),
    ("single-env-line-separator-injects-debug", "single", {"app": {"env": {"BANNER": "a\u2028DJANGO_DEBUG=1"}}}, None,
     ["webstack:app:env:BANNER: expected a single-line value of printable characters (no control character, no "
      "U+2028 or U+2029), at most 8192 bytes"]),
    ("single-env-paragraph-separator-injects-path", "single", {"app": {"env": {"BANNER": "a\u2029PATH=/tmp"}}},
     None, ["webstack:app:env:BANNER: expected a single-line value of printable characters (no control character"]),
    ("single-secret-next-line-injects-database-url", "single",
     {"app": {"secrets": {"MAIL_PASSWORD": "Mx7-pass\x85DATABASE_URL=postgresql://evil@203.0.113.9/app"}}}, None,
     ["webstack:app:secrets:MAIL_PASSWORD: expected a single-line value of printable characters",
      "got a value that does not match"]),
    ("single-env-vertical-tab", "single", {"app": {"env": {"BANNER": "a\x0bDJANGO_DEBUG=1"}}}, None,
     ["webstack:app:env:BANNER: expected a single-line value of printable characters"]),
    ("single-env-value-of-100000-characters", "single", {"app": {"env": {"BANNER": "x" * 100000}}}, None,
     ["webstack:app:env:BANNER: expected a single-line value", "at most 8192 bytes"]),
    ("single-env-too-large-in-all", "single", {"app": {"env": {f"BLOCK_{i}": "x" * 8000 for i in range(8)}}}, None,
     ["webstack:app:env: expected settings of at most 57344 bytes with webstack:app:secrets (one line each, "
      "NAME=VALUE), got 64"]),
    ("single-build-user-root", "single", {"app": {"build_user": "root"}}, None,
     ["webstack:app:build_user: expected a user of its own, not root, the app's user (app:user) or a service's, "
      "got 'root'"]),
    ("single-unknown-key", "single", {"wsgi": {"worker": 4}}, None,
     ["webstack:wsgi:worker: expected no such key, the formula does not read it (did you mean wsgi:workers?)"]),
]

# (id, command, what the message must contain)
ARGUMENT_CASES = [
    ("bootstrap-unknown-flag", "./bootstrap.sh --force", "unknown argument '--force'"),
    ("bootstrap-pillar-missing", "./bootstrap.sh --pillar /nonexistent", "--pillar /nonexistent: not a directory"),
    ("bootstrap-master-injection", "./bootstrap.sh --minion '10.0.0.1;reboot' --id app1",
     "--minion '10.0.0.1;reboot': expected the master's host name or IP address"),
    ("bootstrap-id-injection", "./bootstrap.sh --minion 10.0.0.1 --id 'app1 $(reboot)'",
     "--id 'app1 $(reboot)': expected letters, digits"),
    ("bootstrap-id-without-minion", "./bootstrap.sh --id app1", "--id goes with --minion"),
    ("bootstrap-test-with-master", "./bootstrap.sh --master --test", "--pillar and --test go with role single"),
    ("module-secret-key-refused", "webstack-salt-call webstack_pillar.public app:secret_key",
     "webstack:app:secret_key holds a secret; it is not shown"),
]


@pytest.fixture(scope="module")
def host(testbed):
    host = Host.start(SALT_IMAGE, name="webstack-test-bad-input", publish=(), hostname="single1")
    try:
        host.put_dir(str(REPO), "/root/webstack")
        # Salt's masterless config and the generated pillar; the test run installs nothing
        code, out = host.exec("cd /root/webstack && ./bootstrap.sh --test", check=False, timeout=900)
        assert code == 0, out[-4000:]
        host.exec(["bash", "-c", f"cp {PILLAR}/local.sls /root/local.sls.orig && "
                                 f"cp {PILLAR}/secrets.sls /root/secrets.sls.orig"])
        host.secrets = list(generated_secrets(host, f"{PILLAR}/secrets.sls").values())
        yield host
    finally:
        if not KEEP:
            host.remove()


@pytest.fixture(scope="module")
def baseline(host):
    return _snapshot(host)


def _snapshot(host):
    _, out = host.exec(["bash", "-c", SNAPSHOT])
    return out.splitlines()


def _assert_untouched(host, baseline, case_id):
    # what is still different after 6 s: a process of the run that is still exiting (or a
    # file it is still removing) when the command returns is not a change of the host
    for _ in range(4):
        after = _snapshot(host)
        if set(after) == set(baseline):
            return
        time.sleep(2)
    added = sorted(set(after) - set(baseline))
    removed = sorted(set(baseline) - set(after))
    assert not added and not removed, f"{case_id} changed the host:\n+ " + "\n+ ".join(added[:20]) + \
        "\n- " + "\n- ".join(removed[:20])


def test_the_tables_cover_every_role_and_enough_cases():
    assert len(CASES) + len(ARGUMENT_CASES) >= 25
    roles = yaml.safe_load((REPO / "salt/webstack/parameters/roles.yaml").read_text())
    assert {role for _, role, *_ in CASES} == set(roles)  # every role of the registry
    assert len({case[0] for case in CASES + ARGUMENT_CASES}) == len(CASES) + len(ARGUMENT_CASES)


def test_the_valid_pillar_passes_the_same_gate(host, baseline):
    """The control: with the valid pillar the validation state passes (test mode: nothing
    changes), so the cases below fail because of their fault, not of the set-up."""
    code, out = host.exec("webstack-salt-call --retcode-passthrough --out=json state.sls_id "
                          "webstack-validate-pillar-webstack_pillar-validated webstack.roles.single", check=False)
    assert code == 0, out[-3000:]
    (ret,) = json.loads(out[out.index("{"):])["local"].values()
    assert ret["result"] is True and ret["comment"] == "Pillar webstack is valid for roles: single", ret
    _assert_untouched(host, baseline, "the control")


@pytest.mark.parametrize("case_id, role, pillar, secrets, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_pillar_stops_with_the_key_named_and_the_host_untouched(host, baseline, case_id, role, pillar,
                                                                    secrets, expected):
    settings = {"roles": [role], "nodes": CLUSTER} if role != "single" else {}
    case_secrets = _merge(SECRETS, secrets or {})
    host.write_private(f"{PILLAR}/local.sls",
                       yaml.safe_dump({"webstack": _merge(_merge(case_secrets, settings), pillar)}))
    host.write_private(f"{PILLAR}/secrets.sls", "webstack: {}\n")
    try:
        if role == "single":
            code, out = host.exec("cd /root/webstack && ./bootstrap.sh", check=False, timeout=600)
        else:
            code, out = host.exec(f"webstack-salt-call --retcode-passthrough state.apply webstack.roles.{role}",
                                  check=False, timeout=600)
    finally:
        host.exec(["bash", "-c", f"cp /root/local.sls.orig {PILLAR}/local.sls && "
                                 f"cp /root/secrets.sls.orig {PILLAR}/secrets.sls"])
    assert code != 0, f"{case_id} exited 0:\n{out[-3000:]}"
    assert "Invalid pillar, nothing was changed:" in out, out[-3000:]
    for piece in expected:
        assert piece in out, f"{case_id}: {piece!r} not in:\n{out[-3000:]}"
    for section in case_secrets.values():
        for value in section.values():
            if value:
                assert value not in out, f"{case_id} echoed a secret"
    assert GIT_TOKEN not in out, f"{case_id} echoed a git URL's credentials"
    key = (pillar.get("tls") or {}).get("private_key")
    if key:
        assert not [line for line in key.splitlines()[1:-1] if line in out], f"{case_id} echoed the TLS key"
    _assert_untouched(host, baseline, case_id)


@pytest.mark.parametrize("command", ["webstack_pillar.public app", "webstack_pillar.public postgres",
                                     "webstack_pillar.public", "webstack_config.get"])
def test_no_module_answer_holds_a_secret(host, command):
    code, out = host.exec(f"webstack-salt-call --out=json {command}", check=False)
    assert code == 0, out[-2000:]
    assert "**********" in out
    assert not [secret for secret in host.secrets if secret in out], f"{command} showed a secret"


@pytest.mark.parametrize("case_id, command, expected", ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES])
def test_bad_argument_stops_with_a_message_and_the_host_untouched(host, baseline, case_id, command, expected):
    code, out = host.exec(["bash", "-c", f"cd /root/webstack && {command}"], check=False, timeout=300)
    assert code != 0, f"{case_id} exited 0:\n{out[-3000:]}"
    assert expected in out, f"{case_id}: {expected!r} not in:\n{out[-3000:]}"
    assert not [secret for secret in host.secrets if secret in out], f"{case_id} echoed a secret"
    _assert_untouched(host, baseline, shlex.split(command)[0])
