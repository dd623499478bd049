"""
The ``webstack`` pillar's schema: the grammars its values are checked against and
the walk that checks them.

``salt/webstack/parameters/schema.yaml`` names every key the formula reads, the
distribution facts included, with its type, its grammar or range, its default, the
roles that read it, whether it is a secret and one line of documentation. This
module knows nothing of those keys: it holds the grammars the schema names (each
one the form that the value's sink accepts: a shell word, a line of a config file,
a URL) and :py:func:`walk`, which checks a merged configuration against the schema
and gives back one message per faulty key and the configuration with every faulty
value replaced by its default, so that no template ever renders a value that
failed its check.

Every pattern is matched whole (``re.fullmatch``): ``$`` would let a trailing
newline through.
"""

import difflib
import importlib.util
import ipaddress
import os
import re
import shlex


def _sibling(name):
    """A module of this directory, loaded by its path: under Salt's loader, in the tests and
    in docs/reference.py alike (none of them puts this directory on sys.path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# app.env's codec: the grammar of a setting's name and value follows from what it reads back
envfile = _sibling("webstack_envfile")
# cron's schedules: the grammar of one follows from what cron takes
cron = _sibling("webstack_cron")

MASK = "**********"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\.?")
_IP_CHARS_RE = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_PATH_RE = re.compile(r"/[A-Za-z0-9._/-]*")
# No control character (C0, DEL, C1) and no Unicode line or paragraph separator: one line
# for every reader
_PRINTABLE_RE = re.compile("[^\x00-\x1f\x7f-\x9f\u2028\u2029]*")
# Printable ASCII without whitespace, quotes or backslash: a secret that every sink
# takes as it is (redis.conf, app.env, a URL once percent-encoded, SQL via Salt).
_SECRET_RE = re.compile(r"[!#-&(-\[\]-~]+")
# Parts of the placeholders that people paste into a pillar: never a real secret.
_WEAK_WORDS = ("changeme", "change-me", "change_me", "password", "secret", "example", "insecure", "xxxxxx",
               "123456", "qwerty", "letmein")
# A URL's user and password (https://user:token@host/...): masked in messages.
_USERINFO_RE = re.compile(r"(://)[^/@\s]+@")


def _full(pattern, flags=0):
    compiled = re.compile(pattern, flags)
    return lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None


def is_hostname(value):
    """A DNS name of letters, digits and '-' labels (RFC 1123), at most 253 characters."""
    return isinstance(value, str) and _HOSTNAME_RE.fullmatch(value) is not None


def is_ip(value, version=None):
    """An IPv4 or IPv6 address as text, without a zone (``fe80::1%eth0`` is not one)."""
    if not isinstance(value, str) or not _IP_CHARS_RE.fullmatch(value):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return version is None or address.version == version


# Where a node's address lies when the pillar names no network (network:private_cidr): the
# private ranges of RFC 1918 and the shared address space of RFC 6598 (carrier-grade NAT,
# overlay networks)
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


def node_address_problem(value, cidr=""):
    """None when ``value`` is an address that a node of the cluster may have (what it
    publishes in the mine, and what its peers put in their configs): one IPv4 address, not
    loopback, link-local, multicast, reserved or unspecified, inside ``cidr`` when it is set
    (network:private_cidr), else in a private range (:py:data:`PRIVATE_NETWORKS`). Else the
    expected form and what was got, as a message says them."""
    if not is_ip(value, 4):
        return f"an IPv4 address, got {describe(value)}"
    ip = ipaddress.ip_address(value)
    if ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_link_local or ip.is_reserved:
        return f"a unicast IPv4 address of the node, got {value!r}"
    if cidr:
        if ip not in ipaddress.ip_network(cidr, strict=False):
            return f"an address in webstack:network:private_cidr ({cidr}), got {value!r}"
    elif not any(ip in ipaddress.ip_network(net) for net in PRIVATE_NETWORKS):
        return (f"a private address ({', '.join(PRIVATE_NETWORKS)}; or name the cluster's network in "
                f"webstack:network:private_cidr), got {value!r}")
    return None


def node_certificate_problem(value, node):
    """None when ``value`` is the certificate a node publishes for the cluster's TLS (what the
    mine holds, before a peer trusts it): one PEM certificate and nothing else, whose
    subject's CN is the node's minion id, valid now. Else the expected form and what was
    got, as a message says them (the text itself is never repeated)."""
    expected = f"one PEM certificate whose CN is {node}"
    if not isinstance(value, str) or not _is_certificate(value) or len(pem_blocks(value, "CERTIFICATE")) != 1:
        return f"{expected}, got {describe(value) if not isinstance(value, str) else 'other text'}"
    try:
        import datetime  # pylint: disable=import-outside-toplevel

        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None  # Salt depends on cryptography: only a test without it comes here
    try:
        cert = x509.load_pem_x509_certificate(value.encode())
    except ValueError:
        return f"{expected}, got text that does not load as one"
    names = [n.value for n in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [node]:
        return f"{expected}, got one for {', '.join(map(str, names)) or 'no CN'}"
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return f"{expected}, got one that is not valid now (from {cert.not_valid_before_utc:%Y-%m-%d} to " \
               f"{cert.not_valid_after_utc:%Y-%m-%d})"
    return None


def is_host(value):
    return is_ip(value) or is_hostname(value)


def is_abspath(value):
    return (isinstance(value, str) and _PATH_RE.fullmatch(value) is not None and value != "/"
            and ".." not in value.split("/") and "//" not in value)


def _is_relpath(value):
    return (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9._-][A-Za-z0-9._/-]*", value) is not None
            and ".." not in value.split("/"))


def _is_allowed_host(value):
    if value == "*":
        return True
    return isinstance(value, str) and is_host(value[1:] if value.startswith(".") else value)


def _is_server_name(value):
    """Nginx's server_name: '_', or names (a leading '.' or '*.' for subdomains), IPv4 addresses."""
    if not isinstance(value, str) or not value or value != value.strip():
        return False

    def name(word):
        if word.startswith("*."):
            word = word[2:]
        elif word.startswith("."):
            word = word[1:]
        return is_hostname(word) or is_ip(word, 4)

    return value == "_" or all(name(word) for word in value.split(" "))


def _is_listen_addresses(value):
    return isinstance(value, str) and all(part == "*" or is_host(part) for part in value.split(","))


def _is_redis_bind(value):
    return isinstance(value, str) and is_ip(value[1:] if value.startswith("-") else value)


def _is_command(value):
    """One command line, run as an argument list (never by a shell): printable, one line,
    words that shlex can split."""
    if not isinstance(value, str) or not value.strip() or not _PRINTABLE_RE.fullmatch(value):
        return False
    try:
        return bool(shlex.split(value))
    except ValueError:
        return False


_GIT_URL_CHARS = r"[A-Za-z0-9._~:/?#\[\]@%+,=-]+"


def _is_source(value):
    """salt://<path>, or a git URL without credentials and without a character that a
    shell or git would read as anything but the URL."""
    if not isinstance(value, str):
        return False
    if value.startswith("salt://"):
        rest = value[len("salt://"):]
        return bool(re.fullmatch(r"[A-Za-z0-9._/-]+", rest)) and ".." not in rest.split("/")
    match = re.fullmatch(r"(https?|ssh|git|file)://(" + _GIT_URL_CHARS + ")", value)
    if match:
        scheme, rest = match.groups()
        authority = rest.split("/", 1)[0]
        if "@" in authority and (scheme in ("http", "https", "git") or ":" in authority.split("@")[0]):
            return False  # a user (token) or a password in the URL: credentials
        return not rest.startswith("-")
    # scp-like: user@host:path
    return bool(re.fullmatch(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:" + _GIT_URL_CHARS, value))


def _is_git_rev(value):
    return (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9._/-]{1,200}", value) is not None
            and not value.startswith(("-", "/")) and ".." not in value and not value.endswith((".", "/", ".lock")))


def _is_cidr(value):
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f:.]{2,45}/[0-9]{1,3}", value):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


def _is_path_template(value):
    """An absolute path that may hold the placeholder {version}."""
    return isinstance(value, str) and is_abspath(value.replace("{version}", "0"))


def is_secret(value, min_len, min_distinct):
    """A secret of ``min_len`` safe characters, ``min_distinct`` of them different, without a
    placeholder word in it (Django's own check wants 50 characters, 5 distinct)."""
    return (isinstance(value, str) and len(value) >= min_len and _SECRET_RE.fullmatch(value) is not None
            and len(set(value)) >= min_distinct and not any(w in value.lower() for w in _WEAK_WORDS)
            and not value.startswith("django-insecure-"))


def pem_blocks(value, kind):
    """The PEM blocks of ``kind`` (a regex, e.g. ``CERTIFICATE``) in ``value``."""
    return re.findall(rf"-----BEGIN {kind}-----\r?\n[A-Za-z0-9+/=\r\n]+-----END {kind}-----", value)


def _is_certificate(value):
    """PEM certificates and nothing else: no private key rides along into a 0644 file."""
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    rest = re.sub(r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----", "", value)
    return bool(pem_blocks(value, "CERTIFICATE")) and rest.strip() == "" and "PRIVATE KEY" not in value


def _is_private_key(value):
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    blocks = pem_blocks(value, "(?:RSA |EC )?PRIVATE KEY")
    return len(blocks) == 1 and value.strip() == blocks[0].strip()


# name -> (check, the expected form as a message says it)
# The settings the formula gives the app (app.env and the environment), by the names that
# app:env_names may change
APP_SETTINGS = ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL",
                "CELERY_TASK_ACKS_LATE", "RQ_REDIS_URL", "STATIC_URL", "STATIC_ROOT", "MEDIA_URL", "MEDIA_ROOT",
                "RELEASE_FILE",
                "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
                "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SILENCED_SYSTEM_CHECKS")

GRAMMARS = {
    "name": (_full(r"[a-z][a-z0-9_-]{0,31}"), "a lowercase name matching [a-z][a-z0-9_-]{0,31}"),
    "user": (_full(r"[a-z_][a-z0-9_-]{0,31}"), "a system user name matching [a-z_][a-z0-9_-]{0,31}"),
    "sql_identifier": (_full(r"[a-z_][a-z0-9_]{0,62}"),
                       "a lowercase SQL identifier matching [a-z_][a-z0-9_]{0,62}"),
    "abspath": (is_abspath, "an absolute path of letters, digits, '.', '_', '-' and '/' without '..'"),
    "path_template": (_is_path_template, "an absolute path (it may hold {version}) without '..'"),
    "relpath": (_is_relpath, "a path relative to the project root, e.g. requirements.txt, without '..'"),
    "source": (_is_source,
               "salt://<path> (a directory or a .tar.gz/.tgz/.tar archive) or a git URL (https://, ssh://, "
               "git://, file:// or user@host:path) without credentials: give the server a deploy key "
               "(ssh://git@host/repo.git) instead of user:token@ in the URL"),
    "git_rev": (_is_git_rev, "a git branch, tag or commit (letters, digits, '.', '_', '-', '/')"),
    "python": (_full(r"python3(\.[0-9]{1,2})?|/[A-Za-z0-9._/-]+"),
               "python3, python3.X or an absolute path to an interpreter"),
    "wsgi_callable": (_full(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.]*)?"),
                      "module.path:callable, e.g. myproject.wsgi:application"),
    "module": (_full(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"),
               "a dotted Python module path, e.g. myproject.settings"),
    "host": (is_host, "a host name or an IP address (without a zone)"),
    "hostname_or_ipv4": (lambda v: is_hostname(v) or is_ip(v, 4), "a host name or an IPv4 address"),
    "ip": (is_ip, "an IP address (without a zone)"),
    "ipv4": (lambda v: is_ip(v, 4), "an IPv4 address"),
    "allowed_host": (_is_allowed_host, "a host name, '.domain', an IP address or '*'"),
    "server_names": (_is_server_name, "'_' or host names separated by single spaces"),
    "listen_addresses": (_is_listen_addresses,
                         "a comma-separated list of host names or IP addresses, or '*', e.g. localhost"),
    "redis_bind": (_is_redis_bind, "an IP address; a leading '-' marks it optional"),
    "url_dir": (lambda v: _full(r"/(?:[A-Za-z0-9._~-]+/)+")(v) and ".." not in v.split("/"),
                "a URL path that starts and ends with '/', e.g. /static/"),
    "cdn_url": (lambda v: _full(r"https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/(?:[A-Za-z0-9._~-]+/)*")(v)
                and is_hostname(v[8:].split("/")[0].split(":")[0]) and ".." not in v.split("/")[3:],
                "an https:// URL of a host name that ends with '/', e.g. https://cdn.example.org/static/"),
    "url_path": (lambda v: _full(r"/[A-Za-z0-9._~/-]*")(v) and ".." not in v.split("/"),
                 "a URL path starting with '/', e.g. /healthz"),
    "command": (_is_command, "a single-line command of printable characters (run without a shell)"),
    "env_name": (envfile.valid_name, envfile.NAME_FORM),
    "app_setting": (lambda v: v in APP_SETTINGS, "a setting the formula provides (" + ", ".join(APP_SETTINGS)
                    + ")"),
    "deb_package": (_full(r"[a-z0-9][a-z0-9+.-]{1,99}"), "a Debian package name such as libpq-dev"),
    "rq_queue": (_full(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"), "a queue name of letters, digits, '.', '_' or '-'"),
    "import_path": (_full(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[:.][A-Za-z_][A-Za-z0-9_]*"),
                    "module.path:Name, e.g. django_celery_beat.schedulers:DatabaseScheduler"),
    "env_value": (envfile.valid_value, envfile.VALUE_FORM),
    "nginx_size": (_full(r"[0-9]{1,12}[kKmMgG]?"), "a size such as 10m"),
    "redis_size": (_full(r"[0-9]{1,15}(b|kb|mb|gb)?", re.I), "a size such as 256mb"),
    "nginx_time": (_full(r"[0-9]{1,9}(ms|s|m|h|d|w|M|y)?"), "an nginx duration such as 30d"),
    "haproxy_time": (_full(r"[0-9]{1,9}(ms|s|m)"), "a duration such as 5s"),
    "haproxy_interval": (_full(r"[0-9]{1,9}(ms|s)"), "a check interval such as 1s or 500ms"),
    "release_pin": (_full(r"([0-9]{8}T[0-9]{6}Z-)?[0-9a-f]{8}"),
                    "a release id (YYYYmmddTHHMMSSZ-<8 hex>) or its 8 hex digits"),
    "cidr": (_is_cidr, "a network such as 10.0.0.0/8"),
    "sql_select": (_full(r"(?i)select\s[^;\x00-\x1f\x7f]{1,1000}"),
                   "one SELECT statement on one line, without ';' (run in a scratch copy of the database)"),
    "cron_schedule": (lambda v: _full(r"[0-9*,/-]{1,40}( [0-9*,/-]{1,40}){4}")(v) and cron.is_valid(v),
                      "cron's five fields (minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7) of digits, "
                      "'*', ',', '-' and '/', one space apart, e.g. 15 3 * * 0"),
    "s3_endpoint": (lambda v: v == "" or is_host(v), "a host name or an IP address"),
    "s3_bucket": (lambda v: v == "" or _full(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")(v),
                  "a bucket name of 3 to 63 lowercase letters, digits, '.' or '-'"),
    "s3_region": (_full(r"[a-z0-9][a-z0-9-]{0,31}"), "a region name such as eu-west-1"),
    "s3_key": (lambda v: v == "" or _full(r"[A-Za-z0-9+/=_.-]{3,128}")(v),
               "3 to 128 letters, digits, '+', '/', '=', '_', '.' or '-'"),
    "interface": (_full(r"[A-Za-z0-9_.:@-]{1,15}"), "an interface name such as eth1"),
    "node_id": (_full(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}"), "a minion id of letters, digits, '.', '_' or '-'"),
    "package": (_full(r"[A-Za-z0-9][A-Za-z0-9+._-]{0,99}"), "a package name such as python3-venv"),
    "service": (_full(r"[A-Za-z0-9][A-Za-z0-9@._-]{0,99}"), "a service name such as nginx"),
    "program": (_full(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}|/[A-Za-z0-9._/+-]+"),
                "a command name or an absolute path to one"),
    "uwsgi_plugin": (_full(r"[a-z0-9_]{1,32}"), "a uWSGI plugin name such as python3"),
    "password": (lambda v: is_secret(v, 16, 8),
                 "a password of at least 16 printable characters (8 different) without spaces, quotes, "
                 "backslashes or a placeholder word such as 'changeme' (generate one with: "
                 "openssl rand -base64 24)"),
    "secret_key": (lambda v: is_secret(v, 50, 10),
                   "a secret of at least 50 printable characters (10 different) without spaces, quotes, "
                   "backslashes or a placeholder word such as 'changeme' (generate one with: "
                   "openssl rand -base64 48)"),
    "certificate": (_is_certificate, "'' (a self-signed one) or PEM text: the server's certificate "
                                     "(-----BEGIN CERTIFICATE-----), then its chain, and no private key"),
    "private_key": (_is_private_key, "PEM text of one unencrypted private key (-----BEGIN PRIVATE KEY-----)"),
}

TYPES = ("str", "int", "bool", "scalar", "list", "map")


def app_settings():
    """The names of the settings that the formula gives the app (before app:env_names)."""
    return APP_SETTINGS


def valid(grammar, value):
    """Whether ``value`` has the form of ``grammar`` (a name of :py:data:`GRAMMARS`)."""
    return bool(GRAMMARS[grammar][0](value))


def form(grammar):
    """The form of ``grammar``, as a message says it."""
    return GRAMMARS[grammar][1]


class Missing:
    def __repr__(self):
        return "<missing>"


MISSING = Missing()


def is_missing(value):
    """Whether :py:func:`get` found nothing (its default)."""
    return value is MISSING


def mask_url(text):
    """``text`` with a URL's credentials (``https://<user:password>@``) masked."""
    return _USERINFO_RE.sub(r"\1" + MASK + "@", text)


def describe(value):
    """What a message says it got: the value's type and, for scalars, the value."""
    if value is MISSING:
        return "it is missing"
    if isinstance(value, str):
        shown = mask_url(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
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


def get(data, path, default=MISSING):
    """The value at ``path`` (``a:b:c``) in nested mappings, or ``default``."""
    node = data
    for part in path.split(":"):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def put(data, path, value):
    """Set ``path`` in nested mappings, making the mappings on the way."""
    parts = path.split(":")
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def defaults(schema):
    """The nested mapping of every key's default."""
    out = {}
    for path, spec in schema.items():
        put(out, path, _copy(spec.get("default")))
    return out


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _is_int(value, low=None, high=None):
    return (isinstance(value, int) and not isinstance(value, bool)
            and (low is None or value >= low) and (high is None or value <= high))


def _scalar_ok(spec, value):
    """Whether a scalar (or a list's item, a map's value) fits ``spec``."""
    kind = spec.get("type", "str")
    if value in spec.get("also", ()) and not isinstance(value, bool):
        return True
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return _is_int(value, spec.get("min"), spec.get("max"))
    if kind == "scalar":  # str, int, float or bool, checked as text by its grammar
        return isinstance(value, (str, int, float)) and GRAMMARS[spec["grammar"]][0](value)
    if kind == "str":
        if not isinstance(value, str):
            return False
        if value == "" and (spec.get("empty") or spec.get("required")):
            return True  # a required secret's absence is checked per role
        if "enum" in spec:
            return value in spec["enum"]
        grammar = spec.get("grammar")
        return GRAMMARS[grammar][0](value) if grammar else True
    return False


def _problems(path, spec, value):
    """``[(path, expected, got)]`` for ``value`` against ``spec``: nothing when it fits. A
    list is named with its faulty items, a mapping's entry by its own path."""
    kind = spec.get("type", "str")
    if value is None and None in spec.get("also", ()):
        return []
    shown = (lambda v: "got a value that does not match") if spec.get("secret") else (lambda v: f"got {describe(v)}")
    if kind == "list":
        if not isinstance(value, list) or (not value and not spec.get("empty")):
            return [(path, expected(spec), shown(value))]
        bad = [item for item in value if not _scalar_ok(spec.get("items", {}), item)]
        if bad:
            return [(path, expected(spec), ", ".join(shown(item) for item in bad[:3]) + " among its items")]
        return []
    if kind == "map":
        if not isinstance(value, dict) or (not value and spec.get("nonempty")):
            return [(path, expected(spec), shown(value))]
        found = []
        keys = spec.get("keys")
        for key, item in value.items():
            if not isinstance(key, str) or (keys and not GRAMMARS[keys][0](key)):
                found.append((path, f"{GRAMMARS[keys][1] if keys else 'a name'} for each key", f"got {describe(key)}"))
            else:
                values = dict(spec.get("values", {}), secret=True) if spec.get("secret") else spec.get("values", {})
                found.extend(_problems(f"{path}:{key}", values, item))
        return found
    if not _scalar_ok(spec, value):
        return [(path, expected(spec), shown(value))]
    return []


def _range(spec):
    low, high = spec.get("min"), spec.get("max")
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


def _scalar_form(spec):
    kind = spec.get("type", "str")
    also = " or ".join(repr(a) for a in spec.get("also", ()) if isinstance(a, str))
    if kind == "bool":
        form = "true or false"
    elif kind == "int":
        form = f"{spec.get('what', 'an integer')} {_range(spec)}".strip()
    elif "enum" in spec:
        form = "one of " + ", ".join(str(e) for e in spec["enum"])
    elif spec.get("grammar"):
        form = GRAMMARS[spec["grammar"]][1]
    else:
        form = "a string"
    if also:
        form = f"{also} or {form}"
    if kind == "str" and spec.get("empty"):
        form = f"{form}, or ''"
    return form


def expected(spec):
    """The expected form of a key, as a message says it."""
    if "expected" in spec:
        return spec["expected"]
    kind = spec.get("type", "str")
    if kind == "list":
        items = _scalar_form(spec.get("items", {}))
        return f"a {'' if spec.get('empty') else 'non-empty '}list, each item {items}"
    if kind == "map":
        keys = GRAMMARS[spec["keys"]][1] if spec.get("keys") else "a name"
        return f"a mapping of {keys} to {expected(spec.get('values', {}))}"
    return _scalar_form(spec)


def _sections(schema):
    """Every path that holds keys of the schema (``app`` for ``app:name``)."""
    found = set()
    for path in schema:
        parts = path.split(":")
        for i in range(1, len(parts)):
            found.add(":".join(parts[:i]))
    return found


def walk(schema, data, prefix="webstack"):
    """
    Check ``data`` (the defaults merged with the pillar) against ``schema``. Returns
    ``(errors, clean)``: one message per faulty or unknown key, naming it as
    ``<prefix>:<path>`` with the form it expects (a secret's value is never shown),
    and a copy of ``data`` where each faulty value is its default.
    """
    errors = []
    if not isinstance(data, dict):
        return [f"{prefix}: expected a mapping of the formula's settings, got {describe(data)}"], defaults(schema)
    clean = _copy(data)
    sections = _sections(schema)
    for section in sorted(sections):
        value = get(data, section)
        if value is not MISSING and not isinstance(value, dict):
            errors.append(f"{prefix}:{section}: expected a mapping, got {describe(value)}")
            put(clean, section, {})
    for path, spec in schema.items():
        value = get(clean, path)
        if value is MISSING or (value is None and None in spec.get("also", ())):
            put(clean, path, _copy(spec.get("default")))  # null where allowed: the default
            continue
        found = _problems(path, spec, value)
        for where, form, got in found:
            errors.append(f"{prefix}:{where}: expected {form}, {got}")
        if found:
            put(clean, path, _copy(spec.get("default")))
    errors.extend(_unknown(schema, sections, data, prefix))
    return errors, clean


def _unknown(schema, sections, data, prefix, path=""):
    errors = []
    if not isinstance(data, dict):
        return errors
    for key, value in data.items():
        full = f"{path}:{key}" if path else str(key)
        if full in schema:
            continue
        if full in sections:
            errors.extend(_unknown(schema, sections, value, prefix, full))
            continue
        siblings = [p.split(":")[-1] for p in list(schema) + list(sections)
                    if ":".join(p.split(":")[:-1]) == path]
        near = difflib.get_close_matches(str(key), siblings, n=1)
        hint = f" (did you mean {(path + ':' if path else '') + near[0]}?)" if near else ""
        errors.append(f"{prefix}:{full}: expected no such key, the formula does not read it{hint}")
    return errors


def secret_paths(schema):
    """The paths of the keys that hold secrets."""
    return [path for path, spec in schema.items() if spec.get("secret")]


def without_secrets(schema, data, path="", extra=()):
    """A copy of ``data`` (the value at ``path``) with every secret of the schema, and
    every path of ``extra``, masked."""
    secrets = set(secret_paths(schema)) | set(extra)
    return _without(secrets, data, path)


def _without(secrets, data, path):
    if path in secrets:
        return MASK if data not in ("", None, {}) else data
    if isinstance(data, dict) and (not path or any(s.startswith(path + ":") for s in secrets)):
        return {k: _without(secrets, v, f"{path}:{k}" if path else str(k)) for k, v in data.items()}
    return _copy(data)


def _yaml_value(value):
    if value == "":
        return "''"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def reference(schema):
    """The pillar reference as Markdown tables, one per section, from the schema."""
    out, heading = [], None
    for path, spec in schema.items():
        section = path.split(":")[0] if ":" in path else ""
        this = spec.get("group") or (f"`{section}`" if section else "Top level")
        if this != heading:
            heading = this
            out += ["", f"### {heading}", "",
                    "| Key | Default | Form | Roles | Meaning |", "|-----|---------|------|-------|---------|"]
        form = spec.get("form") or expected(spec)
        meaning = spec.get("doc", "")
        if spec.get("secret"):
            when = " with " + ", ".join(f"`{k}` {v}" for k, v in spec["when"].items()) if spec.get("when") else ""
            meaning = (f"**Secret, required{when}.** " if spec.get("required") else "**Secret.** ") + meaning
        cells = [f"`{path}`", f"`{_yaml_value(spec.get('default'))}`", form,
                 ", ".join(spec.get("roles", ())), meaning]
        out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(out[1:]) + "\n"


# ---------------------------------------------------------------- roles
# salt/webstack/parameters/roles.yaml: every role and its facts. Its fields and their
# defaults; what a field names is checked by role_registry.
ROLE_FIELDS = {"doc": "", "cluster": True, "unique": False, "needs": [], "peers": [], "ports": [], "tls": False,
               "deploy": None, "step": None}
ROLE_DEPLOY = ("first", "rolling", "last")
# ports: the front server's and the configured engines' are named by their part
ROLE_PORT_PARTS = ("front", "db", "cache")
_ROLE_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def role_registry(raw, schema=None):
    """The roles of ``raw`` (roles.yaml as loaded) in its order, each with every field of
    :py:data:`ROLE_FIELDS` (its default where the file has none), checked: a mistake in the
    file raises ValueError naming the role and the field. With ``schema`` (as written, or
    expanded), each port's key must be one of its int keys."""
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"roles.yaml: expected a mapping of role names to their facts, got {describe(raw)}")
    registry, problems = {}, []
    for name, facts in raw.items():
        if not isinstance(name, str) or not _ROLE_NAME_RE.fullmatch(name):
            problems.append(f"{name!r}: expected a role name of lowercase letters, digits and '_'")
            continue
        facts = facts if isinstance(facts, dict) else {}
        unknown = sorted(set(facts) - set(ROLE_FIELDS))
        if unknown:
            problems.append(f"{name}: unknown field(s) {', '.join(map(str, unknown))}; expected "
                            f"{', '.join(ROLE_FIELDS)}")
        registry[name] = {field: _copy(facts.get(field, default)) for field, default in ROLE_FIELDS.items()}
    for name, role in registry.items():
        for field in ("cluster", "unique", "tls"):
            if not isinstance(role[field], bool):
                problems.append(f"{name}:{field}: expected true or false, got {describe(role[field])}")
        for field in ("needs", "peers"):
            others = role[field]
            if not isinstance(others, list) or not all(o in registry and registry[o]["cluster"] is not False
                                                       for o in others):
                problems.append(f"{name}:{field}: expected a list of the cluster's roles, got {others!r}")
        ports = role["ports"]
        if not isinstance(ports, list) or not all(
                p in ROLE_PORT_PARTS or (schema is None and isinstance(p, str) and ":" in p)
                or (schema is not None and isinstance(schema.get(p), dict) and schema[p].get("type") == "int")
                for p in ports):
            problems.append(f"{name}:ports: expected a list of the schema's port keys or "
                            f"{', '.join(ROLE_PORT_PARTS)}, got {ports!r}")
        if not role["cluster"]:
            if role["deploy"] or role["needs"] or role["peers"] or role["unique"]:
                problems.append(f"{name}: a role that is not a cluster's has no deploy, needs, peers or unique")
        elif role["deploy"] not in ROLE_DEPLOY:
            problems.append(f"{name}:deploy: expected one of {', '.join(ROLE_DEPLOY)}, got {describe(role['deploy'])}")
        if (role["deploy"] == "first") != isinstance(role["step"], str) or (role["step"] is not None
                                                                            and not role["step"]):
            problems.append(f"{name}:step: expected the name of its step with deploy first (and only then)")
        if not isinstance(role["doc"], str) or not role["doc"]:
            problems.append(f"{name}:doc: expected one line of documentation")
    if problems:
        raise ValueError("roles.yaml: " + "; ".join(problems))
    return registry


def role_names(registry, cluster=None):
    """The names of the registry's roles, in its order: every one, or (``cluster`` true) the
    roles of a cluster's nodes, or (false) the others."""
    return [name for name, role in registry.items() if cluster is None or role["cluster"] == cluster]


# the schema's words for role lists: a key's `roles` (all, cluster) and an `enum` of role names
_ROLE_MARKERS = {"all": None, "cluster": True}


def with_roles(schema, registry):
    """A copy of ``schema`` with its role markers spelt out from the registry: a key's
    ``roles: all`` (every role) or ``roles: cluster`` (the cluster's), and ``enum: roles``
    (in a key, its ``items`` or its ``values``' items: the role names)."""

    def expand(spec):
        spec = dict(spec)
        if spec.get("enum") == "roles":
            spec["enum"] = role_names(registry)
        for part in ("items", "values"):
            if isinstance(spec.get(part), dict):
                spec[part] = expand(spec[part])
        if isinstance(spec.get("roles"), str) and spec["roles"] in _ROLE_MARKERS:
            spec["roles"] = role_names(registry, _ROLE_MARKERS[spec["roles"]])
        return spec

    return {path: expand(spec) if isinstance(spec, dict) else spec for path, spec in schema.items()}


def roles_reference(registry):
    """The roles as a Markdown table, from the registry."""
    out = ["| Role | Runs | Nodes | Needs | Ports (kept apart on one host) |", "|------|------|-------|-------|------|"]
    for name, role in registry.items():
        nodes = "its server alone" if not role["cluster"] else "one at most" if role["unique"] else "any number"
        ports = ", ".join("the front server's" if p == "front" else f"the {p} engine's" if p in ("db", "cache")
                          else f"`{p}`" for p in role["ports"])
        cells = [f"`{name}`", role["doc"], nodes, ", ".join(f"`{n}`" for n in role["needs"]), ports]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"
