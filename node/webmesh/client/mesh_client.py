"""A small typed client over the webmesh.v1 API, raising domain errors instead of gRPC ones.

Used by wmctl, by joining nodes and (later) by the operator. Keeps one channel per server.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc import aio

from webmesh import errors
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
from webmesh.client import convert_admin, status
from webmesh.client.security import ClientSecurity
from webmesh.mesh.objects import Kind
from webmesh.syntax import is_address

T = TypeVar("T")
M = TypeVar("M", bound=Message)
DEFAULT_TIMEOUT = 10.0
SNAPSHOT_TIMEOUT = 120.0  # seconds for a whole snapshot, however short --timeout is
SNAPSHOT_LIMIT = 1 << 30  # bytes: a 10,000-node mesh is ~5 MB


# Metadata of an Admin Put: accept node ids the mesh does not know (yet).
ALLOW_MISSING_NODES_HEADER = "x-webmesh-allow-missing-nodes"


@dataclass(frozen=True, slots=True)
class ClientOptions:
    security: ClientSecurity = field(default_factory=ClientSecurity)
    timeout: float = DEFAULT_TIMEOUT


TLS_HINTS = (
    "socket closed",
    "handshake",
    "ssl",
    "certificate",
    "tls",
    "peer name",
    "hostname verification",
)
_NAME_MISMATCH = (
    "its certificate does not name {name}; pass a name in its certificate with "
    "--tls.server-name (a server behind a load balancer or node port), or dial a name or "
    "address in its SANs with --server"
)
LEADER_HINTS = ("no leader", "leader changed")
CLIENT_CERT_FLAGS = "--auth.mtls.cert-file and --auth.mtls.key-file"


class ConnectionFailed(errors.Unavailable):
    """The server could not be reached at all (refused, unresolvable, no answer in time)."""


class TlsFailed(errors.Unavailable):
    """The TLS handshake failed, or one side spoke TLS and the other did not."""


class LeaderUnavailable(errors.Unavailable):
    """The server answered, but the mesh has no reachable leader right now."""


# (hint in grpc's details, advice); the first match wins. {name}: what the certificate must name.
_TLS_ADVICE = (
    (
        "wrong_version_number",
        "the server does not speak TLS; add --insecure if the mesh runs with --global.insecure",
    ),
    (
        "verify",
        "its certificate is not signed by the CA you trust; pass the mesh CA with --tls.ca-file",
    ),
    ("peer name", _NAME_MISMATCH),
    ("hostname verification", _NAME_MISMATCH),
)


def _tls_advice(server: str, details: str, security: ClientSecurity) -> str:
    lowered = details.lower()
    if security.insecure:
        return f"{server} closed the connection: it probably serves TLS; drop --insecure"
    advice = next((text for hint, text in _TLS_ADVICE if hint in lowered), "")
    expected = repr(security.server_name) if security.server_name else "the host you dialled"
    advice = advice.replace("{name}", expected)
    if not advice and "socket closed" in lowered:
        advice = (
            f"the server refused the client certificate {security.cert_file}; use one issued "
            "by the mesh CA for a user or node"
            if security.cert_file
            else "the server wants a client certificate; pass one issued by the mesh CA with "
            f"{CLIENT_CERT_FLAGS} (`wmctl pki issue NAME --user`)"
        )
    return f"TLS with {server} failed: " + (
        advice
        or f"{details}; the server may want a client certificate from the mesh CA "
        f"({CLIENT_CERT_FLAGS}), or --tls.ca-file is not the CA of the server's certificate"
    )


def _is_tls_failure(details: str, security: ClientSecurity) -> bool:
    lowered = details.lower()
    if security.insecure:
        return "socket closed" in lowered
    return any(hint in lowered for hint in TLS_HINTS)


def describe(server: str, exc: aio.AioRpcError, security: ClientSecurity) -> str:
    """One line that says what went wrong talking to ``server`` and what to do about it."""
    return _explain(server, exc, security)[1]


def _explain(
    server: str, exc: aio.AioRpcError, security: ClientSecurity
) -> tuple[type[errors.MeshError] | None, str]:
    """The error class wmctl raises (None: the status table's) and the one-line message."""
    code = exc.code()
    details = exc.details() or ""
    lowered = details.lower()
    unavailable = code is grpc.StatusCode.UNAVAILABLE
    if unavailable and (lowered.startswith("leader ") or any(h in lowered for h in LEADER_HINTS)):
        return LeaderUnavailable, (
            f"{server}: {details} (the mesh has no reachable leader: check that a quorum of "
            "voters runs, then retry)"
        )
    if unavailable and _is_tls_failure(details, security):
        return TlsFailed, _tls_advice(server, details, security)
    unresolved = resolution_failure(details)
    if unavailable and unresolved is not None:
        host, reason = unresolved
        return ConnectionFailed, f"cannot resolve {host!r} (in {server}): {reason}; {RESOLVER_HINT}"
    if unavailable and ("connect" in lowered or "dns" in lowered):
        return ConnectionFailed, (
            f"cannot reach {server}: {_last_error(details)}; check --server (HOST:PORT of a "
            "node's API, port 8443 by default) and that the node runs"
        )
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return ConnectionFailed, (
            f"{server} did not answer in time; check that it is a webmesh node, or raise --timeout"
        )
    return None, _server_says(server, code, details)


RESOLVER_HINT = (
    "the system resolver was asked (/etc/hosts, then DNS, in /etc/nsswitch.conf's order; DNS "
    "servers from /etc/resolv.conf): check the name, or give an address"
)
_RESOLVING = re.compile(
    r"(?:errors resolving|DNS resolution failed for) \[?([^\s\]]+?)\]?(?::\d+)?[:\s]"
)
_OS_ERROR = re.compile(r"os_error: ([^\]]+?)(?: syscall:|\]|$)")


def resolution_failure(details: str) -> tuple[str, str] | None:
    """(host, reason) when gRPC could not resolve the target's host name, else None.

    gRPC says ``errors resolving HOST:PORT: [field:hostname lookup error:Address lookup failed
    for HOST:PORT os_error: Name or service not known syscall: getaddrinfo]``.
    """
    found = _RESOLVING.search(details)
    if found is None:
        return None
    reason = _OS_ERROR.search(details)
    return found.group(1), (reason.group(1).strip() if reason else "lookup failed")


RESOLVE_PROBE_TIMEOUT = 1.0


async def unresolvable(server: str) -> str:
    """Why ``server``'s host name does not resolve now ("" if it does, or is an address).

    Asked after a call ran out of time: a name that is not in /etc/hosts, with a DNS server that
    does not answer, makes the system resolver wait longer than the call's deadline (glibc: 5 s
    a try), and gRPC then reports only the deadline. A name that resolves answers in far less
    than :data:`RESOLVE_PROBE_TIMEOUT`.
    """
    host, _, port = server.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or is_address(host):
        return ""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.getaddrinfo(host, int(port)), RESOLVE_PROBE_TIMEOUT)
    except TimeoutError:
        reason = "the system resolver did not answer in time"
    except OSError as exc:
        reason = str(exc.strerror or exc)
    else:
        return ""
    return f"cannot resolve {host!r} (in {server}): {reason}; {RESOLVER_HINT}"


def _server_says(server: str, code: grpc.StatusCode, details: str) -> str:
    hints = {
        grpc.StatusCode.PERMISSION_DENIED: "ask a mesh admin for a role binding that allows it",
        grpc.StatusCode.UNAUTHENTICATED: (
            f"give credentials: {CLIENT_CERT_FLAGS}, --auth.basic.* or --auth.ldap.*"
        ),
        grpc.StatusCode.NOT_FOUND: "check the name (`wmctl get nodes` lists the nodes)",
        grpc.StatusCode.UNIMPLEMENTED: "is it a webmesh node of this version?",
    }
    hint = hints.get(code)
    text = f"{server}: {details or code.name}"
    return f"{text} ({hint})" if hint else text


def _last_error(details: str) -> str:
    """grpc's 'failed to connect to all addresses; last error: UNKNOWN: ipv4:...: X' -> X."""
    tail = details.rsplit(": ", 1)[-1] if "last error" in details else details
    return tail or details


def error_for_rpc(server: str, exc: aio.AioRpcError, security: ClientSecurity) -> errors.MeshError:
    """The domain error (with a one-line, actionable message) for a failed call."""
    cls, message = _explain(server, exc, security)
    return cls(message) if cls is not None else status.error_for(exc.code(), message)


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
            if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                unresolved = await unresolvable(self.server)
                if unresolved:
                    raise ConnectionFailed(unresolved) from exc
            raise error_for_rpc(self.server, exc, self._options.security) from exc

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
            raise error_for_rpc(self.server, exc, self._options.security) from exc

    async def peers(self, node_id: str) -> membership_pb2.PeerList:
        """A node's current WireGuard peers: the first message of SubscribePeers, then close."""
        request = membership_pb2.SubscribePeersRequest(id=node_id)
        call = self.membership.SubscribePeers(request, timeout=self._options.timeout)
        try:
            async for peers in call:
                result: membership_pb2.PeerList = peers
                return result
        except aio.AioRpcError as exc:
            raise error_for_rpc(self.server, exc, self._options.security) from exc
        finally:
            call.cancel()
        raise errors.Unavailable(f"{self.server} ended the peer stream of {node_id} without peers")

    async def snapshot(self, *, limit: int = SNAPSHOT_LIMIT) -> bytes:
        """The server's snapshot file (``Mesh.SaveSnapshot``), whole; at most ``limit`` bytes."""
        parts: list[bytes] = []
        size = 0
        call = self.mesh.SaveSnapshot(
            mesh_pb2.SaveSnapshotRequest(), timeout=max(self._options.timeout, SNAPSHOT_TIMEOUT)
        )
        try:
            async for chunk in call:
                size += len(chunk.data)
                if size > limit:
                    raise errors.Exhausted(
                        f"the snapshot from {self.server} is larger than {limit} bytes"
                    )
                parts.append(chunk.data)
        except aio.AioRpcError as exc:
            raise error_for_rpc(self.server, exc, self._options.security) from exc
        finally:
            call.cancel()
        return b"".join(parts)

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

    async def put_object(self, kind: Kind, obj: M, *, allow_missing_nodes: bool = False) -> M:
        """Create or replace a policy object (a ``admin_pb2.Role``, ``NetworkACL``, ...).
        ``allow_missing_nodes``: accept node ids the mesh does not know (yet)."""
        rpc = self._admin_rpc(kind, "Put")
        metadata = ((ALLOW_MISSING_NODES_HEADER, "1"),) if allow_missing_nodes else ()
        result: M = await self._call(lambda t: rpc(obj, timeout=t, metadata=metadata))
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

    async def rotate_raft_keys(self) -> int:
        """Make every replica replace its Raft key; the mesh's new key epoch."""
        request = admin_pb2.RotateRaftKeysRequest()
        result = await self._call(lambda t: self.admin.RotateRaftKeys(request, timeout=t))
        return int(result.epoch)

    async def rotate_wireguard_key(self, node_id: str) -> int:
        """Ask ``node_id`` for a new WireGuard key; how many rotations were asked of it."""
        request = admin_pb2.RotateWireGuardKeyRequest(node_id=node_id)
        result = await self._call(lambda t: self.admin.RotateWireGuardKey(request, timeout=t))
        return int(result.requested)


__all__ = [
    "ALLOW_MISSING_NODES_HEADER",
    "ClientOptions",
    "ConnectionFailed",
    "LeaderUnavailable",
    "MeshClient",
    "TlsFailed",
    "errors",
]
