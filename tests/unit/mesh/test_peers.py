"""Peer computation: direct peers, relays for nodes that both lack an endpoint, the graph."""

from __future__ import annotations

import base64

from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node
from webmesh.mesh.peers import Edge, mesh_graph, peers_of, relays_traffic
from webmesh.mesh.state import MeshState, apply


def key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


def mesh(*nodes: Node) -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(Networks("172.16.0.0/12", "", "x"))).state
    for n in nodes:
        t = apply(state, commands.PutNode(n))
        assert t.result.ok, t.result
        state = t.state
    return state


def make(
    node_id: str, n: int, endpoint: str = "", joined: float = 0.0, routes: tuple[str, ...] = ()
) -> Node:
    return Node(
        id=node_id,
        public_key=key(n),
        ipv4=f"172.16.0.{n}/32",
        endpoints=(endpoint,) if endpoint else (),
        joined_at=joined or float(n),
        routes=routes,
    )


def test_quick_start_pair() -> None:
    boot = make("boot", 1, "10.0.0.1:51820")
    joiner = make("joiner", 2)
    state = mesh(boot, joiner)
    (to_boot,) = peers_of(state, "joiner")
    assert (to_boot.node_id, to_boot.endpoint, to_boot.allowed_ips) == (
        "boot",
        "10.0.0.1:51820",
        ("172.16.0.1/32",),
    )
    (to_joiner,) = peers_of(state, "boot")
    assert (to_joiner.node_id, to_joiner.endpoint, to_joiner.allowed_ips) == (
        "joiner",
        "",
        ("172.16.0.2/32",),
    )
    assert not relays_traffic(state, "boot")


def test_nodes_without_endpoints_go_through_the_oldest_relay() -> None:
    state = mesh(
        make("r1", 1, "10.0.0.1:1"), make("r2", 2, "10.0.0.2:1"), make("a", 3), make("b", 4)
    )
    by_id = {p.node_id: p for p in peers_of(state, "a")}
    assert set(by_id) == {"r1", "r2"}  # no direct peer b
    assert by_id["r1"].allowed_ips == ("172.16.0.1/32", "172.16.0.4/32")
    assert by_id["r1"].relayed == ("b",)
    assert by_id["r2"].allowed_ips == ("172.16.0.2/32",)
    assert relays_traffic(state, "r1") and not relays_traffic(state, "r2")
    # the relay itself peers with everyone directly
    assert {p.node_id for p in peers_of(state, "r1")} == {"r2", "a", "b"}


def test_no_relay_means_unreachable_not_crash() -> None:
    state = mesh(make("a", 1), make("b", 2))
    assert peers_of(state, "a") == ()


def test_routes_are_carried_in_allowed_ips() -> None:
    state = mesh(make("gw", 1, "10.0.0.1:1", routes=("192.168.50.0/24",)), make("a", 2))
    (peer,) = peers_of(state, "a")
    assert peer.allowed_ips == ("172.16.0.1/32", "192.168.50.0/24")


def test_unknown_local_node_has_no_peers() -> None:
    assert peers_of(mesh(make("a", 1, "1.2.3.4:5")), "ghost") == ()


def test_graph() -> None:
    state = mesh(make("r", 1, "10.0.0.1:1"), make("a", 2), make("b", 3))
    assert mesh_graph(state) == (Edge("a", "b", relayed_by="r"), Edge("a", "r"), Edge("b", "r"))
