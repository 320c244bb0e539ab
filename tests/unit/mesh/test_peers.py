"""Peer computation: direct peers, the relay for nodes without endpoints, incremental changes."""

from __future__ import annotations

import base64
import random

import pytest

from webmesh.authz.acl import AclAction, NetworkACL
from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node
from webmesh.mesh.objects import Kind, Route
from webmesh.mesh.peers import (
    Edge,
    Peer,
    forwards_traffic,
    mesh_graph,
    peer_changes,
    peer_entry,
    peers_of,
)
from webmesh.mesh.state import MeshState, apply, changed_node_ids, from_snapshot, to_snapshot

NETWORKS = Networks("172.16.0.0/12", "fd00:1:2::/48", "x")


def key(n: int) -> str:
    return base64.b64encode(bytes([n % 256, n // 256 + 1]) * 16).decode()


def mesh(*nodes: Node) -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS)).state
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
        ipv4=f"172.16.{n // 250}.{n % 250 + 1}/32",
        endpoints=(endpoint,) if endpoint else (),
        joined_at=joined or float(n),
        routes=routes,
    )


def test_quick_start_pair() -> None:
    boot = make("boot", 0, "10.0.0.1:51820")
    joiner = make("joiner", 1)
    state = mesh(boot, joiner)
    assert peers_of(state, "joiner") == (
        Peer("boot", key(0), "10.0.0.1:51820", ("172.16.0.0/12", "172.16.0.1/32"), relay=True),
    )
    assert peers_of(state, "boot") == (Peer("joiner", key(1), "", ("172.16.0.2/32",)),)
    assert forwards_traffic(state, "boot") and not forwards_traffic(state, "joiner")


def test_nodes_without_endpoints_reach_each_other_through_the_oldest_relay() -> None:
    state = mesh(
        make("r1", 1, "10.0.0.1:1"), make("r2", 2, "10.0.0.2:1"), make("a", 3), make("b", 4)
    )
    by_id = {p.node_id: p for p in peers_of(state, "a")}
    assert set(by_id) == {"r1", "r2"}  # b is reached through r1's mesh-wide AllowedIPs
    assert by_id["r1"].relay and "172.16.0.0/12" in by_id["r1"].allowed_ips
    assert not by_id["r2"].relay and by_id["r2"].allowed_ips == ("172.16.0.3/32",)
    assert state.relay_id == "r1"
    assert forwards_traffic(state, "r1") and not forwards_traffic(state, "r2")
    assert {p.node_id for p in peers_of(state, "r1")} == {"r2", "a", "b"}


def test_relay_moves_when_the_oldest_leaves() -> None:
    state = mesh(make("r1", 1, "10.0.0.1:1"), make("r2", 2, "10.0.0.2:1"), make("a", 3))
    state = apply(state, commands.RemoveNode("r1")).state
    assert state.relay_id == "r2"
    assert peers_of(state, "a")[0].relay


def test_no_relay_means_unreachable_not_crash() -> None:
    state = mesh(make("a", 1), make("b", 2))
    assert state.relay_id == ""
    assert peers_of(state, "a") == ()


def test_routes_are_carried_in_allowed_ips() -> None:
    state = mesh(make("gw", 1, "10.0.0.1:1", routes=("192.168.50.0/24",)), make("a", 2))
    (peer,) = peers_of(state, "a")
    assert "192.168.50.0/24" in peer.allowed_ips
    assert forwards_traffic(state, "gw")


def test_routes_of_nodes_without_endpoint_go_to_the_relay() -> None:
    state = mesh(make("r", 1, "10.0.0.1:1"), make("a", 2), make("b", 3, routes=("10.9.0.0/16",)))
    (peer,) = peers_of(state, "a")
    assert "10.9.0.0/16" in peer.allowed_ips


def test_unknown_local_node_has_no_peers() -> None:
    assert peers_of(mesh(make("a", 1, "1.2.3.4:5")), "ghost") == ()


def test_graph() -> None:
    state = mesh(make("r", 1, "10.0.0.1:1"), make("a", 2), make("b", 3))
    unseen = "no endpoint on either side, and no outside address known for a, b"
    assert mesh_graph(state) == (
        Edge("a", "b", relayed_by="r", path="relayed", why=unseen),
        Edge("a", "r", why="r has an endpoint"),
        Edge("b", "r", why="r has an endpoint"),
    )


def _diff(before: tuple[Peer, ...], after: tuple[Peer, ...]) -> dict[str, Peer | None]:
    old = {p.node_id: p for p in before}
    new = {p.node_id: p for p in after}
    result: dict[str, Peer | None] = dict.fromkeys(old.keys() - new.keys())
    result.update({i: p for i, p in new.items() if old.get(i) != p})
    return result


def _random_policy(rng: random.Random, state: MeshState, counter: int) -> commands.Command:
    ids = sorted(state.nodes)
    if rng.random() < 0.5:
        return commands.PutObject(
            Kind.ROUTE, Route(f"r{counter % 5}", rng.choice(ids), (f"10.{counter % 50}.9.0/24",))
        )
    source, target = rng.choice(ids), rng.choice(ids)
    acl = NetworkACL(
        name=f"acl{counter % 4}",
        priority=rng.randint(1, 3),
        action=rng.choice(list(AclAction)),
        source_nodes=(source,),
        destination_nodes=(target,),
    )
    return commands.PutObject(Kind.NETWORKACL, acl)


def _random_command(rng: random.Random, state: MeshState, counter: int) -> commands.Command:
    ids = sorted(state.nodes)
    if ids and rng.random() < 0.08:
        return _random_policy(rng, state, counter)
    if ids and rng.random() < 0.3:
        return commands.RemoveNode(rng.choice(ids))
    if ids and rng.random() < 0.4:
        node = state.nodes[rng.choice(ids)]
        endpoints = () if node.endpoints else (f"10.1.0.{counter % 250}:51820",)
        routes = () if node.routes or rng.random() < 0.5 else (f"10.{counter % 200}.0.0/16",)
        return commands.PutNode(
            Node(**{**node.to_dict(), "endpoints": endpoints, "routes": routes, "role": node.role})
        )
    endpoint = f"10.2.0.{counter % 250}:51820" if rng.random() < 0.4 else ""
    routes = (f"10.{100 + counter % 100}.0.0/16",) if rng.random() < 0.2 else ()
    return commands.PutNode(make(f"n{counter}", counter, endpoint, routes=routes))


@pytest.mark.parametrize("seed", range(8))
def test_incremental_changes_equal_the_full_diff(seed: int) -> None:
    """peer_changes must agree with recomputing everything, for every node, after every change."""
    rng = random.Random(seed)
    state = mesh(make("seed", 0, "10.0.0.1:1"))
    incremental = total = 0
    for counter in range(1, 120):
        transition = apply(state, _random_command(rng, state, counter))
        ids = changed_node_ids(transition.effects)
        if ids is None:  # an ACL change: callers recompute everything, nothing to compare
            state = transition.state
            continue
        for local_id in transition.state.nodes:
            got = peer_changes(state, transition.state, local_id, ids)
            want = _diff(peers_of(state, local_id), peers_of(transition.state, local_id))
            total += 1
            if got is not None:
                incremental += 1
                assert got == want, (seed, counter, local_id)
        state = transition.state
    assert incremental > 0.7 * total  # the fast path is the common path


def _deny(state: MeshState, name: str, src: str, dst: str) -> MeshState:
    acl = NetworkACL(name, 100, AclAction.DENY, source_nodes=(src,), destination_nodes=(dst,))
    t = apply(state, commands.PutObject(Kind.NETWORKACL, acl))
    assert t.result.ok, t.result
    return t.state


def test_a_deny_acl_removes_the_peer_on_the_denied_side() -> None:
    state = mesh(make("a", 1, "10.0.0.1:1"), make("b", 2, "10.0.0.2:1"), make("c", 3, "10.0.0.3:1"))
    state = _deny(state, "deny-b-c", "b", "c")
    assert {p.node_id for p in peers_of(state, "b")} == {"a"}
    assert {p.node_id for p in peers_of(state, "c")} == {"a", "b"}  # b drops c's packets anyway
    assert {p.node_id for p in peers_of(state, "a")} == {"b", "c"}
    state = apply(state, commands.DeleteObject(Kind.NETWORKACL, "deny-b-c")).state
    assert {p.node_id for p in peers_of(state, "b")} == {"a", "c"}


def test_acls_carve_denied_nodes_out_of_the_relay() -> None:
    state = mesh(make("r", 1, "10.0.0.1:1"), make("a", 2), make("b", 3), make("c", 4))
    state = _deny(state, "deny-a-b", "a", "b")
    (relay,) = peers_of(state, "a")
    assert "172.16.0.4/32" not in relay.allowed_ips  # b
    assert "172.16.0.5/32" in relay.allowed_ips  # c, still reached through the relay
    assert "172.16.0.0/12" not in relay.allowed_ips


def test_route_objects_reach_allowed_ips_and_forwarding() -> None:
    state = mesh(make("gw", 1, "10.0.0.1:1"), make("a", 2, "10.0.0.2:1"))
    state = apply(
        state, commands.PutObject(Kind.ROUTE, Route("lan", "a", ("192.168.7.0/24",)))
    ).state
    peer = next(p for p in peers_of(state, "gw") if p.node_id == "a")
    assert "192.168.7.0/24" in peer.allowed_ips
    assert forwards_traffic(state, "a")


def _peers_by_scanning_everyone(state: MeshState, local_id: str) -> tuple[Peer, ...]:
    local = state.nodes[local_id]
    entries = (peer_entry(state, local, n) for n in state.nodes.values() if n.id != local_id)
    return tuple(sorted((p for p in entries if p is not None), key=lambda p: p.node_id))


@pytest.mark.parametrize("seed", range(4))
def test_the_endpoint_index_gives_the_same_peers_as_scanning_everyone(seed: int) -> None:
    """peers_of looks only at nodes with an endpoint for a node without one: the index must
    follow every put, update and removal, and survive a snapshot."""
    rng = random.Random(seed)
    state = mesh(make("seed", 0, "10.0.0.1:1"))
    for counter in range(1, 150):
        state = apply(state, _random_command(rng, state, counter)).state
        assert state.endpoint_nodes == {n.id for n in state.nodes.values() if n.endpoints}
        for local_id in rng.sample(sorted(state.nodes), min(5, len(state.nodes))):
            assert peers_of(state, local_id) == _peers_by_scanning_everyone(state, local_id)
    restored = from_snapshot(to_snapshot(state))
    assert restored.endpoint_nodes == state.endpoint_nodes
