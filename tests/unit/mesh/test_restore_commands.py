"""Restore and RestoreNodes: a snapshot enters the log as a head and runs of node records, and the
state they build is the snapshot's state, under a new generation."""

from __future__ import annotations

import base64

from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.objects import Kind, Route
from webmesh.mesh.state import MeshState, apply, apply_encoded, from_snapshot, to_snapshot

NETWORKS = Networks(ipv4="10.40.0.0/16", ipv6="", domain="restored.internal")


def node(node_id: str, n: int, **kw: object) -> Node:
    key = base64.b64encode(bytes([n]) * 32).decode()
    fields: dict[str, object] = {"ipv4": f"10.40.0.{n}/32", "role": NodeRole.OBSERVER}
    fields.update(kw)
    return Node(id=node_id, public_key=key, **fields)  # type: ignore[arg-type]


def original() -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS, generation="old")).state
    for n, record in enumerate(
        (
            node("s1", 1, role=NodeRole.VOTER, endpoints=("192.0.2.1:51820",), joined_at=1.0),
            node("n2", 2, routes=("192.168.7.0/24",)),
            node("n3", 3),
        )
    ):
        state = apply(state, commands.PutNode(record)).state
        assert n + 1 == len(state.nodes)
    route = Route(name="lan", node="n2", destination_cidrs=("192.168.7.0/24",))
    state = apply(state, commands.PutObject(Kind.ROUTE, route)).state
    return apply(state, commands.SetPresence(offline={"n3": 5.0})).state


def head_of(state: MeshState) -> dict[str, object]:
    head = {**to_snapshot(state), "nodes": [], "paths": {}}
    head.pop("generation")
    return head


def restored(state: MeshState, *runs: tuple[Node, ...]) -> MeshState:
    new = apply(MeshState(), commands.Restore(head_of(state), "new")).state
    assert new.restoring and new.generation == "new"
    for number, run in enumerate(runs, start=1):
        t = apply(new, commands.RestoreNodes("new", run, last=number == len(runs)))
        assert t.result.ok, t.result.error_message
        new = t.state
    return new


def test_a_restore_in_runs_rebuilds_the_snapshot_state_under_a_new_generation() -> None:
    before = original()
    nodes = tuple(before.nodes[i] for i in ("s1", "n2", "n3"))
    after = restored(before, nodes[:1], nodes[1:])
    assert not after.restoring
    assert dict(after.nodes) == dict(before.nodes)
    assert dict(after.address_owners) == dict(before.address_owners)
    assert after.objects.to_dict() == before.objects.to_dict()
    assert dict(after.offline) == {"n3": 5.0}
    assert after.relay_id == "s1" and after.routing_nodes == {"n2"}
    assert after.endpoint_nodes == {"s1"}
    # the derived indexes are what a snapshot of it would rebuild
    again = from_snapshot(to_snapshot(after))
    assert (again.relay_id, again.routing_nodes) == (after.relay_id, after.routing_nodes)
    assert again.generation == "new" and not again.restoring


def test_restore_is_refused_once_the_mesh_exists() -> None:
    t = apply(original(), commands.Restore(head_of(original()), "new"))
    assert t.result.error_kind == "AlreadyExists"


def test_nodes_are_refused_outside_a_restore_or_twice() -> None:
    before = original()
    outside = apply(before, commands.RestoreNodes("old", (node("x", 9),)))
    assert outside.result.error_kind == "FailedPrecondition"
    done = restored(before, tuple(before.nodes.values()))
    late = apply(done, commands.RestoreNodes("new", (node("x", 9),)))
    assert late.result.error_kind == "FailedPrecondition"
    mid = apply(MeshState(), commands.Restore(head_of(before), "new")).state
    mid = apply(mid, commands.RestoreNodes("new", (before.nodes["s1"],))).state
    twice = apply(mid, commands.RestoreNodes("new", (before.nodes["s1"],)))
    assert twice.result.error_kind == "AlreadyExists"
    clash = apply(mid, commands.RestoreNodes("new", (node("y", 1),)))  # s1's address
    assert clash.result.error_kind == "AlreadyExists"
    assert mid.restoring


def test_commands_travel_as_json_and_back() -> None:
    before = original()
    for command in (
        commands.Restore(head_of(before), "new"),
        commands.RestoreNodes("new", tuple(before.nodes.values()), last=True),
    ):
        assert commands.decode(commands.encode(command)) == command
    state = apply_encoded(MeshState(), commands.encode(commands.Restore(head_of(before), "g")))
    assert state.result.ok and state.state.restoring


def test_the_generation_survives_a_snapshot() -> None:
    state = original()
    assert state.generation == "old"
    assert from_snapshot(to_snapshot(state)).generation == "old"
