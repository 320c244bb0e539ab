"""WireGuard key rotation in the state machine and the node's decision to rotate."""

from __future__ import annotations

import base64

from webmesh.daemon import wg_keys
from webmesh.daemon.identity import Identity
from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.state import MeshState, apply, from_snapshot, to_snapshot

NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="", domain="webmesh.internal")


def key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


def node(public_key: str) -> Node:
    return Node(id="a", public_key=public_key, ipv4="172.16.0.1/32", role=NodeRole.OBSERVER)


def mesh() -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS)).state
    return apply(state, commands.PutNode(node(key(1)))).state


def test_a_new_key_is_accepted_only_naming_the_current_one() -> None:
    state = mesh()
    taken = apply(state, commands.PutNode(node(key(2))))
    assert not taken.result.ok and taken.result.error_kind == "AlreadyExists"
    wrong = apply(state, commands.PutNode(node(key(2)), replaces_key=key(3)))
    assert not wrong.result.ok
    rotated = apply(state, commands.PutNode(node(key(2)), replaces_key=key(1)))
    assert rotated.result.ok and rotated.state.nodes["a"].public_key == key(2)
    assert rotated.state.address_owners["172.16.0.1/32"] == "a"  # same addresses


def test_rotation_requests_count_up_survive_snapshots_and_go_with_the_node() -> None:
    state = mesh()
    for expected in (1, 2):
        transition = apply(state, commands.RequestKeyRotation("a"))
        assert transition.result.value == {"requested": expected}
        state = transition.state
    assert from_snapshot(to_snapshot(state)).key_rotations == {"a": 2}
    assert not apply(state, commands.RequestKeyRotation("ghost")).result.ok
    assert apply(state, commands.RemoveNode("a")).state.key_rotations == {}
    command = commands.PutNode(node(key(2)), replaces_key=key(1))
    assert commands.decode(commands.encode(command)) == command


def test_a_node_rotates_when_asked_when_its_key_is_old_or_to_resume() -> None:
    fresh = Identity(node_id="a", private_key="k", key_created_at=1000.0)
    week = 168 * 3600.0
    assert not wg_keys.due(fresh, requested=0, now=1000.0 + week - 1, interval=week)
    assert wg_keys.due(fresh, requested=0, now=1000.0 + week, interval=week)
    assert not wg_keys.due(fresh, requested=0, now=1e12, interval=0)  # 0: never by age
    assert wg_keys.due(fresh, requested=1, now=1000.0, interval=0)
    served = Identity(node_id="a", private_key="k", key_created_at=1000.0, key_rotations_served=1)
    assert not wg_keys.due(served, requested=1, now=1000.0, interval=0)
    resuming = Identity(node_id="a", private_key="k", private_key_next="n")
    assert wg_keys.due(resuming, requested=0, now=0.0, interval=0)
