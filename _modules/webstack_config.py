"""
The formula's configuration, merged and derived once per run.

``salt/webstack/map.jinja`` is one call of :py:func:`get`: the defaults of
``parameters/schema.yaml``, merged with ``parameters/os_family/<os_family>.yaml``,
``parameters/osfinger/<osfinger>.yaml`` and the pillar's ``webstack`` (in that
order; mappings merge, lists replace), every value checked against the schema
(a faulty one is replaced by its default, so that no template renders it: the
validation state, first in every role, stops the run and names it), then the
values derived from them: paths, the WSGI server's SLS and check, the Redis users,
TLS, and the cluster's addresses from the Salt mine, each checked where it is used.

The result is computed once per run (``__context__``) however many SLS files and
templates import ``map.jinja``. Outside a template (``salt-call
webstack_config.get``, a remote call) its secrets are masked, as Salt masks the
pillar's.
"""

import copy
import hashlib
import hmac
import json
import os
import shlex
import urllib.parse

import salt.utils.yaml
from salt.exceptions import CommandExecutionError

try:  # Salt 3008 masks pillar values outside templates; the plain ones are needed here
    from salt.utils.secret import expose as _expose
    from salt.utils.secret import mask_pillar as _mask_pillar
except ImportError:  # older Salt: nothing is masked
    _mask_pillar = None

    def _expose(value):
        return value

__virtualname__ = "webstack_config"

SYSTEMD_RUN_DIR = "/run/systemd/system"  # exists where systemd is PID 1 (sd_booted)
# the maintenance flags (root's), and the page the front server answers with meanwhile
# the backups' root-only files (restic's password), and their records (the drills')
BACKUP_ETC = "/etc/webstack/backup"
BACKUP_STATE = "/var/lib/webstack/backup"
# what runs a module from cron: bootstrap.sh's wrapper on a masterless server
MASTERLESS_SALT_CALL = "/usr/local/sbin/webstack-salt-call"
MAINTENANCE = {"flag_dir": "/var/lib/webstack/maintenance", "root": "/usr/share/webstack", "page": "maintenance.html"}
MINE_FUNCTION = "webstack_network.private_address"
# the certificate a node of the shared uploads presents to GlusterFS (storage, app, worker)
CERT_FUNCTION = "webstack_glusterfs.certificate"
# glusterd's management ports and the range its bricks take theirs from (glusterd.vol's
# base-port and max-port)
GLUSTERFS_PORTS = [24007, 24008, "49152-60999"]
# wsgi:server -> the SLS that runs it; its front server (Nginx, or Apache for mod_wsgi)
WSGI_SLS = {"gunicorn": "gunicorn", "uwsgi": "uwsgi", "mod_wsgi": "apache"}
# secrets that the configuration derives (not pillar keys): masked like the schema's
DERIVED_SECRETS = ("redis:users:cache:password", "redis:users:broker:password", "app_settings",
                   "app_settings_text")
CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
           "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


def __virtual__():
    if "webstack_schema.walk" not in __utils__:
        return (False, "the webstack_schema utility module is not loaded (saltutil.sync_all)")
    return __virtualname__


def _schema_util(name):
    return __utils__[f"webstack_schema.{name}"]


def _yaml_file(tplroot, rel):
    text = __salt__["cp.get_file_str"](f"salt://{tplroot}/parameters/{rel}")
    if not text:
        return {}
    data = salt.utils.yaml.safe_load(text)
    return data if isinstance(data, dict) else {}


def parameters(tplroot="webstack"):
    """
    The schema, the roles and the OS files' values for this minion: ``{"schema", "roles",
    "os_family", "osfinger"}``, read from the file server once per run. The roles are
    roles.yaml's registry (every field filled in); the schema's role markers (``roles: all``,
    ``enum: roles``) are spelt out from it.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_config.parameters
    """
    key = f"webstack_config.parameters:{tplroot}"
    if key not in __context__:
        schema = _yaml_file(tplroot, "schema.yaml")
        if not schema:
            raise CommandExecutionError(f"salt://{tplroot}/parameters/schema.yaml: not found or empty")
        try:
            roles = _schema_util("role_registry")(_yaml_file(tplroot, "roles.yaml"), schema)
        except ValueError as exc:
            raise CommandExecutionError(f"salt://{tplroot}/parameters/{exc}") from exc
        __context__[key] = {
            "schema": _schema_util("with_roles")(schema, roles),
            "roles": roles,
            "os_family": _yaml_file(tplroot, f"os_family/{__grains__.get('os_family', 'unknown')}.yaml")
            .get("values") or {},
            "osfinger": _yaml_file(tplroot, f"osfinger/{__grains__.get('osfinger', 'unknown')}.yaml")
            .get("values") or {},
        }
    return __context__[key]


def _merge(dest, upd):
    """``upd`` over ``dest`` (a copy): mappings merge key by key, anything else replaces."""
    out = dict(dest)
    for key, value in upd.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _pillar():
    return _expose(__pillar__.get("webstack", {}))


def merged(pillar=None, tplroot="webstack"):
    """
    The schema's defaults, merged with the OS files and the pillar's ``webstack`` (or
    the mapping given as ``pillar``), unchecked. A ``webstack`` that is not a mapping
    is left out (validation names it).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_config.merged
    """
    params = parameters(tplroot)
    data = _schema_util("defaults")(params["schema"])
    for layer in (params["os_family"], params["osfinger"]):
        data = _merge(data, layer)
    pillar = _pillar() if pillar is None else pillar
    if isinstance(pillar, dict):
        data = _merge(data, pillar)
    return data


def _masked():
    return _mask_pillar is not None and _mask_pillar.get()


def get(tplroot="webstack"):
    """
    The configuration that the formula's states and templates render from: the
    merged and checked settings and the values derived from them (see the module's
    documentation). Computed once per run. Outside a template the secrets are masked.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_config.get
    """
    pillar = _pillar()
    orch = _expose(__pillar__.get("webstack_orch"))
    key = "webstack_config.get:" + json.dumps([tplroot, pillar, orch, __grains__.get("id")], sort_keys=True,
                                              default=str)
    if key not in __context__:
        params = parameters(tplroot)
        _, clean = _schema_util("walk")(params["schema"], merged(pillar, tplroot))
        __context__[key] = _derive(clean, tplroot)
    config = copy.deepcopy(__context__[key])
    return _mask(config, parameters(tplroot)["schema"]) if _masked() else config


def build_user(app=None):
    """
    The user that builds the releases: ``app:build_user``, or ``<app's user>-build`` (the
    app's user cut to 26 characters: a user name has 32 at most). ``app``: the merged
    ``app`` section (default: this minion's).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_config.build_user
    """
    app = merged()["app"] if app is None else app
    return app["build_user"] or f"{(app['user'] or app['name'])[:26]}-build"


def _mask(config, schema):
    return _schema_util("without_secrets")(schema, config, extra=DERIVED_SECRETS)


# ---------------------------------------------------------------- derived values

def _derive(c, tplroot):
    c["systemd_booted"] = os.path.isdir(SYSTEMD_RUN_DIR)
    server = c["wsgi"]["server"]
    front = "apache" if server == "mod_wsgi" else "nginx"
    c.update({
        "wsgi_sls": f"{tplroot}.{WSGI_SLS[server]}",
        # the other servers' clean SLS: a switch leaves nothing behind
        "wsgi_clean_sls": [f"{tplroot}.{sls}.clean" for sls in ("gunicorn", "uwsgi", "apache", "nginx")
                           if sls not in (WSGI_SLS[server], front)],
        "front": front,
        "http_port": c["apache"]["port"] if front == "apache" else c["nginx"]["port"],
        "web_user": c["apache_user"] if front == "apache" else c["nginx_user"],
    })
    app = c["app"]
    app["user"] = app["user"] or app["name"]
    app["build_user"] = build_user(app)
    app["base_dir"] = app["base_dir"] or f"/srv/{app['name']}"
    app["config_dir"] = app["config_dir"] or f"/etc/webstack/{app['name']}"
    base = app["base_dir"]
    app.update({
        "releases_dir": f"{base}/releases",
        "build_home": f"{base}/cache/build/home",
        "current_dir": f"{base}/current",
        "shared_dir": f"{base}/shared",
        "media_dir": f"{base}/shared/media",
        "run_dir": f"{base}/run",
        "config_file": f"{app['config_dir']}/app.env",
        "socket": f"{base}/run/{server if server in ('gunicorn', 'uwsgi') else 'wsgi'}.sock",
        "uwsgi_fifo": f"{base}/run/uwsgi.fifo",
        "uwsgi_stats": f"{base}/run/uwsgi-stats.sock",
        # the app's entry (salt/webstack/app/files/entry.py.jinja): the WSGI callable with the
        # settings in its environment (mod_wsgi's script too), and the launcher of the others
        "entry_dir": f"{base}/entry",
        "entry": f"{base}/entry/webstack_app.py",
        "entry_module": "webstack_app",
        # where the project's static files and uploads are, seen from a release (`{release}`)
        "static_rel": f"src/{app['static_root']}" if app["static_root"] else "static",
        "media_link": app["media_root"],
        "ident": app["name"].replace("-", "_"),  # mod_wsgi's daemon group, Nginx's upstream
    })
    app["static_dir"] = f"{app['current_dir']}/{app['static_rel']}"
    # the app's long-running programs (under the process manager), by what they run
    app["programs"] = {kind: f"{app['name']}-{kind}" for kind in ("gunicorn", "uwsgi", "celery", "celerybeat", "rq")}
    # while this file exists the front server answers 503 with the maintenance page (a restore)
    c["maintenance"] = dict(MAINTENANCE)
    app["maintenance_flag"] = f"{MAINTENANCE['flag_dir']}/{app['name']}"
    backup = c["backup"]
    backup.update(stanza=app["name"], pg_repo=f"{backup['path']}/pg", files_repo=f"{backup['path']}/files",
                  password_file=f"{BACKUP_ETC}/restic-password", restic_cache="/var/cache/webstack/restic",
                  keep_days=backup["retention_full"] * 7 + 1, state_dir=BACKUP_STATE,
                  drill_dir="/var/lib/postgresql/webstack-drill", salt_call=_salt_call(),
                  cron_file=f"/etc/cron.d/webstack-backup-{app['name']}")
    # the off-site copy (backup:offsite): pgBackRest's repo2 and restic's repository in the
    # bucket, the access key in a root-only file for restic, the authority in a public one
    # (pgBackRest, as PostgreSQL's user, reads it)
    endpoint = backup["s3_endpoint"]
    netloc = f"[{endpoint}]" if ":" in endpoint else endpoint
    netloc += "" if backup["s3_port"] == 443 else f":{backup['s3_port']}"
    backup.update(offsite_pg_path=f"{backup['s3_path']}/pg", s3_env_file=f"{BACKUP_ETC}/s3.env",
                  s3_ca_file="/etc/webstack/backup-s3-ca.crt",
                  offsite_files_repo=f"s3:https://{netloc}/{backup['s3_bucket']}{backup['s3_path']}/files")
    # a static file's name with a content hash (Django's ManifestStaticFilesStorage: 12 hex digits)
    c["hashed_name_re"] = r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$"
    _derive_redis_users(c)
    # the environment that every app process (WSGI server, workers) starts with, no secret
    # in it: the process manager (or mod_wsgi's entry) sets it; the settings follow from
    # the config file (the app's entry loads them)
    env = {"HOME": base, "USER": app["user"], "WEBSTACK_CONFIG": app["config_file"], "PYTHONUNBUFFERED": "1"}
    if app["django_settings_module"]:
        env["DJANGO_SETTINGS_MODULE"] = app["django_settings_module"]
    c["app_environment"] = env
    wsgi = c["wsgi"]
    # a program's stop may take its graceful timeout; a rolling reload waits for each
    # worker's graceful stop and its replacement's load
    wsgi["stop_wait"] = wsgi["graceful_timeout"] + 5
    wsgi["reload_timeout"] = wsgi["graceful_timeout"] * 2 + 60
    if wsgi["workers"] == "auto":
        wsgi["workers"] = 2 * (__grains__.get("num_cpus") or 1) + 1
    version = str(c["postgres_version"])
    c["postgres_conf_dir"] = c["postgres_conf_dir"].replace("{version}", version)
    c["postgres_bin_dir"] = c["postgres_bin_dir"].replace("{version}", version)
    c["postgres_data_dir"] = c["postgres_data_dir"].replace("{version}", version)
    # the Host header of health checks: the first allowed host that is a name
    # ('.example.org' allows example.org); it must pass Django's ALLOWED_HOSTS
    hosts = [h for h in app["allowed_hosts"] if h != "*"] + ["localhost"]
    c["health_host"] = hosts[0][1:] if hosts[0].startswith(".") else hosts[0]
    # straight to the WSGI server's socket where it has one; mod_wsgi lives inside
    # Apache, so its check goes through Apache's port
    if server == "mod_wsgi":
        check = {"host": "127.0.0.1", "port": c["http_port"]}
    else:
        check = {"unix_socket": app["socket"], "protocol": "uwsgi" if server == "uwsgi" else "http"}
    check["host_header"] = c["health_host"]
    c["wsgi_check"] = check
    _derive_cluster(c, parameters(tplroot)["roles"])
    # who may log in to MariaDB as the app's user: a cluster's app and worker nodes (their
    # addresses from the mine, checked), else this host (the socket and loopback)
    db_node = "db" in c["roles"] and "single" not in c["roles"] and c["nodes"]
    c["mariadb"]["client_hosts"] = list(c["cluster"]["db_clients"]) if db_node else ["localhost", "127.0.0.1"]
    c["serves_http"] = not c["roles"] or "single" in c["roles"] or "app" in c["roles"]
    # Nginx as the load balancer (its own node: validation refuses it beside role app)
    c["nginx_lb"] = "lb" in c["roles"] and c["lb"]["engine"] == "nginx" and not c["serves_http"]
    _derive_tls(c, hosts, server)
    _derive_settings(c)
    _derive_queue(c)
    return c


def _list(values, fmt):
    if fmt == "json":
        return json.dumps(list(values))
    return (" " if fmt == "space" else ",").join(values)


def _derive_settings(c):
    """The settings of the app's config file and environment, by the project's names
    (app:env_names), then app:env and the project's secrets (app:secrets): ``app_settings``,
    a secret as a whole. ``release_settings``: the names of those that point into a
    release (the build's commands get their own release's)."""
    app, redis, tls = c["app"], c["redis"], c["tls"]

    def q(value):
        return urllib.parse.quote(str(value), safe="")

    def redis_url(user, db):
        user = redis["users"][user]
        return f"redis://{user['name']}:{user['password']}@{_url_host(redis['host'])}:{redis['port']}/{db}"

    broker_url = redis_url("broker", redis["broker_db"])
    values = {
        "SECRET_KEY": str(app["secret_key"]),
        "DEBUG": "1" if app["debug"] else "0",
        "ALLOWED_HOSTS": _list(app["allowed_hosts"], app["list_format"]),
        "DATABASE_URL": _database_url(c, q),
        "CACHE_URL": redis_url("cache", redis["cache_db"]) if c["cache"]["engine"] == "redis"
                     else f"pymemcache://{_url_host(c['memcached']['host'])}:{c['memcached']['port']}",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ACKS_LATE": "1",
        "RQ_REDIS_URL": broker_url,
        "STATIC_URL": app["cdn_url"] or app["static_url"],
        "STATIC_ROOT": app["static_dir"],
        "MEDIA_URL": app["media_url"],
        "MEDIA_ROOT": app["media_dir"],
        "RELEASE_FILE": f"{app['current_dir']}/RELEASE",
    }
    if tls["enabled"] is True:
        silenced = []
        if not tls["hsts_max_age"]:
            silenced.append("security.W004")
        else:
            silenced += [] if tls["hsts_include_subdomains"] else ["security.W005"]
            silenced += [] if tls["hsts_preload"] else ["security.W021"]
        values.update({
            # TLS ends at the web server or the load balancer, which says so in X-Forwarded-Proto
            # (so do the health checks)
            "SECURE_SSL_REDIRECT": "1",
            "SESSION_COOKIE_SECURE": "1",
            "CSRF_COOKIE_SECURE": "1",
            "SECURE_HSTS_SECONDS": str(tls["hsts_max_age"]),
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1" if tls["hsts_include_subdomains"] else "0",
            "SECURE_HSTS_PRELOAD": "1" if tls["hsts_preload"] else "0",
            # off by the pillar's choice (tls:hsts_*), not by omission: not warned about
            "SILENCED_SYSTEM_CHECKS": _list(silenced, app["list_format"]),
        })
    # the task queue's settings, and not the other's
    for key in ("RQ_REDIS_URL",) if app["queue"] == "celery" else ("CELERY_BROKER_URL", "CELERY_TASK_ACKS_LATE"):
        del values[key]
    names = app["env_names"]
    out = {}
    for key, value in values.items():
        name = names.get(key, key)
        if name:
            out[name] = value
    if app["django_settings_module"]:
        out["DJANGO_SETTINGS_MODULE"] = app["django_settings_module"]
    for key, value in list(app["env"].items()) + list(app["secrets"].items()):
        out[str(key)] = str(value)
    c["app_settings"] = out
    # the file's text, by app.env's one codec (validation refused what it would not read back;
    # settings too large in all are named there, and the file then holds the formula's alone)
    encode, valid = __utils__["webstack_envfile.encode"], __utils__["webstack_envfile.valid_value"]
    try:
        c["app_settings_text"] = encode(out)
    except ValueError:
        c["app_settings_text"] = encode({k: v for k, v in out.items()
                                         if k not in app["env"] and k not in app["secrets"] and valid(v)})
    c["release_settings"] = {names.get(key, key): rel for key, rel in
                             (("STATIC_ROOT", app["static_rel"]), ("RELEASE_FILE", "RELEASE"))
                             if names.get(key, key)}


def _url_host(host):
    """A host as a URL's authority holds it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def _database_url(c, q):
    """DATABASE_URL of the chosen engine (db:engine): postgresql://... or mysql://... (with
    the host ``localhost``, MariaDB's client takes the server's socket; on another node TLS
    is required: ``ssl_mode=REQUIRED``, which django-environ and dj-database-url pass to
    the client as an option)."""
    if c["db"]["engine"] == "mariadb":
        db = c["mariadb"]
        tls = db["host"] not in ("localhost", "127.0.0.1", "::1")
        return (f"mysql://{q(db['user'])}:{q(db['password'])}@{_url_host(db['host'])}:{db['port']}/{db['name']}"
                "?charset=utf8mb4" + ("&ssl_mode=REQUIRED" if tls else ""))
    pg = c["postgres"]
    return f"postgresql://{q(pg['user'])}:{q(pg['password'])}@{_url_host(pg['host'])}:{pg['port']}/{pg['name']}"


def _derive_queue(c):
    """Celery beat, or RQ's scheduler, runs on one host: role single's, or the cluster's
    first worker node. Celery runs where app:queue is celery, RQ where it is rq."""
    celery, rq, roles, app = c["celery"], c["rq"], c["roles"], c["app"]
    workers = c["cluster"]["ids"]["worker"]
    here = not roles or "single" in roles or ("worker" in roles and workers[:1] == [__grains__.get("id")])
    celery["runs"] = bool(app["queue"] == "celery" and celery["enabled"] and app["celery_app"])
    celery["beat_here"] = bool(celery["runs"] and celery["beat"] and here)
    rq["runs"] = app["queue"] == "rq"
    rq["scheduler_here"] = bool(rq["runs"] and rq["scheduler"] and here)
    command = rq["command"] or ("python manage.py rqworker" if app["django_settings_module"]
                                else "python -m rq.cli worker")
    # as the release's commands: python is the release's interpreter, another program one of
    # its virtualenv's (an absolute path stays)
    argv = shlex.split(command)
    venv_bin = f"{app['current_dir']}/venv/bin"
    argv[0] = f"{venv_bin}/python" if argv[0] in ("python", "python3") \
        else argv[0] if argv[0].startswith("/") else f"{venv_bin}/{argv[0]}"
    rq["argv"] = argv + list(rq["queues"]) + (["--with-scheduler"] if rq["scheduler_here"] else [])


def _salt_call():
    """The command that runs a module of the formula on this minion: bootstrap.sh's wrapper
    where the minion is masterless, else salt-call."""
    return MASTERLESS_SALT_CALL if __opts__.get("file_client") == "local" else "salt-call"


def _derive_redis_users(c):
    """One Redis ACL user per consumer of the app (the cache, the Celery broker), each with a
    password derived from redis:password (HMAC-SHA256), so that a consumer's password
    neither is nor reveals the admin's. An app or worker node of a cluster holds only the
    derived ones, as redis:user_passwords (pillar/webstack/role_secrets.sls)."""
    redis, name = c["redis"], c["app"]["name"]
    admin = str(redis["password"] or "")
    given = redis.get("user_passwords") or {}
    users = {}
    for user in ("cache", "broker"):
        password = hmac.new(admin.encode(), user.encode(), hashlib.sha256).hexdigest() if admin \
            else str(given.get(user) or "")
        users[user] = {"name": f"{name}-{user}", "password": password}
    redis["users"] = users


def _derive_cluster(c, registry):
    """Each role's node ids from webstack:nodes (pillar, by minion id) and the addresses of
    the peers this minion needs from the Salt mine (its roles' peers in the registry,
    roles.yaml), each checked before it is used (a
    compromised minion can publish anything): a value that is not a unicast IPv4 address in
    the cluster's network (network:private_cidr, else a private range), or that another
    minion publishes too, is left out and reported, naming the minions."""
    roles = c["roles"]
    nodes = c["nodes"]
    ids = {role: sorted(n for n, r in nodes.items() if role in r)
           for role in _schema_util("role_names")(registry, cluster=True)}
    addresses, problems = {}, []
    cluster_node = nodes and roles and "single" not in roles
    # the shared uploads: the storage node's address, where the app and worker nodes mount them
    c["glusterfs"]["shared"] = bool(cluster_node and ids["storage"])
    c["glusterfs"]["server"] = c["glusterfs"]["brick_host"] = None
    # GlusterFS's TLS: the certificates this node trusts (from the mine, checked), the names
    # that may mount the volume, the addresses its firewall admits (the storage node)
    c["glusterfs"].update(peers={}, ssl_allow=[], members=[], ports=list(GLUSTERFS_PORTS))
    # Memcached has no authentication that Django's clients use: on a cache node it
    # listens on the private address behind a firewall of the app and worker nodes
    c["memcached"]["firewall"] = bool(cluster_node and "cache" in roles)
    # MariaDB on a cluster's db node: TLS with a certificate of the formula's
    c["mariadb"]["tls"] = bool(cluster_node and "db" in roles)
    if cluster_node:
        me = __grains__["id"]
        needed = sorted({node for role in roles if role in registry for peer in registry[role]["peers"]
                         for node in ids[peer]})
        mine = __salt__["mine.get"](",".join(sorted(nodes)), MINE_FUNCTION, tgt_type="list") if needed else {}
        mine = mine if isinstance(mine, dict) else {}
        # who publishes what, over every node of the cluster: an address that two minions
        # publish is neither's (the first to publish another's must not win it)
        publishers = {}
        for node in sorted(nodes):
            if isinstance(mine.get(node), str):
                publishers.setdefault(mine[node], []).append(node)
        cidr = c["network"]["private_cidr"]
        for node in needed:
            value = mine.get(node)
            if value is None:
                addresses[node] = None
                problems.append(f"webstack:nodes:{node}: expected a private address in the Salt mine "
                                f"(run mine.update on {node}; see {MINE_FUNCTION}), it is missing")
                continue
            why = _schema_util("node_address_problem")(value, cidr)
            others = [other for other in publishers.get(value, []) if other != node] if why is None else []
            if others:
                why = f"an address of its own, got {value}, which {' and '.join(others)} publishes too"
            if why:
                addresses[node] = None
                problems.append(f"webstack:nodes:{node}: expected {why} in the Salt mine ({MINE_FUNCTION} "
                                f"of minion {node}); it is not used, and nothing was changed")
                continue
            addresses[node] = value
        my_addr = addresses.get(me) or "127.0.0.1"
        if "db" in roles:
            c["postgres"]["listen_addresses"] = f"localhost,{my_addr}"
            c["mariadb"]["bind"] = ["127.0.0.1", my_addr]
        if "cache" in roles:
            c["redis"]["bind"] = ["127.0.0.1", my_addr]
            c["memcached"]["bind"] = ["127.0.0.1", my_addr]
        if ids["db"]:
            c["postgres"]["host"] = c["mariadb"]["host"] = addresses.get(ids["db"][0]) or "127.0.0.1"
        if ids["cache"]:
            c["redis"]["host"] = c["memcached"]["host"] = addresses.get(ids["cache"][0]) or "127.0.0.1"
        if ids["storage"]:
            c["glusterfs"]["server"] = addresses.get(ids["storage"][0])
        if "storage" in roles:
            c["glusterfs"]["brick_host"] = addresses.get(me)
        if c["glusterfs"]["shared"] and set(roles) & {"storage", "app", "worker"}:
            _derive_glusterfs_tls(c, ids, me, nodes, problems)
            if "storage" in roles:
                c["glusterfs"]["members"] = sorted({addresses[n] for n in [me] + ids["app"] + ids["worker"]
                                                    if addresses.get(n)})
        # migrations run on one node only: the first app node (orch.deploy runs them there)
        c["app"]["migrate"] = c["app"]["migrate"] and ids["app"][:1] == [me]
    clients = []
    for node in ids["app"] + ids["worker"]:
        if addresses.get(node) and addresses[node] not in clients:
            clients.append(addresses[node])
    c["cluster"] = {
        "ids": ids,
        # the roles' facts (roles.yaml), for the orchestration's steps
        "roles": copy.deepcopy(registry),
        "addresses": addresses,
        "problems": problems,
        "db_clients": clients,
        "backends": [{"name": n, "address": addresses[n], "port": c["http_port"]} for n in ids["app"]
                     if addresses.get(n)],
    }


def _derive_glusterfs_tls(c, ids, me, nodes, problems):
    """The storage node trusts the app and worker nodes' certificates, an app or worker node
    the storage node's, each from the mine and checked before it reaches the CA file (a
    certificate that is not one PEM certificate of that node's minion id is left out and
    reported); the volume may be mounted by the certificates of the storage node (its own
    daemons) and of the app and worker nodes."""
    clients = ids["app"] + ids["worker"]
    peers = sorted((set(clients if "storage" in c["roles"] else []) | set(ids["storage"])) - {me})
    mine = __salt__["mine.get"](",".join(sorted(nodes)), CERT_FUNCTION, tgt_type="list") if peers else {}
    mine = mine if isinstance(mine, dict) else {}
    for node in peers:
        value = mine.get(node)
        if value is None:
            problems.append(f"webstack:nodes:{node}: expected its GlusterFS certificate in the Salt mine (run "
                            f"mine.update on {node}; see {CERT_FUNCTION}), it is missing")
            continue
        why = _schema_util("node_certificate_problem")(value, node)
        if why:
            problems.append(f"webstack:nodes:{node}: expected {why} in the Salt mine ({CERT_FUNCTION} of minion "
                            f"{node}); it is not trusted, and nothing was changed")
            continue
        c["glusterfs"]["peers"][node] = value
    c["glusterfs"]["ssl_allow"] = list(dict.fromkeys(ids["storage"] + clients))


def _derive_tls(c, hosts, server):
    """TLS (Mozilla's intermediate profile; its TLS 1.2 ciphers are the ECDHE ones, the DHE
    ones would need a DH parameters file). It ends where clients connect: the load balancer
    on an lb node, the web server on role single or on an app node that no load balancer
    fronts. An app node behind the load balancer serves HTTP on the private network and
    passes on the balancer's X-Forwarded-Proto; a front that ends TLS sets its own."""
    tls, app, roles = c["tls"], c["app"], c["roles"]
    behind_lb = bool(c["cluster"]["ids"]["lb"]) and "single" not in roles
    names = []
    for name in hosts + c["nginx"]["server_name"].split(" ") + [__grains__.get("fqdn") or "localhost"]:
        name = name[1:] if name.startswith(".") else name
        name = name[2:] if name.startswith("*.") else name
        if name and name != "_" and name not in names:
            names.append(name)
    is_ip = _schema_util("is_ip")
    dns = [n for n in names if not is_ip(n)]
    hsts = f"max-age={tls['hsts_max_age']}" + ("; includeSubDomains" if tls["hsts_include_subdomains"] else "") \
        + ("; preload" if tls["hsts_preload"] else "")
    tls.update({
        "front": tls["enabled"] and c["serves_http"] and not behind_lb,
        "lb": tls["enabled"] and "lb" in roles,
        "pem": f"{c['tls_dir']}/{app['name']}.pem",
        "crt": f"{c['tls_dir']}/{app['name']}.crt",
        "spec": f"{c['tls_dir']}/{app['name']}.self-signed",
        "self_signed": not tls["certificate"],
        "requisite": {"file": "webstack-tls-pem-file-managed"} if tls["certificate"]
        else {"cmd": "webstack-tls-self-signed-certificate-cmd-run"},
        "subject": "/CN=" + (dns + names)[0],
        "san": ",".join(("IP:" if is_ip(n) else "DNS:") + n for n in names),
        "hsts": hsts if tls["hsts_max_age"] > 0 else "",
        "port_suffix": "" if tls["port"] == 443 else f":{tls['port']}",
        "ciphers": CIPHERS,
    })
    # the scheme an app process is told: the front's own where it ends TLS or no load
    # balancer fronts it, the balancer's header behind one
    c["forwarded_proto"] = "$http_x_forwarded_proto" if behind_lb else "$scheme"
    if server == "mod_wsgi" and tls["front"]:
        c["wsgi_check"].update({"port": tls["port"], "tls": True})
    # the checks send what the front sends the app: the scheme its clients use
    c["health_proto"] = "https" if tls["enabled"] is True else "http"
    c["wsgi_check"]["forwarded_proto"] = c["health_proto"]
