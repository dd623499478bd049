"""
The address a minion offers to the rest of the cluster.

Every cluster minion publishes :py:func:`private_address` through the Salt mine
(``mine_functions`` in ``pillar/webstack/cluster.sls``); PostgreSQL's listen
address and ``pg_hba.conf``, Redis's ``bind``, the app's database and cache hosts
and the load balancer's backends are all built from it.

Which address: the pillar can name the private network
(``webstack:network:private_cidr``) or interface
(``webstack:network:private_interface``); without a network, the host's first
private IPv4 address (RFC 1918, or RFC 6598's shared space). Its peers accept
nothing else (``webstack_schema.node_address_problem``).
"""

import ipaddress
import re

import salt.utils.network
from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_network"

_IFACE_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,32}")


def __virtual__():
    if "webstack_schema.node_address_problem" not in __utils__:
        return (False, "the webstack_schema utility module is not loaded (saltutil.sync_all)")
    return __virtualname__


def _setting(key):
    node = __pillar__.get("webstack", {})
    node = node.get("network", {}) if isinstance(node, dict) else {}
    value = node.get(key, "") if isinstance(node, dict) else ""
    return value or None


def private_address(cidr=None, interface=None):
    """
    The minion's private IPv4 address: the first one in ``cidr`` or on
    ``interface`` (default: ``webstack:network:private_cidr`` and
    ``private_interface`` from pillar), else the first private address of the
    host. Loopback and link-local addresses never count. Raises an error naming
    what was looked for when nothing matches.

    CLI Example:

    .. code-block:: bash

        salt-call webstack_network.private_address
        salt-call webstack_network.private_address cidr=10.0.0.0/8
    """
    cidr = cidr or _setting("private_cidr")
    interface = interface or _setting("private_interface")
    if cidr:
        try:
            ipaddress.ip_network(str(cidr), strict=False)
        except ValueError as exc:
            raise CommandExecutionError(f"private_cidr {cidr!r}: expected a network such as 10.0.0.0/8") from exc
    if interface and not _IFACE_RE.fullmatch(str(interface)):
        raise CommandExecutionError(f"private_interface {interface!r}: expected an interface name such as eth1")
    addresses = salt.utils.network.ip_addrs(interface=interface, include_loopback=False)
    network = ipaddress.ip_network(str(cidr), strict=False) if cidr else None
    # what the peers accept (webstack_schema.node_address_problem): in the network, or private
    problem = __utils__["webstack_schema.node_address_problem"]
    candidates = [addr for addr in addresses if problem(addr, str(network) if network else "") is None]
    if not candidates:
        where = " and ".join(filter(None, [cidr and f"in {cidr}", interface and f"on {interface}"]))
        what = ("no IPv4 address" if cidr else "no private IPv4 address") + (f" {where}" if where else "")
        raise CommandExecutionError(
            f"{what} on this host (have: {', '.join(addresses) or 'none'}); "
            "set webstack:network:private_cidr or private_interface")
    return candidates[0]
