"""Join and Leave over the API of a 3-node mesh: forwarding to the leader, precise errors.

Nodes the tests add are synthetic (a Join sent by the test, no daemon behind it) and are removed
again, so the shared cluster ends every test with its three nodes.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable

import pytest

from integration.node.meshlab import (
    Cluster,
    Member,
    PeerView,
    join_request,
    leave_quietly,
    new_public_key,
    requests_served,
    wait_for_leader,
)
from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import membership_pb2, types_pb2

pytestmark = pytest.mark.asyncio(loop_scope="module")

JOIN = "/webmesh.v1.Membership/Join"
LEAVE = "/webmesh.v1.Membership/Leave"


async def roles(cluster: Cluster) -> tuple[Member, Member]:
    """(leader, the voter that is not the leader), once exactly one leader is known."""
    leader = await wait_for_leader(cluster.members)
    follower = cluster.voter if leader is cluster.bootstrap else cluster.bootstrap
    return leader, follower


async def listed(member: Member) -> dict[str, types_pb2.MeshNode]:
    async with member.client() as client:
        return {n.id: n for n in await client.list_nodes()}


async def everywhere(
    cluster: Cluster, what: str, check: Callable[[set[str], PeerView], bool]
) -> None:
    """Wait until ``check(ids listed by a replica, that node's device peers)`` holds on all."""

    async def holds() -> bool:
        for member in cluster.members:
            nodes = await listed(member)
            if not check(set(nodes), member.device_peers()):
                return False
        return True

    await async_eventually(holds, timeout=15, what=what)


async def settled(cluster: Cluster) -> dict[str, types_pb2.MeshNode]:
    """Wait for the three nodes and their peers everywhere; return the bootstrap node's view."""

    def just_three(ids: set[str], peers: PeerView) -> bool:
        return ids == {"n1", "n2", "n3"} and len(peers) == 2

    await everywhere(cluster, "the three nodes, and only them", just_three)
    return await listed(cluster.bootstrap)


async def test_join_through_a_follower_is_forwarded_and_leave_through_a_follower_removes(
    cluster: Cluster,
) -> None:
    await settled(cluster)
    leader, follower = await roles(cluster)
    key = new_public_key()
    joins_before = requests_served(JOIN, "OK")
    leaves_before = requests_served(LEAVE, "OK")
    try:
        async with follower.client() as client:
            response = await client.join(join_request("guest-fwd", key, "127.0.0.1:7"))
        assert response.address_ipv4 == "172.16.0.4/32"
        assert response.network_ipv4 == "172.16.0.0/12"
        assert response.leader_id == leader.node_id
        assert response.role == types_pb2.NODE_ROLE_OBSERVER
        assert (response.node.id, response.node.public_key) == ("guest-fwd", key)
        assert sorted(p.id for p in response.peers) == ["n1", "n2", "n3"]
        assert sorted(response.raft_voters) == sorted([cluster.bootstrap.raft, cluster.voter.raft])
        # an observer keeps a replica: it learns the voters' Raft keys, and its own is stored
        state = leader.daemon.machine.state
        voter_keys = {
            m.raft: state.nodes[m.node_id].raft_key for m in (cluster.bootstrap, cluster.voter)
        }
        assert dict(response.raft_keys) == voter_keys
        assert response.node.raft_key
        # served twice: by the follower, which forwarded it, and by the leader
        assert requests_served(JOIN, "OK") - joins_before == 2

        def joined(ids: set[str], peers: PeerView) -> bool:
            return "guest-fwd" in ids and peers.get(key) == ("127.0.0.1:7", ("172.16.0.4/32",))

        await everywhere(cluster, "guest-fwd on every replica and device", joined)

        async with cluster.observer.client() as client:  # a follower, and a non-voter
            await client.leave("guest-fwd")
        assert requests_served(LEAVE, "OK") - leaves_before == 2

        def gone(ids: set[str], peers: PeerView) -> bool:
            return ids == {"n1", "n2", "n3"} and key not in peers and len(peers) == 2

        await everywhere(cluster, "guest-fwd gone from every replica and device", gone)
    finally:
        await leave_quietly(leader, "guest-fwd")
    for member in cluster.members:
        assert member.device_peers() == cluster.expected_peers(member)


async def test_rejoin_with_the_same_id_and_key_returns_the_same_addresses(
    cluster: Cluster,
) -> None:
    await settled(cluster)
    key = new_public_key()
    try:
        async with cluster.bootstrap.client() as client:
            first = await client.join(join_request("guest-again", key, "127.0.0.1:8"))
        async with cluster.observer.client() as client:  # again, through another server
            second = await client.join(join_request("guest-again", key, "127.0.0.1:8"))
            stored = await client.get_node("guest-again")
        assert first.address_ipv4 == "172.16.0.4/32"
        assert (second.address_ipv4, second.address_ipv6) == (first.address_ipv4, "")
        assert second.node.joined_at == first.node.joined_at
        assert (stored.private_ipv4, stored.public_key) == (first.address_ipv4, key)
        assert stored.joined_at == first.node.joined_at
        assert len(await listed(cluster.voter)) == 4
    finally:
        await leave_quietly(cluster.bootstrap, "guest-again")


async def test_concurrent_joins_through_every_server_get_distinct_sequential_addresses(
    cluster: Cluster,
) -> None:
    await settled(cluster)
    leader, _ = await roles(cluster)
    guests = {f"guest-{i}": new_public_key() for i in range(6)}

    async def join(member: Member, node_id: str) -> membership_pb2.JoinResponse:
        async with member.client() as client:
            return await client.join(join_request(node_id, guests[node_id], "127.0.0.1:3"))

    try:
        responses = await asyncio.gather(
            *(
                join(member, node_id)
                for member, node_id in zip(cluster.members * 2, guests, strict=True)
            )
        )
        addresses = sorted((r.address_ipv4 for r in responses), key=ipaddress.ip_network)
        assert addresses == [f"172.16.0.{i}/32" for i in range(4, 10)]

        def all_nine(ids: set[str], peers: PeerView) -> bool:
            return len(ids) == 9 and len(peers) == 8

        await everywhere(cluster, "9 nodes on every replica, 8 peers on every device", all_nine)
    finally:
        for node_id in guests:
            await leave_quietly(leader, node_id)
    await settled(cluster)


BAD_JOINS = {
    "malformed key": join_request("guest-bad", "not-a-key"),
    "short key": join_request("guest-bad", "AAAA"),
    "zero key": join_request("guest-bad", "A" * 43 + "="),
    "bad node id": join_request("bad id!", new_public_key()),
    "empty node id": join_request("", new_public_key()),
    "bad endpoint": join_request("guest-bad", new_public_key(), "no-port-here"),
    "endpoint port 0": join_request("guest-bad", new_public_key(), "127.0.0.1:0"),
    "bad raft address": membership_pb2.JoinRequest(
        id="guest-bad", public_key=new_public_key(), raft_address="nowhere"
    ),
    "bad route": membership_pb2.JoinRequest(
        id="guest-bad", public_key=new_public_key(), routes=["10.0.0.0/33"]
    ),
    "bad port": membership_pb2.JoinRequest(
        id="guest-bad", public_key=new_public_key(), api_port=70000
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_JOINS))
async def test_a_bad_join_is_invalid_argument_and_changes_nothing(
    cluster: Cluster, case: str
) -> None:
    before = await settled(cluster)
    leader, follower = await roles(cluster)
    for member in (leader, follower, cluster.observer):
        async with member.client() as client:
            with pytest.raises(errors.InvalidArgument, match=member.api):
                await client.join(BAD_JOINS[case])
    assert await listed(leader) == before


async def test_an_existing_id_with_another_key_already_exists_and_changes_nothing(
    cluster: Cluster,
) -> None:
    before = await settled(cluster)
    leader, follower = await roles(cluster)
    impostor = join_request("n2", new_public_key(), "127.0.0.1:6")
    for member in (follower, leader):  # through a follower the leader's answer comes back
        async with member.client() as client:
            with pytest.raises(errors.AlreadyExists, match="'n2'"):
                await client.join(impostor)
    for member in cluster.members:
        assert await listed(member) == before
        assert member.device_peers() == cluster.expected_peers(member)
    assert before["n2"].public_key == cluster.voter.public_key


async def test_unknown_nodes_are_not_found(cluster: Cluster) -> None:
    await settled(cluster)
    _, follower = await roles(cluster)
    async with cluster.observer.client() as client:
        with pytest.raises(errors.NotFound, match="'ghost'"):
            await client.get_node("ghost")
    async with follower.client() as client:  # forwarded to the leader, which says NOT_FOUND
        with pytest.raises(errors.NotFound, match="'ghost'"):
            await client.leave("ghost")


async def test_the_leader_cannot_be_removed_through_a_follower(cluster: Cluster) -> None:
    before = await settled(cluster)
    leader, follower = await roles(cluster)
    async with follower.client() as client:
        with pytest.raises(errors.FailedPrecondition, match="transfer leadership"):
            await client.leave(leader.node_id)
    assert await listed(follower) == before
    store = follower.daemon.store
    assert store is not None
    assert leader.raft in store.status().voters  # still a voter
