"""Raft sessions between real nodes are admitted by the Raft keys in the mesh state.

A client-role node (``wmctl connect``'s kind) holds no key the state records, so a voter hangs
up on its hello without a byte back and leads on in the same term; a removed observer loses its
Raft channels within seconds and receives nothing more; ``RotateRaftKeys`` gives every replica a
new key while joins go on, with no failed join and no election, and the old keys open nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from integration.node.meshlab import Lab, Member, join_request, new_public_key
from support.raftpeer import RaftPeer
from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import membership_pb2
from webmesh.daemon import raft_keys
from webmesh.raft.credentials import RaftKey


def refused(member: Member, reason: str) -> int:
    assert member.daemon.store is not None
    return dict(member.daemon.store.status().refused).get(reason, 0)


def raft_port(member: Member) -> int:
    return int(member.raft.rpartition(":")[2])


async def test_a_client_cannot_open_a_raft_session(lab: Lab) -> None:
    n1 = await lab.start("n1")
    assert n1.daemon.store is not None
    term = n1.daemon.store.status().term
    laptop_key = RaftKey.generate()
    async with n1.client() as client:
        with pytest.raises(errors.InvalidArgument, match="a client holds no replica"):
            await client.join(
                membership_pb2.JoinRequest(
                    id="laptop", public_key=new_public_key(), raft_key=laptop_key.public_text
                )
            )
        response = await client.join(
            membership_pb2.JoinRequest(id="laptop", public_key=new_public_key())
        )
    assert dict(response.raft_keys) == {}  # a client learns no replica's key
    assert n1.daemon.machine.state.nodes["laptop"].raft_key == ""

    for attempt in range(3):
        peer = RaftPeer(raft_port(n1), laptop_key)
        try:
            peer.hello()
            got = await asyncio.to_thread(peer.received_before_hangup, 2.0)
            assert got == 0, f"attempt {attempt}: the voter answered a client's hello"
        finally:
            peer.close()
    assert refused(n1, "unknown_key") >= 3
    assert n1.daemon.store.status().term == term
    async with n1.client() as client:
        await client.join(join_request("after", new_public_key()))  # still commits
    assert n1.is_leader()


async def test_a_removed_observer_loses_its_raft_channels(lab: Lab) -> None:
    n1 = await lab.start("n1")
    n2 = await lab.start("n2", join=n1)
    record = n1.daemon.machine.state.nodes["n2"]
    assert record.raft_key == RaftKey.from_text(n2.daemon.identity.raft_key).public_text

    async with n1.client() as client:
        await client.join(join_request("seen", new_public_key()))
        await async_eventually(lambda: _has(n2, "seen"), timeout=10, what="the observer replicates")
        await client.leave("n2")
    await async_eventually(lambda: _counted(n1, "revoked"), timeout=10, what="its channel closed")
    async with n1.client() as client:
        await client.join(join_request("unseen", new_public_key()))
    await async_eventually(
        lambda: _counted(n1, "unknown_key"), timeout=10, what="its reconnection refused"
    )
    assert "unseen" not in n2.daemon.machine.state.nodes


async def _has(member: Member, node_id: str) -> bool:
    return node_id in member.daemon.machine.state.nodes


async def _counted(member: Member, reason: str) -> bool:
    return refused(member, reason) > 0


async def test_rotating_the_raft_keys_replaces_every_key_with_no_downtime(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raft_keys, "RETIRE_AFTER", 1.0)
    n1 = await lab.start("n1")
    n2 = await lab.start("n2", join=n1, voter=True)
    n3 = await lab.start("n3", join=n1)
    members = [n1, n2, n3]
    old = {m.node_id: m.daemon.identity.raft_key for m in members}
    assert n1.daemon.store is not None
    term = n1.daemon.store.status().term

    joins, failures = 0, 0
    stop = asyncio.Event()

    async def keep_joining() -> None:  # through a follower: forwarded to the leader
        nonlocal joins, failures
        async with n2.client() as client:
            while not stop.is_set():
                try:
                    await client.join(join_request(f"g{joins + failures}", new_public_key()))
                    joins += 1
                except errors.MeshError:
                    failures += 1

    load = asyncio.create_task(keep_joining())
    try:
        async with n1.client() as client:
            assert await client.rotate_raft_keys() == 1

        def rotated(member: Member) -> bool:
            record = n1.daemon.machine.state.nodes[member.node_id]
            return (
                record.raft_key_epoch == 1
                and not record.raft_key_previous
                and record.raft_key
                == RaftKey.from_text(member.daemon.identity.raft_key).public_text
                and member.daemon.identity.raft_key != old[member.node_id]
            )

        await async_eventually(
            lambda: _all(members, rotated), timeout=30, what="every replica rotated"
        )
        await asyncio.sleep(1.0)  # joins go on over the new keys' channels
    finally:
        stop.set()
        await asyncio.wait_for(load, 10)
    assert failures == 0, f"{failures} joins failed during the rotation ({joins} succeeded)"
    assert joins > 0
    assert n1.daemon.store.status().term == term, "the rotation caused an election"
    assert sum(refused(m, "revoked") for m in members) > 0  # old-key channels were closed

    # Each node's identity file keeps the voters' new keys (what it admits on a resume).
    state = n1.daemon.machine.state
    voter_keys = {m.raft: state.nodes[m.node_id].raft_key for m in (n1, n2)}
    await async_eventually(
        lambda: _all(members, lambda m: dict(m.daemon.identity.voter_keys) == voter_keys),
        timeout=10,
        what="the identity files hold the voters' new keys",
    )

    # The old keys open nothing any more.
    peer = RaftPeer(raft_port(n1), RaftKey.from_text(old["n2"]))
    try:
        peer.hello()
        assert await asyncio.to_thread(peer.received_before_hangup, 2.0) == 0
    finally:
        peer.close()


async def _all(members: list[Member], check: Callable[[Member], bool]) -> bool:
    return all(check(m) for m in members)
