"""Presence: the leader's sightings become few, deterministic writes; the relay follows them."""

from __future__ import annotations

import base64

from webmesh.mesh import commands, peers, presence
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.state import (
    MeshState,
    PresenceChanged,
    apply,
    changed_node_ids,
    from_snapshot,
    to_snapshot,
)

NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="", domain="webmesh.internal")
NOW = 1_000_000.0


def node(node_id: str, n: int, **kw: object) -> Node:
    fields: dict[str, object] = {
        "ipv4": f"172.16.0.{n}/32",
        "role": NodeRole.OBSERVER,
        "joined_at": NOW - 3600 + n,
    }
    fields.update(kw)
    key = base64.b64encode(bytes([n]) * 32).decode()
    return Node(id=node_id, public_key=key, **fields)  # type: ignore[arg-type]


def mesh(*nodes: Node) -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS)).state
    for one in nodes:
        transition = apply(state, commands.PutNode(one))
        assert transition.result.ok, transition.result
        state = transition.state
    return state


def seen(last_seen: dict[str, float], leading_since: float = NOW - 3600) -> presence.Sightings:
    return presence.Sightings(last_seen, leading_since)


def test_a_node_unseen_for_offline_after_goes_offline_with_its_last_sighting() -> None:
    state = mesh(node("a", 1), node("b", 2))
    change = presence.transitions(state, seen({"a": NOW - 1, "b": NOW - 5}), NOW)
    assert change == commands.SetPresence(offline={"b": NOW - 5})


def test_nothing_to_write_while_everyone_is_seen() -> None:
    state = mesh(node("a", 1), node("b", 2))
    assert presence.transitions(state, seen({"a": NOW, "b": NOW - 3.9}), NOW) is None


def test_an_offline_node_seen_again_comes_back() -> None:
    state = apply(mesh(node("a", 1)), commands.SetPresence(offline={"a": NOW - 60})).state
    assert not state.is_online("a")
    assert presence.transitions(state, seen({"a": NOW - 100}), NOW) is None  # old sighting
    change = presence.transitions(state, seen({"a": NOW - 0.5}), NOW)
    assert change == commands.SetPresence(online=("a",))


def test_a_new_leader_waits_before_counting_the_unseen_as_gone() -> None:
    state = mesh(node("a", 1), node("b", 2))
    taking_over = seen({"a": NOW}, leading_since=NOW - 1)
    assert presence.transitions(state, taking_over, NOW) is None
    since = NOW - presence.LEADER_GRACE
    settled = seen({"a": NOW}, leading_since=since)
    assert presence.transitions(state, settled, NOW) == commands.SetPresence(offline={"b": since})


def test_a_node_that_just_joined_is_not_reported_gone() -> None:
    fresh = node("new", 3, joined_at=NOW - 1)
    state = mesh(node("a", 1), fresh)
    assert presence.transitions(state, seen({"a": NOW}, leading_since=NOW - 60), NOW) is None


def test_purge_spares_voters_and_waits_for_each_limit() -> None:
    state = mesh(
        node("voter", 1, role=NodeRole.VOTER),
        node("observer", 2),
        node("laptop", 3, role=NodeRole.CLIENT, ephemeral=True),
        node("recent", 4, role=NodeRole.CLIENT),
    )
    gone = {"voter": NOW - 999, "observer": NOW - 120, "laptop": NOW - 31, "recent": NOW - 10}
    state = apply(state, commands.SetPresence(offline=gone)).state
    due = presence.purgeable(state, NOW, purge_after=100, ephemeral_grace=30)
    assert due == ("laptop", "observer")
    assert presence.purgeable(state, NOW, purge_after=0, ephemeral_grace=30) == ("laptop",)


def test_the_relay_moves_off_an_offline_node_and_back() -> None:
    oldest = node("oldest", 1, endpoints=("10.0.0.1:51820",))
    second = node("second", 2, endpoints=("10.0.0.2:51820",))
    state = mesh(oldest, second, node("behind-nat", 3))
    assert state.relay_id == "oldest"
    down = apply(state, commands.SetPresence(offline={"oldest": NOW}))
    assert down.state.relay_id == "second"
    assert down.effects == (PresenceChanged(frozenset({"oldest"})),)
    assert changed_node_ids(down.effects) == {"oldest"}
    entries = {p.node_id: p for p in peers.peers_of(down.state, "behind-nat")}
    assert entries["second"].relay and not entries["oldest"].relay
    back = apply(down.state, commands.SetPresence(online=("oldest",)))
    assert back.state.relay_id == "oldest"


def test_with_every_endpoint_node_offline_the_oldest_stays_relay() -> None:
    state = mesh(node("e1", 1, endpoints=("10.0.0.1:1",)), node("e2", 2, endpoints=("10.0.0.2:1",)))
    state = apply(state, commands.SetPresence(offline={"e1": NOW, "e2": NOW})).state
    assert state.relay_id == "e1"


def test_a_node_that_registers_again_is_online_and_can_take_the_relay_back() -> None:
    oldest = node("oldest", 1, endpoints=("10.0.0.1:51820",))
    state = mesh(oldest, node("second", 2, endpoints=("10.0.0.2:51820",)))
    state = apply(state, commands.SetPresence(offline={"oldest": NOW})).state
    again = apply(state, commands.PutNode(oldest))
    assert again.state.is_online("oldest") and again.state.relay_id == "oldest"
    assert PresenceChanged(frozenset({"oldest"})) in again.effects


def test_unknown_nodes_and_repeats_change_nothing() -> None:
    state = mesh(node("a", 1))
    same = apply(state, commands.SetPresence(offline={"ghost": NOW}, online=("a",)))
    assert same.effects == () and same.state.offline == state.offline


def test_removal_forgets_presence_and_snapshots_keep_it() -> None:
    state = mesh(node("a", 1), node("b", 2))
    state = apply(state, commands.SetPresence(offline={"a": NOW - 7, "b": NOW - 8})).state
    restored = from_snapshot(to_snapshot(state))
    assert dict(restored.offline) == {"a": NOW - 7, "b": NOW - 8}
    removed = apply(state, commands.RemoveNode("a", at=NOW)).state
    assert dict(removed.offline) == {"b": NOW - 8}


def test_set_presence_survives_the_wire() -> None:
    command = commands.SetPresence(offline={"b": 12.5}, online=("a",))
    assert commands.decode(commands.encode(command)) == command


def test_the_metrics_count_each_status_and_date_the_offline() -> None:
    from webmesh.metrics import NodeCollector  # noqa: PLC0415  (pulls in prometheus_client)

    state = mesh(node("a", 1), node("b", 2), node("c", 3))
    state = apply(state, commands.SetPresence(offline={"b": NOW - 30})).state
    collector = NodeCollector(
        raft=lambda: None, state=lambda: state, device=lambda: None, peer_names=dict
    )
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in collector.collect()
        for s in family.samples
    }
    assert samples[("webmesh_mesh_nodes_by_status", (("status", "online"),))] == 2
    assert samples[("webmesh_mesh_nodes_by_status", (("status", "offline"),))] == 1
    assert samples[("webmesh_node_last_seen_timestamp_seconds", (("node", "b"),))] == NOW - 30
