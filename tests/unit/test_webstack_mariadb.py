"""
webstack_mariadb: the SQL sent to MariaDB's client for the app's database and user, with
Salt's ``cmd.run_all`` as an autospec mock that answers as the client does (rows
tab-separated on stdout). What a real server makes of it: tests/integration/test_projects.py
(the noticeboard).
"""

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.config import UTILS
from tests.support.loader import load as _load

mariadb = _load("modules", "webstack_mariadb")
mariadb_state = _load("states", "webstack_mariadb")

PASSWORD = "Zq8vR2kLp9sW4tZxY7"
NATIVE = "*" + "A" * 40


class FakeServer:
    """Answers the module's statements from ``accounts``: {host: (password, grants[, ssl_type])}."""

    def __init__(self, accounts=None, fail=None):
        self.accounts = accounts or {}
        self.fail = fail
        self.scripts = []

    def __call__(self, cmd, **kwargs):
        sql = kwargs["stdin"]
        self.scripts.append((cmd, sql))
        if self.fail and self.fail in sql:
            return {"retcode": 1, "stdout": "", "stderr": f"ERROR 1064 near '{PASSWORD}' at line 1"}
        if sql == "SELECT 1;":
            return {"retcode": 0, "stdout": "1\n", "stderr": ""}
        if sql.startswith("SELECT Host, ssl_type FROM mysql.user"):
            return {"retcode": 0, "stdout": "".join(f"{h}\t{a[2] if len(a) > 2 else ''}\n"
                                                    for h, a in self.accounts.items()), "stderr": ""}
        if sql.startswith("SELECT authentication_string"):
            host = sql.split("Host = '")[1].split("'")[0]
            return {"retcode": 0, "stdout": "1\n" if self.accounts[host][0] == PASSWORD else "0\n", "stderr": ""}
        if sql.startswith("SHOW GRANTS"):
            host = sql.split("@'")[1].split("'")[0]
            return {"retcode": 0, "stdout": "".join(g + "\n" for g in self.accounts[host][1]), "stderr": ""}
        return {"retcode": 0, "stdout": "", "stderr": ""}


def _grants(host, database="webapp"):
    return [f"GRANT USAGE ON *.* TO `webapp`@`{host}` IDENTIFIED BY PASSWORD '{NATIVE}'",
            f"GRANT ALL PRIVILEGES ON `{database}`.* TO `webapp`@`{host}`"]


@pytest.fixture
def server(monkeypatch):
    fake = FakeServer()
    monkeypatch.setattr(mariadb.shutil, "which", lambda binary: binary)
    return fake


@pytest.fixture
def configure_loader_modules(server):
    return {mariadb: {"__salt__": {"cmd.run_all": server}, "__utils__": UTILS},
            mariadb_state: {"__salt__": {f"webstack_mariadb.{f}": getattr(mariadb, f)
                                         for f in ("database", "ensure_database", "user", "ensure_user",
                                                   "tls_required")},
                            "__opts__": {"test": False}}}


def _changes(server):
    """The statements that changed something (the last script, when it is not a question)."""
    cmd, sql = server.scripts[-1]
    assert PASSWORD not in " ".join(cmd)  # the password is never an argument
    return sql.splitlines()


def test_a_new_user_is_created_from_each_host_with_its_database_only(server):
    before = mariadb.ensure_user("webapp", PASSWORD, ["localhost", "127.0.0.1"], "webapp")
    assert before == []
    assert _changes(server) == [
        f"CREATE USER 'webapp'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'webapp'@'127.0.0.1';",
        "GRANT ALL PRIVILEGES ON `webapp`.* TO 'webapp'@'127.0.0.1';",
        f"CREATE USER 'webapp'@'localhost' IDENTIFIED BY '{PASSWORD}';",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'webapp'@'localhost';",
        "GRANT ALL PRIVILEGES ON `webapp`.* TO 'webapp'@'localhost';",
    ]


def test_a_wrong_password_an_extra_privilege_and_a_stale_host_are_set_right(server):
    server.accounts = {"10.0.0.5": (PASSWORD, _grants("10.0.0.5")),
                       "10.0.0.9": (PASSWORD, _grants("10.0.0.9")),
                       "10.0.0.6": ("old-password-0123456", _grants("10.0.0.6") + ["GRANT SELECT ON `mysql`.* TO x"])}
    mariadb.ensure_user("webapp", PASSWORD, ["10.0.0.5", "10.0.0.6"], "webapp")
    assert _changes(server) == [
        "DROP USER 'webapp'@'10.0.0.9';",
        f"ALTER USER 'webapp'@'10.0.0.6' IDENTIFIED BY '{PASSWORD}';",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'webapp'@'10.0.0.6';",
        "GRANT ALL PRIVILEGES ON `webapp`.* TO 'webapp'@'10.0.0.6';",
    ]


def test_with_tls_required_an_account_from_another_node_must_use_tls_and_a_local_one_need_not(server):
    server.accounts = {"10.0.0.5": (PASSWORD, _grants("10.0.0.5")),
                       "localhost": (PASSWORD, _grants("localhost"), "ANY")}
    mariadb.ensure_user("webapp", PASSWORD, ["10.0.0.5", "10.0.0.6", "localhost"], "webapp", require_tls=True)
    assert _changes(server) == [
        "ALTER USER 'webapp'@'10.0.0.5' REQUIRE SSL;",
        f"CREATE USER 'webapp'@'10.0.0.6' IDENTIFIED BY '{PASSWORD}';",
        "ALTER USER 'webapp'@'10.0.0.6' REQUIRE SSL;",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'webapp'@'10.0.0.6';",
        "GRANT ALL PRIVILEGES ON `webapp`.* TO 'webapp'@'10.0.0.6';",
        "ALTER USER 'webapp'@'localhost' REQUIRE NONE;",
    ]


@pytest.mark.parametrize("test", [True, False], ids=["test", "apply"])
def test_the_state_names_the_accounts_whose_tls_requirement_changes(server, test):
    server.accounts = {"10.0.0.5": (PASSWORD, _grants("10.0.0.5")),
                       "10.0.0.6": (PASSWORD, _grants("10.0.0.6"), "ANY")}
    mariadb_state.__opts__["test"] = test
    try:
        ret = mariadb_state.user_present("webapp", PASSWORD, ["10.0.0.5", "10.0.0.6"], "webapp", require_tls=True)
    finally:
        mariadb_state.__opts__["test"] = False
    assert ret["result"] is (None if test else True)
    assert ret["changes"] == {"tls": {"old": {"10.0.0.5": False}, "new": {"10.0.0.5": True}}}


def test_the_state_reports_without_the_password_and_test_mode_changes_nothing(server):
    server.accounts = {"localhost": ("old-password-0123456", _grants("localhost"))}
    mariadb_state.__opts__["test"] = True
    try:
        predicted = mariadb_state.user_present("webapp", PASSWORD, ["localhost"], "webapp")
    finally:
        mariadb_state.__opts__["test"] = False
    assert predicted["result"] is None
    assert predicted["changes"] == {"password": {"old": "differs on localhost", "new": "set"}}
    assert not any(sql.startswith(("ALTER", "CREATE", "DROP")) for _, sql in server.scripts)
    applied = mariadb_state.user_present("webapp", PASSWORD, ["localhost"], "webapp")
    assert applied["result"] is True and applied["changes"] == predicted["changes"]
    assert PASSWORD not in str(applied)


def test_a_server_error_is_shown_with_the_password_masked(server):
    server.fail = "CREATE USER"
    with pytest.raises(CommandExecutionError) as err:
        mariadb.ensure_user("webapp", PASSWORD, ["localhost"], "webapp")
    assert PASSWORD not in str(err.value) and "near '***'" in str(err.value)


@pytest.mark.parametrize("args, what", [
    (("web'app", PASSWORD, ["localhost"], "webapp"), "user"),
    (("webapp", PASSWORD, ["localhost"], "web`app"), "database"),
    (("webapp", "short", ["localhost"], "webapp"), "password"),
    (("webapp", PASSWORD + "'; DROP USER root; --", ["localhost"], "webapp"), "password"),
    (("webapp", PASSWORD, ["fe80::1%eth0' OR 1"], "webapp"), "host"),
    (("webapp", PASSWORD, ["db.example.org"], "webapp"), "host"),
], ids=["user-quote", "database-backtick", "password-short", "password-quote", "host-zone", "host-name"])
def test_bad_values_never_reach_the_server(server, args, what):
    with pytest.raises(CommandExecutionError) as err:
        mariadb.ensure_user(*args)
    assert what in str(err.value)
    assert "DROP USER root" not in str(err.value)
    assert not [sql for _, sql in server.scripts if sql != "SELECT 1;"]


def test_a_database_is_created_utf8mb4_or_altered(server):
    assert mariadb.ensure_database("webapp") is None
    assert server.scripts[-1][1] == "CREATE DATABASE `webapp` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
