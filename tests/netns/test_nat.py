"""Direct paths through NAT: two nodes behind two home routers, each joined with the quick
start's flags (no endpoint), reach each other without the relay.

The lab: a server on the "internet" (the lab's LAN); two private LANs, each behind a router
namespace that masquerades (nftables, Linux's default mapping: source ports kept when they can
be) and drops what comes in unasked, as home routers do. The servers see each node's traffic
come from its router's public address (its observed endpoint); the two nodes then punch: each
sends WireGuard handshakes to the other's observed endpoint, which opens its own router for
the other's. A direct path shows in the TTL of a ping reply (64: no hop; through the relay 63,
the relay forwards) and in ``wmctl get graph``. With one router drawing a random port per
connection (a symmetric NAT), the punch cannot work: the pair stays relayed, and still pings.
"""

from __future__ import annotations

import json
import time

import pytest

from support.netlab import QUICKSTART_FLAGS, Host, Lab, Nat
from support.wait import eventually

pytestmark = pytest.mark.netns

JOIN = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap-node:8443")
WMCTL = ("--insecure", "--server", "127.0.0.1:8443")
DIRECT_WITHIN = 5.0  # seconds from the second join (the bar)


def edge(server: Host, a: str, b: str) -> dict[str, str]:
    out = server.wmctl(*WMCTL, "get", "graph", "--format", "json")
    for e in json.loads(out.stdout)["edges"]:
        if {e["source"], e["target"]} == {a, b}:
            return dict(e)
    return {}


def observed(server: Host, node_id: str) -> str:
    out = server.wmctl(*WMCTL, "get", "node", node_id, "-o", "json")
    return str(json.loads(out.stdout).get("observedEndpoint", ""))


def two_nodes_behind_nats(lab: Lab, *, symmetric: bool) -> tuple[Host, Host, Host, Nat, Nat]:
    server = lab.add_host("bootstrap-node")
    home, office = lab.add_nat("192.168.71"), lab.add_nat("192.168.72", symmetric=symmetric)
    b = lab.add_host("node-b", behind=home)
    c = lab.add_host("node-c", behind=office)
    server.node(*QUICKSTART_FLAGS, "--bootstrap.enabled")
    server.wait_port(8443)
    return server, b, c, home, office


def both_joined(lab: Lab, *, symmetric: bool) -> tuple[Host, Host, Host, Nat, Nat, str, str]:
    """``two_nodes_behind_nats`` with both nodes joined: + node-b's and node-c's mesh IPs."""
    server, b, c, home, office = two_nodes_behind_nats(lab, symmetric=symmetric)
    b.node(*JOIN).wait_line("joined the mesh")
    c.node(*JOIN).wait_line("joined the mesh")
    return server, b, c, home, office, b.wait_mesh_ip(), c.wait_mesh_ip()


def test_two_nodes_behind_nats_find_a_direct_path() -> None:
    with Lab("10.216.0") as lab:
        server, b, c, home, office = two_nodes_behind_nats(lab, symmetric=False)
        b.node(*JOIN).wait_line("joined the mesh")
        # the node learns its public address from the server (it advertised none)
        assert observed(server, "node-b") == f"{home.wan_ip}:51820"
        assert f"observed={home.wan_ip}:51820" in b.processes[0].log.read_text()

        second_join = c.node(*JOIN).wait_line("joined the mesh")
        c_ip, b_ip = c.wait_mesh_ip(), b.wait_mesh_ip()
        assert observed(server, "node-c") == f"{office.wan_ip}:51820"
        eventually(
            lambda: b.ping_ttl(c_ip) == 64 and c.ping_ttl(b_ip) == 64,
            timeout=30,
            interval=0.1,
            what=lambda: f"a direct path b <-> c\n{edge(server, 'node-b', 'node-c')}\n{lab.logs()}",
        )
        took = time.monotonic() - second_join
        print(f"direct ping {took:.2f}s after the second join was acknowledged")
        found = edge(server, "node-b", "node-c")
        assert found["path"] == "direct" and not found.get("relayedBy"), found
        assert "hole punched" in found["why"]
        assert took < DIRECT_WITHIN, f"direct only {took:.2f}s after the second join"


def test_a_symmetric_nat_stays_relayed_and_still_pings() -> None:
    with Lab("10.217.0") as lab:
        server, b, c, _, _, b_ip, c_ip = both_joined(lab, symmetric=True)
        eventually(lambda: b.ping_ttl(c_ip) == 63, timeout=20, what=lab.logs)
        deadline = time.monotonic() + 2 * DIRECT_WITHIN
        while time.monotonic() < deadline:  # long past when a punch would have worked
            assert b.ping_ttl(c_ip) == 63 and c.ping_ttl(b_ip) == 63
        found = edge(server, "node-b", "node-c")
        assert found["relayedBy"] == "bootstrap-node" and found["path"] != "direct", found
        print(f"symmetric NAT: {found}")


def test_a_node_that_moves_is_observed_anew_and_punches_again() -> None:
    """node-b's router gets another public address (a laptop carried to another network): the
    server's WireGuard sees node-b's traffic come from there, the mesh records it, the pair's
    direct path is voided and punched again at the new address."""
    with Lab("10.218.0") as lab:
        server, b, c, home, _, b_ip, c_ip = both_joined(lab, symmetric=False)
        eventually(lambda: b.ping_ttl(c_ip) == 64, timeout=30, what=lab.logs)

        moved = f"{lab.subnet}.211"
        wan = f"{lab.tag}w1"
        # (deleting a primary address deletes its secondaries: the old one goes first)
        home.run("ip", "addr", "del", f"{home.wan_ip}/24", "dev", wan)
        home.run("ip", "addr", "add", f"{moved}/24", "dev", wan)
        moved_at = time.monotonic()
        eventually(
            lambda: observed(server, "node-b") == f"{moved}:51820",
            timeout=30,
            what=lambda: f"node-b observed at {moved}\n{lab.logs()}",
        )
        eventually(
            lambda: b.ping_ttl(c_ip) == 64 and c.ping_ttl(b_ip) == 64,
            timeout=30,
            what=lambda: f"direct again\n{edge(server, 'node-b', 'node-c')}\n{lab.logs()}",
        )
        print(f"direct again {time.monotonic() - moved_at:.1f}s after node-b's router moved")
        assert edge(server, "node-b", "node-c")["path"] == "direct"


def test_a_direct_path_that_stops_working_falls_back_to_the_relay() -> None:
    """The office router starts dropping what node-b's router sends (a NAT that forgot the
    mapping): node-c hears nothing on the direct path, the pair goes back to the relay by
    itself (within a minute: two keepalives missed), and pings again."""
    with Lab("10.219.0") as lab:
        server, b, c, home, office, b_ip, c_ip = both_joined(lab, symmetric=False)
        eventually(lambda: b.ping_ttl(c_ip) == 64, timeout=30, what=lab.logs)

        rule = f"ip saddr {home.wan_ip} udp dport 51820 drop"
        office.run(
            "nft", "insert", "rule", "inet", "webmesh_lab_firewall", "forward", *rule.split()
        )
        cut = time.monotonic()
        eventually(
            lambda: c.ping_ttl(b_ip) == 63 and b.ping_ttl(c_ip) == 63,
            timeout=120,
            interval=1.0,
            what=lambda: f"relayed again\n{edge(server, 'node-b', 'node-c')}\n{lab.logs()}",
        )
        print(f"relayed again {time.monotonic() - cut:.0f}s after the direct path broke")
        assert edge(server, "node-b", "node-c")["relayedBy"] == "bootstrap-node"
