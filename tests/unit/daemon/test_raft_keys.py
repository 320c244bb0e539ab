"""When a node rotates its Raft key, and which keys the state's roster admits."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from webmesh.daemon import raft_keys, raft_roster
from webmesh.daemon.raft_keys import Keys, Step
from webmesh.mesh import commands
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.state import MeshState, apply, to_snapshot
from webmesh.raft.credentials import RaftKey

OLD, NEW = RaftKey.generate().public_text, RaftKey.generate().public_text
RECORD = Node(id="n1", public_key=OLD, raft_key=OLD, raft_key_epoch=0)


@pytest.mark.parametrize(
    ("record", "epoch", "keys", "step"),
    [
        (None, 1, Keys(OLD, "", OLD), Step.NOTHING),  # not in the state (yet)
        (RECORD, 0, Keys(OLD, "", OLD), Step.NOTHING),  # up to date
        (RECORD, 1, Keys(OLD, "", OLD), Step.START),  # the mesh asked for new keys
        # registering the new key: wait for the record
        (RECORD, 1, Keys(NEW, OLD, OLD), Step.NOTHING),
        (
            replace(RECORD, raft_key=NEW, raft_key_previous=OLD),
            1,
            Keys(NEW, OLD, OLD),
            Step.PRESENT_NEW,
        ),
        (
            replace(RECORD, raft_key=NEW, raft_key_previous=OLD),
            1,
            Keys(NEW, OLD, NEW),
            Step.NOTHING,
        ),
        # our record holds another key (a registration in flight): never start over it
        (replace(RECORD, raft_key=NEW), 1, Keys(OLD, "", OLD), Step.NOTHING),
    ],
)
def test_decide(record: Node | None, epoch: int, keys: Keys, step: Step) -> None:
    assert raft_keys.decide(record, epoch, keys) is step


def _state(*nodes: Node) -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(Networks("172.16.0.0/12", "", "m"))).state
    for node in nodes:
        state = apply(state, commands.PutNode(node)).state
    return state


def test_roster_admits_current_and_previous_keys_of_replicas_only() -> None:
    voter, previous, client = RaftKey.generate(), RaftKey.generate(), RaftKey.generate()
    state = _state(
        Node(
            id="v",
            public_key=voter.public_text,
            ipv4="172.16.0.1/32",
            role=NodeRole.VOTER,
            raft_address="172.16.0.1:9443",
            raft_key=voter.public_text,
            raft_key_previous=previous.public_text,
        ),
        Node(id="c", public_key=client.public_text, ipv4="172.16.0.2/32", role=NodeRole.CLIENT),
    )
    assert raft_roster.keys_of(state) == {
        voter.public_text: "172.16.0.1:9443",
        previous.public_text: "172.16.0.1:9443",
    }


def test_roster_trusts_the_join_response_only_until_its_own_record_arrives() -> None:
    machine = MeshMachine()
    leader = RaftKey.generate()
    clock = Clock()
    roster = raft_roster.StateRoster(
        machine, "me", {"10.0.0.1:9443": leader.public_text}, clock=clock
    )
    assert roster.address_of(leader.public) == "10.0.0.1:9443"
    assert roster.address_of(RaftKey.generate().public) is None
    me = RaftKey.generate()
    state = _state(
        Node(
            id="me",
            public_key=me.public_text,
            ipv4="172.16.0.3/32",
            raft_address="172.16.0.3:9443",
            raft_key=me.public_text,
        )
    )
    # the state arrives (a snapshot), with this node's own record and not the leader's key
    machine.restore(json.dumps(to_snapshot(state)).encode())
    clock.now += 2 * raft_roster.MISS_REBUILD  # a key it does not know rebuilds the index soon
    assert roster.address_of(me.public) == "172.16.0.3:9443"
    assert roster.address_of(leader.public) is None


def test_roster_forgets_a_removed_replica_within_its_max_age() -> None:
    machine, clock = MeshMachine(), Clock()
    gone = RaftKey.generate()
    record = Node(
        id="gone",
        public_key=gone.public_text,
        ipv4="172.16.0.4/32",
        raft_address="172.16.0.4:9443",
        raft_key=gone.public_text,
    )
    machine.restore(json.dumps(to_snapshot(_state(record))).encode())
    roster = raft_roster.StateRoster(machine, "me", clock=clock)
    assert roster.address_of(gone.public) == "172.16.0.4:9443"
    machine.apply(commands.encode(commands.RemoveNode("gone")))
    assert roster.address_of(gone.public) == "172.16.0.4:9443"  # the index is fresh enough
    clock.now += 2 * raft_roster.MAX_AGE
    assert roster.address_of(gone.public) is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
