"""The state machine: apply is deterministic, validates, and never loses or corrupts state."""

from __future__ import annotations

import base64
import json

import pytest

from webmesh import errors
from webmesh.mesh import commands
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.state import (
    RELEASE_MEMORY,
    MeshState,
    NodeAdded,
    NodeRemoved,
    NodeUpdated,
    apply,
    apply_encoded,
    from_snapshot,
    to_snapshot,
)

NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="fd00:1:2::/48", domain="webmesh.internal")


def key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


def node(node_id: str, n: int, **kw: object) -> Node:
    fields: dict[str, object] = {"ipv4": f"172.16.0.{n}/32", "role": NodeRole.OBSERVER}
    fields.update(kw)
    return Node(id=node_id, public_key=key(n), **fields)  # type: ignore[arg-type]


def booted() -> MeshState:
    return apply(MeshState(), commands.Bootstrap(NETWORKS)).state


def test_bootstrap_once() -> None:
    state = booted()
    assert state.networks == NETWORKS
    again = apply(state, commands.Bootstrap(NETWORKS))
    assert not again.result.ok and again.result.error_kind == "AlreadyExists"
    assert again.state.networks == NETWORKS


def test_put_node_before_bootstrap_is_rejected() -> None:
    t = apply(MeshState(), commands.PutNode(node("a", 1)))
    assert t.result.error_kind == "FailedPrecondition"
    assert not t.state.nodes


def test_put_add_update_remove_effects() -> None:
    state = booted()
    t1 = apply(state, commands.PutNode(node("a", 1)))
    assert t1.effects == (NodeAdded(node("a", 1)),)
    updated = node("a", 1, endpoints=("10.0.0.1:51820",))
    t2 = apply(t1.state, commands.PutNode(updated))
    assert t2.effects == (NodeUpdated(node("a", 1), updated),)
    t3 = apply(t2.state, commands.RemoveNode("a"))
    assert t3.effects == (NodeRemoved(updated),)
    assert not t3.state.nodes and not t3.state.address_owners


def test_same_id_different_key_is_rejected_and_state_kept() -> None:
    state = apply(booted(), commands.PutNode(node("a", 1))).state
    t = apply(state, commands.PutNode(Node(id="a", public_key=key(9), ipv4="172.16.0.9/32")))
    assert t.result.error_kind == "AlreadyExists"
    assert t.state.nodes == state.nodes


def test_address_collision_is_rejected() -> None:
    state = apply(booted(), commands.PutNode(node("a", 1))).state
    t = apply(state, commands.PutNode(Node(id="b", public_key=key(2), ipv4="172.16.0.1/32")))
    assert t.result.error_kind == "AlreadyExists"
    assert "172.16.0.1/32" in t.result.error_message
    assert set(t.state.nodes) == {"a"}


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (Node(id="x", public_key="not-base64!", ipv4="172.16.0.5/32"), "InvalidArgument"),
        (Node(id="x", public_key=base64.b64encode(b"short").decode()), "InvalidArgument"),
        (Node(id="-bad-", public_key=key(5)), "InvalidArgument"),
        (Node(id="x", public_key=key(5), ipv4="10.0.0.1/32"), "InvalidArgument"),
        (Node(id="x", public_key=key(5), endpoints=("nohostport",)), "InvalidArgument"),
        (Node(id="x", public_key=key(5), ipv6="fd99::/64"), "InvalidArgument"),
    ],
)
def test_invalid_nodes_are_rejected(bad: Node, kind: str) -> None:
    t = apply(booted(), commands.PutNode(bad))
    assert t.result.error_kind == kind
    assert not t.state.nodes


def test_remove_unknown_node() -> None:
    assert apply(booted(), commands.RemoveNode("ghost")).result.error_kind == "NotFound"


def test_malformed_entries_are_rejected_noops() -> None:
    state = booted()
    for entry in (
        b"",
        b"junk",
        b'{"type":"Nope","v":1,"payload":{}}',
        b'{"type":"PutNode","v":99,"payload":{}}',
        b'{"type":"PutNode","v":1,"payload":{}}',
    ):
        t = apply_encoded(state, entry)
        assert not t.result.ok
        assert t.state.nodes == state.nodes
        assert t.state.index == state.index + 1


def test_snapshot_round_trip_is_json() -> None:
    state = booted()
    for i in range(1, 5):
        state = apply(state, commands.PutNode(node(f"n{i}", i))).state
    raw = json.loads(json.dumps(to_snapshot(state)))
    restored = from_snapshot(raw)
    assert restored == state


def test_machine_applies_encoded_and_notifies() -> None:
    machine = MeshMachine()
    seen: list[int] = []
    machine.subscribe(lambda state, effects: seen.append(len(effects)))
    result = commands.Result.decode(machine.apply(commands.encode(commands.Bootstrap(NETWORKS))))
    assert result.ok
    result = commands.Result.decode(machine.apply(commands.encode(commands.PutNode(node("a", 1)))))
    assert result.ok and machine.state.nodes["a"].ipv4 == "172.16.0.1/32"
    assert seen == [1, 1]
    clone = MeshMachine()
    clone.restore(machine.snapshot())
    assert clone.state == machine.state


def test_result_raise_for_error_rebuilds_the_domain_error() -> None:
    failed = commands.Result.failure(errors.Exhausted("pool empty"))
    with pytest.raises(errors.Exhausted, match="pool empty"):
        commands.Result.decode(failed.encode()).raise_for_error()


def test_a_removal_records_when_its_addresses_were_released() -> None:
    state = booted()
    for i, node_id in enumerate(("a", "b"), start=1):
        state = apply(state, commands.PutNode(node(node_id, i))).state
    state = apply(state, commands.RemoveNode("a", at=1000.0)).state
    assert dict(state.released) == {"172.16.0.1/32": 1000.0}
    restored = from_snapshot(json.loads(json.dumps(to_snapshot(state))))
    assert dict(restored.released) == {"172.16.0.1/32": 1000.0}
    # a day later the first release is forgotten when another one is recorded
    state = apply(state, commands.RemoveNode("b", at=1000.0 + RELEASE_MEMORY + 1)).state
    assert dict(state.released) == {"172.16.0.2/32": 1000.0 + RELEASE_MEMORY + 1}


def test_a_removal_from_an_older_log_has_no_time() -> None:
    old = commands.decode(commands.encode(commands.RemoveNode("a")))
    assert old == commands.RemoveNode("a", at=0.0)


def test_raft_keys_are_checked_and_survive_a_snapshot() -> None:
    state = booted()
    good = node("a", 1, raft_key=key(9), raft_key_previous=key(8), raft_key_epoch=2)
    state = apply(state, commands.PutNode(good)).state
    for bad, error in (
        (node("b", 2, raft_key="nope"), "invalid raft key"),
        (node("b", 2, raft_key=key(9), raft_key_previous=key(9)), "cannot replace itself"),
        (node("b", 2, raft_key_previous=key(9)), "needs a current one"),
        (node("b", 2, role=NodeRole.CLIENT, raft_key=key(9)), "is a client"),
    ):
        t = apply(state, commands.PutNode(bad))
        assert t.result.error_kind == "InvalidArgument" and error in t.result.error_message
    rotated = apply(state, commands.RotateRaftKeys())
    assert rotated.result.value == {"epoch": 1}
    assert rotated.state.raft_key_epoch == 1
    restored = from_snapshot(json.loads(json.dumps(to_snapshot(rotated.state))))
    assert restored.raft_key_epoch == 1
    assert restored.nodes["a"] == good
    # a state without any of it snapshots as before (no new keys in old snapshots' shape)
    assert "raft_key_epoch" not in to_snapshot(booted())
    assert (
        "raft_key"
        not in to_snapshot(apply(booted(), commands.PutNode(node("c", 3))).state)["nodes"][0]
    )


def test_rotating_raft_keys_needs_a_mesh() -> None:
    t = apply(MeshState(), commands.RotateRaftKeys())
    assert t.result.error_kind == "FailedPrecondition"
