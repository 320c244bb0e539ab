"""Building and starting the node's grpc.aio server (servicers, health, reflection)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from webmesh import errors
from webmesh.api import reflection
from webmesh.api.admin_servicer import AdminServicer
from webmesh.api.forward import LeaderForwarder
from webmesh.api.interceptors import ErrorsAndMetrics, Guard, prepare_series
from webmesh.api.servicers import MembershipServicer, MeshServicer, NodeServicer
from webmesh.api.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    membership_pb2,
    membership_pb2_grpc,
    mesh_pb2,
    mesh_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
)
from webmesh.mesh.changelog import ChangeLog
from webmesh.service.admin import AdminService
from webmesh.service.membership import MembershipService
from webmesh.service.presence import PresenceService, Streams
from webmesh.service.status import NodeStatus
from webmesh.service.watch import StateWatch

# The server pings a quiet connection every 5 s and drops it after 3 s without an answer, so a
# client cut off without a FIN (its host gone, a partition) ends its streams within ~8 s: its
# SubscribePeers stream is its presence (webmesh.mesh.presence).
KEEPALIVE = (
    ("grpc.keepalive_time_ms", 5000),
    ("grpc.keepalive_timeout_ms", 3000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)

SERVICE_NAMES = (
    membership_pb2.DESCRIPTOR.services_by_name["Membership"].full_name,
    mesh_pb2.DESCRIPTOR.services_by_name["Mesh"].full_name,
    node_pb2.DESCRIPTOR.services_by_name["Node"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
)


async def start_api_server(
    *,
    listen_address: str,
    node_id: str,
    membership: MembershipService,
    admin: AdminService,
    forwarder: LeaderForwarder,
    watch: StateWatch,
    changes: ChangeLog,
    status: Callable[[], Awaitable[NodeStatus]],
    credentials: grpc.ServerCredentials | None = None,
    guard: Guard | None = None,
    presence: PresenceService | None = None,
    streams: Streams | None = None,
) -> aio.Server:
    """Start serving; raise Unavailable with the address when the port cannot be bound.

    Without ``credentials`` the API is plaintext and, without ``guard``, open to anyone: the
    ``--global.insecure`` mode.
    """
    server = aio.server(interceptors=[ErrorsAndMetrics(guard)], options=KEEPALIVE)
    prepare_series(_methods())
    membership_pb2_grpc.add_MembershipServicer_to_server(
        MembershipServicer(
            membership, forwarder, watch, changes, presence=presence, streams=streams
        ),
        server,
    )
    mesh_pb2_grpc.add_MeshServicer_to_server(MeshServicer(membership), server)
    node_pb2_grpc.add_NodeServicer_to_server(NodeServicer(node_id, status), server)
    admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(admin, forwarder), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable((*SERVICE_NAMES, health.SERVICE_NAME), server)
    try:
        if credentials is None:
            server.add_insecure_port(listen_address)
        else:
            server.add_secure_port(listen_address, credentials)
    except RuntimeError as exc:
        raise errors.Unavailable(f"cannot listen on {listen_address}: {exc}") from exc
    await server.start()
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server


def _methods() -> list[str]:
    """The full names (``/webmesh.v1.Membership/Join``) of every RPC this server serves."""
    return [
        f"/{service.full_name}/{method.name}"
        for module in (membership_pb2, mesh_pb2, node_pb2, admin_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]
