"""The webmesh.v1 servicers: convert, call a service, convert. Nothing else."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

from grpc import aio

from webmesh import errors
from webmesh.api import convert
from webmesh.api.forward import FORWARD_TIMEOUT, LeaderForwarder, observed_host
from webmesh.api.interceptors import CALLER
from webmesh.api.v1 import (
    membership_pb2,
    membership_pb2_grpc,
    mesh_pb2,
    mesh_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    types_pb2,
)
from webmesh.authz.methods import is_self
from webmesh.mesh import names, peers, snapshotfile
from webmesh.mesh.changelog import ChangeLog
from webmesh.mesh.feed import ReplicaFeed
from webmesh.service.membership import MembershipService
from webmesh.service.presence import PresenceService, Streams
from webmesh.service.status import NodeStatus
from webmesh.service.watch import StateWatch

Context: TypeAlias = aio.ServicerContext[Any, Any]

# How often a peer stream re-checks the state even without a wake-up (belt and braces).
RESYNC_INTERVAL = 30.0
SNAPSHOT_CHUNK = 1024 * 1024  # bytes per SaveSnapshot message


class MembershipServicer(membership_pb2_grpc.MembershipServicer):  # type: ignore[misc]
    def __init__(
        self,
        membership: MembershipService,
        forwarder: LeaderForwarder,
        watch: StateWatch,
        changes: ChangeLog,
        *,
        presence: PresenceService | None = None,
        streams: Streams | None = None,
    ) -> None:
        self._membership = membership
        self._forwarder = forwarder
        self._watch = watch
        self._changes = changes
        self._presence = presence
        self._streams = streams or Streams()

    async def Join(
        self, request: membership_pb2.JoinRequest, context: Context
    ) -> membership_pb2.JoinResponse:
        observed = observed_host(context)

        async def local() -> membership_pb2.JoinResponse:
            spec = convert.join_spec(request, observed_host=observed)
            return convert.join_response(await self._membership.join(spec))

        return await self._forwarder.on_leader(
            context,
            local,
            lambda ch, md: membership_pb2_grpc.MembershipStub(ch).Join(
                request, metadata=md, timeout=FORWARD_TIMEOUT
            ),
        )

    async def Leave(
        self, request: membership_pb2.LeaveRequest, context: Context
    ) -> membership_pb2.LeaveResponse:
        async def local() -> membership_pb2.LeaveResponse:
            await self._membership.leave(request.id)
            return membership_pb2.LeaveResponse()

        return await self._forwarder.on_leader(
            context,
            local,
            lambda ch, md: membership_pb2_grpc.MembershipStub(ch).Leave(
                request, metadata=md, timeout=FORWARD_TIMEOUT
            ),
        )

    async def SubscribePeers(
        self, request: membership_pb2.SubscribePeersRequest, context: Context
    ) -> AsyncIterator[membership_pb2.PeerList]:
        """The caller's peers now, then again after every change that alters them.

        Each wake-up costs O(changed nodes) per stream (``ReplicaFeed``), not O(mesh size).
        A node's own stream (the caller is that node, or the API is insecure) counts as its
        presence while it is open (``webmesh.service.presence``).
        """
        caller = CALLER.get()
        own = caller is None or is_self(caller, request.id)
        if own:
            self._streams.opened(request.id)
        try:
            async for update in self._peer_updates(request):
                yield update
        finally:
            if own:
                self._streams.closed(request.id)

    async def _peer_updates(
        self, request: membership_pb2.SubscribePeersRequest
    ) -> AsyncIterator[membership_pb2.PeerList]:
        feed = ReplicaFeed(self._changes, request.id)
        current: dict[str, peers.Peer] = {}
        dns_servers: tuple[str, ...] = ()
        first = True
        while True:
            state = self._changes.latest
            if request.id not in state.nodes:
                raise errors.NotFound(f"node {request.id!r} is not in the mesh")
            delta = feed.poll()
            if delta.full is not None:
                current = {p.node_id: p for p in delta.full}
            for node_id, entry in delta.changes.items():
                if entry is None:
                    current.pop(node_id, None)
                else:
                    current[node_id] = entry
            servers = names.meshdns_servers(state)
            if first or delta.full is not None or delta.changes or servers != dns_servers:
                first, dns_servers = False, servers
                listed = sorted(current.values(), key=lambda p: p.node_id)
                yield membership_pb2.PeerList(
                    peers=[convert.peer_to_proto(p, state) for p in listed],
                    index=state.index,
                    meshdns_servers=servers,
                )
            await self._watch.wait(RESYNC_INTERVAL)

    async def ReportPath(
        self, request: membership_pb2.ReportPathRequest, context: Context
    ) -> membership_pb2.ReportPathResponse:
        async def local() -> membership_pb2.ReportPathResponse:
            await self._membership.report_path(request.node_id, request.peer_id, request.path)
            return membership_pb2.ReportPathResponse()

        return await self._forwarder.on_leader(
            context,
            local,
            lambda ch, md: membership_pb2_grpc.MembershipStub(ch).ReportPath(
                request, metadata=md, timeout=FORWARD_TIMEOUT
            ),
        )

    async def ReportPresence(
        self, request: membership_pb2.ReportPresenceRequest, context: Context
    ) -> membership_pb2.ReportPresenceResponse:
        async def local() -> membership_pb2.ReportPresenceResponse:
            if self._presence is None:
                raise errors.Unavailable("this server does not track presence")
            self._presence.report(request.node_ids)
            if request.observed_endpoints:
                await self._membership.observe_endpoints(dict(request.observed_endpoints))
            return membership_pb2.ReportPresenceResponse()

        return await self._forwarder.on_leader(
            context,
            local,
            lambda ch, md: membership_pb2_grpc.MembershipStub(ch).ReportPresence(
                request, metadata=md, timeout=FORWARD_TIMEOUT
            ),
        )


class MeshServicer(mesh_pb2_grpc.MeshServicer):  # type: ignore[misc]
    """Reads, answered from this server's own replica."""

    def __init__(self, membership: MembershipService) -> None:
        self._membership = membership

    def _leader_id(self) -> str:
        leader = self._membership.leader_node()
        return leader.id if leader else ""

    async def GetNode(
        self, request: mesh_pb2.GetNodeRequest, context: Context
    ) -> types_pb2.MeshNode:
        state = self._membership.state
        node = state.node(request.id)
        return convert.node_to_proto(
            node, leader_id=self._leader_id(), last_seen=state.offline.get(node.id)
        )

    async def ListNodes(
        self, request: mesh_pb2.ListNodesRequest, context: Context
    ) -> mesh_pb2.NodeList:
        leader_id = self._leader_id()
        state = self._membership.state
        nodes = sorted(state.nodes.values(), key=lambda n: n.id)
        return mesh_pb2.NodeList(
            nodes=[
                convert.node_to_proto(n, leader_id=leader_id, last_seen=state.offline.get(n.id))
                for n in nodes
            ]
        )

    async def GetMeshGraph(
        self, request: mesh_pb2.GetMeshGraphRequest, context: Context
    ) -> mesh_pb2.MeshGraph:
        state = self._membership.state
        return convert.graph_to_proto(sorted(state.nodes), peers.mesh_graph(state))

    async def SaveSnapshot(
        self, request: mesh_pb2.SaveSnapshotRequest, context: Context
    ) -> AsyncIterator[mesh_pb2.SnapshotChunk]:
        """One state (states are immutable: the one read now is consistent), in chunks small
        enough for any gRPC message limit, however large the mesh."""
        data = snapshotfile.encode(self._membership.state, created_at=time.time())
        for start in range(0, len(data), SNAPSHOT_CHUNK):
            yield mesh_pb2.SnapshotChunk(data=data[start : start + SNAPSHOT_CHUNK])


class NodeServicer(node_pb2_grpc.NodeServicer):  # type: ignore[misc]
    def __init__(self, node_id: str, status: Callable[[], Awaitable[NodeStatus]]) -> None:
        self._node_id = node_id
        self._status = status

    async def GetStatus(
        self, request: node_pb2.GetStatusRequest, context: Context
    ) -> node_pb2.Status:
        if request.id and request.id != self._node_id:
            raise errors.NotFound(
                f"this is node {self._node_id!r}; ask node {request.id!r} at its own API address"
            )
        return convert.status_to_proto(await self._status())
