"""A 3-node mesh (bootstrap voter, joined voter, joined observer): replicas, data plane, reads.

The tests share one cluster (module scope) and leave it as they found it: a node a test adds is
removed again before the test ends.
"""

from __future__ import annotations

import asyncio

import pytest

from integration.node.meshlab import (
    Cluster,
    Member,
    join_request,
    leave_quietly,
    new_public_key,
    peer_stream,
    requests_by_code,
    requests_served,
    wait_for_leader,
)
from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import types_pb2

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXPECTED_IPV4 = {"n1": "172.16.0.1/32", "n2": "172.16.0.2/32", "n3": "172.16.0.3/32"}
ROLES = {"n1": types_pb2.NODE_ROLE_VOTER, "n2": types_pb2.NODE_ROLE_VOTER}
ROLES["n3"] = types_pb2.NODE_ROLE_OBSERVER


async def replica_with(member: Member, count: int) -> list[types_pb2.MeshNode]:
    """The nodes ``member``'s API lists, once there are ``count`` of them."""

    async def listed() -> list[types_pb2.MeshNode]:
        async with member.client() as client:
            nodes = await client.list_nodes()
        return nodes if len(nodes) == count else []

    return await async_eventually(listed, timeout=10, what=f"{count} nodes on {member.node_id}")


async def devices_converged(cluster: Cluster) -> None:
    async def converged() -> bool:
        return all(m.device_peers() == cluster.expected_peers(m) for m in cluster.members)

    await async_eventually(converged, timeout=15, what="every fake device has the mesh's peers")


async def test_every_replica_lists_all_three_nodes_with_sequential_addresses(
    cluster: Cluster,
) -> None:
    by_id = {m.node_id: m for m in cluster.members}
    for member in cluster.members:
        nodes = await replica_with(member, 3)
        assert [n.id for n in nodes] == ["n1", "n2", "n3"]
        assert {n.id: n.private_ipv4 for n in nodes} == EXPECTED_IPV4
        assert {n.id: n.role for n in nodes} == ROLES
        for node in nodes:
            owner = by_id[node.id]
            assert node.public_key == owner.public_key
            assert list(node.wireguard_endpoints) == [owner.endpoint]
            assert node.primary_endpoint == owner.endpoint
            assert node.raft_address == owner.raft
            assert node.api_address == owner.api
            assert node.private_ipv6 == ""  # --global.no-ipv6
    assert {m.node_id: m.ipv4 for m in cluster.members} == EXPECTED_IPV4
    assert len({m.public_key for m in cluster.members}) == 3


async def test_every_fake_device_has_exactly_the_other_nodes_as_peers(cluster: Cluster) -> None:
    await devices_converged(cluster)
    n1, n2, n3 = cluster.members
    # spelled out once, independently of expected_peers()
    assert n1.device_peers() == {
        n2.public_key: (n2.endpoint, ("172.16.0.2/32",)),
        n3.public_key: (n3.endpoint, ("172.16.0.3/32",)),
    }
    for member in cluster.members:
        device = member.driver.devices["webmesh0"]
        assert device.state.public_key == member.public_key
        assert device.state.listen_port == member.wg_port
        assert member.links.addresses["webmesh0"] == (f"{member.ipv4.removesuffix('/32')}/12",)


async def test_get_status_reports_raft_role_term_leader_and_interface_peers(
    cluster: Cluster,
) -> None:
    await devices_converged(cluster)
    leader = await wait_for_leader(cluster.members)
    statuses = {}
    for member in cluster.members:
        async with member.client() as client:
            statuses[member.node_id] = status = await client.status()
            with pytest.raises(errors.NotFound, match="ask node 'other'"):
                await client.status("other")
        assert status.id == member.node_id
        assert status.node_count == 3
        assert status.is_leader == (member is leader)
        assert status.raft.leader_id == leader.node_id
        assert status.raft.leader_address == leader.raft
        assert status.raft.term >= 1
        assert status.raft.has_quorum
        assert sorted(status.raft.voters) == sorted([cluster.bootstrap.raft, cluster.voter.raft])
        assert status.interface.name == "webmesh0"
        assert status.interface.public_key == member.public_key
        assert status.interface.listen_port == member.wg_port
        peers = {
            p.public_key: (p.id, p.endpoint, tuple(p.allowed_ips)) for p in status.interface.peers
        }
        assert peers == {
            m.public_key: (m.node_id, m.endpoint, (m.ipv4,))
            for m in cluster.members
            if m is not member
        }
    follower = cluster.voter if leader is cluster.bootstrap else cluster.bootstrap
    assert statuses[leader.node_id].raft.state == "leader"
    assert statuses[follower.node_id].raft.state == "follower"
    assert statuses["n3"].raft.state == "observer"
    assert statuses["n3"].raft.address == ""
    assert statuses["n3"].role == types_pb2.NODE_ROLE_OBSERVER
    assert statuses[leader.node_id].raft.term == statuses[follower.node_id].raft.term


async def test_mesh_graph_has_every_node_every_direct_edge_and_dot(cluster: Cluster) -> None:
    async with cluster.observer.client() as client:
        graph = await client.graph()
    assert list(graph.nodes) == ["n1", "n2", "n3"]
    edges = {(e.source, e.target, e.relayed_by) for e in graph.edges}
    assert edges == {("n1", "n2", ""), ("n1", "n3", ""), ("n2", "n3", "")}
    assert graph.dot.startswith("graph webmesh {")
    for line in ('"n1";', '"n1" -- "n2";', '"n1" -- "n3";', '"n2" -- "n3";'):
        assert f"  {line}\n" in graph.dot
    assert "dashed" not in graph.dot


async def test_subscribe_peers_yields_the_current_list_then_the_list_after_a_join(
    cluster: Cluster,
) -> None:
    await devices_converged(cluster)
    n1, n2, n3 = cluster.members
    guest_key = new_public_key()
    async with n2.client() as client, peer_stream(client, "n3") as stream:
        try:
            async with asyncio.timeout(10):
                first = await anext(stream)
            assert [(p.id, p.public_key, p.endpoint, list(p.allowed_ips)) for p in first.peers] == [
                ("n1", n1.public_key, n1.endpoint, ["172.16.0.1/32"]),
                ("n2", n2.public_key, n2.endpoint, ["172.16.0.2/32"]),
            ]
            async with n1.client() as joiner:
                joined = await joiner.join(join_request("guest-sub", guest_key, "127.0.0.1:9"))
            async with asyncio.timeout(10):
                second = await anext(stream)
            assert [p.id for p in second.peers] == ["guest-sub", "n1", "n2"]
            guest = second.peers[0]
            assert (guest.public_key, guest.endpoint) == (guest_key, "127.0.0.1:9")
            assert list(guest.allowed_ips) == [joined.address_ipv4]
            assert guest.private_ipv4 == joined.address_ipv4
            assert second.index > first.index
        finally:
            await leave_quietly(n1, "guest-sub")
    await devices_converged(cluster)
    assert n3.public_key not in n3.device_peers()


async def test_subscribe_peers_for_an_unknown_node_is_not_found(cluster: Cluster) -> None:
    async with cluster.voter.client() as client, peer_stream(client, "nobody") as stream:
        with pytest.raises(errors.NotFound, match="nobody"):
            async with asyncio.timeout(10):
                await anext(stream)


async def test_grpc_requests_are_counted_by_method_and_code(cluster: Cluster) -> None:
    get_node = "/webmesh.v1.Mesh/GetNode"
    list_nodes = "/webmesh.v1.Mesh/ListNodes"
    join = "/webmesh.v1.Membership/Join"
    subscribe = "/webmesh.v1.Membership/SubscribePeers"
    before = {
        (subscribe, "NOT_FOUND"): requests_served(subscribe, "NOT_FOUND"),
        (get_node, "OK"): requests_served(get_node, "OK"),
        (get_node, "NOT_FOUND"): requests_served(get_node, "NOT_FOUND"),
        (list_nodes, "OK"): requests_served(list_nodes, "OK"),
        (join, "INVALID_ARGUMENT"): requests_served(join, "INVALID_ARGUMENT"),
    }
    async with cluster.observer.client() as client:
        assert (await client.get_node("n1")).id == "n1"
        for _ in range(2):
            with pytest.raises(errors.NotFound):
                await client.get_node("missing")
        for _ in range(3):
            await client.list_nodes()
        with pytest.raises(errors.InvalidArgument):
            await client.join(join_request("bad-key", "not-a-key"))
        async with peer_stream(client, "missing") as stream:
            with pytest.raises(errors.NotFound):
                await anext(stream)
    after = {key: requests_served(*key) for key in before}
    assert {key: after[key] - before[key] for key in before} == {
        (get_node, "OK"): 1,
        (get_node, "NOT_FOUND"): 2,
        (list_nodes, "OK"): 3,
        (join, "INVALID_ARGUMENT"): 1,
        (subscribe, "NOT_FOUND"): 1,
    }


async def test_a_peer_stream_the_client_cancels_is_counted(cluster: Cluster) -> None:
    method = "/webmesh.v1.Membership/SubscribePeers"
    before = requests_by_code(method)
    async with cluster.voter.client() as client, peer_stream(client, "n1") as stream:
        async with asyncio.timeout(10):
            assert len((await anext(stream)).peers) == 2
    # the client has hung up, which is how every SubscribePeers stream ends

    async def counted() -> bool:
        after = requests_by_code(method)
        return sum(after.values()) == sum(before.values()) + 1

    await async_eventually(counted, timeout=3, what="the cancelled stream in the counter")
    assert requests_by_code(method).get("CANCELLED", 0) == before.get("CANCELLED", 0) + 1
