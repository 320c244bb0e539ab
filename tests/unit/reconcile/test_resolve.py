"""Peer endpoints given as host names reach WireGuard as addresses (it takes only ip:port)."""

from __future__ import annotations

import logging

import pytest

from webmesh.mesh.feed import PeerDelta, StaticFeed
from webmesh.mesh.peers import Peer
from webmesh.reconcile.desired import LocalInterface
from webmesh.reconcile.loop import Reconciler
from webmesh.reconcile.resolve import EndpointResolver, getaddrinfo_lookup
from webmesh.wg.fake import FakeDriver, FakeLinks

KEY_A, KEY_B = "A" * 43 + "=", "B" * 43 + "="


def peer(endpoint: str, key: str = KEY_A, node_id: str = "a") -> Peer:
    return Peer(node_id, key, endpoint, ("172.16.0.2/32",))


class FakeDns:
    """A lookup with answers per name; counts the lookups; names not listed fail."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return self.answers[host]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_literal_addresses_pass_through_without_a_lookup() -> None:
    dns = FakeDns({})
    resolver = EndpointResolver(dns)
    for endpoint in ("10.0.0.1:51820", "[fd00::1]:51820", ""):
        assert await resolver.endpoint(endpoint) == endpoint
    assert dns.calls == []


async def test_a_name_resolves_preferring_ipv4() -> None:
    dns = FakeDns({"wg-0.example.com": ["2001:db8::7", "203.0.113.7"], "v6.example": ["fd00::9"]})
    resolver = EndpointResolver(dns)
    assert await resolver.endpoint("wg-0.example.com:51820") == "203.0.113.7:51820"
    assert await resolver.endpoint("v6.example:4000") == "[fd00::9]:4000"


async def test_answers_are_cached_for_the_ttl_then_looked_up_again() -> None:
    dns = FakeDns({"lb.example": ["203.0.113.7"]})
    clock = Clock()
    resolver = EndpointResolver(dns, ttl=60, clock=clock)
    assert await resolver.endpoint("lb.example:51820") == "203.0.113.7:51820"
    dns.answers["lb.example"] = ["203.0.113.8"]
    clock.now += 59
    assert await resolver.endpoint("lb.example:51820") == "203.0.113.7:51820"
    clock.now += 2
    assert await resolver.endpoint("lb.example:51820") == "203.0.113.8:51820"
    assert dns.calls == ["lb.example", "lb.example"]


async def test_an_unresolvable_name_leaves_no_endpoint_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolver = EndpointResolver(FakeDns({}))
    with caplog.at_level(logging.WARNING, logger="webmesh.reconcile"):
        assert await resolver.endpoint("gone.example:51820") == ""
    assert "cannot resolve peer endpoint endpoint=gone.example:51820" in caplog.text


async def test_deltas_keep_their_shape() -> None:
    resolver = EndpointResolver(FakeDns({"b.example": ["198.51.100.2"]}))
    full = await resolver.delta(
        PeerDelta(full=(peer("10.0.0.1:1"), peer("b.example:2", KEY_B, "b")))
    )
    assert full.full is not None
    assert [p.endpoint for p in full.full] == ["10.0.0.1:1", "198.51.100.2:2"]
    changes = await resolver.delta(
        PeerDelta(changes={"b": peer("b.example:2", KEY_B, "b"), "c": None})
    )
    assert changes.full is None
    assert changes.changes["c"] is None
    assert changes.changes["b"] is not None and changes.changes["b"].endpoint == "198.51.100.2:2"


async def test_the_system_resolver_reads_the_hosts_file() -> None:
    assert "127.0.0.1" in await getaddrinfo_lookup("localhost", 51820)


async def test_the_device_gets_the_address_of_a_named_endpoint() -> None:
    driver = FakeDriver()
    local = LocalInterface(
        name="wm-test", private_key=KEY_B, listen_port=51820, mtu=1420,
        addresses=("172.16.0.1/12",), networks=("172.16.0.0/12",),
    )  # fmt: skip
    reconciler = Reconciler(
        driver=driver,
        links=FakeLinks(driver=driver),
        local=local,
        feed=StaticFeed([peer("localhost:51821")]),
        resolver=EndpointResolver(getaddrinfo_lookup),
    )
    await reconciler.bring_up()
    state = await driver.show("wm-test")
    assert [p.endpoint for p in state.peers] == ["127.0.0.1:51821"]
