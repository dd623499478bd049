"""
Validation of the ``webstack`` pillar.

Every role's first state calls :py:func:`validate` (through the
``webstack_pillar.validated`` state, with ``failhard``) so that a missing key, a
wrong type, an unknown name, a weak secret or a malformed port or host stops the
run with a message naming the key and the expected form, before anything on the
host changes.

Only the keys that the pillar sets are type-checked: the formula's own defaults
(``salt/webstack/parameters/defaults.yaml``) are trusted. Secrets are required
where a role needs them and are never echoed back in a message.
"""

import ipaddress
import os
import re
import socket

from salt.exceptions import CommandExecutionError

try:  # Salt 3008 masks pillar values outside templates; we need the plain ones
    from salt.utils.secret import expose as _expose
except ImportError:  # older Salt: nothing is masked
    def _expose(value):
        return value

__virtualname__ = "webstack_pillar"

ROLES = ("single", "db", "cache", "app", "worker", "lb")
WSGI_SERVERS = ("gunicorn", "uwsgi", "mod_wsgi")
PROCESS_MANAGERS = ("supervisord", "systemd")
# where systemd is PID 1 this directory exists (sd_booted)
SYSTEMD_RUN_DIR = "/run/systemd/system"

# Which secrets each role needs.
REQUIRED = {
    "single": ("app:secret_key", "postgres:password", "redis:password"),
    "db": ("postgres:password",),
    "cache": ("redis:password",),
    "app": ("app:secret_key", "postgres:password", "redis:password"),
    "worker": ("app:secret_key", "postgres:password", "redis:password"),
    "lb": (),
}

_NODE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_IFACE_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,32}$")
CLUSTER_ROLES = ("db", "cache", "app", "worker", "lb")
LB_BALANCE = ("roundrobin", "leastconn", "first", "source")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SQL_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]*$")
_RELPATH_RE = re.compile(r"^[A-Za-z0-9._-][A-Za-z0-9._/-]*$")
_MODULE_ATTR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_.]*)?$")
_ENV_KEY_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SIZE_RE = re.compile(r"^[0-9]+[kKmMgG]?$")
_DURATION_RE = re.compile(r"^[0-9]+(ms|s|m|h|d|w|M|y)?$")
_GIT_URL_RE = re.compile(
    r"^((https?|ssh|git|file)://[^\s'\"`$;|&<>\\]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s'\"`$;|&<>\\]+)$"
)
_SALT_URL_RE = re.compile(r"^salt://[A-Za-z0-9._/-]+$")
_GIT_REV_RE = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
# Printable ASCII without whitespace, quotes or backslash: safe in every config
# syntax the formula writes (redis.conf, env file, URLs after quoting).
_SECRET_RE = re.compile(r"^[!#-&(-\[\]-~]+$")


def __virtual__():
    return __virtualname__


class _Checker:
    """Collects one message per faulty key."""

    def __init__(self, data):
        self.data = data
        self.errors = []

    def get(self, path):
        node = self.data
        for part in path.split(":"):
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def error(self, path, expected, value=None, secret=False):
        if value is _MISSING:
            got = "it is missing"
        elif secret:
            got = "got a value that does not match"
        else:
            got = f"got {_describe(value)}"
        self.errors.append(f"webstack:{path}: expected {expected}, {got}")

    def check(self, path, ok, expected, secret=False):
        """Check ``path`` if the pillar sets it; ``ok`` is a predicate."""
        value = self.get(path)
        if value is _MISSING:
            return
        try:
            good = ok(value)
        except (TypeError, ValueError):
            good = False
        if not good:
            self.error(path, expected, value, secret=secret)

    def require(self, path, ok, expected, secret=False):
        value = self.get(path)
        if value is _MISSING or value in ("", None):
            self.error(path, expected, _MISSING)
            return
        self.check(path, ok, expected, secret=secret)


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def _describe(value):
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _is_int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_port(value):
    return _is_int(value, 1, 65535)


def _is_host(value):
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME_RE.match(value))


def _is_bind(value):
    # redis accepts "-::1" (optional address)
    return isinstance(value, str) and _is_ip(value[1:] if value.startswith("-") else value)


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _is_abspath(value):
    return (
        isinstance(value, str)
        and bool(_PATH_RE.match(value))
        and ".." not in value.split("/")
        and value != "/"
    )


def _is_command_list(value):
    return isinstance(value, list) and all(
        isinstance(cmd, str) and cmd.strip() and "\n" not in cmd and "\x00" not in cmd
        for cmd in value
    )


def _is_source(value):
    return isinstance(value, str) and bool(_SALT_URL_RE.match(value) or _GIT_URL_RE.match(value))


# Parts of the placeholders that people paste into a pillar: never a real secret.
_WEAK_WORDS = ("changeme", "change-me", "change_me", "password", "secret", "example", "insecure", "xxxxxx",
               "123456", "qwerty", "letmein")


def _is_secret(min_len, min_distinct):
    """A secret of ``min_len`` safe characters, ``min_distinct`` of them different, without a
    placeholder word in it (Django's own check wants 50 characters, 5 distinct)."""
    return lambda v: (isinstance(v, str) and len(v) >= min_len and bool(_SECRET_RE.match(v))
                      and len(set(v)) >= min_distinct and not any(w in v.lower() for w in _WEAK_WORDS)
                      and not v.startswith("django-insecure-"))


def _resolves(host):
    """An IP address, or a name that this minion resolves (where the app will connect from)."""
    if _is_ip(host):
        return True
    try:
        return bool(socket.getaddrinfo(host, None))
    except (socket.gaierror, UnicodeError):
        return False


# Keys of the app's config file that the formula writes itself (app.env.jinja).
RESERVED_ENV_KEYS = frozenset((
    "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL",
    "CELERY_TASK_ACKS_LATE", "STATIC_URL", "STATIC_ROOT", "MEDIA_URL", "MEDIA_ROOT", "RELEASE_FILE",
    "DJANGO_SETTINGS_MODULE", "WEBSTACK_CONFIG", "SECURE_SSL_REDIRECT", "SECURE_REDIRECT_EXEMPT",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SILENCED_SYSTEM_CHECKS",
))


def _is_env(value):
    return isinstance(value, dict) and all(
        isinstance(k, str)
        and _ENV_KEY_RE.match(k)
        and k not in RESERVED_ENV_KEYS
        and isinstance(v, (str, int, float, bool))
        and "\n" not in str(v)
        and "\x00" not in str(v)
        and not str(v)[:1] in ("'", '"')
        and not str(v)[-1:] in ("'", '"')
        for k, v in value.items()
    )


def _is_allowed_host(value):
    if not isinstance(value, str):
        return False
    if value == "*":
        return True
    return _is_host(value[1:] if value.startswith(".") else value)


def validate(pillar=None, roles=None):
    """
    Validate the ``webstack`` pillar (or the mapping given as ``pillar``) for the
    given roles (default: ``webstack:roles``). Returns a list of error messages,
    empty when the pillar is valid. Each message names the key and the expected
    form; secret values are never repeated.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.validate
        salt-call webstack_pillar.validate roles='[single]'
    """
    if pillar is None:
        pillar = _expose(__pillar__.get("webstack", _MISSING))
    if pillar is _MISSING:
        return ["webstack: expected a mapping of the formula's settings, it is missing"]
    if not isinstance(pillar, dict):
        return [f"webstack: expected a mapping, got {_describe(pillar)}"]
    c = _Checker(pillar)

    if roles is None:
        # a pillar without roles is checked as role single, the strictest
        roles = pillar.get("roles") or ["single"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        c.error("roles", f"a list of role names from {', '.join(ROLES)}", roles)
        roles = []
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        c.errors.append(
            f"webstack:roles: expected role names from {', '.join(ROLES)}, "
            f"got unknown {', '.join(repr(r) for r in unknown)}"
        )
    if "single" in roles and len(roles) > 1:
        c.errors.append(
            "webstack:roles: expected either [single] or a combination of db, cache, "
            "app, worker, lb; 'single' already includes every role, got "
            + ", ".join(roles)
        )

    for section in ("app", "wsgi", "postgres", "redis", "nginx", "apache", "celery", "supervisor", "lb",
                    "network", "tls"):
        c.check(section, lambda v: isinstance(v, dict), "a mapping")
    _check_cluster(c)

    # app
    c.check("app:name", lambda v: isinstance(v, str) and _NAME_RE.match(v),
            "a lowercase name matching [a-z][a-z0-9_-]{0,31}")
    c.check("app:user", lambda v: isinstance(v, str) and (v == "" or _NAME_RE.match(v)),
            "a system user name matching [a-z][a-z0-9_-]{0,31}")
    for key in ("app:base_dir", "app:config_dir"):
        c.check(key, lambda v: v == "" or _is_abspath(v),
                "an absolute path of letters, digits, '.', '_', '-' and '/' without '..'")
    c.check("app:source", _is_source,
            "salt://<path> (a directory or a .tar.gz/.tgz/.tar archive) or a git URL "
            "(https://, ssh://, git://, file:// or user@host:path)")
    c.check("app:rev", lambda v: isinstance(v, str) and _GIT_REV_RE.match(v) and not v.startswith("-"),
            "a git branch, tag or commit (letters, digits, '.', '_', '-', '/')")
    c.check("app:requirements",
            lambda v: isinstance(v, str) and (v == "" or (_RELPATH_RE.match(v) and ".." not in v.split("/"))),
            "a path relative to the project root, e.g. requirements.txt, or '' for none")
    c.check("app:python", lambda v: isinstance(v, str) and re.match(r"^(/[A-Za-z0-9._/-]+|python3(\.[0-9]+)?)$", v),
            "python3, python3.X or an absolute path to an interpreter")
    c.check("app:wsgi_app", lambda v: isinstance(v, str) and _MODULE_ATTR_RE.match(v),
            "module.path:callable, e.g. myproject.wsgi:application")
    for key in ("app:django_settings_module", "app:celery_app"):
        c.check(key, lambda v: isinstance(v, str) and (v == "" or _MODULE_ATTR_RE.match(v)),
                "a dotted Python module path, or '' for none")
    c.check("app:debug", lambda v: isinstance(v, bool), "true or false")
    c.check("app:migrate", lambda v: isinstance(v, bool), "true or false")
    c.check("app:allowed_hosts", lambda v: isinstance(v, list) and v and all(_is_allowed_host(h) for h in v),
            "a non-empty list of host names or IP addresses (or '*')")
    for key in ("app:static_url", "app:media_url"):
        c.check(key, lambda v: isinstance(v, str) and re.match(r"^/[A-Za-z0-9._/-]*/$", v),
                "a URL path that starts and ends with '/', e.g. /static/")
    c.check("app:env", _is_env,
            "a mapping of UPPER_CASE keys to single-line values that do not start or end with a "
            "quote; keys the formula writes itself (" + ", ".join(sorted(RESERVED_ENV_KEYS)) + ") are "
            "set by their own pillar keys")
    for key in ("app:build_commands", "app:migrate_commands", "app:post_deploy_commands"):
        c.check(key, _is_command_list, "a list of single-line command strings")
    c.check("app:release", lambda v: v in ("", None) or re.match(r"^([0-9]{8}T[0-9]{6}Z-)?[0-9a-f]{8}$", str(v)),
            "'' or a release id (YYYYmmddTHHMMSSZ-<8 hex>) or its 8 hex digits")
    c.check("app:keep_releases", lambda v: _is_int(v, 1, 100), "an integer from 1 to 100")
    c.check("app:health_path", lambda v: isinstance(v, str) and re.match(r"^/[A-Za-z0-9._/-]*$", v),
            "a URL path starting with '/', e.g. /healthz")

    # wsgi
    c.check("wsgi:server", lambda v: v in WSGI_SERVERS, f"one of {', '.join(WSGI_SERVERS)}")
    if c.get("wsgi:server") in ("uwsgi", "mod_wsgi"):
        c.check("app:python", lambda v: v == "python3",
                f"python3 with wsgi:server {c.get('wsgi:server')} (the distribution's Python, which its "
                "uWSGI plugin and mod_wsgi are built for)")
    c.check("wsgi:workers", lambda v: v == "auto" or _is_int(v, 1, 256), "'auto' or an integer from 1 to 256")
    c.check("wsgi:threads", lambda v: _is_int(v, 1, 64), "an integer from 1 to 64")
    for key in ("wsgi:timeout", "wsgi:graceful_timeout"):
        c.check(key, lambda v: _is_int(v, 1, 3600), "a number of seconds from 1 to 3600")
    c.check("wsgi:max_requests", lambda v: _is_int(v, 0, 10**7), "an integer >= 0 (0: never recycle)")
    c.check("process_manager", lambda v: v in PROCESS_MANAGERS, f"one of {', '.join(PROCESS_MANAGERS)}")
    if c.get("process_manager") == "systemd" and not os.path.isdir(SYSTEMD_RUN_DIR):
        c.errors.append(f"webstack:process_manager: expected supervisord on this host, where systemd is not "
                        f"PID 1 (no {SYSTEMD_RUN_DIR}), got 'systemd'")

    # postgres
    for key in ("postgres:name", "postgres:user"):
        c.check(key, lambda v: isinstance(v, str) and _SQL_IDENT_RE.match(v),
                "a lowercase SQL identifier matching [a-z_][a-z0-9_]{0,62}")
    c.check("postgres:host", _is_host, "a host name or an IP address")
    c.check("postgres:port", _is_port, "a port number from 1 to 65535")
    c.check("postgres:listen_addresses",
            lambda v: isinstance(v, str) and all(a == "*" or _is_host(a) for a in v.split(",")),
            "a comma-separated list of host names or IP addresses, e.g. localhost")

    # redis
    c.check("redis:bind", lambda v: isinstance(v, list) and v and all(_is_bind(b) for b in v),
            "a non-empty list of IP addresses (prefix '-' marks one as optional)")
    c.check("redis:host", _is_host, "a host name or an IP address")
    c.check("redis:port", _is_port, "a port number from 1 to 65535")
    for key in ("redis:cache_db", "redis:broker_db"):
        c.check(key, lambda v: _is_int(v, 0, 15), "a database number from 0 to 15")
    # compare the effective numbers (defaults: cache 0, broker 1)
    cache_db, broker_db = c.get("redis:cache_db"), c.get("redis:broker_db")
    cache_db = 0 if cache_db is _MISSING else cache_db
    broker_db = 1 if broker_db is _MISSING else broker_db
    if cache_db == broker_db:
        c.errors.append(
            "webstack:redis:broker_db: expected a database apart from webstack:redis:cache_db, "
            f"got the same number {broker_db}"
        )
    c.check("redis:maxmemory", lambda v: isinstance(v, str) and re.match(r"^[0-9]+(b|kb|mb|gb)?$", v, re.I),
            "a size such as 256mb")

    # nginx
    c.check("nginx:port", _is_port, "a port number from 1 to 65535")
    c.check("nginx:server_name",
            lambda v: isinstance(v, str) and all(n == "_" or _is_allowed_host(n) for n in v.split()),
            "'_' or space-separated host names")
    c.check("nginx:client_max_body_size", lambda v: isinstance(v, str) and _SIZE_RE.match(v),
            "a size such as 10m")
    c.check("nginx:static_expires", lambda v: isinstance(v, str) and _DURATION_RE.match(v),
            "an nginx duration such as 30d")

    # apache (wsgi:server mod_wsgi)
    c.check("apache:port", _is_port, "a port number from 1 to 65535")
    c.check("apache:server_name", _is_host, "a host name, e.g. www.example.org")
    c.check("apache:limit_request_body", lambda v: _is_int(v, 0, 2147483647),
            "a number of bytes from 0 (no limit) to 2147483647")
    c.check("apache:static_max_age", lambda v: _is_int(v, 0, 315360000),
            "a number of seconds from 0 to 315360000")

    # celery
    c.check("celery:enabled", lambda v: isinstance(v, bool), "true or false")
    c.check("celery:concurrency", lambda v: _is_int(v, 1, 256), "an integer from 1 to 256")
    c.check("celery:stop_wait_secs", lambda v: _is_int(v, 1, 86400), "a number of seconds from 1 to 86400")
    c.check("celery:loglevel", lambda v: v in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
            "one of DEBUG, INFO, WARNING, ERROR, CRITICAL")

    # lb
    c.check("lb:port", _is_port, "a port number from 1 to 65535")
    c.check("lb:balance", lambda v: v in LB_BALANCE, f"one of {', '.join(LB_BALANCE)}")
    c.check("lb:check_inter", lambda v: isinstance(v, str) and re.match(r"^[0-9]+(ms|s)$", v),
            "a check interval such as 1s or 500ms")
    for key in ("lb:fall", "lb:rise", "lb:retries"):
        c.check(key, lambda v: _is_int(v, 1, 100), "an integer from 1 to 100")
    c.check("lb:maxconn", lambda v: _is_int(v, 1, 10**6), "an integer from 1 to 1000000")
    for key in ("lb:timeout_connect", "lb:timeout_client", "lb:timeout_server", "lb:check_timeout"):
        c.check(key, lambda v: isinstance(v, str) and re.match(r"^[0-9]+(ms|s|m)$", v),
                "a duration such as 5s")

    # supervisor
    for key in ("supervisor:conf_dir", "supervisor:log_dir"):
        c.check(key, _is_abspath, "an absolute path")

    _check_tls(c)

    _check_hosts_resolve(c, roles)
    _check_ports_apart(c, roles)

    # secrets, as each role needs them
    needed = sorted({key for role in roles for key in REQUIRED.get(role, ())})
    if c.get("redis:user_passwords") is not _MISSING and not {"single", "cache"} & set(roles):
        # an app or worker node of a cluster: its Redis users' passwords, not the admin's
        needed = [key for key in needed if key != "redis:password"]
        for user in ("cache", "broker"):
            c.require(f"redis:user_passwords:{user}", _is_secret(16, 8),
                      "the password of the app's Redis user, as pillar/webstack/role_secrets.sls "
                      "derives it from redis:password", secret=True)
    for key in needed:
        if key == "app:secret_key":
            c.require(key, _is_secret(50, 10),
                      "a secret of at least 50 printable characters (10 different) without spaces, "
                      "quotes, backslashes or a placeholder word such as 'changeme' (generate one "
                      "with: openssl rand -base64 48)", secret=True)
        else:
            c.require(key, _is_secret(16, 8),
                      "a password of at least 16 printable characters (8 different) without spaces, "
                      "quotes, backslashes or a placeholder word such as 'changeme' (generate one "
                      "with: openssl rand -base64 24)", secret=True)
    seen = {}
    for key in ("app:secret_key", "postgres:password", "redis:password"):
        value = c.get(key)
        if isinstance(value, str) and value:
            if value in seen:
                c.errors.append(f"webstack:{key}: expected a secret of its own, got the same value as "
                                f"webstack:{seen[value]}")
            else:
                seen[value] = key
    return c.errors


def _pem_blocks(value, kind):
    return re.findall(rf"-----BEGIN {kind}-----\r?\n[A-Za-z0-9+/=\r\n]+-----END {kind}-----", value)


def _check_tls(c):
    """``tls``: the switch, the port, HSTS, and a certificate with its own key."""
    c.check("tls:enabled", lambda v: isinstance(v, bool), "true or false")
    c.check("tls:port", _is_port, "a port number from 1 to 65535")
    c.check("tls:hsts_max_age", lambda v: _is_int(v, 0, 10**9),
            "a number of seconds from 0 (no Strict-Transport-Security) to 1000000000")
    for key in ("tls:hsts_include_subdomains", "tls:hsts_preload"):
        c.check(key, lambda v: isinstance(v, bool), "true or false")
    c.check("tls:self_signed_days", lambda v: _is_int(v, 30, 3650), "a number of days from 30 to 3650")
    if c.get("tls:hsts_preload") is True:
        if c.get("tls:hsts_include_subdomains") is not True:
            c.errors.append("webstack:tls:hsts_preload: expected tls:hsts_include_subdomains true with it "
                            "(the preload list requires both), got hsts_include_subdomains "
                            f"{_describe(c.get('tls:hsts_include_subdomains'))}")
        max_age = c.get("tls:hsts_max_age")
        if _is_int(max_age, 0, 10**9) and max_age < 31536000:
            c.errors.append("webstack:tls:hsts_preload: expected tls:hsts_max_age of at least 31536000 "
                            f"(one year) with it, got {max_age}")

    cert, key = c.get("tls:certificate"), c.get("tls:private_key")
    cert = "" if cert in (_MISSING, None) else cert
    key = "" if key in (_MISSING, None) else key
    if not isinstance(cert, str) or (cert and not _pem_blocks(cert, "CERTIFICATE")):
        c.error("tls:certificate", "'' (a self-signed one) or PEM text: the server's certificate "
                "(-----BEGIN CERTIFICATE-----), then its chain", cert)
        return
    if not isinstance(key, str) or (key and not _pem_blocks(key, "(?:RSA |EC )?PRIVATE KEY")):
        c.error("tls:private_key", "PEM text of an unencrypted private key (-----BEGIN PRIVATE KEY-----)",
                secret=True)
        return
    if bool(cert) != bool(key):
        missing = "tls:private_key" if cert else "tls:certificate"
        other = "tls:certificate" if cert else "tls:private_key"
        c.errors.append(f"webstack:{missing}: expected it with webstack:{other} (both or neither; neither "
                        "makes a self-signed certificate), it is missing")
        return
    if cert:
        problem = _cert_key_problem(cert, key)
        if problem:
            c.errors.append(f"webstack:{problem[0]}: expected {problem[1]}")


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


def _check_hosts_resolve(c, roles):
    """The hosts the app and the workers connect to must resolve where they run."""
    if not {"single", "app", "worker"} & set(roles):
        return
    for key in ("postgres:host", "redis:host"):
        value = c.get(key)
        if _is_host(value) and not _resolves(value):
            c.errors.append(f"webstack:{key}: expected a host name that resolves on this minion, or an "
                            f"IP address, got {_describe(value)}, which does not resolve")


# The ports that each role listens on, by pillar key, with the formula's defaults.
_PORTS = {
    "single": ("postgres:port", "redis:port", "front", "tls:port"),
    "db": ("postgres:port",),
    "cache": ("redis:port",),
    "app": ("front", "tls:port"),
    "lb": ("lb:port", "tls:port"),
}
_DEFAULT_PORTS = {"postgres:port": 5432, "redis:port": 6379, "nginx:port": 80, "apache:port": 80,
                  "lb:port": 80, "tls:port": 443}


def _check_ports_apart(c, roles):
    """Two services of this host must not listen on the same port."""
    front = "apache:port" if c.get("wsgi:server") == "mod_wsgi" else "nginx:port"
    nodes = c.get("nodes")
    behind_lb = isinstance(nodes, dict) and any(
        isinstance(r, list) and "lb" in r for r in nodes.values())
    keys = []
    for role in roles:
        for key in _PORTS.get(role, ()):
            if key == "tls:port" and (c.get("tls:enabled") is False or (role == "app" and behind_lb)):
                continue  # no TLS here: off, or an app node behind the load balancer
            key = front if key == "front" else key
            if key not in keys:
                keys.append(key)
    taken = {}
    for key in keys:
        value = c.get(key)
        port = _DEFAULT_PORTS[key] if value is _MISSING else value
        if not _is_port(port):
            continue  # reported by its own check
        if port in taken:
            c.errors.append(f"webstack:{key}: expected a port apart from webstack:{taken[port]} "
                            f"(both listen on this host), got the same port {port}")
        else:
            taken[port] = key


def _check_cluster(c):
    """``nodes`` (minion id -> roles) and ``network``: the cluster's shape."""
    c.check("network:private_cidr", lambda v: v == "" or (isinstance(v, str) and ipaddress.ip_network(v, strict=False)),
            "'' or a network such as 10.0.0.0/8")
    c.check("network:private_interface", lambda v: v == "" or (isinstance(v, str) and _IFACE_RE.match(v)),
            "'' or an interface name such as eth1")
    nodes = c.get("nodes")
    if nodes is _MISSING or nodes in ({}, None):
        return
    if not isinstance(nodes, dict):
        c.error("nodes", "a mapping of minion id to a list of roles, e.g. {db1: [db], app1: [app]}", nodes)
        return
    counts = {role: [] for role in CLUSTER_ROLES}
    for node_id, node_roles in nodes.items():
        if not isinstance(node_id, str) or not _NODE_ID_RE.match(node_id):
            c.errors.append(f"webstack:nodes: expected minion ids of letters, digits, '.', '_' or '-', "
                            f"got {_describe(node_id)}")
            continue
        if (not isinstance(node_roles, list) or not node_roles
                or not all(r in CLUSTER_ROLES for r in node_roles)):
            c.error(f"nodes:{node_id}", f"a non-empty list of roles from {', '.join(CLUSTER_ROLES)}",
                    node_roles)
            continue
        for role in node_roles:
            counts[role].append(node_id)
    for role in ("db", "cache"):
        if len(counts[role]) > 1:
            c.errors.append(f"webstack:nodes: expected one {role} node, got {', '.join(sorted(counts[role]))}")
    for role in ("app", "worker"):
        for needed in ("db", "cache"):
            if counts[role] and not counts[needed]:
                c.errors.append(f"webstack:nodes: expected a {needed} node for the {role} nodes, got none")
    if counts["lb"] and not counts["app"]:
        c.errors.append("webstack:nodes: expected at least one app node behind the lb node, got none")


def public(key, default=None):
    """
    The plain value of a non-secret key under ``webstack`` (``pillar.get``
    masks every value in Salt 3008). Keys holding secrets are refused.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.public nginx:port 80
    """
    if re.search(r"password|secret|key", key):
        raise CommandExecutionError(f"webstack:{key} holds a secret; it is not shown")
    node = _expose(__pillar__.get("webstack", {}))
    for part in key.split(":"):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def front():
    """
    The web server in front (``nginx``, or ``apache`` with ``wsgi:server``
    ``mod_wsgi``), its HTTP port, whether it ends TLS and the site's URL (with
    ``{host}`` for the host's address), from the pillar and the defaults.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.front
    """
    server = public("wsgi:server", "gunicorn")
    name = "apache" if server == "mod_wsgi" else "nginx"
    port = public(f"{name}:port", 80)
    tls = public("tls:enabled", True) is not False
    url_port = public("tls:port", 443) if tls else port
    default = 443 if tls else 80
    return {"server": name, "port": port, "tls": tls,
            "url": f"{'https' if tls else 'http'}://{{host}}{'' if url_port == default else f':{url_port}'}/"}


def check(pillar=None, roles=None):
    """
    Like :py:func:`validate`, but raise an error that lists every problem.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_pillar.check
    """
    errors = validate(pillar=pillar, roles=roles)
    if errors:
        raise CommandExecutionError("invalid pillar:\n" + "\n".join(errors))
    return True
