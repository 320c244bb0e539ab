"""The webmesh.v1 Admin servicer: convert, call AdminService, convert.

Mutations that reach a follower are replayed on the leader (``LeaderForwarder.on_leader``); reads
are answered from this server's replica. Every RPC is a one-line delegation to one of four generic
handlers, driven by ``convert_admin.ADMIN_KINDS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

from google.protobuf.message import Message
from grpc import aio

from webmesh.api.forward import FORWARD_TIMEOUT, LeaderForwarder
from webmesh.api.v1 import admin_pb2, admin_pb2_grpc
from webmesh.client import convert_admin
from webmesh.client.mesh_client import ALLOW_MISSING_NODES_HEADER
from webmesh.mesh.objects import Kind
from webmesh.service.admin import AdminService

Context: TypeAlias = aio.ServicerContext[Any, Any]
M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Message)
Metadata = tuple[tuple[str, str], ...]


def _as(message: object, cls: type[R]) -> R:
    """``message``, checked to be a ``cls`` (what the RPC's signature promises)."""
    if not isinstance(message, cls):  # pragma: no cover - the kinds table pairs them
        raise TypeError(f"expected {cls.__name__}, got {type(message).__name__}")
    return message


class AdminServicer(admin_pb2_grpc.AdminServicer):  # type: ignore[misc]
    """Put, Get, Delete and List for roles, role bindings, groups, network ACLs, routes and
    peerings."""

    def __init__(self, admin: AdminService, forwarder: LeaderForwarder) -> None:
        self._admin = admin
        self._forwarder = forwarder

    async def _forwarded(
        self,
        context: Context,
        kind: Kind,
        verb: str,
        request: Message,
        local: Callable[[], Awaitable[Message]],
    ) -> Message:
        """``local()`` here, or the same RPC (``<verb><kind>``) replayed on the leader."""
        method = convert_admin.ADMIN_KINDS[kind].method(verb)
        return await self._on_leader(context, method, request, local)

    async def _on_leader(
        self,
        context: Context,
        method: str,
        request: Message,
        local: Callable[[], Awaitable[Message]],
    ) -> Message:
        """``local()`` here, or the Admin RPC ``method`` replayed on the leader."""

        async def remote(channel: aio.Channel, metadata: Metadata) -> Message:
            stub = admin_pb2_grpc.AdminStub(channel)
            response: Message = await getattr(stub, method)(
                request, metadata=metadata, timeout=FORWARD_TIMEOUT
            )
            return response

        return await self._forwarder.on_leader(context, local, remote)

    async def _put(self, kind: Kind, request: M, context: Context) -> M:
        metadata = dict(context.invocation_metadata() or ())
        allow = metadata.get(ALLOW_MISSING_NODES_HEADER) == "1"

        async def local() -> Message:
            obj = convert_admin.from_proto(kind, request)
            return convert_admin.to_proto(
                await self._admin.put(kind, obj, allow_missing_nodes=allow)
            )

        return _as(await self._forwarded(context, kind, "Put", request, local), type(request))

    async def _delete(
        self, kind: Kind, request: admin_pb2.DeleteRequest, context: Context
    ) -> admin_pb2.DeleteResponse:
        async def local() -> admin_pb2.DeleteResponse:
            await self._admin.delete(kind, request.name)
            return admin_pb2.DeleteResponse()

        response = await self._forwarded(context, kind, "Delete", request, local)
        return _as(response, admin_pb2.DeleteResponse)

    def _get(self, kind: Kind, request: admin_pb2.GetRequest, response: type[R]) -> R:
        return _as(convert_admin.to_proto(self._admin.get(kind, request.name)), response)

    def _list(self, kind: Kind, response: type[R]) -> R:
        return _as(convert_admin.list_to_proto(kind, self._admin.list(kind)), response)

    # --- roles ----------------------------------------------------------------------------

    async def PutRole(self, request: admin_pb2.Role, context: Context) -> admin_pb2.Role:
        return await self._put(Kind.ROLE, request, context)

    async def GetRole(self, request: admin_pb2.GetRequest, context: Context) -> admin_pb2.Role:
        return self._get(Kind.ROLE, request, admin_pb2.Role)

    async def DeleteRole(
        self, request: admin_pb2.DeleteRequest, context: Context
    ) -> admin_pb2.DeleteResponse:
        return await self._delete(Kind.ROLE, request, context)

    async def ListRoles(
        self, request: admin_pb2.ListRequest, context: Context
    ) -> admin_pb2.RoleList:
        return self._list(Kind.ROLE, admin_pb2.RoleList)

    # --- role bindings --------------------------------------------------------------------

    async def PutRoleBinding(
        self, request: admin_pb2.RoleBinding, context: Context
    ) -> admin_pb2.RoleBinding:
        return await self._put(Kind.ROLEBINDING, request, context)

    async def GetRoleBinding(
        self, request: admin_pb2.GetRequest, context: Context
    ) -> admin_pb2.RoleBinding:
        return self._get(Kind.ROLEBINDING, request, admin_pb2.RoleBinding)

    async def DeleteRoleBinding(
        self, request: admin_pb2.DeleteRequest, context: Context
    ) -> admin_pb2.DeleteResponse:
        return await self._delete(Kind.ROLEBINDING, request, context)

    async def ListRoleBindings(
        self, request: admin_pb2.ListRequest, context: Context
    ) -> admin_pb2.RoleBindingList:
        return self._list(Kind.ROLEBINDING, admin_pb2.RoleBindingList)

    # --- groups ---------------------------------------------------------------------------

    async def PutGroup(self, request: admin_pb2.Group, context: Context) -> admin_pb2.Group:
        return await self._put(Kind.GROUP, request, context)

    async def GetGroup(self, request: admin_pb2.GetRequest, context: Context) -> admin_pb2.Group:
        return self._get(Kind.GROUP, request, admin_pb2.Group)

    async def DeleteGroup(
        self, request: admin_pb2.DeleteRequest, context: Context
    ) -> admin_pb2.DeleteResponse:
        return await self._delete(Kind.GROUP, request, context)

    async def ListGroups(
        self, request: admin_pb2.ListRequest, context: Context
    ) -> admin_pb2.GroupList:
        return self._list(Kind.GROUP, admin_pb2.GroupList)

    # --- network ACLs ---------------------------------------------------------------------

    async def PutNetworkACL(
        self, request: admin_pb2.NetworkACL, context: Context
    ) -> admin_pb2.NetworkACL:
        return await self._put(Kind.NETWORKACL, request, context)

    async def GetNetworkACL(
        self, request: admin_pb2.GetRequest, context: Context
    ) -> admin_pb2.NetworkACL:
        return self._get(Kind.NETWORKACL, request, admin_pb2.NetworkACL)

    async def DeleteNetworkACL(
        self, request: admin_pb2.DeleteRequest, context: Context
    ) -> admin_pb2.DeleteResponse:
        return await self._delete(Kind.NETWORKACL, request, context)

    async def ListNetworkACLs(
        self, request: admin_pb2.ListRequest, context: Context
    ) -> admin_pb2.NetworkACLList:
        return self._list(Kind.NETWORKACL, admin_pb2.NetworkACLList)

    # --- routes ---------------------------------------------------------------------------

    async def PutRoute(self, request: admin_pb2.Route, context: Context) -> admin_pb2.Route:
        return await self._put(Kind.ROUTE, request, context)

    async def GetRoute(self, request: admin_pb2.GetRequest, context: Context) -> admin_pb2.Route:
        return self._get(Kind.ROUTE, request, admin_pb2.Route)

    async def DeleteRoute(
        self, request: admin_pb2.DeleteRequest, context: Context
    ) -> admin_pb2.DeleteResponse:
        return await self._delete(Kind.ROUTE, request, context)

    async def ListRoutes(
        self, request: admin_pb2.ListRequest, context: Context
    ) -> admin_pb2.RouteList:
        return self._list(Kind.ROUTE, admin_pb2.RouteList)

    # --- peerings -------------------------------------------------------------------------

    async def PutPeering(self, request: admin_pb2.Peering, context: Context) -> admin_pb2.Peering:
        return await self._put(Kind.PEERING, request, context)

    async def GetPeering(
        self, request: admin_pb2.GetRequest, context: Context
    ) -> admin_pb2.Peering:
        return self._get(Kind.PEERING, request, admin_pb2.Peering)

    async def DeletePeering(
        self, request: admin_pb2.DeleteRequest, context: Context
    ) -> admin_pb2.DeleteResponse:
        return await self._delete(Kind.PEERING, request, context)

    async def ListPeerings(
        self, request: admin_pb2.ListRequest, context: Context
    ) -> admin_pb2.PeeringList:
        return self._list(Kind.PEERING, admin_pb2.PeeringList)

    # --- raft keys ------------------------------------------------------------------------

    async def RotateRaftKeys(
        self, request: admin_pb2.RotateRaftKeysRequest, context: Context
    ) -> admin_pb2.RotateRaftKeysResponse:
        async def local() -> Message:
            return admin_pb2.RotateRaftKeysResponse(epoch=await self._admin.rotate_raft_keys())

        response = await self._on_leader(context, "RotateRaftKeys", request, local)
        return _as(response, admin_pb2.RotateRaftKeysResponse)

    async def RotateWireGuardKey(
        self, request: admin_pb2.RotateWireGuardKeyRequest, context: Context
    ) -> admin_pb2.RotateWireGuardKeyResponse:
        async def local() -> Message:
            count = await self._admin.request_key_rotation(request.node_id)
            return admin_pb2.RotateWireGuardKeyResponse(requested=count)

        response = await self._on_leader(context, "RotateWireGuardKey", request, local)
        return _as(response, admin_pb2.RotateWireGuardKeyResponse)
