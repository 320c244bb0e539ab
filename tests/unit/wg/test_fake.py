"""The fake driver behaves like a device: plans converge, allowed IPs move, roaming survives."""

from __future__ import annotations

import pytest

from webmesh.wg import keys
from webmesh.wg.config import DeviceConfig, PeerConfig
from webmesh.wg.driver import open_driver
from webmesh.wg.errors import WireGuardError
from webmesh.wg.fake import FakeDriver, FakeLinks
from webmesh.wg.plan import Plan

PRIV = keys.generate_private_key()
A, B = sorted(keys.public_key(keys.generate_private_key()) for _ in range(2))


async def test_configure_converges_and_records_plans() -> None:
    driver = FakeDriver()
    await driver.create("wm0", mtu=1420)
    desired = DeviceConfig(PRIV, 51820, (PeerConfig(A, "10.0.0.1:51820", ("172.16.0.1/32",)),))
    first = await driver.configure("wm0", desired)
    assert (
        first.describe()
        == "set private_key, listen_port, add 1 peer, update 0 peers, remove 0 peers"
    )
    assert (await driver.configure("wm0", desired)).empty
    state = await driver.show("wm0")
    assert state.public_key == keys.public_key(PRIV)
    assert [p.allowed_ips for p in state.peers] == [("172.16.0.1/32",)]
    assert driver.applied == [("wm0", first)]


async def test_allowed_ip_moves_between_peers() -> None:
    driver = FakeDriver()
    await driver.create("wm0", mtu=1420)
    both = (PeerConfig(A, allowed_ips=("10.9.0.0/16",)), PeerConfig(B))
    await driver.configure("wm0", DeviceConfig(PRIV, 1, both))
    moved = (PeerConfig(A), PeerConfig(B, allowed_ips=("10.9.0.0/16",)))
    await driver.configure("wm0", DeviceConfig(PRIV, 1, moved))
    state = await driver.show("wm0")
    assert [(p.public_key, p.allowed_ips) for p in state.peers] == [(A, ()), (B, ("10.9.0.0/16",))]


async def test_roamed_endpoint_is_kept_when_desired_has_none() -> None:
    driver = FakeDriver()
    await driver.create("wm0", mtu=1420)
    desired = DeviceConfig(PRIV, 1, (PeerConfig(A),))
    await driver.configure("wm0", desired)
    driver.observe("wm0", A, endpoint="192.0.2.7:4000", last_handshake=5.0)
    assert (await driver.configure("wm0", desired)).empty
    assert (await driver.show("wm0")).peers[0].endpoint == "192.0.2.7:4000"


async def test_missing_device_and_injected_failure() -> None:
    driver = FakeDriver()
    with pytest.raises(WireGuardError, match="create"):
        await driver.show("nope")
    driver.fail = WireGuardError("boom")
    with pytest.raises(WireGuardError, match="boom"):
        await driver.create("wm0", mtu=1280)
    await driver.create("wm0", mtu=1280)  # the failure fires once
    await driver.delete("wm0")
    await driver.delete("wm0")  # idempotent
    assert driver.devices == {}


async def test_fake_links_follow_the_driver() -> None:
    driver = FakeDriver()
    links = FakeLinks(driver=driver, host_addresses=[("eth0", "192.0.2.2")])
    with pytest.raises(WireGuardError, match="no network interface"):
        await links.set_addresses("wm0", ["172.16.0.1/12"])
    await driver.create("wm0", mtu=1420)
    await links.set_addresses("wm0", ["172.16.0.1/12"])
    await links.set_routes("wm0", ["172.16.0.9/32", "10.50.0.0/16"])
    await links.enable_forwarding(ipv4=True, ipv6=False)
    assert links.routes["wm0"] == ("10.50.0.0/16",)
    assert links.forwarding == {4: True, 6: False}
    assert await links.interface_addresses() == [("eth0", "192.0.2.2"), ("wm0", "172.16.0.1")]


def test_open_driver() -> None:
    assert isinstance(open_driver("fake"), FakeDriver)
    with pytest.raises(WireGuardError, match="unknown WireGuard backend"):
        open_driver("magic")
    with pytest.raises(WireGuardError, match="not on PATH"):
        open_driver("userspace", wireguard_go="no-such-wireguard-go")


def test_plan_of_fake_is_plain_data() -> None:
    assert Plan().empty
