"""Real WireGuard: two namespaces, wireguard-go in each via the userspace driver, ping across.

Then the peer is removed with ``configure`` and the ping must stop: the plan is applied for real.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest
from tests.netns.wg.conftest import Agent, eventually, run, succeeds, unique

from webmesh.wg import keys

pytestmark = pytest.mark.netns


def desired(
    private: str, peer_public: str, endpoint: str, mesh_ips: list[str]
) -> dict[str, object]:
    peer = {"public_key": peer_public, "endpoint": endpoint, "allowed_ips": mesh_ips}
    return {"private_key": private, "listen_port": 51820, "peers": [peer]}


async def test_two_namespaces_ping_over_wireguard_go(
    netns_pair: tuple[str, str], agents: tuple[Agent, Agent]
) -> None:
    (ns_a, ns_b), (a, b) = netns_pair, agents
    underlay = f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}"
    iface = unique("wt")
    ifaces = (f"{iface}a", f"{iface}b")
    for n, ns in enumerate(netns_pair, 1):
        run("ip", "-n", ns, "addr", "add", f"{underlay}.{n}/24", "dev", "veth0")
        run("ip", "-n", ns, "link", "set", "veth0", "up")
    priv_a, priv_b = keys.generate_private_key(), keys.generate_private_key()
    pub_a, pub_b = keys.public_key(priv_a), keys.public_key(priv_b)

    assert isinstance(await a.call("create", iface=ifaces[0], mtu=1420), int)
    await a.call("create", iface=ifaces[0], mtu=1420)  # idempotent
    await b.call("create", iface=ifaces[1], mtu=1420)
    plan_a = await a.call(
        "configure",
        iface=ifaces[0],
        desired=desired(priv_a, pub_b, f"{underlay}.2:51820", ["172.16.0.2/32", "fd12::2/128"]),
    )
    assert plan_a == "set private_key, listen_port, add 1 peer, update 0 peers, remove 0 peers"
    await b.call(
        "configure",
        iface=ifaces[1],
        desired=desired(priv_b, pub_a, f"{underlay}.1:51820", ["172.16.0.1/32", "fd12::1/128"]),
    )
    await a.call("addresses", iface=ifaces[0], prefixes=["172.16.0.1/12", "fd12::1/48"])
    await b.call("addresses", iface=ifaces[1], prefixes=["172.16.0.2/12", "fd12::2/48"])
    await a.call("routes", iface=ifaces[0], cidrs=["172.16.0.2/32", "10.99.0.0/16"])

    await a.call("routes", iface=ifaces[0], cidrs=["172.16.0.2/32", "10.99.0.0/16"])  # idempotent
    routes = _out("ip", "-n", ns_a, "-4", "route", "show", "dev", ifaces[0])
    assert "10.99.0.0/16" in routes and "172.16.0.2" not in routes  # covered by the /12
    await a.call("routes", iface=ifaces[0], cidrs=[])
    assert "10.99.0.0/16" not in _out("ip", "-n", ns_a, "-4", "route", "show", "dev", ifaces[0])
    assert [ifaces[0], "172.16.0.1"] in await a.call("host_addresses")
    await a.call("forwarding")
    assert _out("ip", "netns", "exec", ns_a, "sysctl", "-n", "net.ipv4.ip_forward") == "1"

    ping_a_to_b = ("ip", "netns", "exec", ns_a, "ping", "-c1", "-W1", "172.16.0.2")
    await eventually(lambda: succeeds(*ping_a_to_b), timeout=15)
    await eventually(
        lambda: succeeds("ip", "netns", "exec", ns_b, "ping", "-6", "-c1", "-W1", "fd12::1"),
        timeout=15,
    )
    (peer,) = (await a.call("show", iface=ifaces[0]))["peers"]
    assert peer["public_key"] == pub_b and peer["last_handshake"] > 0 and peer["rx_bytes"] > 0
    # The same name in another namespace is refused: /var/run/wireguard is shared.
    with pytest.raises(RuntimeError, match="already in use"):
        await b.call("create", iface=ifaces[0], mtu=1420)

    desired_a = desired(priv_a, pub_b, "", [])
    desired_a["peers"] = []
    assert await a.call("configure", iface=ifaces[0], desired=desired_a) == (
        "add 0 peers, update 0 peers, remove 1 peer"
    )
    await eventually(lambda: _not(succeeds(*ping_a_to_b)), timeout=10)
    assert await a.call("configure", iface=ifaces[0], desired=desired_a) == "no changes"

    await a.call("delete", iface=ifaces[0])
    await a.call("delete", iface=ifaces[0])  # idempotent
    assert not await succeeds("ip", "-n", ns_a, "link", "show", ifaces[0])


def _out(*args: str) -> str:
    return subprocess.run(
        args, check=True, capture_output=True, text=True, timeout=10
    ).stdout.strip()


async def _not(result: object) -> bool:
    return not await result  # type: ignore[misc]


async def test_wireguard_go_early_exit_reports_its_output(agents: tuple[Agent, Agent]) -> None:
    a, _ = agents
    with pytest.raises(RuntimeError, match="exited with"):
        await a.call("create", iface="x" * 20, mtu=1420)  # longer than IFNAMSIZ
