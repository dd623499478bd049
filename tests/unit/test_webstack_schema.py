"""
Unit tests of the schema (``salt/webstack/parameters/schema.yaml``), its grammars
(``_utils/webstack_schema.py``) and the reference generated from it
(``docs/pillar.md``): every entry is complete, every default and OS file passes its
own schema, each grammar takes what its sink takes and nothing else.
"""

import importlib.util

import pytest
import yaml

from tests.support.config import schema_util
from tests.support.loader import REPO

WRITTEN = yaml.safe_load((REPO / "salt/webstack/parameters/schema.yaml").read_text())
RAW_ROLES = yaml.safe_load((REPO / "salt/webstack/parameters/roles.yaml").read_text())
REGISTRY = schema_util.role_registry(RAW_ROLES, WRITTEN)
SCHEMA = schema_util.with_roles(WRITTEN, REGISTRY)
ROLES = set(REGISTRY)
FIELDS = {"type", "grammar", "enum", "min", "max", "also", "empty", "nonempty", "default", "roles", "secret",
          "required", "doc", "form", "items", "keys", "values", "what", "group", "expected", "when"}


@pytest.mark.parametrize("path", list(SCHEMA))
def test_every_entry_is_complete(path):
    spec = SCHEMA[path]
    assert set(spec) <= FIELDS, set(spec) - FIELDS
    assert spec.get("type", "str") in schema_util.TYPES
    assert spec.get("doc"), "one line of documentation"
    assert spec.get("roles") and set(spec["roles"]) <= ROLES
    assert "default" in spec
    for grammar in (spec.get("grammar"), spec.get("items", {}).get("grammar"), spec.get("keys"),
                    spec.get("values", {}).get("grammar")):
        assert grammar is None or grammar in schema_util.GRAMMARS, grammar
    if spec.get("type", "str") == "str":
        assert spec.get("grammar") or spec.get("enum"), "a string without a grammar reaches its sink unchecked"
    if spec.get("required"):
        assert spec.get("secret"), "only secrets have no usable default"
    for key, value in (spec.get("when") or {}).items():
        allowed = (True, False) if SCHEMA.get(key, {}).get("type") == "bool" else SCHEMA.get(key, {}).get("enum", ())
        assert spec.get("required") and key in SCHEMA and value in allowed, (key, value)


@pytest.mark.parametrize("path", [path for path, spec in WRITTEN.items() if spec.get("secret")])
def test_a_secret_lists_the_roles_that_receive_it(path):
    """pillar/webstack/role_secrets.sls reads the schema as written: a secret's roles are
    named, never `all` or `cluster`."""
    assert isinstance(WRITTEN[path]["roles"], list) and set(WRITTEN[path]["roles"]) <= ROLES


def test_the_role_markers_are_spelt_out_from_the_registry():
    assert SCHEMA["roles"]["items"]["enum"] == list(RAW_ROLES) == ["single", "db", "cache", "app", "worker", "lb",
                                                                   "storage"]
    assert SCHEMA["nodes"]["values"]["items"]["enum"] == list(RAW_ROLES)
    assert SCHEMA["roles"]["roles"] == list(RAW_ROLES)
    assert SCHEMA["network:private_cidr"]["roles"] == ["db", "cache", "app", "worker", "lb", "storage"]
    assert WRITTEN["nodes"]["roles"] == "cluster"  # the written schema is left as it is


@pytest.mark.parametrize("role", list(RAW_ROLES))
def test_every_role_has_its_states_and_its_doc(role):
    assert (REPO / "salt/webstack/roles" / f"{role}.sls").is_file()
    assert REGISTRY[role]["doc"]
    for field in ("needs", "peers"):
        assert all(REGISTRY[other]["cluster"] for other in REGISTRY[role][field])


def test_the_registry_fills_in_every_field_with_its_default():
    assert REGISTRY["worker"] == {"doc": RAW_ROLES["worker"]["doc"], "cluster": True, "unique": False,
                                  "needs": ["db", "cache"], "peers": ["db", "cache", "storage"], "ports": [],
                                  "tls": False, "deploy": "rolling", "step": None}
    assert [r for r, f in REGISTRY.items() if f["unique"]] == ["db", "cache", "storage"]
    assert [r for r, f in REGISTRY.items() if f["deploy"] == "first"] == ["db", "cache", "storage"]
    assert schema_util.role_names(REGISTRY, cluster=False) == ["single"]


@pytest.mark.parametrize("change, message", [
    ({"db": {"peers": ["dbs"]}}, "db:peers: expected a list of the cluster's roles, got ['dbs']"),
    ({"app": {"needs": ["single"]}}, "app:needs: expected a list of the cluster's roles, got ['single']"),
    ({"lb": {"ports": ["lb:portt"]}}, "lb:ports: expected a list of the schema's port keys or front, db, cache"),
    ({"lb": {"ports": ["app:name"]}}, "lb:ports: expected a list of the schema's port keys"),
    ({"cache": {"unique": "yes"}}, "cache:unique: expected true or false, got the string 'yes'"),
    ({"storage": {"deploy": "early"}}, "storage:deploy: expected one of first, rolling, last, got the string"),
    ({"storage": {"step": None}}, "storage:step: expected the name of its step with deploy first"),
    ({"worker": {"step": "Start"}}, "worker:step: expected the name of its step with deploy first"),
    ({"single": {"deploy": "first"}}, "single: a role that is not a cluster's has no deploy"),
    ({"app": {"doc": ""}}, "app:doc: expected one line of documentation"),
    ({"app": {"port": ["front"]}}, "app: unknown field(s) port; expected doc, cluster"),
    ({"Backup": {"doc": "x"}}, "'Backup': expected a role name"),
])
def test_a_mistake_in_the_registry_is_named(change, message):
    raw = {role: dict(facts) for role, facts in RAW_ROLES.items()}
    for role, facts in change.items():
        raw.setdefault(role, {}).update(facts)
    with pytest.raises(ValueError) as exc:
        schema_util.role_registry(raw, WRITTEN)
    assert message in str(exc.value)


@pytest.mark.parametrize("os_file", sorted(p.relative_to(REPO / "salt/webstack/parameters").as_posix()
                                           for p in (REPO / "salt/webstack/parameters").glob("os*/*.yaml")))
def test_the_defaults_and_each_os_file_pass_the_schema(os_file):
    values = yaml.safe_load((REPO / "salt/webstack/parameters" / os_file).read_text())["values"] or {}
    data = schema_util.defaults(SCHEMA)
    for key, value in values.items():
        if isinstance(value, dict):
            data[key] = dict(data.get(key, {}), **value)
        else:
            data[key] = value
    errors, _ = schema_util.walk(SCHEMA, data)
    assert errors == []


def test_secrets_are_the_database_and_redis_ones_and_their_derived_and_tls_keys():
    assert sorted(schema_util.secret_paths(SCHEMA)) == [
        "app:secret_key", "app:secrets", "backup:passphrase", "backup:s3_access_key", "backup:s3_secret_key",
        "mariadb:password", "postgres:password",
        "redis:password",
        "redis:user_passwords:broker", "redis:user_passwords:cache", "tls:private_key"]


GOOD = {
    "host": ["localhost", "db.example.org", "db.example.org.", "10.0.0.1", "::1", "2001:db8::5", "a-b"],
    "allowed_host": ["*", ".example.org", "127.0.0.1", "www.example.org"],
    "server_names": ["_", "www.example.org example.org", ".example.org", "*.example.org 10.0.0.1"],
    "redis_bind": ["127.0.0.1", "-::1", "10.0.0.5"],
    "listen_addresses": ["localhost", "localhost,10.0.0.10", "*", "::1"],
    "abspath": ["/srv/webapp", "/etc/webstack/tls", "/a/b_c-d.e"],
    "source": ["salt://example", "salt://apps/app-1.2.tar.gz", "https://github.com/acme/app.git",
               "ssh://git@git.example.org:2222/acme/app.git", "git@github.com:acme/app.git",
               "file:///srv/git/app.git", "git://git.example.org/app.git"],
    "git_rev": ["main", "v1.2.3", "release/2026-12", "0123456789abcdef0123456789abcdef01234567"],
    "command": ["python manage.py collectstatic --noinput", "npm run build -- --mode 'production'",
                "sh -c 'echo $HOME'"],
    "package": ["python3-venv", "libapache2-mod-wsgi-py3", "g++", "python3-mod_wsgi"],
    "service": ["nginx", "postgresql@15-main", "redis-server"],
    "program": ["apache2ctl", "/usr/sbin/apachectl"],
    "url_dir": ["/static/", "/assets/v2/"],
    "cdn_url": ["https://cdn.example.org/", "https://d111.cloudfront.net/static/", "https://cdn.example.org:8443/a/"],
    "url_path": ["/healthz", "/-/health/"],
    "cidr": ["10.0.0.0/8", "fd00::/64", "192.168.56.7/24"],
    "wsgi_callable": ["myproject.wsgi:application", "app:create_app", "wsgi"],
    "env_value": ["production", "https://sentry.example.org/1", 3, 0.5, True, "a=b;c"],
    "certificate": [""],
    "private_key": [""],
}
BAD = {
    "host": ["fe80::1%eth0", "fe80::1%x'$(reboot)'", "localhost\n", "a b", "-lead", "x;y", "", "1.2.3.4.5/8",
             "a" * 64 + ".org"],
    "allowed_host": ["fe80::1%25x", "*.example.org", "localhost\n", "..example.org", "example.org:8000"],
    "server_names": ["", " _", "www.example.org  two", "x;", "www.example.org\tevil", "fe80::1%x", "_\n"],
    "redis_bind": ["localhost", "-fe80::1%x", "127.0.0.1\n", "*", "--::1"],
    "listen_addresses": ["localhost, 10.0.0.10", "localhost,", "fe80::1%x", "localhost\n"],
    "abspath": ["/", "relative/path", "/srv/../etc", "/srv//webapp", "/srv/web app", "/srv/$(id)", "/srv\n"],
    "source": ["https://user:token@github.com/acme/app.git", "https://token@github.com/acme/app.git",
               "ssh://git:pass@git.example.org/app.git", "https://example.org/app.git$(reboot)",
               "https://example.org/a b.git", "ftp://example.org/app.tar.gz", "salt://../etc",
               "https://example.org/app.git\n", "https://-oProxyCommand=x/app.git", "http://user@example.org/a"],
    "git_rev": ["--upload-pack=x", "main\n", "a..b", "main.lock", "feature/", "x y", "/main"],
    "command": ["", "   ", "python manage.py check\nrm -rf /", "python -c 'print(1)", "true\x00", "a\tb"],
    "package": ["-force", "nginx;id", "nginx $(id)", "", "a/b"],
    "service": ["nginx; touch /tmp/x", "../nginx", "nginx\n", ""],
    "program": ["apache2ctl -k stop", "apache2ctl;id", "/usr/sbin/apachectl\n"],
    "url_dir": ["/static", "static/", "/", "//", "/st atic/", "/../"],
    "cdn_url": ["http://cdn.example.org/", "https://cdn.example.org", "https://cdn.example.org/static",
                "https://user@cdn.example.org/", "https://cdn.example.org/../x/", "https://cdn.example.org/a b/",
                "https://cdn.example.org/\n", "https://-cdn.example.org/", "//cdn.example.org/static/"],
    "url_path": ["healthz", "/healthz\n", "/a b", "/x?y", "/../etc"],
    "cidr": ["10.0.0.0/33", "lan", "10.0.0.0", "fe80::/64%eth0"],
    "wsgi_callable": ["wsgi application", "a:b:c", "1app:x"],
    "env_value": ["one\ntwo", "'quoted'", '"x', None, [1], "\x1b[31m"],
    "certificate": ["www.example.org.crt"],
    "private_key": ["secret-key-file-path"],
}


@pytest.mark.parametrize("grammar, value", [(g, v) for g, values in GOOD.items() for v in values])
def test_each_grammar_takes_what_its_sink_takes(grammar, value):
    assert schema_util.GRAMMARS[grammar][0](value), (grammar, value)


@pytest.mark.parametrize("grammar, value", [(g, v) for g, values in BAD.items() for v in values])
def test_each_grammar_refuses_what_would_break_its_sink(grammar, value):
    assert not schema_util.GRAMMARS[grammar][0](value), (grammar, value)


def test_a_message_never_shows_a_urls_credentials():
    assert schema_util.describe("https://deploy:ghp_T0k3n@github.com/a.git") == \
        "the string 'https://**********@github.com/a.git'"
    assert schema_util.describe("https://ghp_T0k3n@github.com/a.git") == \
        "the string 'https://**********@github.com/a.git'"


def test_unknown_keys_are_named_with_the_nearest_known_one():
    errors, clean = schema_util.walk(SCHEMA, dict(schema_util.defaults(SCHEMA), wsgi={"worker": 3}, tsl={}))
    assert errors == ["webstack:wsgi:worker: expected no such key, the formula does not read it "
                      "(did you mean wsgi:workers?)",
                      "webstack:tsl: expected no such key, the formula does not read it (did you mean tls?)"]
    assert clean["wsgi"]["workers"] == "auto"


def test_the_generated_reference_is_the_one_in_docs():
    spec = importlib.util.spec_from_file_location("docs_reference", REPO / "docs" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (REPO / "docs" / "pillar.md").read_text()
    assert module.render(text) == text, "docs/pillar.md differs from the schema: run `make docs`"
    for path in SCHEMA:
        assert f"| `{path}` |" in text
