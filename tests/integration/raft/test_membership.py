"""Growing a cluster from one voter at run time, shrinking it and moving leadership."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from webmesh import errors
from webmesh.raft.store import RaftRole


async def test_grow_from_one_voter_to_three_then_shrink(start_store: Any, helpers: Any) -> None:
    first = await start_store(voters=[])
    await first.store.wait_ready(10)
    await first.store.propose(helpers.bootstrap_entry())
    await first.store.propose(helpers.put_node_entry("a"))

    # 1 -> 2: the change can only commit once the new voter runs, so do not wait for the commit.
    second_address = f"127.0.0.1:{helpers.free_port()}"
    third_address = f"127.0.0.1:{helpers.free_port()}"
    await first.store.add_voter(second_address, wait_for_commit=False)
    # A second change is denied by pysyncobj while the first is uncommitted: add_voter retries.
    third_added = asyncio.create_task(first.store.add_voter(third_address, timeout=10))
    second = await start_store(voters=[first.address], address=second_address)
    await second.store.wait_ready(10)
    await helpers.eventually(lambda: second.node_ids() == {"a"}, 5, "second replica caught up")

    # 2 -> 3: a quorum exists without the new voter, so the change commits before it starts.
    await third_added
    await first.store.add_voter(third_address)  # idempotent
    third = await start_store(voters=[first.address, second.address], address=third_address)
    await third.store.wait_ready(10)
    await first.store.propose(helpers.put_node_entry("b"))
    members = [first, second, third]
    everyone = tuple(sorted(m.address for m in members))
    await helpers.eventually(
        lambda: all(m.node_ids() == {"a", "b"} for m in members), 5, "three replicas"
    )
    await helpers.eventually(
        lambda: all(m.store.status().voters == everyone for m in members), 5, "same voters"
    )

    with pytest.raises(errors.FailedPrecondition, match="transfer leadership first"):
        await first.store.remove_voter(first.address)
    with pytest.raises(errors.NotLeader):
        await second.store.add_voter(f"127.0.0.1:{helpers.free_port()}")

    await first.store.remove_voter(third_address)
    await third.store.close()
    remaining = (first.address, second.address)
    await helpers.eventually(
        lambda: all(m.store.status().voters == tuple(sorted(remaining)) for m in (first, second)),
        5,
        "third removed everywhere",
    )
    await first.store.propose(helpers.put_node_entry("c"))
    await helpers.eventually(lambda: "c" in second.node_ids(), 5, "two voters still commit")


async def test_concurrent_membership_changes_are_serialized(start_store: Any, helpers: Any) -> None:
    addresses = [f"127.0.0.1:{helpers.free_port()}" for _ in range(3)]
    members = [await start_store(voters=addresses, address=a) for a in addresses]
    await helpers.eventually(lambda: helpers.leader_of(members) is not None, 10, "a leader")
    leader = helpers.leader_of(members)
    new = [f"127.0.0.1:{helpers.free_port()}" for _ in range(2)]
    # Both commit without the new members running: 3 of 5 voters are up.
    await asyncio.gather(*(leader.store.add_voter(a) for a in new))
    assert leader.store.status().voters == tuple(sorted(addresses + new))


async def test_transfer_leadership(three_voters: list[Any], helpers: Any) -> None:
    old = helpers.leader_of(three_voters)
    await old.store.transfer_leadership()
    await helpers.eventually(
        lambda: (new := helpers.leader_of(three_voters)) is not None and new is not old,
        10,
        "another leader",
    )
    assert old.store.status().role is RaftRole.FOLLOWER
    new = helpers.leader_of(three_voters)
    await new.store.propose(helpers.put_node_entry("after-transfer"))
    await helpers.eventually(
        lambda: all("after-transfer" in m.node_ids() for m in three_voters), 5, "replication"
    )


async def test_single_voter_cannot_transfer(start_store: Any) -> None:
    member = await start_store(voters=[])
    await member.store.wait_ready(10)
    with pytest.raises(errors.FailedPrecondition, match="single-voter"):
        await member.store.transfer_leadership()
