"""Address management: sequential IPv4 /32s and IPv6 /64s for nodes, and the mesh's ULA /48.

Pure functions. The proposer allocates (it sees the latest state), the state machine only checks
that an address is free, so two racing joins can never both get one address.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Container

from webmesh import errors

IPV6_NODE_PREFIX = 64


def random_ula48(random40: bytes) -> str:
    """An RFC 4193 unique local /48 from 40 random bits (the caller supplies the randomness)."""
    if len(random40) != 5:
        raise ValueError("a ULA global id is exactly 40 bits")
    value = (0xFD << 120) | (int.from_bytes(random40, "big") << 80)
    return str(ipaddress.IPv6Network((value, 48)))


@functools.lru_cache(maxsize=64)
def _network(cidr: str, *, strict: bool) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A parsed network, cached: the mesh's own networks are parsed on every join and every
    apply otherwise (networks are immutable, so sharing them is safe)."""
    return ipaddress.ip_network(cidr, strict=strict)


def parse_ipv4_network(cidr: str) -> ipaddress.IPv4Network:
    try:
        network = _network(cidr, strict=True)
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid IPv4 network {cidr!r}: {exc}") from exc
    if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen > 30:
        raise errors.InvalidArgument(f"invalid IPv4 network {cidr!r}: need an IPv4 /30 or larger")
    return network


def parse_ipv6_network(cidr: str) -> ipaddress.IPv6Network:
    try:
        network = _network(cidr, strict=True)
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid IPv6 network {cidr!r}: {exc}") from exc
    if not isinstance(network, ipaddress.IPv6Network) or network.prefixlen > IPV6_NODE_PREFIX - 1:
        raise errors.InvalidArgument(f"invalid IPv6 network {cidr!r}: need an IPv6 /63 or larger")
    return network


def allocate_ipv4(network_cidr: str, used: Container[str], count_hint: int) -> str:
    """The first free /32 of the network, trying offset ``count_hint + 1`` first.

    With sequential allocation and no holes that first guess is free, so a join costs O(1) even in a
    very large mesh; holes left by departed nodes are reused once the end of the range is reached.
    """
    network = parse_ipv4_network(network_cidr)
    first, last = int(network.network_address) + 1, int(network.broadcast_address) - 1
    size = last - first + 1
    start = (count_hint % size) if size > 0 else 0
    for step in range(size):
        candidate = f"{ipaddress.IPv4Address(first + (start + step) % size)}/32"
        if candidate not in used:
            return candidate
    raise errors.Exhausted(f"the IPv4 network {network_cidr} has no free address left")


def allocate_ipv6(network_cidr: str, used: Container[str], count_hint: int) -> str:
    """The first free /64 of the mesh's IPv6 network (subnet 0 is never handed out)."""
    network = parse_ipv6_network(network_cidr)
    subnets = 1 << (IPV6_NODE_PREFIX - network.prefixlen)
    base = int(network.network_address)
    usable = subnets - 1
    start = count_hint % usable
    for step in range(usable):
        index = 1 + (start + step) % usable
        candidate = str(ipaddress.IPv6Network((base + (index << (128 - IPV6_NODE_PREFIX)), 64)))
        if candidate not in used:
            return candidate
        if step > 1_000_000:
            break
    raise errors.Exhausted(f"the IPv6 network {network_cidr} has no free /64 left")


def interface_address(prefix: str) -> str:
    """The address a node puts on its own interface for its allocated prefix.

    An IPv4 /32 is itself; an IPv6 /64 uses its first host (``prefix::1``).
    """
    network = ipaddress.ip_network(prefix, strict=False)
    if network.version == 4:
        return str(network.network_address)
    return str(network.network_address + 1)


def contains(network_cidr: str, prefix: str) -> bool:
    """Whether ``prefix`` lies inside ``network_cidr`` (False across IP versions)."""
    network = _network(network_cidr, strict=False)
    inner = ipaddress.ip_network(prefix, strict=False)
    return network.version == inner.version and inner.subnet_of(network)  # type: ignore[arg-type]
