"""Hole punching: punch nodes, recorded paths, the peer entries and graph edges they give."""

from __future__ import annotations

import base64
import dataclasses
import random

import pytest

from webmesh import errors
from webmesh.authz.acl import AclAction, NetworkACL
from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.objects import Kind, Policy, Route
from webmesh.mesh.peers import Edge, Peer, mesh_graph, peer_changes, peer_entry, peers_of
from webmesh.mesh.state import (
    MeshState,
    NodeUpdated,
    PathChanged,
    Transition,
    apply,
    apply_encoded,
    changed_node_ids,
    from_snapshot,
    pair_key,
    punches,
    to_snapshot,
)
from webmesh.reconcile.desired import LocalInterface, desired
from webmesh.wg import keys
from webmesh.wg.config import DeviceState
from webmesh.wg.fake import apply_plan
from webmesh.wg.plan import plan

NETWORKS = Networks("172.16.0.0/12", "fd00:1:2::/48", "x")
A_SEEN, B_SEEN, B_SEEN_AGAIN = "198.51.100.1:40001", "203.0.113.2:40002", "203.0.113.2:40777"


def key(n: int) -> str:
    return base64.b64encode(bytes([n % 256, n // 256 + 1]) * 16).decode()


def make(
    node_id: str,
    n: int,
    *,
    endpoint: str = "",
    observed: str = "",
    role: NodeRole = NodeRole.OBSERVER,
    routes: tuple[str, ...] = (),
) -> Node:
    return Node(
        id=node_id,
        public_key=key(n),
        ipv4=f"172.16.0.{n + 1}/32",
        endpoints=(endpoint,) if endpoint else (),
        role=role,
        joined_at=float(n),
        routes=routes,
        observed_endpoint=observed,
    )


def ok(state: MeshState, command: commands.Command) -> Transition:
    transition = apply(state, command)
    assert transition.result.ok, transition.result
    return transition


def mesh(*nodes: Node) -> MeshState:
    state = ok(MeshState(), commands.Bootstrap(NETWORKS)).state
    for node in nodes:
        state = ok(state, commands.PutNode(node)).state
    return state


RELAY = make("r", 0, endpoint="10.0.0.1:51820")
A = make("a", 1, observed=A_SEEN)
B = make("b", 2, observed=B_SEEN, role=NodeRole.VOTER)
C = make("c", 3)  # no endpoint, never seen from outside: relayed only


def punch_mesh(*extra: Node) -> MeshState:
    return mesh(RELAY, A, B, C, *extra)


def set_path(state: MeshState, path: str, a: str = "a", b: str = "b") -> MeshState:
    return ok(state, commands.SetPath(a, b, path)).state


def by_id(state: MeshState, local_id: str) -> dict[str, Peer]:
    return {p.node_id: p for p in peers_of(state, local_id)}


def _diff(before: tuple[Peer, ...], after: tuple[Peer, ...]) -> dict[str, Peer | None]:
    old = {p.node_id: p for p in before}
    new = {p.node_id: p for p in after}
    result: dict[str, Peer | None] = dict.fromkeys(old.keys() - new.keys())
    result.update({i: p for i, p in new.items() if old.get(i) != p})
    return result


def assert_incremental_matches_full(before: MeshState, transition: Transition) -> None:
    """For every node, peer_changes agrees with diffing the full peer lists (or declines)."""
    ids = changed_node_ids(transition.effects)
    assert ids is not None
    after = transition.state
    for local_id in sorted(before.nodes.keys() | after.nodes.keys()):
        got = peer_changes(before, after, local_id, ids)
        if got is not None:
            want = _diff(peers_of(before, local_id), peers_of(after, local_id))
            assert got == want, local_id


# ---- punch_nodes -----------------------------------------------------------------------------


def test_punch_nodes_are_replicas_seen_from_outside_without_an_endpoint() -> None:
    client = make("cl", 4, observed="192.0.2.4:1000", role=NodeRole.CLIENT)
    both = make("both", 5, endpoint="10.0.0.5:51820", observed="192.0.2.5:1000")
    state = punch_mesh(client, both)
    assert state.punch_nodes == {"a", "b"}  # not r, c (unseen), cl (a client), both (endpoint)


def test_an_observed_endpoint_makes_a_node_a_punch_node() -> None:
    state = punch_mesh()
    t = ok(state, commands.ObserveEndpoints({"c": "192.0.2.3:5000"}))
    assert t.state.punch_nodes == {"a", "b", "c"}
    assert t.state.nodes["c"].observed_endpoint == "192.0.2.3:5000"


# ---- peers_of --------------------------------------------------------------------------------


def test_two_punch_nodes_punch_with_no_allowed_ips() -> None:
    state = punch_mesh()
    peers = by_id(state, "a")
    assert set(peers) == {"r", "b"}  # c is reached through the relay
    assert peers["b"] == Peer("b", key(2), B_SEEN, (), path="punching")
    relay = peers["r"]
    assert relay.relay and relay.endpoint == "10.0.0.1:51820" and relay.path == ""
    assert relay.allowed_ips == ("172.16.0.0/12", "172.16.0.1/32")  # b still goes this way
    assert by_id(state, "b")["a"] == Peer("a", key(1), A_SEEN, (), path="punching")
    assert set(by_id(state, "c")) == {"r"}


def test_direct_moves_the_prefixes_onto_the_punched_entry() -> None:
    gw = make("gw", 4, observed="192.0.2.9:9", routes=("10.9.0.0/16", "0.0.0.0/0"))
    state = set_path(punch_mesh(gw), "direct", "gw", "a")
    peer = by_id(state, "a")["gw"]
    assert peer == Peer(
        "gw",
        key(4),
        "192.0.2.9:9",
        ("10.9.0.0/16", "172.16.0.5/32"),
        exit_routes=("0.0.0.0/0",),
        path="direct",
    )
    assert by_id(state, "gw")["a"] == Peer("a", key(1), A_SEEN, ("172.16.0.2/32",), path="direct")
    assert by_id(state, "b")["gw"].path == "punching"  # only the pair that was recorded


def test_direct_relayed_and_forgotten() -> None:
    state = set_path(punch_mesh(), "direct")
    assert by_id(state, "a")["b"] == Peer("b", key(2), B_SEEN, ("172.16.0.3/32",), path="direct")
    assert by_id(state, "b")["a"] == Peer("a", key(1), A_SEEN, ("172.16.0.2/32",), path="direct")
    assert state.paths == {pair_key("a", "b"): "direct"}

    state = set_path(state, "relayed", "b", "a")  # either order names the same pair
    assert set(by_id(state, "a")) == {"r"} and set(by_id(state, "b")) == {"r"}
    assert state.paths == {"a b": "relayed"}

    state = set_path(state, "")
    assert by_id(state, "a")["b"] == Peer("b", key(2), B_SEEN, (), path="punching")
    assert dict(state.paths) == {}


def test_a_node_neither_endpoint_nor_seen_never_appears() -> None:
    state = punch_mesh()
    for path in ("", "direct", "relayed"):
        state = set_path(state, path)
        assert "c" not in by_id(state, "a")
        assert "c" not in by_id(state, "b")
        assert set(by_id(state, "c")) == {"r"}


def test_set_path_needs_two_distinct_punch_nodes() -> None:
    state = punch_mesh(make("cl", 4, observed="192.0.2.4:1", role=NodeRole.CLIENT))
    for a, b in (("a", "a"), ("a", "c"), ("a", "r"), ("a", "cl"), ("a", "ghost")):
        t = apply(state, commands.SetPath(a, b, "direct"))
        assert not t.result.ok and t.result.error_kind == errors.FailedPrecondition.kind, (a, b)
        assert t.state.paths == state.paths and t.effects == ()


def test_setting_the_same_path_again_changes_nothing() -> None:
    state = set_path(punch_mesh(), "direct")
    t = ok(state, commands.SetPath("b", "a", "direct"))
    assert t.result.value == {"changed": False} and t.effects == ()
    t = ok(punch_mesh(), commands.SetPath("a", "b", ""))
    assert t.result.value == {"changed": False} and t.effects == ()


def _deny(state: MeshState, src: str, dst: str) -> MeshState:
    acl = NetworkACL("deny", 100, AclAction.DENY, source_nodes=(src,), destination_nodes=(dst,))
    return ok(state, commands.PutObject(Kind.NETWORKACL, acl)).state


def test_a_denying_acl_gives_no_punching_entry() -> None:
    state = _deny(punch_mesh(), "a", "b")
    assert set(by_id(state, "a")) == {"r"}
    assert by_id(state, "b")["a"].path == "punching"  # b may still reach a
    state = set_path(state, "direct")
    assert set(by_id(state, "a")) == {"r"}
    assert by_id(state, "b")["a"].allowed_ips == ("172.16.0.2/32",)


def test_with_acls_a_punched_entry_carries_the_reachable_prefixes() -> None:
    state = set_path(_deny(punch_mesh(), "c", "a"), "direct")  # a non-trivial ACL elsewhere
    assert not state.objects.acl_is_trivial
    assert by_id(state, "a")["b"] == Peer("b", key(2), B_SEEN, ("172.16.0.3/32",), path="direct")


def test_a_default_deny_mesh_punches_nowhere() -> None:
    policy = Policy(default_network_policy=AclAction.DENY)
    state = ok(MeshState(), commands.Bootstrap(NETWORKS, policy)).state
    for node in (RELAY, A, B):
        state = ok(state, commands.PutNode(node)).state
    assert state.punch_nodes == {"a", "b"}
    assert peers_of(state, "a") == ()


# ---- what voids a recorded path --------------------------------------------------------------


def test_a_new_observed_endpoint_drops_the_path_and_moves_the_entry() -> None:
    state = set_path(punch_mesh(), "relayed")
    assert "b" not in by_id(state, "a")
    t = ok(state, commands.ObserveEndpoints({"b": B_SEEN_AGAIN}))
    assert t.result.value == {"changed": True}
    assert dict(t.state.paths) == {}
    assert by_id(t.state, "a")["b"] == Peer("b", key(2), B_SEEN_AGAIN, (), path="punching")
    assert t.state.nodes["b"].observed_endpoint == B_SEEN_AGAIN
    assert t.state.punch_nodes == {"a", "b"}


def test_observing_the_same_endpoint_keeps_the_path() -> None:
    state = set_path(punch_mesh(), "direct")
    t = ok(state, commands.ObserveEndpoints({"b": B_SEEN, "ghost": "192.0.2.1:1"}))
    assert t.result.value == {"changed": False} and t.effects == ()
    assert t.state.paths == state.paths
    assert "ghost" not in t.state.nodes


def test_observe_endpoints_refuses_a_malformed_endpoint() -> None:
    state = punch_mesh()
    t = apply(state, commands.ObserveEndpoints({"b": "no-port"}))
    assert not t.result.ok and t.result.error_kind == errors.InvalidArgument.kind
    assert t.state.nodes == state.nodes


def test_observe_endpoints_updates_only_real_changes() -> None:
    state = set_path(punch_mesh(), "direct")
    t = ok(state, commands.ObserveEndpoints({"a": A_SEEN, "b": B_SEEN_AGAIN}))
    assert t.effects == (NodeUpdated(B, dataclasses.replace(B, observed_endpoint=B_SEEN_AGAIN)),)
    assert changed_node_ids(t.effects) == frozenset({"b"})


def test_an_endpoint_of_its_own_ends_punching() -> None:
    state = set_path(punch_mesh(), "direct")
    b = dataclasses.replace(B, endpoints=("10.0.0.2:51820",))
    state = ok(state, commands.PutNode(b)).state
    assert state.punch_nodes == {"a"}
    assert dict(state.paths) == {}
    peer = by_id(state, "a")["b"]
    assert peer.endpoint == "10.0.0.2:51820" and peer.path == ""
    assert peer.allowed_ips == ("172.16.0.3/32",)


def test_put_node_with_a_new_observed_endpoint_drops_its_paths() -> None:
    state = set_path(punch_mesh(), "direct")
    moved = dataclasses.replace(B, observed_endpoint=B_SEEN_AGAIN)
    state = ok(state, commands.PutNode(moved)).state
    assert dict(state.paths) == {}
    assert by_id(state, "a")["b"].endpoint == B_SEEN_AGAIN


def test_put_node_unchanged_keeps_its_paths() -> None:
    state = set_path(punch_mesh(), "direct")
    state = ok(state, commands.PutNode(dataclasses.replace(B, routes=("10.8.0.0/16",)))).state
    assert state.paths == {"a b": "direct"}
    assert "10.8.0.0/16" in by_id(state, "a")["b"].allowed_ips


def test_removing_a_node_drops_its_paths() -> None:
    d = make("d", 4, observed="192.0.2.4:1")
    state = set_path(set_path(punch_mesh(d), "direct"), "relayed", "a", "d")
    state = set_path(state, "direct", "b", "d")
    assert set(state.paths) == {"a b", "a d", "b d"}
    state = ok(state, commands.RemoveNode("b")).state
    assert state.paths == {"a d": "relayed"}
    assert state.punch_nodes == {"a", "d"}


# ---- snapshots -------------------------------------------------------------------------------


def test_a_snapshot_keeps_paths_and_rebuilds_punch_nodes() -> None:
    d = make("d", 4, observed="192.0.2.4:1")
    state = set_path(set_path(punch_mesh(d), "direct"), "relayed", "a", "d")
    snapshot = to_snapshot(state)
    assert snapshot["paths"] == {"a b": "direct", "a d": "relayed"}
    restored = from_snapshot(snapshot)
    assert restored.paths == state.paths
    assert restored.punch_nodes == state.punch_nodes == {"a", "b", "d"}
    for local_id in state.nodes:
        assert peers_of(restored, local_id) == peers_of(state, local_id)
    assert mesh_graph(restored) == mesh_graph(state)


def test_a_snapshot_without_paths_has_no_paths_key() -> None:
    snapshot = to_snapshot(punch_mesh())
    assert "paths" not in snapshot
    assert dict(from_snapshot(snapshot).paths) == {}


def test_a_snapshot_forgets_paths_of_unknown_nodes() -> None:
    snapshot = to_snapshot(set_path(punch_mesh(), "direct"))
    snapshot["paths"]["a ghost"] = "direct"
    assert from_snapshot(snapshot).paths == {"a b": "direct"}


# ---- incremental peer changes ----------------------------------------------------------------


def test_set_path_touches_both_nodes() -> None:
    t = ok(punch_mesh(), commands.SetPath("a", "b", "direct"))
    assert t.effects == (PathChanged(frozenset({"a", "b"})),)
    assert changed_node_ids(t.effects) == frozenset({"a", "b"})


@pytest.mark.parametrize("path", ["direct", "relayed"])
def test_incremental_changes_after_set_path_equal_the_full_diff(path: str) -> None:
    gw = make("gw", 4, observed="192.0.2.9:9", routes=("10.9.0.0/16",))
    state = punch_mesh(gw)
    for command in (
        commands.SetPath("a", "b", path),
        commands.SetPath("a", "gw", path),
        commands.SetPath("b", "a", ""),
        commands.SetPath("gw", "a", ""),
    ):
        t = ok(state, command)
        assert_incremental_matches_full(state, t)
        state = t.state


def test_incremental_changes_after_set_path_with_acls_equal_the_full_diff() -> None:
    state = _deny(punch_mesh(), "c", "b")
    for path in ("direct", "relayed", ""):
        t = ok(state, commands.SetPath("a", "b", path))
        assert_incremental_matches_full(state, t)
        state = t.state


def test_incremental_changes_after_observe_endpoints_equal_the_full_diff() -> None:
    state = set_path(punch_mesh(), "direct")
    for endpoints in ({"b": B_SEEN_AGAIN}, {"c": "192.0.2.3:3"}, {"a": "198.51.100.1:1"}):
        t = ok(state, commands.ObserveEndpoints(endpoints))
        assert t.effects
        assert_incremental_matches_full(state, t)
        state = t.state
    assert state.punch_nodes == {"a", "b", "c"}


def test_incremental_changes_after_put_and_remove_equal_the_full_diff() -> None:
    state = set_path(punch_mesh(), "direct")
    for command in (
        commands.PutNode(dataclasses.replace(B, endpoints=("10.0.0.2:51820",))),
        commands.PutNode(B),
        commands.SetPath("a", "b", "direct"),
        commands.RemoveNode("b"),
    ):
        t = ok(state, command)
        assert_incremental_matches_full(state, t)
        state = t.state


# ---- commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        commands.ObserveEndpoints({"b": B_SEEN, "a": A_SEEN}),
        commands.ObserveEndpoints(),
        commands.SetPath("a", "b", "direct"),
        commands.SetPath("a", "b", "relayed"),
        commands.SetPath("b", "a", ""),
    ],
)
def test_commands_round_trip(command: commands.Command) -> None:
    assert commands.decode(commands.encode(command)) == command


def test_decode_refuses_an_unknown_path() -> None:
    data = commands.encode(commands.SetPath("a", "b", "direct")).replace(b"direct", b"sideways")
    with pytest.raises(errors.InvalidArgument, match="sideways"):
        commands.decode(data)


def test_an_unknown_path_in_the_log_is_a_rejected_no_op() -> None:
    state = punch_mesh()
    data = commands.encode(commands.SetPath("a", "b", "direct")).replace(b"direct", b"sideways")
    t = apply_encoded(state, data)
    assert not t.result.ok and t.state.paths == state.paths and t.state.index == state.index + 1


# ---- the graph -------------------------------------------------------------------------------


def _edge(state: MeshState, a: str, b: str) -> Edge:
    (edge,) = (e for e in mesh_graph(state) if (e.source, e.target) == (a, b))
    return edge


def test_graph_edges_between_punch_nodes() -> None:
    state = punch_mesh()
    edge = _edge(state, "a", "b")
    assert (edge.path, edge.relayed_by) == ("punching", "r")
    assert "punching" in edge.why

    state = set_path(state, "direct")
    edge = _edge(state, "a", "b")
    assert (edge.path, edge.relayed_by) == ("direct", "")
    assert edge.why.startswith("hole punched")

    state = set_path(state, "relayed")
    edge = _edge(state, "a", "b")
    assert (edge.path, edge.relayed_by) == ("relayed", "r")
    assert "hole punch failed" in edge.why


def test_graph_edges_with_endpoints_and_unseen_nodes() -> None:
    state = set_path(punch_mesh(), "direct")
    assert _edge(state, "a", "r") == Edge("a", "r", why="r has an endpoint")
    assert _edge(state, "b", "r") == Edge("b", "r", why="r has an endpoint")
    edge = _edge(state, "a", "c")
    assert (edge.path, edge.relayed_by) == ("relayed", "r")
    assert edge.why.endswith("no outside address known for c")


def test_route_objects_move_onto_the_punched_entry_once_direct() -> None:
    state = punch_mesh()
    state = ok(state, commands.PutObject(Kind.ROUTE, Route("lan", "b", ("10.7.0.0/24",)))).state
    assert by_id(state, "a")["b"].allowed_ips == ()
    state = set_path(state, "direct")
    assert by_id(state, "a")["b"].allowed_ips == ("10.7.0.0/24", "172.16.0.3/32")


# ---- one peer per prefix ---------------------------------------------------------------------


def _no_prefix_twice(peers: tuple[Peer, ...]) -> None:
    """WireGuard maps each allowed IP to one peer: setting it on a second peer moves it."""
    seen: dict[str, str] = {}
    for peer in peers:
        for cidr in peer.allowed_ips:
            assert cidr not in seen, (cidr, seen[cidr], peer.node_id)
            seen[cidr] = peer.node_id


def test_a_direct_path_takes_the_routes_off_the_relay() -> None:
    gw = make("gw", 4, observed="192.0.2.9:9", routes=("10.9.0.0/16",))
    state = punch_mesh(gw)
    assert "10.9.0.0/16" in by_id(state, "a")["r"].allowed_ips  # punching: the relay carries it
    state = set_path(state, "direct", "a", "gw")
    peers = by_id(state, "a")
    assert peers["r"].allowed_ips == ("172.16.0.0/12", "172.16.0.1/32")
    assert peers["gw"].allowed_ips == ("10.9.0.0/16", "172.16.0.5/32")
    _no_prefix_twice(peers_of(state, "a"))
    assert "10.9.0.0/16" in by_id(state, "b")["r"].allowed_ips  # b still punches to gw
    state = set_path(state, "relayed", "a", "gw")
    assert "10.9.0.0/16" in by_id(state, "a")["r"].allowed_ips


def test_with_acls_a_direct_path_takes_the_node_off_the_relay() -> None:
    state = _deny(punch_mesh(), "c", "b")
    assert "172.16.0.3/32" in by_id(state, "a")["r"].allowed_ips
    state = set_path(state, "direct")
    peers = by_id(state, "a")
    assert "172.16.0.3/32" not in peers["r"].allowed_ips
    assert "172.16.0.4/32" in peers["r"].allowed_ips  # c, still behind the relay
    assert peers["b"].allowed_ips == ("172.16.0.3/32",)
    _no_prefix_twice(peers_of(state, "a"))


def test_a_direct_path_converges_on_the_device() -> None:
    gw = make("gw", 4, observed="192.0.2.9:9", routes=("10.9.0.0/16",))
    state = set_path(punch_mesh(gw), "direct", "a", "gw")
    local = LocalInterface(
        "wm0", keys.generate_private_key(), 51820, 1420, ("172.16.0.2/12",), ("172.16.0.0/12",)
    )
    want = desired(local, peers_of(state, "a")).device
    device = apply_plan(DeviceState(), plan(want, DeviceState()))
    again = plan(want, device)
    assert (again.add, again.update, again.remove) == ((), (), ())


# ---- random walks ----------------------------------------------------------------------------


def _random_command(rng: random.Random, state: MeshState, counter: int) -> commands.Command:
    ids = sorted(state.nodes)
    punchers = sorted(state.punch_nodes)
    roll = rng.random()
    if len(punchers) >= 2 and roll < 0.3:
        a, b = rng.sample(punchers, 2)
        return commands.SetPath(a, b, rng.choice(commands.PATH_STATES))
    if ids and roll < 0.45:
        seen = {
            i: f"192.0.2.{rng.randint(1, 3)}:{rng.randint(1, 3)}"
            for i in rng.sample(ids, min(2, len(ids)))
        }
        return commands.ObserveEndpoints(seen)
    if ids and roll < 0.5:
        return commands.PutObject(
            Kind.ROUTE, Route(f"lan{counter % 3}", rng.choice(ids), (f"10.{counter}.7.0/24",))
        )
    if len(ids) > 4 and roll < 0.6:
        return commands.RemoveNode(rng.choice(ids))
    if ids and roll < 0.75:
        node = state.nodes[rng.choice(ids)]
        endpoints = () if node.endpoints or rng.random() < 0.7 else (f"10.1.0.{counter}:51820",)
        routes = () if node.routes else (f"10.{100 + counter}.0.0/16",)
        return commands.PutNode(dataclasses.replace(node, endpoints=endpoints, routes=routes))
    role = rng.choice((NodeRole.OBSERVER, NodeRole.VOTER, NodeRole.CLIENT))
    observed = f"198.51.100.{counter}:4000" if rng.random() < 0.7 else ""
    return commands.PutNode(make(f"n{counter}", counter + 10, observed=observed, role=role))


def _peers_by_scanning_everyone(state: MeshState, local_id: str) -> tuple[Peer, ...]:
    local = state.nodes[local_id]
    entries = (peer_entry(state, local, n) for n in state.nodes.values() if n.id != local_id)
    return tuple(sorted((p for p in entries if p is not None), key=lambda p: p.node_id))


@pytest.mark.parametrize("seed", range(4))
def test_random_walks_keep_every_view_consistent(seed: int) -> None:
    """Through puts, removals, observations and paths: the punch index follows the nodes, paths
    name two punch nodes, incremental changes equal the full diff, no prefix has two peers, and
    a snapshot restores the same peers."""
    rng = random.Random(seed)
    state = mesh(RELAY)
    if seed % 2:  # with a network ACL: peers and the relay's AllowedIPs go node by node
        acl = NetworkACL("deny", 9, AclAction.DENY, source_nodes=("n3",), destination_nodes=("n5",))
        state = ok(state, commands.PutObject(Kind.NETWORKACL, acl, allow_missing_nodes=True)).state
        assert not state.objects.acl_is_trivial
    direct = 0
    for counter in range(1, 90):
        t = apply(state, _random_command(rng, state, counter))
        after = t.state
        assert after.punch_nodes == {n.id for n in after.nodes.values() if punches(n)}
        for key_ in after.paths:
            assert set(key_.split(" ")) <= after.punch_nodes, key_
        assert_incremental_matches_full(state, t)
        for local_id in after.nodes:
            peers = peers_of(after, local_id)
            assert peers == _peers_by_scanning_everyone(after, local_id)
            _no_prefix_twice(peers)
        direct += "direct" in after.paths.values()
        state = after
    assert direct > 10, "the walk should spend a while with direct paths"
    restored = from_snapshot(to_snapshot(state))
    assert restored.punch_nodes == state.punch_nodes and restored.paths == state.paths
    for local_id in state.nodes:
        assert peers_of(restored, local_id) == peers_of(state, local_id)
