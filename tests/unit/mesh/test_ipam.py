from __future__ import annotations

import ipaddress

import pytest

from webmesh import errors
from webmesh.mesh import ipam


def test_sequential_ipv4() -> None:
    used: set[str] = set()
    got = []
    for _ in range(3):
        address = ipam.allocate_ipv4("172.16.0.0/12", used, len(used))
        used.add(address)
        got.append(address)
    assert got == ["172.16.0.1/32", "172.16.0.2/32", "172.16.0.3/32"]


def test_ipv4_reuses_holes_and_exhausts() -> None:
    used = {"10.0.0.1/32", "10.0.0.2/32"}
    assert ipam.allocate_ipv4("10.0.0.0/30", {"10.0.0.2/32"}, 1) == "10.0.0.1/32"
    with pytest.raises(errors.Exhausted, match="no free address"):
        ipam.allocate_ipv4("10.0.0.0/30", used, 2)


@pytest.mark.parametrize("bad", ["nope", "10.0.0.1/8", "fd00::/48", "10.0.0.0/31"])
def test_bad_ipv4_network(bad: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        ipam.allocate_ipv4(bad, set(), 0)


def test_ipv6_subnets_skip_zero() -> None:
    first = ipam.allocate_ipv6("fd00:1:2::/48", set(), 0)
    assert first == "fd00:1:2:1::/64"
    second = ipam.allocate_ipv6("fd00:1:2::/48", {first}, 1)
    assert second == "fd00:1:2:2::/64"
    assert ipam.interface_address(first) == "fd00:1:2:1::1"


def test_random_ula_is_a_ula48() -> None:
    net = ipaddress.ip_network(ipam.random_ula48(bytes(range(5))))
    assert net.prefixlen == 48 and net.subnet_of(ipaddress.ip_network("fd00::/8"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="40 bits"):
        ipam.random_ula48(b"123")


def test_contains() -> None:
    assert ipam.contains("172.16.0.0/12", "172.16.0.9/32")
    assert not ipam.contains("172.16.0.0/12", "10.0.0.1/32")
    assert not ipam.contains("172.16.0.0/12", "fd00::/64")
