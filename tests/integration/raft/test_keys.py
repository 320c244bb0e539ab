"""Replicas admit each other by their own Raft keys (``webmesh.raft.credentials``).

Here a roster is a plain dict the test edits, standing for the mesh state: a key it does not
hold is refused at the handshake and told why, a key removed from it loses its open channels
(revocation), and a replica cannot speak for another replica's address. The same rules driven
by the real mesh state are in tests/integration/node/test_raft_keys.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.raftpeer import RaftPeer
from webmesh import errors
from webmesh.raft.config import RaftTimings
from webmesh.raft.credentials import KeyRing, RaftCredentials, RaftKey
from webmesh.raft.store import RaftRole

QUICK = RaftTimings(
    heartbeat=0.1, election_min=0.5, election_max=1.2, connection_timeout=3.0, connection_retry=0.3
)


class EditableRoster:
    """A roster the test changes while the replicas run (as the mesh state would)."""

    def __init__(self) -> None:
        self.keys: dict[bytes, str] = {}

    def address_of(self, public_key: bytes) -> str | None:
        return self.keys.get(public_key)


def credentials(key: RaftKey, roster: EditableRoster) -> RaftCredentials:
    return RaftCredentials(KeyRing(key), roster)


async def bootstrapped_voter(start_store: Any, helpers: Any, roster: EditableRoster) -> Any:
    """A one-voter cluster whose key the roster admits at its address, with a mesh in it."""
    key = RaftKey.generate()
    address = f"127.0.0.1:{helpers.free_port()}"
    roster.keys[key.public] = address
    voter = await start_store(
        voters=[], address=address, credentials=credentials(key, roster), timings=QUICK
    )
    await voter.store.wait_ready(10)
    await voter.store.propose(helpers.bootstrap_entry())
    return voter


def refused(member: Any, reason: str) -> int:
    return int(dict(member.store.status().refused).get(reason, 0))


async def test_unknown_key_is_refused_and_the_dialer_told(start_store: Any, helpers: Any) -> None:
    roster = EditableRoster()
    voter = await bootstrapped_voter(start_store, helpers, roster)

    # The intruder's own roster trusts the voter: only the voter's refusal keeps it out.
    intruder = await start_store(
        voters=[voter.address],
        observer=True,
        credentials=credentials(RaftKey.generate(), roster),
        timings=QUICK,
    )
    with pytest.raises(errors.Unavailable, match="do not admit each other's raft keys"):
        await intruder.store.wait_ready(2)
    status = intruder.store.status()
    assert status.role is RaftRole.OBSERVER
    assert (status.ready, status.leader) == (False, "")
    assert refused(intruder, "not_admitted") > 0
    assert not intruder.machine.state.bootstrapped  # it learned nothing

    await helpers.eventually(lambda: refused(voter, "unknown_key") > 0, 5, "voter counts")
    await voter.store.propose(helpers.put_node_entry("still-works"))  # the cluster is unharmed


async def test_removed_key_loses_its_channel_and_cannot_come_back(
    start_store: Any, helpers: Any
) -> None:
    roster = EditableRoster()
    voter = await bootstrapped_voter(start_store, helpers, roster)
    observer_key = RaftKey.generate()
    roster.keys[observer_key.public] = "127.0.0.1:1"  # observers never listen
    observer = await start_store(
        voters=[voter.address],
        observer=True,
        credentials=credentials(observer_key, roster),
        timings=QUICK,
    )
    await observer.store.wait_ready(10)
    await voter.store.propose(helpers.put_node_entry("seen"))
    await helpers.eventually(lambda: "seen" in observer.machine.state.nodes, 5, "replicated")

    del roster.keys[observer_key.public]  # the observer is removed from the mesh
    await helpers.eventually(lambda: refused(voter, "revoked") > 0, 5, "channel closed")
    await voter.store.propose(helpers.put_node_entry("unseen"))
    await asyncio.sleep(1.0)  # several reconnect attempts (connection_retry 0.3 s)
    assert "unseen" not in observer.machine.state.nodes
    assert refused(voter, "unknown_key") > 0


async def test_a_replica_cannot_speak_for_another_address(start_store: Any, helpers: Any) -> None:
    roster = EditableRoster()
    voter = await bootstrapped_voter(start_store, helpers, roster)
    other_key = RaftKey.generate()
    roster.keys[other_key.public] = "127.0.0.1:7"
    term = voter.store.status().term
    port = int(voter.address.rpartition(":")[2])

    impostor = RaftPeer(port, other_key)
    try:
        await asyncio.to_thread(impostor.handshake)  # its key is a replica's: admitted
        impostor.send("127.0.0.1:8")  # ... but it claims another replica's address
        assert await asyncio.to_thread(impostor.closed_by_peer, 2.0)
    finally:
        impostor.close()
    await helpers.eventually(lambda: refused(voter, "wrong_address") > 0, 5, "counted")

    honest = RaftPeer(port, other_key)
    try:
        await asyncio.to_thread(honest.handshake)
        honest.send("readonly")  # any replica may observe: the leader replicates to it
        await asyncio.to_thread(honest.receive, "append_entries", 2.0)
    finally:
        honest.close()
    assert voter.store.status().term == term
