"""Commit, replication, redirection, read-only replicas and failover on loopback clusters."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from webmesh import errors
from webmesh.mesh import commands
from webmesh.raft.config import MAX_ENTRY_BYTES
from webmesh.raft.store import RaftRole


async def test_single_voter_bootstraps_and_commits(start_store: Any, helpers: Any) -> None:
    member = await start_store(voters=[])
    await member.store.wait_ready(10)
    assert member.store.is_leader()

    result = commands.Result.decode(await member.store.propose(helpers.bootstrap_entry()))
    assert result.ok
    assert member.machine.state.bootstrapped

    started = time.perf_counter()
    for i in range(20):
        await member.store.propose(helpers.put_node_entry(f"node-{i}"))
    per_commit_ms = (time.perf_counter() - started) / 20 * 1000
    assert len(member.node_ids()) == 20
    assert per_commit_ms < 20, f"{per_commit_ms:.1f} ms per commit"  # ~0.2 ms measured

    # pysyncobj calls back before it bumps lastApplied: the indexes meet a moment later
    await helpers.eventually(
        lambda: member.store.status().applied_index == member.store.status().commit_index, 2
    )
    status = member.store.status()
    assert status.role is RaftRole.LEADER
    assert status.leader == member.address
    assert status.voters == (member.address,)
    assert status.commit_index == 23  # initial no-op, leader no-op, 21 entries
    assert (status.ready, status.has_quorum, status.leader_changes) == (True, True, 1)


async def test_three_voters_replicate_and_a_follower_names_the_leader(
    three_voters: list[Any], helpers: Any
) -> None:
    leader = helpers.leader_of(three_voters)
    followers = [m for m in three_voters if m is not leader]

    started = time.perf_counter()
    for i in range(10):
        await leader.store.propose(helpers.put_node_entry(f"n{i}"))
    per_commit_ms = (time.perf_counter() - started) / 10 * 1000
    assert per_commit_ms < 50, f"{per_commit_ms:.1f} ms per commit"  # ~1-3 ms measured

    expected = {f"n{i}" for i in range(10)}
    await helpers.eventually(
        lambda: all(m.node_ids() == expected for m in three_voters), 5, "replication"
    )
    with pytest.raises(errors.NotLeader) as caught:
        await followers[0].store.propose(helpers.put_node_entry("refused"))
    assert caught.value.leader == leader.address
    assert leader.address in str(caught.value)

    status = followers[0].store.status()
    assert status.role is RaftRole.FOLLOWER
    assert status.leader == leader.address
    assert status.voters == tuple(sorted(m.address for m in three_voters))
    assert status.has_quorum and status.ready


async def test_late_observer_gets_the_snapshot_then_the_log(
    three_voters: list[Any], start_store: Any, helpers: Any
) -> None:
    leader = helpers.leader_of(three_voters)
    for i in range(5):
        await leader.store.propose(helpers.put_node_entry(f"before-{i}"))
    for member in three_voters:  # compact the log: the observer must get a snapshot
        member.store._syncobj.forceLogCompaction()
    await helpers.eventually(
        lambda: all(m.store._syncobj._getRaftLogSize() <= 3 for m in three_voters), 5, "compaction"
    )

    observer = await start_store(voters=[m.address for m in three_voters], observer=True)
    await observer.store.wait_ready(10)
    assert observer.node_ids() == {f"before-{i}" for i in range(5)}
    assert observer.machine.state.bootstrapped

    await leader.store.propose(helpers.put_node_entry("after"))
    await helpers.eventually(lambda: "after" in observer.node_ids(), 5, "observer follows log")

    status = observer.store.status()
    assert status.role is RaftRole.OBSERVER
    assert status.self_address == ""
    assert status.leader == leader.address
    assert status.voters == tuple(sorted(m.address for m in three_voters))
    with pytest.raises(errors.NotLeader) as caught:
        await observer.store.propose(helpers.put_node_entry("refused"))
    assert caught.value.leader == leader.address


async def test_leader_loss_elects_a_new_leader_and_keeps_committed_entries(
    three_voters: list[Any], helpers: Any
) -> None:
    old = helpers.leader_of(three_voters)
    await old.store.propose(helpers.put_node_entry("committed-before"))
    survivors = [m for m in three_voters if m is not old]
    await helpers.eventually(
        lambda: all("committed-before" in m.node_ids() for m in survivors), 5, "replication"
    )

    await old.store.close()  # its connections drop exactly as if the process had died
    await helpers.eventually(lambda: helpers.leader_of(survivors) is not None, 10, "new leader")
    new = helpers.leader_of(survivors)
    assert new.address != old.address

    await new.store.propose(helpers.put_node_entry("committed-after"))
    await helpers.eventually(
        lambda: all(m.node_ids() == {"committed-before", "committed-after"} for m in survivors),
        5,
        "replication after failover",
    )
    other = next(m for m in survivors if m is not new)
    assert other.store.status().leader == new.address
    assert other.store.status().leader_changes >= 2
    assert old.store.status().role is RaftRole.SHUTDOWN


async def test_port_in_use_is_reported(start_store: Any, helpers: Any) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        address = f"127.0.0.1:{squatter.getsockname()[1]}"
        with pytest.raises(errors.Unavailable, match=f"cannot listen for raft on {address}"):
            await start_store(voters=[], address=address)


async def test_the_largest_entry_replicates_and_a_larger_one_is_refused(
    three_voters: list[Any], helpers: Any
) -> None:
    """An entry of exactly the limit travels in one frame (never pysyncobj's pickled chunks);
    one byte more is refused before it reaches the log, with a message that says why."""
    leader = helpers.leader_of(three_voters)
    followers = [m for m in three_voters if m is not leader]
    for member in followers:  # what they applied so far
        await helpers.eventually(
            lambda m=member: m.store.status().applied_index == leader.store.status().applied_index,
            5,
            "followers caught up",
        )
    before = leader.store.status().commit_index
    await leader.store.propose(b" " * MAX_ENTRY_BYTES)  # the machine refuses it; Raft carries it
    await helpers.eventually(
        lambda: all(m.store.status().applied_index > before for m in followers),
        10,
        "the largest entry reached every follower",
    )
    with pytest.raises(errors.InvalidArgument, match="larger than the limit"):
        await leader.store.propose(b" " * (MAX_ENTRY_BYTES + 1))
    await leader.store.propose(helpers.put_node_entry("after-the-big-one"))
    await helpers.eventually(
        lambda: all("after-the-big-one" in m.node_ids() for m in three_voters), 5, "replication"
    )


async def test_concurrent_proposals_share_entries_and_each_gets_its_own_result(
    three_voters: list[Any], helpers: Any
) -> None:
    """While entries are being committed, new proposals wait and go together in one entry; each
    proposer still gets its own result, a refused one included."""
    leader = helpers.leader_of(three_voters)
    before = leader.store.status().commit_index
    ids = [f"c{i}" for i in range(60)]
    entries = [helpers.put_node_entry(node_id) for node_id in ids]
    entries[30] = commands.encode(commands.RemoveNode("no-such-node"))  # refused
    results = await asyncio.gather(*(leader.store.propose(entry) for entry in entries))
    decoded = [commands.Result.decode(result) for result in results]
    assert [r.ok for r in decoded] == [i != 30 for i in range(60)]
    used = leader.store.status().commit_index - before
    assert used < len(entries), f"{used} entries for {len(entries)} proposals: no batching"
    expected = {node_id for i, node_id in enumerate(ids) if i != 30}
    await helpers.eventually(
        lambda: all(expected <= m.node_ids() for m in three_voters), 5, "replicated"
    )
