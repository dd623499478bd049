"""
The app's MariaDB database and user, through MariaDB's own client run by root over
the server's socket (Debian's ``root@localhost`` logs in by ``unix_socket``): no
admin password exists, none is stored.

SQL goes to the client's standard input, never into its arguments, so that a
password is not in any process's command line. The names and the password reach SQL
only after their checks here, by the pillar's own grammars (``_utils/webstack_schema.py``:
``sql_identifier`` names, a ``password`` without quotes, backslash or whitespace, an
IP address without a zone or ``localhost`` as a host), and quoted. Nothing this module
returns holds a password or its hash.
"""

import shutil

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_mariadb"

MARIADB = "/usr/bin/mariadb"
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_unicode_ci"


def __virtual__():
    if "webstack_schema.valid" not in __utils__:
        return (False, "the webstack_schema utility module is not loaded (saltutil.sync_all)")
    return __virtualname__


def _identifier(what, value):
    if not __utils__["webstack_schema.valid"]("sql_identifier", value):
        raise CommandExecutionError(f"{what} {value!r}: expected a name matching [a-z_][a-z0-9_]{{0,62}}")
    return value


def _host(value):
    if value == "localhost" or __utils__["webstack_schema.is_ip"](value):
        return value
    raise CommandExecutionError(f"host {value!r}: expected localhost or an IP address (without a zone)")


def _password(value):
    if not __utils__["webstack_schema.valid"]("password", value):
        raise CommandExecutionError("the password: expected what webstack:mariadb:password accepts (16 or more "
                                    "printable ASCII characters without whitespace, quotes or backslash)")
    return value


def _account(name, host):
    return f"'{_identifier('user', name)}'@'{_host(host)}'"


def _run(sql, binary=MARIADB, secret=None):
    """Rows (lists of columns) that the client prints for ``sql``; an error names the
    client's message, with ``secret`` masked."""
    if not shutil.which(binary):
        raise CommandExecutionError(f"{binary} is not installed")
    res = __salt__["cmd.run_all"]([binary, "--batch", "--skip-column-names", "--protocol=socket"],
                                  stdin=sql, python_shell=False, output_loglevel="quiet", ignore_retcode=True)
    if res["retcode"] != 0:
        message = (res.get("stderr") or res.get("stdout") or "").strip()
        if secret:
            message = message.replace(secret, "***")
        raise CommandExecutionError(f"mariadb: {message or 'exit status ' + str(res['retcode'])}")
    return [line.split("\t") for line in res["stdout"].splitlines() if line]


def answers(binary=MARIADB):
    """
    Whether the MariaDB server answers root on its socket.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_mariadb.answers
    """
    try:
        return _run("SELECT 1;", binary) == [["1"]]
    except CommandExecutionError:
        return False


def database(name, binary=MARIADB):
    """
    The character set and collation of database ``name``, or ``None`` where it does
    not exist (or no server answers).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_mariadb.database webapp
    """
    _identifier("database", name)
    if not answers(binary):
        return None
    rows = _run("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                f"WHERE SCHEMA_NAME = '{name}';", binary)
    return {"charset": rows[0][0], "collation": rows[0][1]} if rows else None


def ensure_database(name, charset=CHARSET, collation=COLLATION, binary=MARIADB):
    """
    Create database ``name`` with this character set and collation, or set them on
    it. Returns what it was before (``None``: it did not exist).

    CLI Example:

    .. code-block:: bash

        salt-call webstack_mariadb.ensure_database webapp
    """
    for what, value in (("database", name), ("charset", charset), ("collation", collation)):
        _identifier(what, value)
    before = database(name, binary)
    verb = "ALTER" if before else "CREATE"
    _run(f"{verb} DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation};", binary)
    return before


def tls_required(host, require_tls=True):
    """
    Whether the app's account from ``host`` must log in over TLS: with
    ``require_tls``, from every host but this one (the socket and loopback).

    CLI Example:

    .. code-block:: bash

        webstack-salt-call webstack_mariadb.tls_required 10.0.0.21
    """
    return bool(require_tls) and host not in ("localhost", "127.0.0.1", "::1")


def user(name, password, database, binary=MARIADB):
    """
    The hosts from which ``name`` may log in, and per host whether its password is
    ``password``, whether its privileges are exactly every privilege on
    ``database`` and whether it must log in over TLS (``REQUIRE SSL`` or
    stricter). ``None`` where no server answers.

    The password is an argument for the state that calls this; from the command line
    (where it would land in the shell's history and the job cache), ask the state in
    test mode instead.

    CLI Example:

    .. code-block:: bash

        webstack-salt-call state.sls_id webstack-mariadb-database-user-webstack_mariadb-user_present webstack.roles.single test=True
    """  # noqa: E501 (a CLI example is one line)
    _identifier("user", name)
    _identifier("database", database)
    _password(password)
    if not answers(binary):
        return None
    rows = _run(f"SELECT Host, ssl_type FROM mysql.user WHERE User = '{name}';", binary)
    tls = {row[0]: len(row) > 1 and row[1] not in ("", "NONE") for row in rows}
    found = {}
    for host in sorted(tls):
        try:
            _host(host)
        except CommandExecutionError:
            found[host] = {"password": False, "privileges": False, "tls": False}  # not one of ours: it goes
            continue
        same = _run(f"SELECT authentication_string = PASSWORD('{password}') FROM mysql.user "
                    f"WHERE User = '{name}' AND Host = '{host}';", binary, secret=password)
        grants = [row[0] for row in _run(f"SHOW GRANTS FOR {_account(name, host)};", binary, secret=password)]
        wanted = f"GRANT ALL PRIVILEGES ON `{database}`.* TO `{name}`@`{host}`"
        others = [g for g in grants if not g.startswith("GRANT USAGE ON *.* TO ") and g != wanted]
        found[host] = {"password": same == [["1"]], "privileges": wanted in grants and not others,
                       "tls": tls[host]}
    return found


def ensure_user(name, password, hosts, database, binary=MARIADB, require_tls=False):
    """
    Make ``name`` log in from exactly ``hosts`` (``localhost``: the socket; IP
    addresses) with ``password`` and every privilege on ``database``, no other: a
    missing account is created, a wrong password or extra privilege set right, an
    account from any other host dropped. With ``require_tls``, an account from
    another host than this one must log in over TLS (``REQUIRE SSL``); a local one
    never needs to. Returns the hosts before.

    CLI Example (through its state, which holds the password):

    .. code-block:: bash

        webstack-salt-call state.sls_id webstack-mariadb-database-user-webstack_mariadb-user_present webstack.roles.single
    """  # noqa: E501 (a CLI example is one line)
    hosts = sorted({_host(h) for h in hosts})
    before = user(name, password, database, binary)
    if before is None:
        raise CommandExecutionError("the MariaDB server does not answer root on its socket")
    statements = []
    for host in sorted(set(before) - set(hosts)):
        statements.append(f"DROP USER '{name}'@'{host.replace(chr(39), '')}';")
    for host in hosts:
        account = _account(name, host)
        now = before.get(host)
        tls = tls_required(host, require_tls)
        if now is None:
            statements.append(f"CREATE USER {account} IDENTIFIED BY '{password}';")
        elif not now["password"]:
            statements.append(f"ALTER USER {account} IDENTIFIED BY '{password}';")
        if now is None and tls or now is not None and now["tls"] != tls:
            statements.append(f"ALTER USER {account} REQUIRE {'SSL' if tls else 'NONE'};")
        if now is None or not now["privileges"]:
            statements.append(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account};")
            statements.append(f"GRANT ALL PRIVILEGES ON `{database}`.* TO {account};")
    if statements:
        _run("\n".join(statements), binary, secret=password)
    return sorted(before)
