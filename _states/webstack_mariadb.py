"""
The app's MariaDB database and user (over ``webstack_mariadb``).

.. code-block:: yaml

    webstack-mariadb-database-webstack_mariadb-database_present:
      webstack_mariadb.database_present:
        - name: webapp

    webstack-mariadb-database-user-webstack_mariadb-user_present:
      webstack_mariadb.user_present:
        - name: webapp
        - password: {{ password }}
        - hosts: [localhost, 127.0.0.1]
        - database: webapp

Where no server answers yet (a fresh server under ``test=True``: the package is only
predicted), both predict their creation. Changes never show a password.
"""

__virtualname__ = "webstack_mariadb"


def __virtual__():
    if "webstack_mariadb.user" not in __salt__:
        return (False, "the webstack_mariadb execution module is not loaded (saltutil.sync_all)")
    return __virtualname__


def database_present(name, charset="utf8mb4", collation="utf8mb4_unicode_ci", binary="/usr/bin/mariadb"):
    """
    Make sure database ``name`` exists with this character set and collation.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    wanted = {"charset": charset, "collation": collation}
    try:
        now = __salt__["webstack_mariadb.database"](name, binary=binary)
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, comment=str(exc))
        return ret
    if now == wanted:
        ret["comment"] = f"MariaDB database {name} is present ({charset}, {collation})"
        return ret
    ret["changes"] = {"database": {"old": now, "new": wanted}}
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"MariaDB database {name} would be {'altered' if now else 'created'}"
        return ret
    try:
        __salt__["webstack_mariadb.ensure_database"](name, charset=charset, collation=collation, binary=binary)
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, changes={}, comment=str(exc))
        return ret
    ret["comment"] = f"MariaDB database {name} {'altered' if now else 'created'}"
    return ret


def user_present(name, password, hosts, database, binary="/usr/bin/mariadb", require_tls=False):
    """
    Make sure user ``name`` logs in from exactly ``hosts`` with ``password`` and has
    every privilege on ``database`` and no other; with ``require_tls``, over TLS
    from every host but this one.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    try:
        now = __salt__["webstack_mariadb.user"](name, password, database, binary=binary)
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, comment=str(exc))
        return ret
    hosts = sorted(set(hosts))
    changes = {}
    before = sorted(now or {})
    if before != hosts:
        changes["hosts"] = {"old": before, "new": hosts}
    stale = sorted(h for h in hosts if h in (now or {}) and not now[h]["password"])
    if stale:
        changes["password"] = {"old": "differs on " + ", ".join(stale), "new": "set"}
    narrow = sorted(h for h in hosts if h in (now or {}) and not now[h]["privileges"])
    if narrow:
        changes["privileges"] = {"old": "not only " + database + ".* on " + ", ".join(narrow),
                                 "new": f"ALL on {database}.*"}
    wanted = {h: __salt__["webstack_mariadb.tls_required"](h, require_tls) for h in hosts}
    tls_off = sorted(h for h in hosts if (now or {}).get(h, {}).get("tls", False) != wanted[h])
    if tls_off:
        changes["tls"] = {"old": {h: (now or {}).get(h, {}).get("tls", False) for h in tls_off},
                          "new": {h: wanted[h] for h in tls_off}}
    if not changes:
        ret["comment"] = f"MariaDB user {name} is present from {', '.join(hosts)}"
        return ret
    ret["changes"] = changes
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"MariaDB user {name} would be set up from {', '.join(hosts)}"
        return ret
    try:
        __salt__["webstack_mariadb.ensure_user"](name, password, hosts, database, binary=binary,
                                                 require_tls=require_tls)
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, changes={}, comment=str(exc))
        return ret
    ret["comment"] = f"MariaDB user {name} set up from {', '.join(hosts)}"
    return ret
