"""
A table of nftables rules of the formula's own (``inet webstack_<name>``), loaded from
its file as one transaction: the file replaces the table whole (it begins with
``table ...`` and ``delete table ...``), so it neither replaces nor loosens the host's
other rules.

Whether the table in the kernel is the file's: the listing of the table right after
the last load (counters left out) is kept beside the file's digest in
``/var/lib/webstack/nftables/<table>.live``; a changed file, a hand edit of the table,
or a table gone (a reboot on a host without the boot unit) all differ from it.

CLI Example:

.. code-block:: bash

    salt db1 webstack_nftables.current webstack_memcached /etc/webstack/memcached-firewall.nft
"""

import hashlib
import os
import re

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_nftables"

STATE_DIR = "/var/lib/webstack/nftables"
_TABLE_RE = re.compile(r"webstack_[a-z0-9_]{1,40}")
_COUNTER_RE = re.compile(r"counter packets [0-9]+ bytes [0-9]+")


def __virtual__():
    return __virtualname__


def _check_table(table):
    if not isinstance(table, str) or not _TABLE_RE.fullmatch(table):
        raise CommandExecutionError(f"table must be webstack_<letters, digits, _>, got {table!r}")


def _nft(args, check=True):
    res = __salt__["cmd.run_all"](["nft", *args], python_shell=False, ignore_retcode=True)
    if check and res["retcode"] != 0:
        err = (res["stderr"] or res["stdout"]).strip()
        if "Operation not permitted" in err:
            err += " (root may not change this host's nftables rules: no CAP_NET_ADMIN, a container?)"
        raise CommandExecutionError(f"nft {' '.join(args[:2])} failed: {err[:500]}")
    return res


def live(table):
    """
    The table ``inet <table>`` as the kernel has it, its counters left out; '' if
    there is none.

    CLI Example:

    .. code-block:: bash

        salt db1 webstack_nftables.live webstack_memcached
    """
    _check_table(table)
    try:
        res = _nft(["list", "table", "inet", table], check=False)
    except CommandExecutionError:  # nft not installed yet (a first run's test mode)
        return ""
    if res["retcode"] != 0:
        return ""
    return _COUNTER_RE.sub("counter", res["stdout"]).strip()


def _digest(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _state_file(table):
    return os.path.join(STATE_DIR, f"{table}.live")


def current(table, path):
    """
    True if the table in the kernel is the one the file ``path`` made when it was
    last loaded, and the file has not changed since.

    CLI Example:

    .. code-block:: bash

        salt db1 webstack_nftables.current webstack_memcached /etc/webstack/memcached-firewall.nft
    """
    _check_table(table)
    try:
        with open(_state_file(table), encoding="utf-8") as fh:
            digest, _, listing = fh.read().partition("\n")
    except FileNotFoundError:
        return False
    return digest == _digest(path) and listing.strip() == live(table) != ""


def load(table, path):
    """
    Check the file ``path`` (``nft -c``), load it (the table replaced in one
    transaction) and remember what it made.

    CLI Example:

    .. code-block:: bash

        salt db1 webstack_nftables.load webstack_memcached /etc/webstack/memcached-firewall.nft
    """
    _check_table(table)
    _nft(["-c", "-f", path])
    _nft(["-f", path])
    os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
    with open(_state_file(table), "w", encoding="utf-8") as fh:
        fh.write(_digest(path) + "\n" + live(table) + "\n")
    return True
