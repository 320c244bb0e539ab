"""A late append never deletes entries a follower holds: the truncation pysyncobj does (its
CRITICAL "truncating already-applied log entries") is reproduced on purpose, deterministically.

The leader is played by hand (``support.raftpeer``, holding a replica key) toward a real
voter, so the test decides exactly which appends arrive and in which order: first entries 2..9,
committed and applied; then what a paused follower sees when the leader resends from an older
index (entries it holds, and a heartbeat behind its log). With Raft's rule (5.3,
``webmesh.raft.appends``) nothing is deleted; with pysyncobj's own handling (the control test)
the applied entries are truncated and pysyncobj says so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from support.raftpeer import RaftPeer
from webmesh.raft import codec
from webmesh.raft.v1 import wire_pb2

TRUNCATION = "truncating already-applied log entries"


def _ordered_addresses(helpers: Any) -> tuple[str, str]:
    """(follower, fake leader): the follower's address sorts lower, so it never dials the
    leader (pysyncobj's rule) and takes our connection as the leader's."""
    a, b = sorted(f"127.0.0.1:{helpers.free_port()}" for _ in range(2))
    return a, b


async def _follower_with_entries(start_store: Any, helpers: Any) -> tuple[Any, RaftPeer, int]:
    follower_address, leader_address = _ordered_addresses(helpers)
    follower = await start_store(voters=[leader_address], address=follower_address)
    peer = RaftPeer(int(follower_address.rpartition(":")[2]), helpers.key)
    await asyncio.to_thread(peer.handshake)
    peer.send(leader_address)  # who we are: the other voter
    term = follower.store.status().term + 5
    method = next(v for k, v in follower.store._syncobj._methodToID.items() if "apply" in str(k))

    def entry(index: int, body: bytes) -> tuple[bytes, int, int]:
        command = wire_pb2.Command(regular=wire_pb2.Regular(method=method, entry=body))
        return codec.command_from_wire(command), index, term

    bodies = [helpers.bootstrap_entry()] + [helpers.put_node_entry(f"n{i}") for i in range(8)]
    entries = [entry(2 + i, body) for i, body in enumerate(bodies)]  # indexes 2..10
    peer.send(
        {
            "type": "append_entries",
            "term": term,
            "commit_index": 10,
            "prevLogIdx": 1,
            "prevLogTerm": 0,  # pysyncobj's first entry: a no-op of term 0
            "entries": entries,
        }
    )
    reply = await asyncio.to_thread(peer.receive, "next_node_idx")
    assert (reply["success"], reply["next_node_idx"]) == (True, 11), reply
    await helpers.eventually(lambda: len(follower.node_ids()) == 8, 5, "entries applied")
    peer.entries = entries  # type: ignore[attr-defined]
    return follower, peer, term


async def _resend_old_entries(follower: Any, peer: RaftPeer, term: int) -> None:
    entries = peer.entries  # type: ignore[attr-defined]
    # A resend from index 5 of entries the follower holds (a rewound nextIndex) ...
    peer.send(
        {
            "type": "append_entries",
            "term": term,
            "commit_index": 10,
            "prevLogIdx": 4,
            "prevLogTerm": term,
            "entries": entries[3:5],  # indexes 5 and 6
        }
    )
    await asyncio.to_thread(peer.receive, "next_node_idx")
    # ... and a heartbeat behind the follower's log.
    peer.send(
        {
            "type": "append_entries",
            "term": term,
            "commit_index": 10,
            "prevLogIdx": 3,
            "prevLogTerm": term,
            "entries": [],
        }
    )
    await asyncio.to_thread(peer.receive, "next_node_idx")


async def _resend_after_entries(
    start_store: Any, helpers: Any, caplog: pytest.LogCaptureFixture
) -> Any:
    """The follower after entries 2..10 and then the late resend, warnings captured."""
    follower, peer, term = await _follower_with_entries(start_store, helpers)
    try:
        with caplog.at_level(logging.WARNING):
            await _resend_old_entries(follower, peer, term)
    finally:
        peer.close()
    return follower


async def test_late_appends_delete_nothing_the_follower_applied(
    start_store: Any, helpers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    follower = await _resend_after_entries(start_store, helpers, caplog)
    assert not [r for r in caplog.records if TRUNCATION in r.getMessage()]
    log = follower.store._syncobj._SyncObj__raftLog
    assert log[len(log) - 1][1] == 10, "entries 7..10 are still in the log"
    assert len(follower.node_ids()) == 8
    assert follower.store.status().commit_index == 10


async def test_control_pysyncobj_alone_truncates_applied_entries(
    start_store: Any, helpers: Any, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    """Without the append rule the same appends truncate: the test above can fail."""
    helpers.without_append_rule(monkeypatch)
    follower = await _resend_after_entries(start_store, helpers, caplog)
    assert [r for r in caplog.records if TRUNCATION in r.getMessage()]
    log = follower.store._syncobj._SyncObj__raftLog
    assert log[len(log) - 1][1] < 10, "pysyncobj deleted applied entries"
