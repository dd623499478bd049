"""
Validation of the ``webstack`` pillar.

Every role's first state calls :py:func:`validate` (through the
``webstack_pillar.validated`` state, with ``failhard``) so that a missing key, a
wrong type, an unknown name, a weak secret, a malformed value or an address that a
minion published in the mine stops the run with a message naming the key and the
expected form, before anything on the host changes.

Each key's type and grammar come from ``parameters/schema.yaml`` (checked by
``_utils/webstack_schema.py`` over the defaults, the OS files and the pillar, merged
by ``webstack_config``); this module holds only what a schema cannot say: the rules
that span keys (roles, the cluster's shape, ports, secrets per role, TLS's pair)
and the facts of the host (a name that resolves, systemd as PID 1). Secrets are
never echoed back in a message.
"""

import os
import socket

from salt.exceptions import CommandExecutionError

try:  # Salt 3008 masks pillar values outside templates; the plain ones are needed here
    from salt.utils.secret import expose as _expose
except ImportError:  # older Salt: nothing is masked
    def _expose(value):
        return value

__virtualname__ = "webstack_pillar"

# where systemd is PID 1 this directory exists (sd_booted)
SYSTEMD_RUN_DIR = "/run/systemd/system"

# Variables of the app's environment that no pillar key may name: the process's own
# (the app's entry, the process manager and webstack_release set them) and the settings
# module's. The interpreter's and the loader's (PATH, HOME, PYTHON*, LD_*...) are no
# setting's name at all (the env_name grammar, from app.env's codec).
FIXED_ENV_KEYS = ("DJANGO_SETTINGS_MODULE", "WEBSTACK_CONFIG", "USER", "LOGNAME")

# Besides the ports of each role (roles.yaml): Varnish's, on an lb node with varnish:enabled;
# the pool's with Nginx or Varnish
_VARNISH_PORTS = ("varnish:port", "varnish:admin_port")


def __virtual__():
    if "webstack_schema.walk" not in __utils__:
        return (False, "the webstack_schema utility module is not loaded (saltutil.sync_all)")
    return __virtualname__


def _util(name):
    return __utils__[f"webstack_schema.{name}"]


def _parameters(tplroot):
    return __salt__["webstack_config.parameters"](tplroot)


def validate(pillar=None, roles=None, tplroot="webstack"):
    """
    Validate the ``webstack`` pillar (or the mapping given as ``pillar``), merged over
    the defaults and the OS files, for the given roles (default: ``webstack:roles``;
    none: role single, the strictest). With the live pillar, the addresses that this
    minion reads from the Salt mine are checked too. Returns a list of error messages,
    empty when all is valid; each names the key and the expected form, and no secret
    is repeated.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.validate
        salt-call webstack_pillar.validate roles='[single]'
    """
    live = pillar is None
    if live:
        if "webstack" not in __pillar__:
            return ["webstack: expected a mapping of the formula's settings, it is missing"]
        pillar = _expose(__pillar__["webstack"])
    if not isinstance(pillar, dict):
        return [f"webstack: expected a mapping, got {_util('describe')(pillar)}"]
    params = _parameters(tplroot)
    schema, registry = params["schema"], params["roles"]
    raw = __salt__["webstack_config.merged"](pillar, tplroot)
    errors, data = _util("walk")(schema, raw)
    if roles is None:
        roles = data["roles"] or ["single"]
    if not isinstance(roles, list) or not all(r in registry for r in roles):
        errors.append(f"webstack:roles: expected role names from {', '.join(registry)}, got "
                      f"{_util('describe')(roles)}")
        roles = []
    errors += _rules(schema, registry, data, raw, pillar, roles)
    if live and not errors:
        errors += __salt__["webstack_config.get"](tplroot)["cluster"]["problems"]
    return errors


def _rules(schema, registry, data, raw, pillar, roles):
    """What the schema cannot say: one message per problem. ``registry``: the roles' facts
    (roles.yaml); ``data`` is the merged and checked configuration (faulty values are their
    defaults there), ``raw`` the same unchecked, ``pillar`` what the operator wrote."""
    errors = []
    cluster_roles = ", ".join(_util("role_names")(registry, cluster=True))
    for alone in _util("role_names")(registry, cluster=False):
        if alone in roles and len(roles) > 1:
            errors.append(f"webstack:roles: expected either [{alone}] or a combination of {cluster_roles}; "
                          f"'{alone}' already includes every role, got " + ", ".join(roles))
    errors += _cluster_rules(registry, data["nodes"])
    errors += _storage_rules(data, roles)
    errors += _backup_rules(data, raw, roles)
    server = data["wsgi"]["server"]
    if server in ("uwsgi", "mod_wsgi") and data["app"]["python"] != "python3":
        errors.append(f"webstack:app:python: expected python3 with wsgi:server {server} (the distribution's "
                      f"Python, which its uWSGI plugin and mod_wsgi are built for), got "
                      f"{_util('describe')(data['app']['python'])}")
    if data["process_manager"] == "systemd" and not os.path.isdir(SYSTEMD_RUN_DIR):
        errors.append(f"webstack:process_manager: expected supervisord on this host, where systemd is not "
                      f"PID 1 (no {SYSTEMD_RUN_DIR}), got 'systemd'")
    if data["redis"]["cache_db"] == data["redis"]["broker_db"]:
        errors.append("webstack:redis:broker_db: expected a database apart from webstack:redis:cache_db, "
                      f"got the same number {data['redis']['broker_db']}")
    errors += _lb_rules(data, roles)
    errors += _env_names(data["app"])
    errors += _env_size(data["app"])
    errors += _build_user(data)
    errors += _tls_rules(data["tls"], raw["tls"] if isinstance(raw.get("tls"), dict) else {})
    errors += _hosts_resolve(data, pillar, roles)
    errors += _ports_apart(registry, data, roles)
    errors += _secrets(schema, raw, roles)
    return errors


def _lb_rules(data, roles):
    """Nginx as the load balancer: a balance it has, and a node of its own (one Nginx serves
    either the app or the load balancer)."""
    lb = data["lb"]
    if lb["engine"] != "nginx":
        return []
    errors = []
    if lb["balance"] == "first":
        errors.append("webstack:lb:balance: expected roundrobin, leastconn or source with lb:engine nginx (Nginx "
                      "has no 'first'), got 'first'")
    shared = sorted(n for n, r in data["nodes"].items() if "lb" in r and "app" in r)
    if "lb" in roles and "app" in roles and not shared:
        shared = ["this node"]
    if shared:
        errors.append(f"webstack:lb:engine: expected haproxy where a node has roles lb and app ({', '.join(shared)}): "
                      "one Nginx serves either the app or the load balancer, got 'nginx'")
    return errors


def _env_names(app):
    """Every variable of the app's environment has one source: a setting of the formula
    (by its name in app:env_names), app:env or app:secrets, never two."""
    errors, taken = [], {key: "the formula's own" for key in FIXED_ENV_KEYS}
    names = app["env_names"]
    for setting in _util("app_settings")():
        name = names.get(setting, setting)
        if not name:
            continue
        if name in taken:
            errors.append(f"webstack:app:env_names:{setting}: expected a name of no other variable, got "
                          f"{name!r}, which is {taken[name]}")
        else:
            taken[name] = f"the formula's {setting}" if name != setting else "a setting of the formula"
    for section in ("env", "secrets"):
        for key in sorted(app[section]):
            if key in taken:
                hint = "; rename the formula's with webstack:app:env_names" if "formula" in taken[key] else ""
                errors.append(f"webstack:app:{section}:{key}: expected a name of no other variable, got "
                              f"{key}, which is {taken[key]}{hint}")
            else:
                taken[key] = f"in webstack:app:{section}"
    return errors


def _env_size(app):
    """app:env and app:secrets together fit in app.env and in a process's environment, with
    room left for the formula's own settings."""
    limit = __utils__["webstack_envfile.operator_limit"]()
    used = __utils__["webstack_envfile.size"]({**app["env"], **app["secrets"]})
    if used > limit:
        return [f"webstack:app:env: expected settings of at most {limit} bytes with webstack:app:secrets (one "
                f"line each, NAME=VALUE), got {used} bytes"]
    return []


# Accounts that are someone else's: a build user of that name would take over their groups and
# home, and each build would kill their processes
_OTHERS_ACCOUNTS = ("root", "daemon", "bin", "sys", "nobody", "www-data", "postgres", "mysql", "redis", "memcache",
                    "_apt", "sshd", "messagebus", "syslog", "backup", "mail", "gluster", "varnish", "haproxy")


def _build_user(data):
    """The build user is an account of its own: not the app's (which must not write a
    release), not root, not a service's."""
    app = data["app"]
    user = __salt__["webstack_config.build_user"](app)
    taken = {app["user"] or app["name"], data["nginx_user"], data["apache_user"], *_OTHERS_ACCOUNTS}
    if user in taken:
        return [f"webstack:app:build_user: expected a user of its own, not root, the app's user (app:user) or a "
                f"service's, got {user!r}"]
    return []


def _secrets(schema, raw, roles):
    """Each role's required secrets are set; app and worker nodes may hold their Redis users'
    passwords (redis:user_passwords) instead of the admin's; no secret serves two keys.
    ``raw``: the merged settings as written (a faulty secret is named by its own check)."""
    get = _util("get")
    errors = []
    expected = _util("expected")
    needed = [path for path, spec in schema.items()
              if spec.get("required") and set(spec.get("roles", ())) & set(roles)
              and all(get(raw, key) == value for key, value in (spec.get("when") or {}).items())]
    given = {user: get(raw, f"redis:user_passwords:{user}") for user in ("cache", "broker")}
    given = {user: value for user, value in given.items() if value not in ("", None) and not _util("is_missing")(value)}
    app_node = {"app", "worker"} & set(roles) and not {"single", "cache"} & set(roles)
    if app_node:
        if given:
            for user in ("cache", "broker"):
                if user not in given:
                    errors.append(f"webstack:redis:user_passwords:{user}: expected the password of the app's "
                                  "Redis user, as pillar/webstack/role_secrets.sls derives it from "
                                  "redis:password, it is missing")
        elif get(raw, "redis:password") in ("", None):
            needed.append("redis:password")
    for path in sorted(set(needed)):
        value = get(raw, path)
        if value in ("", None) or _util("is_missing")(value):
            errors.append(f"webstack:{path}: expected {expected(schema[path])}, it is missing")
    seen = {}
    for path in sorted(_util("secret_paths")(schema)):
        value = get(raw, path)
        if isinstance(value, str) and value:
            if value in seen:
                errors.append(f"webstack:{path}: expected a secret of its own, got the same value as "
                              f"webstack:{seen[value]}")
            else:
                seen[value] = path
    return errors


def _cluster_rules(registry, nodes):
    """``nodes`` (minion id -> roles): the cluster's shape, as the roles' facts say (roles.yaml:
    a role alone on its node, a role of one node at most, the roles a role needs)."""
    errors = []
    counts = {role: [] for role in registry}
    cluster_roles = ", ".join(_util("role_names")(registry, cluster=True))
    for node_id, node_roles in nodes.items():
        for alone in _util("role_names")(registry, cluster=False):
            if alone in node_roles and len(node_roles) > 1:
                errors.append(f"webstack:nodes:{node_id}: expected [{alone}] alone or cluster roles "
                              f"({cluster_roles}), got {', '.join(node_roles)}")
        for role in node_roles:
            counts[role].append(node_id)
    for role, facts in registry.items():
        if facts["unique"] and len(counts[role]) > 1:
            errors.append(f"webstack:nodes: expected one {role} node, got {', '.join(sorted(counts[role]))}")
    for role, facts in registry.items():
        for needed in facts["needs"]:
            if counts[role] and not counts[needed]:
                article = "an" if needed[0] in "aeiou" else "a"
                errors.append(f"webstack:nodes: expected {article} {needed} node for the {role} nodes, got none")
    return errors


def _backup_rules(data, raw, roles):
    """Continuous backups: role single's, of PostgreSQL (so far), on a schedule cron takes;
    an off-site copy of them."""
    if not data["backup"]["enabled"]:
        if data["backup"]["offsite"]:
            return ["webstack:backup:offsite: expected false while backup:enabled is false (the off-site copy "
                    "is a copy of the server's backups), got true"]
        return []
    errors = []
    if data["backup"]["offsite"]:
        for key, what in (("s3_endpoint", "the S3 endpoint's host name"), ("s3_bucket", "the bucket's name")):
            if _util("get")(raw, f"backup:{key}") in ("", None):  # a faulty one is named by its own check
                errors.append(f"webstack:backup:{key}: expected {what} with backup:offsite true, it is missing")
    if "single" not in roles:
        errors.append("webstack:backup:enabled: expected false on a cluster's node (a single server's backups "
                      f"only, so far), got true with roles {', '.join(roles)}")
    elif data["db"]["engine"] != "postgresql":
        errors.append(f"webstack:backup:enabled: expected false with db:engine {data['db']['engine']} (the "
                      "backups are PostgreSQL's, so far), got true")
    return errors


def _storage_rules(data, roles):
    """The shared uploads (a ``storage`` node): every app and worker node writes them as one
    uid, which the pillar must fix (the system picks a different one on each node)."""
    storage = any("storage" in r for r in data["nodes"].values())
    if storage and {"app", "worker"} & set(roles) and data["app"]["uid"] is None:
        return ["webstack:app:uid: expected a user id (e.g. 1500) with a storage node in webstack:nodes: "
                "every app and worker node writes the shared uploads as this one uid, got none"]
    return []


def _tls_rules(tls, raw):
    """``tls``: HSTS preload's conditions, and a certificate with its own key (``raw``: the
    settings as written, where a faulty certificate or key still counts as given)."""
    errors = []
    if tls["hsts_preload"]:
        if not tls["hsts_include_subdomains"]:
            errors.append("webstack:tls:hsts_preload: expected tls:hsts_include_subdomains true with it (the "
                          "preload list requires both), got hsts_include_subdomains the boolean False")
        if tls["hsts_max_age"] < 31536000:
            errors.append("webstack:tls:hsts_preload: expected tls:hsts_max_age of at least 31536000 (one year) "
                          f"with it, got {tls['hsts_max_age']}")
    cert, key = tls["certificate"], tls["private_key"]
    if bool(raw.get("certificate")) != bool(raw.get("private_key")):
        missing = "tls:private_key" if cert else "tls:certificate"
        other = "tls:certificate" if cert else "tls:private_key"
        errors.append(f"webstack:{missing}: expected it with webstack:{other} (both or neither; neither makes a "
                      "self-signed certificate), it is missing")
    elif cert and key:
        problem = _cert_key_problem(cert, key)
        if problem:
            errors.append(f"webstack:{problem[0]}: expected {problem[1]}")
    return errors


def _cert_key_problem(cert, key):
    """None, or (key, expected ..., got ...) when the PEM texts do not load or do not match."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # the web server's own config test still catches it
        return None
    try:
        certs = x509.load_pem_x509_certificates(cert.encode())
    except ValueError:
        return ("tls:certificate", "PEM text of X.509 certificates, got text that does not load as one")
    try:
        private = serialization.load_pem_private_key(key.encode(), password=None)
    except (ValueError, TypeError):
        return ("tls:private_key", "an unencrypted private key, got one that does not load "
                "(encrypted, or not a key)")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if (certs[0].public_key().public_bytes(serialization.Encoding.DER, spki)
            != private.public_key().public_bytes(serialization.Encoding.DER, spki)):
        return ("tls:private_key", "the key of the first certificate in tls:certificate, got another key")
    return None


def _resolves(host):
    """An IP address, or a name that this minion resolves (where the app will connect from)."""
    if _util("is_ip")(host):
        return True
    try:
        return bool(socket.getaddrinfo(host, None))
    except (socket.gaierror, UnicodeError):
        return False


def _engines(data):
    """The pillar sections of the chosen database and cache servers (db:engine, cache:engine)."""
    return ("mariadb" if data["db"]["engine"] == "mariadb" else "postgres",
            "memcached" if data["cache"]["engine"] == "memcached" else "redis")


def _hosts_resolve(data, pillar, roles):
    """The hosts that the app and the workers connect to must resolve where they run (those
    that the pillar sets: in a cluster the mine's addresses replace them)."""
    errors = []
    if not {"single", "app", "worker"} & set(roles):
        return errors
    get = _util("get")
    db, cache = _engines(data)
    for section in dict.fromkeys((db, "redis", cache)):  # Redis: the queue's broker in any case
        key, value = f"{section}:host", data[section]["host"]
        if not _util("is_missing")(get(pillar, key)) and not _resolves(value):
            errors.append(f"webstack:{key}: expected a host name that resolves on this minion, or an IP "
                          f"address, got {_util('describe')(value)}, which does not resolve")
    return errors


def _ports_apart(registry, data, roles):
    """Two services of this host must not listen on the same port (its roles' ports, from the
    registry)."""
    front = "apache:port" if data["wsgi"]["server"] == "mod_wsgi" else "nginx:port"
    engines = _engines(data)
    behind_lb = any("lb" in r for r in data["nodes"].values())
    keys = []
    for role in roles:
        extra = ()
        if role == "lb":
            extra = (_VARNISH_PORTS if data["varnish"]["enabled"] else ()) + (
                ("lb:pool_port",) if data["varnish"]["enabled"] or data["lb"]["engine"] == "nginx" else ())
        for key in tuple(registry[role]["ports"]) + extra:
            if key == "tls:port" and (not data["tls"]["enabled"] or (role == "app" and behind_lb)):
                continue  # no TLS here: off, or an app node behind the load balancer
            key = {"front": front, "db": f"{engines[0]}:port", "cache": f"{engines[1]}:port"}.get(key, key)
            if key not in keys:
                keys.append(key)
    errors, taken = [], {}
    for key in keys:
        section, name = key.split(":")
        port = data[section][name]
        if port in taken:
            errors.append(f"webstack:{key}: expected a port apart from webstack:{taken[port]} (both listen on "
                          f"this host), got the same port {port}")
        else:
            taken[port] = key
    return errors


def public(key="", default=None, tplroot="webstack"):
    """
    The plain value of a key under ``webstack`` (``pillar.get`` masks every value in
    Salt 3008), merged over the defaults. A secret is never returned: asked for by its
    own path it is refused, inside a mapping (``public app``) it is masked.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.public nginx:port
        salt-call webstack_pillar.public app
    """
    schema = _parameters(tplroot)["schema"]
    path = str(key).strip(":")
    if path in _util("secret_paths")(schema):
        raise CommandExecutionError(f"webstack:{path} holds a secret; it is not shown")
    data = __salt__["webstack_config.merged"](None, tplroot)
    value = _util("get")(data, path) if path else data
    if _util("is_missing")(value):
        return default
    return _util("without_secrets")(schema, value, path)


def front(tplroot="webstack"):
    """
    The web server in front (``nginx``, or ``apache`` with ``wsgi:server``
    ``mod_wsgi``), its HTTP port, whether it ends TLS and the site's URL (with
    ``{host}`` for the host's address), from the pillar and the defaults.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.front
    """
    config = __salt__["webstack_config.get"](tplroot)
    tls = config["tls"]["enabled"]
    url_port = config["tls"]["port"] if tls else config["http_port"]
    default = 443 if tls else 80
    return {"server": config["front"], "port": config["http_port"], "tls": tls,
            "url": f"{'https' if tls else 'http'}://{{host}}{'' if url_port == default else f':{url_port}'}/"}


def check(pillar=None, roles=None, tplroot="webstack"):
    """
    Like :py:func:`validate`, but raise an error that lists every problem.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.check
    """
    errors = validate(pillar=pillar, roles=roles, tplroot=tplroot)
    if errors:
        raise CommandExecutionError("invalid pillar:\n" + "\n".join(errors))
    return True
