"""A small typed client over the webmesh.v1 API, raising domain errors instead of gRPC ones.

Used by wmctl, by joining nodes and (later) by the operator. Keeps one channel per server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc import aio

from webmesh.api import convert_admin, status
from webmesh.api.security import ClientSecurity
from webmesh.api.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    membership_pb2,
    membership_pb2_grpc,
    mesh_pb2,
    mesh_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    types_pb2,
)
from webmesh.mesh import errors
from webmesh.mesh.objects import Kind

T = TypeVar("T")
M = TypeVar("M", bound=Message)
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class ClientOptions:
    security: ClientSecurity = field(default_factory=ClientSecurity)
    timeout: float = DEFAULT_TIMEOUT


TLS_HINTS = ("socket closed", "handshake", "ssl", "certificate", "tls")


def describe(server: str, exc: aio.AioRpcError, security: ClientSecurity) -> str:
    """One line that says what went wrong talking to ``server`` and what to do about it."""
    code = exc.code()
    details = exc.details() or ""
    lowered = details.lower()
    if (
        code is grpc.StatusCode.UNAVAILABLE
        and not security.insecure
        and any(hint in lowered for hint in TLS_HINTS)
    ):
        return (
            f"TLS with {server} failed ({details}): the server may want a client certificate "
            "from the mesh CA (--auth.mtls.cert-file/--auth.mtls.key-file), or --tls.ca-file "
            "is not the CA of the server's certificate"
        )
    if code is grpc.StatusCode.UNAVAILABLE and security.insecure and "socket closed" in lowered:
        return f"{server} closed the connection: it probably serves TLS; drop --insecure"
    if code is grpc.StatusCode.UNAVAILABLE and ("connect" in lowered or "dns" in lowered):
        return f"cannot reach {server}: {details}; check the address and that the node runs"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{server} did not answer in time"
    return f"{server}: {details or code.name}"


class MeshClient:
    """One server's API. Use as ``async with MeshClient(addr) as client``."""

    def __init__(
        self, server: str, options: ClientOptions | None = None, *, server_name: str = ""
    ) -> None:
        self.server = server
        self._options = options or ClientOptions()
        self._channel = self._options.security.channel(server, server_name=server_name)
        self.membership = membership_pb2_grpc.MembershipStub(self._channel)
        self.mesh = mesh_pb2_grpc.MeshStub(self._channel)
        self.node = node_pb2_grpc.NodeStub(self._channel)
        self.admin = admin_pb2_grpc.AdminStub(self._channel)

    async def __aenter__(self) -> MeshClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, call: Callable[[float], Awaitable[T]]) -> T:
        try:
            return await call(self._options.timeout)
        except aio.AioRpcError as exc:
            raise status.error_for(
                exc.code(), describe(self.server, exc, self._options.security)
            ) from exc

    async def join(self, request: membership_pb2.JoinRequest) -> membership_pb2.JoinResponse:
        return await self._call(lambda t: self.membership.Join(request, timeout=t))

    async def leave(self, node_id: str) -> None:
        request = membership_pb2.LeaveRequest(id=node_id)
        await self._call(lambda t: self.membership.Leave(request, timeout=t))

    async def subscribe_peers(self, node_id: str) -> AsyncIterator[membership_pb2.PeerList]:
        request = membership_pb2.SubscribePeersRequest(id=node_id)
        try:
            async for peers in self.membership.SubscribePeers(request):
                yield peers
        except aio.AioRpcError as exc:
            raise status.error_for(
                exc.code(), describe(self.server, exc, self._options.security)
            ) from exc

    async def status(self, node_id: str = "") -> node_pb2.Status:
        request = node_pb2.GetStatusRequest(id=node_id)
        return await self._call(lambda t: self.node.GetStatus(request, timeout=t))

    async def get_node(self, node_id: str) -> types_pb2.MeshNode:
        request = mesh_pb2.GetNodeRequest(id=node_id)
        return await self._call(lambda t: self.mesh.GetNode(request, timeout=t))

    async def list_nodes(self) -> list[types_pb2.MeshNode]:
        request = mesh_pb2.ListNodesRequest()
        result = await self._call(lambda t: self.mesh.ListNodes(request, timeout=t))
        return list(result.nodes)

    async def graph(self) -> mesh_pb2.MeshGraph:
        request = mesh_pb2.GetMeshGraphRequest()
        return await self._call(lambda t: self.mesh.GetMeshGraph(request, timeout=t))

    # --- Admin: policy objects, one method per verb for every kind (convert_admin.ADMIN_KINDS)

    def _admin_rpc(self, kind: Kind, verb: str) -> Any:
        return getattr(self.admin, convert_admin.ADMIN_KINDS[kind].method(verb))

    async def put_object(self, kind: Kind, obj: M) -> M:
        """Create or replace a policy object (a ``admin_pb2.Role``, ``NetworkACL``, ...)."""
        rpc = self._admin_rpc(kind, "Put")
        result: M = await self._call(lambda t: rpc(obj, timeout=t))
        return result

    async def get_object(self, kind: Kind, name: str) -> Message:
        rpc = self._admin_rpc(kind, "Get")
        request = admin_pb2.GetRequest(name=name)
        result: Message = await self._call(lambda t: rpc(request, timeout=t))
        return result

    async def delete_object(self, kind: Kind, name: str) -> None:
        rpc = self._admin_rpc(kind, "Delete")
        request = admin_pb2.DeleteRequest(name=name)
        await self._call(lambda t: rpc(request, timeout=t))

    async def list_objects(self, kind: Kind) -> list[Message]:
        rpc = self._admin_rpc(kind, "List")
        result = await self._call(lambda t: rpc(admin_pb2.ListRequest(), timeout=t))
        return list(result.items)


__all__ = ["ClientOptions", "MeshClient", "errors"]
