"""
Unit tests of ``_modules/webstack_network.py``: which address a minion
publishes to the cluster through the mine. ``salt.utils.network.ip_addrs`` is
replaced by an autospec'd mock answering a fixed host's addresses, so every
case is the same on any machine.
"""

from unittest.mock import create_autospec, patch

import pytest
import salt.utils.network
from salt.exceptions import CommandExecutionError

from tests.support.config import UTILS
from tests.support.loader import load as _load

net = _load("modules", "webstack_network")

PUBLIC = "93.184.216.34"  # globally routable (the documentation ranges count as private in Python)
LINK_LOCAL = "169.254.10.20"
PRIVATE_10 = "10.0.5.7"
PRIVATE_192 = "192.168.56.11"
# what ip_addrs() answers on the fixed host: public first, as on a cloud VM's eth0
HOST = [PUBLIC, LINK_LOCAL, PRIVATE_10, PRIVATE_192]
BY_INTERFACE = {None: HOST, "eth0": [PUBLIC], "eth1": [PRIVATE_10], "eth2": [PRIVATE_192], "lxcbr0": []}


@pytest.fixture
def pillar():
    return {"webstack": {"network": {"private_cidr": "", "private_interface": ""}}}


@pytest.fixture
def configure_loader_modules(pillar):
    return {net: {"__pillar__": pillar, "__opts__": {"test": False}, "__utils__": UTILS}}


@pytest.fixture
def host():
    """The fixed host's addresses per interface (``None``: all of them); a test may change it."""
    return {iface: list(addrs) for iface, addrs in BY_INTERFACE.items()}


@pytest.fixture
def ip_addrs(host):
    """``salt.utils.network.ip_addrs`` with its real signature, answering from ``host``."""
    mock = create_autospec(salt.utils.network.ip_addrs,
                           side_effect=lambda interface=None, include_loopback=False, interface_data=None:
                           list(host.get(interface, [])))
    with patch.object(salt.utils.network, "ip_addrs", mock):
        yield mock


def test_default_is_the_first_private_address_not_the_public_one(ip_addrs):
    assert net.private_address() == PRIVATE_10
    ip_addrs.assert_called_once_with(interface=None, include_loopback=False)


def test_loopback_and_link_local_never_count(ip_addrs, host):
    host["br0"] = ["127.0.0.1", LINK_LOCAL, PRIVATE_192]
    assert net.private_address(interface="br0") == PRIVATE_192
    # not even when the asked-for network holds them
    assert net.private_address(cidr="0.0.0.0/0", interface="br0") == PRIVATE_192
    host["br0"] = ["127.0.0.1", LINK_LOCAL]
    with pytest.raises(CommandExecutionError, match="on br0"):
        net.private_address(cidr="0.0.0.0/0", interface="br0")


@pytest.mark.parametrize(
    "cidr, expected",
    [("192.168.56.0/24", PRIVATE_192), ("10.0.0.0/8", PRIVATE_10), ("93.184.216.0/24", PUBLIC),
     ("192.168.56.11/32", PRIVATE_192), ("10.0.5.200/8", PRIVATE_10)],
    ids=["private-192", "private-10", "public-network-asked-for", "single-host", "host-bits-set"],
)
def test_cidr_picks_the_address_in_that_network(ip_addrs, cidr, expected):
    assert net.private_address(cidr=cidr) == expected


def test_interface_is_passed_to_ip_addrs(ip_addrs):
    assert net.private_address(interface="eth2") == PRIVATE_192
    ip_addrs.assert_called_once_with(interface="eth2", include_loopback=False)


def test_pillar_cidr_is_the_default(ip_addrs, pillar):
    pillar["webstack"]["network"]["private_cidr"] = "192.168.0.0/16"
    assert net.private_address() == PRIVATE_192
    # an argument wins over the pillar
    assert net.private_address(cidr="10.0.0.0/8") == PRIVATE_10


def test_pillar_interface_is_the_default(ip_addrs, pillar):
    pillar["webstack"]["network"]["private_interface"] = "eth1"
    assert net.private_address() == PRIVATE_10
    ip_addrs.assert_called_once_with(interface="eth1", include_loopback=False)
    assert net.private_address(interface="eth2") == PRIVATE_192


@pytest.mark.parametrize("webstack", [{}, {"network": None}, {"network": "eth1"}, "not-a-mapping"],
                         ids=["no-network", "network-null", "network-string", "webstack-string"])
def test_missing_or_odd_pillar_falls_back_to_the_first_private(ip_addrs, pillar, webstack):
    pillar["webstack"] = webstack
    assert net.private_address() == PRIVATE_10


def test_nothing_private_names_what_was_looked_for_and_what_there_is(ip_addrs):
    with pytest.raises(CommandExecutionError) as err:
        net.private_address(interface="eth0")  # only a public address there
    message = str(err.value)
    assert "on eth0" in message
    assert f"have: {PUBLIC}" in message
    assert "webstack:network:private_cidr" in message

    with pytest.raises(CommandExecutionError) as err:
        net.private_address(cidr="172.16.0.0/12")
    message = str(err.value)
    assert "in 172.16.0.0/12" in message
    assert f"have: {', '.join(HOST)}" in message

    with pytest.raises(CommandExecutionError) as err:
        net.private_address(cidr="192.168.56.0/24", interface="eth1")
    assert "in 192.168.56.0/24 and on eth1" in str(err.value)


def test_no_address_at_all_says_none(ip_addrs):
    with pytest.raises(CommandExecutionError, match=r"on lxcbr0.* \(have: none\)"):
        net.private_address(interface="lxcbr0")
    with pytest.raises(CommandExecutionError, match=r"\(have: none\)"):
        net.private_address(interface="eth9")  # ip_addrs answers [] for an unknown interface


def test_only_public_addresses_without_a_setting_is_an_error(ip_addrs, host):
    host[None] = [PUBLIC]
    with pytest.raises(CommandExecutionError, match=r"^no private IPv4 address on this host"):
        net.private_address()


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "10.0.0", "eth1", "10.0.0.0/8; rm -rf /"])
def test_invalid_cidr_is_a_clear_error(ip_addrs, pillar, cidr):
    with pytest.raises(CommandExecutionError) as err:
        net.private_address(cidr=cidr)
    assert str(err.value) == f"private_cidr {cidr!r}: expected a network such as 10.0.0.0/8"
    ip_addrs.assert_not_called()
    # the same from the pillar
    pillar["webstack"]["network"]["private_cidr"] = cidr
    with pytest.raises(CommandExecutionError, match=r"^private_cidr .*expected a network"):
        net.private_address()


@pytest.mark.parametrize("interface", ["eth 1", "eth1;reboot", "../../etc", "x" * 33])
def test_invalid_interface_is_a_clear_error(ip_addrs, interface):
    with pytest.raises(CommandExecutionError) as err:
        net.private_address(interface=interface)
    assert str(err.value) == f"private_interface {interface!r}: expected an interface name such as eth1"
    ip_addrs.assert_not_called()


def test_what_is_published_is_what_the_peers_accept(ip_addrs, host):
    """The ranges a peer checks the mine's address against (webstack_schema.PRIVATE_NETWORKS): a
    documentation address, private to Python, is not a node's; RFC 6598's shared space is."""
    host[None] = ["192.0.2.10", "198.18.0.5", "100.64.3.4", PRIVATE_10]
    assert net.private_address() == "100.64.3.4"
    host[None] = ["192.0.2.10"]
    with pytest.raises(CommandExecutionError, match=r"^no private IPv4 address on this host \(have: 192.0.2.10\)"):
        net.private_address()
