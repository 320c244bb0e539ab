"""A leader killed in the middle of a resend loses no acknowledged entry.

Three voters: a leader played by hand (``support.raftpeer``) and two real ones, F1 and F2. The
leader appends entries 2..10 to F1 only: with the leader's own copy that is a majority, so a real
leader would have acknowledged every one of them to its clients. It then starts a resend from an
older index (what a late reply makes pysyncobj's leader do), sends entries 5 and 6 of it, and
dies. F1 and F2 elect a new leader among themselves and commit a new entry: every acknowledged
entry must be in both replicas.

With Raft's append rule (5.3, ``webmesh.raft.appends``) F1 keeps entries 7..10, wins the
election (its log is the longer one) and replicates them. The control runs pysyncobj's own
handling: the partial resend deletes 7..10 from F1 (not yet applied there, so pysyncobj does not
even log it), and four acknowledged entries are gone from the mesh.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.raftpeer import RaftPeer
from webmesh.raft import codec
from webmesh.raft.config import RaftTimings
from webmesh.raft.v1 import wire_pb2

# Long elections: the real voters follow the hand-played leader before either times out.
PATIENT = RaftTimings(
    heartbeat=0.1,
    election_min=2.5,
    election_max=3.5,
    connection_timeout=5.0,
    connection_retry=0.3,
    leader_fallback=5.0,
    bind_retry=0.2,
    bind_timeout=1.0,
)
ACKNOWLEDGED = {f"n{i}" for i in range(8)}  # the puts among entries 2..10 (2 is the bootstrap)


async def _kill_leader_mid_resend(start_store: Any, helpers: Any) -> tuple[Any, Any]:
    """F1 and F2 after the hand-played leader appended 2..10 to F1, resent 5..6 and died."""
    f1_address, f2_address, leader_address = sorted(
        f"127.0.0.1:{helpers.free_port()}" for _ in range(3)
    )  # the leader sorts last: it dials both, neither dials it (pysyncobj's rule)
    voters = [f1_address, f2_address, leader_address]
    f1 = await start_store(voters=voters, address=f1_address, timings=PATIENT)
    f2 = await start_store(voters=voters, address=f2_address, timings=PATIENT)
    leader = RaftPeer(int(f1_address.rpartition(":")[2]), helpers.key)
    try:
        await asyncio.to_thread(leader.handshake)
        leader.send(leader_address)
        term = f1.store.status().term + 5
        method = next(v for k, v in f1.store._syncobj._methodToID.items() if "apply" in str(k))

        def entry(index: int, body: bytes) -> tuple[bytes, int, int]:
            command = wire_pb2.Command(regular=wire_pb2.Regular(method=method, entry=body))
            return codec.command_from_wire(command), index, term

        bodies = [helpers.bootstrap_entry()] + [
            helpers.put_node_entry(n) for n in sorted(ACKNOWLEDGED)
        ]
        entries = [entry(2 + i, body) for i, body in enumerate(bodies)]  # indexes 2..10

        def append(prev: int, sent: list[Any]) -> dict[str, Any]:
            return {
                "type": "append_entries",
                "term": term,
                "commit_index": 1,  # F1 has not learned the commit yet: nothing applied there
                "prevLogIdx": prev,
                "prevLogTerm": term if prev > 1 else 0,
                "entries": sent,
            }

        leader.send(append(1, entries))
        reply = await asyncio.to_thread(leader.receive, "next_node_idx")
        assert (reply["success"], reply["next_node_idx"]) == (True, 11), reply
        # Acknowledged: entries 2..10 are on the leader and F1, a majority of three.
        leader.send(append(4, entries[3:5]))  # a resend from index 5: entries 5 and 6, then...
        await asyncio.to_thread(leader.receive, "next_node_idx")
    finally:
        leader.close()  # ... the leader dies
    return f1, f2


async def _elect_and_commit(f1: Any, f2: Any, helpers: Any) -> Any:
    members = [f1, f2]
    await helpers.eventually(lambda: helpers.leader_of(members) is not None, 20, "a new leader")
    new_leader = helpers.leader_of(members)
    await new_leader.store.propose(helpers.put_node_entry("after"))  # commits what came before
    await helpers.eventually(
        lambda: all("after" in m.node_ids() for m in members), 10, "the new entry everywhere"
    )
    return new_leader


async def test_a_leader_killed_mid_resend_loses_no_acknowledged_entry(
    start_store: Any, helpers: Any
) -> None:
    f1, f2 = await _kill_leader_mid_resend(start_store, helpers)
    new_leader = await _elect_and_commit(f1, f2, helpers)
    assert new_leader is f1, "F1 holds the longest log: only it can win"
    for member in (f1, f2):
        assert member.node_ids() >= ACKNOWLEDGED, sorted(ACKNOWLEDGED - member.node_ids())


async def test_control_pysyncobj_alone_loses_acknowledged_entries(
    start_store: Any, helpers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the append rule the same run loses entries 7..10: the test above can fail."""
    helpers.without_append_rule(monkeypatch)
    f1, f2 = await _kill_leader_mid_resend(start_store, helpers)
    await _elect_and_commit(f1, f2, helpers)
    lost = ACKNOWLEDGED - f1.node_ids()
    assert lost == {"n4", "n5", "n6", "n7"}, sorted(lost)  # entries 7..10
    assert lost.isdisjoint(f2.node_ids())
