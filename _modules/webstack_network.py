"""
The address a minion offers to the rest of the cluster.

Every cluster minion publishes :py:func:`private_address` through the Salt mine
(``mine_functions`` in ``pillar/webstack/cluster.sls``); PostgreSQL's listen
address and ``pg_hba.conf``, Redis's ``bind``, the app's database and cache hosts
and the load balancer's backends are all built from it.

Which address: the pillar can name the private network
(``webstack:network:private_cidr``) or interface
(``webstack:network:private_interface``); without either, the host's first
private (RFC 1918) IPv4 address.
"""

import ipaddress
import re

import salt.utils.network
from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_network"

_IFACE_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,32}$")


def __virtual__():
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
    if interface and not _IFACE_RE.match(str(interface)):
        raise CommandExecutionError(f"private_interface {interface!r}: expected an interface name such as eth1")
    addresses = salt.utils.network.ip_addrs(interface=interface, include_loopback=False)
    network = ipaddress.ip_network(str(cidr), strict=False) if cidr else None
    candidates = []
    for addr in addresses:
        ip = ipaddress.ip_address(addr)
        if ip.is_loopback or ip.is_link_local:
            continue
        if network is not None and ip not in network:
            continue
        if network is None and not ip.is_private:
            continue
        candidates.append(addr)
    if not candidates:
        where = " and ".join(filter(None, [cidr and f"in {cidr}", interface and f"on {interface}"]))
        what = ("no IPv4 address" if cidr else "no private IPv4 address") + (f" {where}" if where else "")
        raise CommandExecutionError(
            f"{what} on this host (have: {', '.join(addresses) or 'none'}); "
            "set webstack:network:private_cidr or private_interface")
    return candidates[0]
