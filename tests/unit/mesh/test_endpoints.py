from __future__ import annotations

import pytest

from webmesh.mesh import endpoints

ADDRS = [
    ("lo", "127.0.0.1"),
    ("eth0", "10.213.0.1"),
    ("eth0", "203.0.113.7"),  # documentation range: not global
    ("eth1", "8.8.4.4"),
    ("eth0", "fe80::1%eth0"),
    ("eth0", "fd00::5"),
    ("eth0", "2001:4860::1"),
    ("webmesh0", "172.16.0.1"),
]


def test_public_only_by_default() -> None:
    got = endpoints.detect_endpoints(ADDRS, port=51820, include_private=False, include_ipv6=True)
    assert got == ("8.8.4.4:51820", "[2001:4860::1]:51820")


def test_private_and_exclusions() -> None:
    got = endpoints.detect_endpoints(
        ADDRS,
        port=51820,
        include_private=True,
        include_ipv6=False,
        exclude_interfaces=("webmesh0",),
        exclude_networks=("172.16.0.0/12",),
    )
    assert got == ("8.8.4.4:51820", "10.213.0.1:51820", "203.0.113.7:51820")


@pytest.mark.parametrize(
    ("raw", "full"),
    [
        ("1.2.3.4", "1.2.3.4:51820"),
        ("1.2.3.4:9", "1.2.3.4:9"),
        ("fd00::1", "[fd00::1]:51820"),
        ("[fd00::1]", "[fd00::1]:51820"),
        ("[fd00::1]:7", "[fd00::1]:7"),
        ("host.example", "host.example:51820"),
    ],
)
def test_with_port(raw: str, full: str) -> None:
    assert endpoints.with_port(raw, 51820) == full


def test_advertised_order_and_dedup() -> None:
    got = endpoints.advertised_endpoints(
        primary="9.9.9.9",
        extra=["1.1.1.1:5"],
        detected=["9.9.9.9:51820", "8.8.8.8:51820"],
        port=51820,
    )
    assert got == ("9.9.9.9:51820", "1.1.1.1:5", "8.8.8.8:51820")
