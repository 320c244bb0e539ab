"""Presence with real daemons: offline and last seen, purges, ephemeral clients, removal.

Each test has its own mesh (``lab``). A node's presence is its Raft connection to the leader
(replicas) or its own SubscribePeers stream (clients), as ``webmesh.mesh.presence`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from integration.node.meshlab import Lab, Member, new_public_key, node_argv, wait_for_leader
from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import membership_pb2
from webmesh.daemon import identity
from webmesh.mesh.presence import OFFLINE_AFTER


async def record(member: Member, node_id: str) -> object | None:
    """``node_id`` as ``member`` lists it (None once it is gone)."""
    async with member.client() as client:
        return next((n for n in await client.list_nodes() if n.id == node_id), None)


async def offline(member: Member, node_id: str) -> bool:
    found = await record(member, node_id)
    return found is not None and not found.online  # type: ignore[attr-defined]


async def online(member: Member, node_id: str) -> bool:
    found = await record(member, node_id)
    return found is not None and bool(found.online)  # type: ignore[attr-defined]


async def gone(member: Member, node_id: str) -> bool:
    return await record(member, node_id) is None


def client_request(node_id: str, *, ephemeral: bool = False) -> membership_pb2.JoinRequest:
    return membership_pb2.JoinRequest(id=node_id, public_key=new_public_key(), ephemeral=ephemeral)


async def hold_stream(member: Member, node_id: str, opened: asyncio.Event) -> None:
    """Be client ``node_id``: follow its peers through ``member`` until cancelled."""
    async with member.client() as client:
        async for _ in client.subscribe_peers(node_id):
            opened.set()


async def test_a_stopped_replica_shows_offline_with_its_last_sighting_then_is_purged(
    lab: Lab,
) -> None:
    leader = await lab.start("p1", extra=("--mesh.purge-after=8s",))
    observer = await lab.start("p2", join=leader)
    await async_eventually(lambda: online(leader, "p2"), timeout=10, what="p2 online")
    stopped_at = time.time()
    await observer.daemon.shutdown()  # no Leave: as a crash, its Raft connection just closes
    await async_eventually(lambda: offline(leader, "p2"), timeout=10, what="p2 offline")
    found = await record(leader, "p2")
    last_seen = found.last_seen.ToSeconds()  # type: ignore[attr-defined]
    assert stopped_at - 3 <= last_seen <= stopped_at + 2
    assert time.time() - stopped_at < OFFLINE_AFTER + 4
    await async_eventually(lambda: gone(leader, "p2"), timeout=15, what="p2 purged")
    assert await online(leader, "p1")  # the leader itself is never offline


async def test_voters_are_never_purged(lab: Lab) -> None:
    first = await lab.start("v1", extra=("--mesh.purge-after=2s",))
    second = await lab.start("v2", join=first, voter=True, extra=("--mesh.purge-after=2s",))
    third = await lab.start("v3", join=first, voter=True, extra=("--mesh.purge-after=2s",))
    leader = await wait_for_leader([first, second, third])
    stopped = next(m for m in (first, second, third) if m is not leader)
    await stopped.daemon.shutdown()
    await async_eventually(lambda: offline(leader, stopped.node_id), timeout=10, what="offline")
    await asyncio.sleep(4)  # twice the purge delay
    assert await offline(leader, stopped.node_id)  # still there: a human decides about voters


async def test_an_ephemeral_client_is_online_while_it_streams_and_gone_after_its_grace(
    lab: Lab,
) -> None:
    server = await lab.start("s1", extra=("--mesh.ephemeral-grace=2s",))
    async with server.client() as client:
        await client.join(client_request("laptop", ephemeral=True))
        await client.join(client_request("desk"))  # not ephemeral, never streams
    opened = asyncio.Event()
    stream = asyncio.create_task(hold_stream(server, "laptop", opened))
    try:
        await asyncio.wait_for(opened.wait(), 10)
        await asyncio.sleep(OFFLINE_AFTER + 2)
        assert await online(server, "laptop")
        assert await offline(server, "desk")  # a client that never streamed is not online
    finally:
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream
    closed = time.monotonic()
    await async_eventually(lambda: gone(server, "laptop"), timeout=15, what="laptop purged")
    assert time.monotonic() - closed >= 2
    assert await offline(server, "desk")  # purged only after --mesh.purge-after (24h)


async def test_a_client_streaming_from_a_follower_is_online_on_the_leader(lab: Lab) -> None:
    first = await lab.start("f1")
    second = await lab.start("f2", join=first, voter=True)
    third = await lab.start("f3", join=first, voter=True)
    leader = await wait_for_leader([first, second, third])
    follower = next(m for m in (first, second, third) if m is not leader)
    async with follower.client() as client:
        await client.join(client_request("roamer"))
    opened = asyncio.Event()
    stream = asyncio.create_task(hold_stream(follower, "roamer", opened))
    try:
        await asyncio.wait_for(opened.wait(), 10)
        await async_eventually(lambda: online(leader, "roamer"), timeout=10, what="online")
        await asyncio.sleep(OFFLINE_AFTER + 2)  # reported each second by the follower
        assert await online(leader, "roamer")
    finally:
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream
    await async_eventually(lambda: offline(leader, "roamer"), timeout=10, what="offline")


async def test_a_removed_node_stops_with_a_clear_error_and_will_not_rejoin_by_itself(
    lab: Lab,
) -> None:
    leader = await lab.start("r1")
    victim = lab.member("r2", _argv_joining(lab, leader, "r2"))
    lab.members.append(victim)
    stop = asyncio.Event()
    running = asyncio.create_task(victim.daemon.run(stop))
    await asyncio.wait_for(victim.daemon.ready.wait(), 30)
    async with leader.client() as client:
        await client.leave("r2")  # wmctl leave r2
    with pytest.raises(errors.Removed, match="removed from the mesh"):
        await asyncio.wait_for(running, 20)
    assert victim.driver.devices == {}  # its interface is gone
    stored = identity.load(victim.data_dir)
    assert stored is not None and stored.removed
    again = lab.member("r2", victim.argv)
    with pytest.raises(errors.FailedPrecondition, match="rejoin-after-removal"):
        await again.daemon.start()
    await again.daemon.shutdown()
    rejoining = lab.member("r2", (*victim.argv, "--mesh.rejoin-after-removal"))
    await lab.run(rejoining)
    await async_eventually(lambda: online(leader, "r2"), timeout=20, what="r2 back")


def _argv_joining(lab: Lab, leader: Member, node_id: str) -> tuple[str, ...]:
    return node_argv(node_id, lab.root / node_id, join=leader.api)
