"""The Admin API on a 3-node mesh: put/get/list/delete of every kind through any node, precise
errors, and ACLs and routes reaching the (fake) WireGuard devices.

Every object a test creates is deleted again, and synthetic nodes leave, so the shared cluster
ends every test as it started (three nodes, no policy objects: an insecure mesh seeds none).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from google.protobuf.message import Message

from integration.node.meshlab import (
    Cluster,
    Member,
    join_request,
    leave_quietly,
    new_public_key,
    peer_stream,
    requests_served,
    wait_for_leader,
)
from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import admin_pb2, membership_pb2
from webmesh.cli import main as wmctl
from webmesh.mesh.objects import Kind

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 5.0  # seconds for a committed change to reach every replica and device

SAMPLES: dict[Kind, Message] = {
    Kind.ROLE: admin_pb2.Role(
        name="it-role",
        rules=[
            admin_pb2.Rule(verbs=["get", "put"], resources=["networkacls"]),
            admin_pb2.Rule(verbs=["get"], resources=["nodes"], resource_names=["n3"]),
        ],
    ),
    Kind.ROLEBINDING: admin_pb2.RoleBinding(
        name="it-binding",
        role="it-role",
        subjects=[
            admin_pb2.Subject(kind="user", name="alice"),
            admin_pb2.Subject(kind="group", name="netops"),
        ],
    ),
    Kind.GROUP: admin_pb2.Group(
        name="it-group", members=[admin_pb2.Subject(kind="node", name="n9")]
    ),
    Kind.NETWORKACL: admin_pb2.NetworkACL(
        name="it-acl",
        priority=7,
        action="accept",
        source_nodes=["n9"],
        destination_nodes=["group:it-group"],
        destination_cidrs=["10.98.0.0/16"],
    ),
    Kind.ROUTE: admin_pb2.Route(name="it-route", node="n9", destination_cidrs=["10.97.0.0/24"]),
    Kind.PEERING: admin_pb2.Peering(
        name="it-peering",
        gateway="n9",
        remote_public_key=new_public_key(),
        remote_endpoint="192.0.2.9:51820",
        export_cidrs=["172.16.0.0/12"],
        accept_cidrs=["10.94.0.0/16"],
    ),
}
RPC_NAMES = {
    Kind.ROLE: "Role",
    Kind.ROLEBINDING: "RoleBinding",
    Kind.GROUP: "Group",
    Kind.NETWORKACL: "NetworkACL",
    Kind.ROUTE: "Route",
    Kind.PEERING: "Peering",
}


async def entry(cluster: Cluster, which: str) -> Member:
    """The node a test talks to: the leader, the voter that follows, or the observer."""
    leader = await wait_for_leader(cluster.members)
    if which == "leader":
        return leader
    if which == "follower":
        return cluster.voter if leader is cluster.bootstrap else cluster.bootstrap
    return cluster.observer


async def delete_quietly(member: Member, kind: Kind, name: str) -> None:
    with contextlib.suppress(errors.NotFound):
        async with member.client() as client:
            await client.delete_object(kind, name)


# What each sample names (a put naming a missing node, group or role is refused): the kind and
# sample it needs first, or a node id to join.
NEEDS: dict[Kind, tuple[tuple[Kind, Message] | str, ...]] = {
    Kind.ROLEBINDING: ((Kind.ROLE, SAMPLES[Kind.ROLE]),),
    Kind.NETWORKACL: ((Kind.GROUP, SAMPLES[Kind.GROUP]), "n9"),
    Kind.ROUTE: ("n9",),
    Kind.PEERING: ("n9",),
}


@contextlib.asynccontextmanager
async def referenced(cluster: Cluster, kind: Kind) -> AsyncIterator[None]:
    """Creates what ``SAMPLES[kind]`` names for the duration, then removes it again."""
    leader = await entry(cluster, "leader")
    async with contextlib.AsyncExitStack() as stack:
        for need in NEEDS.get(kind, ()):
            await stack.enter_async_context(_needed(leader, need))
        yield


@contextlib.asynccontextmanager
async def _needed(leader: Member, need: tuple[Kind, Message] | str) -> AsyncIterator[None]:
    if isinstance(need, str):  # a node
        async with synthetic(leader, need, 40009):
            yield
        return
    needed_kind, sample = need
    try:
        async with leader.client() as client:
            await client.put_object(needed_kind, sample)
        yield
    finally:
        await delete_quietly(leader, needed_kind, sample.name)  # type: ignore[attr-defined]


async def on_every_replica(
    cluster: Cluster, what: str, check: Callable[[Member], Awaitable[bool]]
) -> None:
    async def holds() -> bool:
        for member in cluster.members:
            if not await check(member):
                return False
        return True

    await async_eventually(holds, timeout=WAIT, what=what)


@pytest.mark.parametrize("which", ["leader", "follower", "observer"])
@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.value)
async def test_put_get_list_delete_through_any_node(
    cluster: Cluster, kind: Kind, which: str
) -> None:
    member = await entry(cluster, which)
    sample = SAMPLES[kind]
    name = sample.name  # type: ignore[attr-defined]
    put_rpc = f"/webmesh.v1.Admin/Put{RPC_NAMES[kind]}"
    served_before = requests_served(put_rpc, "OK")
    async with referenced(cluster, kind):
        try:
            async with member.client() as client:
                assert await client.put_object(kind, sample) == sample
            # Served once where it landed, and once more on the leader when forwarded there.
            assert requests_served(put_rpc, "OK") - served_before == (1 if which == "leader" else 2)

            async def stored(m: Member) -> bool:
                async with m.client() as c:
                    listed = await c.list_objects(kind)
                    return bool(await c.get_object(kind, name) == sample and listed == [sample])

            await on_every_replica(cluster, f"{kind.value} {name} on every replica", stored)
            async with member.client() as client:
                await client.delete_object(kind, name)

            async def gone(m: Member) -> bool:
                async with m.client() as c:
                    with contextlib.suppress(errors.NotFound):
                        await c.get_object(kind, name)
                        return False
                    return await c.list_objects(kind) == []

            await on_every_replica(cluster, f"{kind.value} {name} deleted everywhere", gone)
            async with member.client() as client:
                with pytest.raises(errors.NotFound, match=name):
                    await client.delete_object(kind, name)
        finally:
            await delete_quietly(member, kind, name)


async def test_put_replaces_an_object(cluster: Cluster) -> None:
    member = await entry(cluster, "follower")
    first = admin_pb2.Route(name="it-replace", node="n9", destination_cidrs=["10.96.0.0/24"])
    second = admin_pb2.Route(name="it-replace", node="n8", destination_cidrs=["10.96.1.0/24"])
    try:
        async with (
            synthetic(member, "n9", 40009),
            synthetic(member, "n8", 40008),
            member.client() as client,
        ):
            await client.put_object(Kind.ROUTE, first)
            await client.put_object(Kind.ROUTE, second)

            async def replaced(m: Member) -> bool:
                async with m.client() as c:
                    return await c.list_objects(Kind.ROUTE) == [second]

            await on_every_replica(cluster, "the second route only", replaced)
    finally:
        await delete_quietly(member, Kind.ROUTE, "it-replace")


INVALID: list[tuple[Kind, Message, str]] = [
    (Kind.ROLE, admin_pb2.Role(name="Not_A_Name"), "invalid role name"),
    (
        Kind.ROLE,
        admin_pb2.Role(name="r", rules=[admin_pb2.Rule(verbs=["fly"], resources=["*"])]),
        "invalid verb 'fly'",
    ),
    (
        Kind.ROLEBINDING,
        admin_pb2.RoleBinding(name="b", role="r", subjects=[admin_pb2.Subject(kind="robot")]),
        "invalid subject kind",
    ),
    (
        Kind.GROUP,
        admin_pb2.Group(name="g", members=[admin_pb2.Subject(kind="group", name="x")]),
        "groups contain only nodes and users",
    ),
    (
        Kind.NETWORKACL,
        admin_pb2.NetworkACL(name="a", action="maybe", source_nodes=["*"]),
        "invalid ACL action",
    ),
    (
        Kind.NETWORKACL,
        admin_pb2.NetworkACL(name="a", action="deny", source_nodes=["*"]),
        "has no destination",
    ),
    (Kind.ROUTE, admin_pb2.Route(name="r", node="n1", destination_cidrs=["nope"]), "nope"),
    (
        Kind.PEERING,
        admin_pb2.Peering(
            name="p",
            gateway="n1",
            remote_public_key=new_public_key(),
            export_cidrs=["172.16.0.0/12"],
            accept_cidrs=["172.20.0.0/16"],  # inside the mesh's 172.16.0.0/12
        ),
        "overlaps this mesh's network",
    ),
]


@pytest.mark.parametrize("which", ["leader", "follower"])
@pytest.mark.parametrize(("kind", "message", "says"), INVALID, ids=lambda v: str(v)[:24])
async def test_invalid_objects_are_invalid_arguments(
    cluster: Cluster, which: str, kind: Kind, message: Message, says: str
) -> None:
    member = await entry(cluster, which)
    async with member.client() as client:
        with pytest.raises(errors.InvalidArgument, match=says):
            await client.put_object(kind, message)
        assert await client.list_objects(kind) == []


@pytest.mark.parametrize("which", ["leader", "follower"])
async def test_builtins_cannot_be_deleted_or_overwritten(cluster: Cluster, which: str) -> None:
    member = await entry(cluster, which)
    async with member.client() as client:
        with pytest.raises(errors.PermissionDenied, match="mesh-admin"):
            await client.delete_object(Kind.ROLE, "mesh-admin")
        with pytest.raises(errors.PermissionDenied, match="read-only"):
            await client.put_object(
                Kind.ROLEBINDING,
                admin_pb2.RoleBinding(
                    name="mesh-admin",
                    role="mesh-admin",
                    subjects=[admin_pb2.Subject(kind="user", name="mallory")],
                ),
            )
        with pytest.raises(errors.NotFound, match="no-such-group"):
            await client.get_object(Kind.GROUP, "no-such-group")


# --- the data plane -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def synthetic(member: Member, node_id: str, port: int) -> AsyncIterator[str]:
    """A node joined by the test (no daemon) with an endpoint; yields its public key."""
    key = new_public_key()
    try:
        async with member.client() as client:
            await client.join(join_request(node_id, key, f"127.0.0.1:{port}"))
        yield key
    finally:
        await leave_quietly(member, node_id)


async def next_peers(
    stream: AsyncIterator[membership_pb2.PeerList], want: Callable[[set[str]], bool], what: str
) -> None:
    """Read the peer stream until the peer ids satisfy ``want`` (bounded)."""

    async def read() -> None:
        async for peer_list in stream:
            if want({p.id for p in peer_list.peers}):
                return
        raise AssertionError(f"peer stream ended before {what}")

    try:
        await asyncio.wait_for(read(), timeout=WAIT)
    except TimeoutError:
        raise AssertionError(f"timed out after {WAIT}s waiting for {what}") from None


async def test_a_deny_acl_removes_the_peer_and_deleting_it_restores_it(cluster: Cluster) -> None:
    leader = await entry(cluster, "leader")
    follower = await entry(cluster, "follower")
    observer = cluster.observer
    acl = admin_pb2.NetworkACL(
        name="it-deny-y",
        priority=100,
        action="deny",
        source_nodes=["acl-x", observer.node_id],
        destination_nodes=["acl-y"],
    )
    async with (
        synthetic(leader, "acl-x", 40001) as x_key,
        synthetic(leader, "acl-y", 40002) as y_key,
        follower.client() as client,
        peer_stream(client, "acl-x") as x_peers,
    ):

        def everyone_has_y() -> bool:
            return all(y_key in m.device_peers() for m in cluster.members)

        async def has_y() -> bool:
            return everyone_has_y()

        await async_eventually(has_y, timeout=WAIT, what="acl-y on every device")
        await next_peers(x_peers, lambda ids: "acl-y" in ids, "acl-x peering with acl-y")
        try:
            await client.put_object(Kind.NETWORKACL, acl)

            async def denied() -> bool:
                others = [m for m in cluster.members if m is not observer]
                return y_key not in observer.device_peers() and all(
                    y_key in m.device_peers() for m in others
                )

            await async_eventually(denied, timeout=WAIT, what="acl-y gone from n3's device only")
            await next_peers(x_peers, lambda ids: "acl-y" not in ids, "acl-x losing acl-y")
            # Only acl-y is cut off: the observer still peers with everyone else.
            others = {m.public_key for m in cluster.members if m is not observer}
            assert set(observer.device_peers()) == others | {x_key}

            await client.delete_object(Kind.NETWORKACL, acl.name)
            await async_eventually(has_y, timeout=WAIT, what="acl-y back on n3's device")
            await next_peers(x_peers, lambda ids: "acl-y" in ids, "acl-x peering with acl-y again")
        finally:
            await delete_quietly(follower, Kind.NETWORKACL, acl.name)


async def test_a_route_object_reaches_the_allowed_ips_of_the_routing_node(
    cluster: Cluster,
) -> None:
    follower = await entry(cluster, "follower")
    router = cluster.observer
    route = admin_pb2.Route(
        name="it-office", node=router.node_id, destination_cidrs=["10.99.0.0/24"]
    )
    peers_of_router = [m for m in cluster.members if m is not router]

    def allowed_ips_on(member: Member) -> set[str]:
        entry = member.device_peers().get(router.public_key)
        return set(entry[1]) if entry else set()

    def routed(expected: set[str]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return all(allowed_ips_on(m) == expected for m in peers_of_router)

        return check

    try:
        async with follower.client() as client:
            await client.put_object(Kind.ROUTE, route)
        await async_eventually(
            routed({router.ipv4, "10.99.0.0/24"}),
            timeout=WAIT,
            what="the route in the router's AllowedIPs on its peers",
        )
        async with follower.client() as client:
            await client.delete_object(Kind.ROUTE, route.name)
        await async_eventually(
            routed({router.ipv4}),
            timeout=WAIT,
            what="the route gone from the router's AllowedIPs",
        )
    finally:
        await delete_quietly(follower, Kind.ROUTE, route.name)


async def test_wmctl_put_get_delete_through_a_follower(cluster: Cluster) -> None:
    follower = await entry(cluster, "follower")

    async def wmctl_run(*argv: str) -> str:
        args = wmctl.build_parser().parse_args(["--insecure", "-s", follower.api, *argv])
        return await wmctl.run(args)

    put = ("put", "networkacls", "it-wmctl", "--priority", "100", "--src-node", "b")
    try:
        with pytest.raises(errors.NotFound, match="node 'b' is not in the mesh"):
            await wmctl_run(*put, "--dst-node", "c", "--deny")
        assert await wmctl_run(*put, "--dst-node", "c", "--deny", "--allow-missing-nodes") == (
            "networkacl/it-wmctl configured\n"
        )
        listed = json.loads(await wmctl_run("get", "networkacls", "-o", "json"))
        assert listed == [
            {
                "name": "it-wmctl",
                "priority": 100,
                "action": "deny",
                "sourceNodes": ["b"],
                "destinationNodes": ["c"],
            }
        ]
        table = await wmctl_run("get", "networkacl", "it-wmctl")
        assert table.splitlines()[1].split() == ["it-wmctl", "100", "deny", "b", "c"]
        assert await wmctl_run("delete", "networkacls", "it-wmctl") == (
            "networkacl/it-wmctl deleted\n"
        )
        with pytest.raises(errors.NotFound):
            await wmctl_run("get", "networkacls", "it-wmctl")
    finally:
        await delete_quietly(follower, Kind.NETWORKACL, "it-wmctl")


async def test_wmctl_put_of_a_route_to_a_missing_node_is_not_found(cluster: Cluster) -> None:
    follower = await entry(cluster, "follower")
    args = ("--insecure", "-s", follower.api, "put", "routes", "r1", "--node", "nosuch")
    put_route = "/webmesh.v1.Admin/PutRoute"
    refused_before = requests_served(put_route, "NOT_FOUND")
    try:
        with pytest.raises(errors.NotFound, match="route r1: node 'nosuch' is not in the mesh"):
            await wmctl.run(wmctl.build_parser().parse_args([*args, "--cidr", "10.95.0.0/24"]))
        # NOT_FOUND on the wire: where it landed, and on the leader it was forwarded to
        assert requests_served(put_route, "NOT_FOUND") - refused_before == 2
        async with follower.client() as client:
            assert await client.list_objects(Kind.ROUTE) == []
    finally:
        await delete_quietly(follower, Kind.ROUTE, "r1")
