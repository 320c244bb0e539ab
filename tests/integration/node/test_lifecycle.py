"""Starting, failing to start, and restarting nodes on their data (each test has its own mesh)."""

from __future__ import annotations

import asyncio
import time

import pytest

from integration.node.meshlab import HOST, Lab, Member, free_port, join_request, new_public_key
from support.wait import async_eventually
from webmesh import errors
from webmesh.daemon import identity
from webmesh.wg import keys


async def peers_become(member: Member, expected: dict[str, tuple[str, tuple[str, ...]]]) -> None:
    async def equal() -> bool:
        return member.device_peers() == expected

    await async_eventually(equal, timeout=15, what=f"the peers of {member.node_id}")


async def test_a_join_where_nothing_listens_fails_unavailable_naming_the_address(
    lab: Lab,
) -> None:
    nowhere = f"{HOST}:{free_port()}"
    started = time.monotonic()
    with pytest.raises(errors.Unavailable) as caught:
        await lab.start("lonely", join=nowhere, extra=("--mesh.max-join-retries=1",))
    message = str(caught.value)
    assert nowhere in message
    assert "after 2 attempts" in message
    assert time.monotonic() - started < 10
    stored = identity.load(lab.root / "lonely")
    assert stored is not None
    assert not stored.in_mesh  # it never got addresses
    assert lab.members[-1].driver.devices == {}  # nor an interface: the join comes first


async def test_a_full_address_pool_is_exhausted_and_changes_nothing(lab: Lab) -> None:
    quarantine = ("--mesh.address-quarantine=2",)
    small = await lab.start("tiny", extra=("--bootstrap.ipv4-network=10.99.0.0/30", *quarantine))
    assert small.ipv4 == "10.99.0.1/32"
    async with small.client() as client:
        second = await client.join(join_request("second", new_public_key(), "127.0.0.1:5"))
        assert second.address_ipv4 == "10.99.0.2/32"
        before = await client.list_nodes()
        with pytest.raises(errors.Exhausted, match=r"10\.99\.0\.0/30"):
            await client.join(join_request("third", new_public_key(), "127.0.0.1:4"))
        assert await client.list_nodes() == before
    # a real node asking to join gets the same answer, at once (no retries: retrying cannot help)
    started = time.monotonic()
    with pytest.raises(errors.Exhausted):
        await lab.start("fourth", join=small)
    assert time.monotonic() - started < 5
    assert [n.id for n in before] == ["second", "tiny"]
    async with small.client() as client:  # an address freed by a node that left rests first
        await client.leave("second")
        left = time.monotonic()
        with pytest.raises(errors.Exhausted, match=r"1 released by nodes that left still rest"):
            await client.join(join_request("third", new_public_key(), "127.0.0.1:4"))
        await asyncio.sleep(max(0.0, 2.2 - (time.monotonic() - left)))
        third = await client.join(join_request("third", new_public_key(), "127.0.0.1:4"))
    assert third.address_ipv4 == "10.99.0.2/32", "reused once it rested"


async def test_nodes_restarted_on_their_data_resume_with_the_same_identity(lab: Lab) -> None:
    first = await lab.start("boot")
    joiner = await lab.start("joiner", join=first)
    await peers_become(joiner, {first.public_key: (first.endpoint, ("172.16.0.1/32",))})
    key, ipv4 = joiner.public_key, joiner.ipv4
    async with first.client() as client:
        record = await client.get_node("joiner")
    assert (record.public_key, record.private_ipv4) == (key, ipv4) == (key, "172.16.0.2/32")

    joiner = await lab.restart(joiner)
    assert joiner.daemon.identity.node_id == "joiner"
    assert (joiner.public_key, joiner.ipv4) == (key, ipv4)
    assert joiner.driver.devices["webmesh0"].state.public_key == key
    await peers_become(joiner, {first.public_key: (first.endpoint, ("172.16.0.1/32",))})
    await peers_become(first, {key: (joiner.endpoint, (ipv4,))})
    async with joiner.client() as client:
        again = await client.get_node("joiner")
        assert len(await client.list_nodes()) == 2
    assert again == record  # same key, addresses and join time: the rejoin was idempotent

    # the bootstrap node, restarted alone on its data: bootstrap is a no-op, the state is there
    boot_key = first.public_key
    state = first.daemon.machine.state
    await joiner.daemon.shutdown()
    first = await lab.restart(first)
    restored = first.daemon.machine.state
    assert first.public_key == boot_key
    assert first.ipv4 == "172.16.0.1/32"
    assert restored.networks == state.networks
    assert dict(restored.nodes) == dict(state.nodes)
    assert restored.index == state.index  # nothing new was proposed (no Bootstrap, no PutNode)
    async with first.client() as client:
        status = await client.status()
        assert sorted(n.id for n in await client.list_nodes()) == ["boot", "joiner"]
    assert (status.is_leader, status.raft.state, status.node_count) == (True, "leader", 2)

    joiner = await lab.restart(joiner)
    assert (joiner.public_key, joiner.ipv4) == (key, ipv4)
    await peers_become(joiner, {boot_key: (first.endpoint, ("172.16.0.1/32",))})
    await peers_become(first, {key: (joiner.endpoint, (ipv4,))})
    stored = identity.load(first.data_dir)
    assert stored is not None
    assert keys.public_key(stored.private_key) == boot_key


async def test_a_joined_voter_restarted_on_its_data_comes_back(lab: Lab) -> None:
    first = await lab.start("boot")
    voter = await lab.start("voter", join=first, voter=True, extra=("--mesh.max-join-retries=0",))
    key, ipv4 = voter.public_key, voter.ipv4
    voter = await lab.restart(voter)  # BUG: Unavailable, "propose: not committed within 5s"
    assert (voter.public_key, voter.ipv4) == (key, ipv4)
    later = new_public_key()
    async with first.client() as client:  # the quorum is back: a new join commits
        joined = await client.join(join_request("later", later, "127.0.0.1:4"))
    await peers_become(
        voter,
        {
            first.public_key: (first.endpoint, ("172.16.0.1/32",)),
            later: ("127.0.0.1:4", (joined.address_ipv4,)),
        },
    )
