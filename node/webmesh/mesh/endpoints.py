"""Choosing the WireGuard endpoints a node advertises, from its interface addresses.

Pure: the caller lists the host's addresses (``(interface, ip)`` pairs); this decides which of
them peers could dial.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence


def format_endpoint(host: str, port: int) -> str:
    """``ip:port``, with brackets around an IPv6 address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"{host}:{port}"
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); raises ValueError without a port."""
    host, _, port = endpoint.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def with_port(endpoint: str, port: int) -> str:
    """Add the default port to a bare host ("1.2.3.4", "[fd::1]", "fd::1", "host.example")."""
    if endpoint.startswith("["):
        return endpoint if "]:" in endpoint else f"{endpoint}:{port}"
    if endpoint.count(":") == 1:
        return endpoint
    if endpoint.count(":") > 1:
        return format_endpoint(endpoint, port)
    return f"{endpoint}:{port}"


def is_detectable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, private: bool) -> bool:
    """Whether a peer could plausibly dial this address."""
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    if ip.is_private or (ip.version == 6 and ip in ipaddress.ip_network("fc00::/7")):
        return private
    return ip.is_global


def detect_endpoints(
    addresses: Iterable[tuple[str, str]],
    *,
    port: int,
    include_private: bool,
    include_ipv6: bool,
    exclude_interfaces: Sequence[str] = (),
    exclude_networks: Sequence[str] = (),
) -> tuple[str, ...]:
    """Endpoints from the host's addresses: public ones, and private ones when asked; IPv4 first."""
    excluded = [ipaddress.ip_network(n) for n in exclude_networks]
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for interface, text in addresses:
        if interface in exclude_interfaces:
            continue
        ip = ipaddress.ip_address(text.split("%")[0])
        if ip.version == 6 and not include_ipv6:
            continue
        if any(ip in n for n in excluded) or not is_detectable(ip, private=include_private):
            continue
        if ip not in found:
            found.append(ip)
    found.sort(key=lambda ip: (ip.version, int(ip)))
    return tuple(format_endpoint(str(ip), port) for ip in found)


def advertised_endpoints(
    *, primary: str, extra: Sequence[str], detected: Sequence[str], port: int
) -> tuple[str, ...]:
    """The final list: the configured primary first, then configured extras, then detected ones."""
    result: list[str] = []
    for endpoint in (primary, *extra, *detected):
        if endpoint:
            full = with_port(endpoint, port)
            if full not in result:
                result.append(full)
    return tuple(result)
