"""Immutable records of the mesh: what is stored in the replicated state.

Names by role: these are *stored* records. Desired specs and observed statuses live elsewhere.
Every record converts to and from plain JSON-able dicts, because snapshots and commands are JSON.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webmesh import errors
from webmesh.syntax import validate_cidr, validate_node_id


class NodeRole(enum.StrEnum):
    """How a node takes part in consensus."""

    VOTER = "voter"  # votes in Raft, serves the API
    OBSERVER = "observer"  # a full read-only replica of the state (non-voting)
    CLIENT = "client"  # no replica: follows its peers through SubscribePeers (wmctl connect)


@dataclass(frozen=True, slots=True)
class Networks:
    """The mesh's address space and DNS domain, fixed at bootstrap."""

    ipv4: str
    ipv6: str  # "" when the mesh runs without IPv6
    domain: str

    def to_dict(self) -> dict[str, Any]:
        return {"ipv4": self.ipv4, "ipv6": self.ipv6, "domain": self.domain}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Networks:
        return cls(ipv4=str(raw["ipv4"]), ipv6=str(raw.get("ipv6", "")), domain=str(raw["domain"]))


@dataclass(frozen=True, slots=True)
class Node:
    """A member of the mesh as the replicated state knows it."""

    id: str
    public_key: str  # WireGuard public key, base64 (as `wg` shows it)
    ipv4: str = ""  # "172.16.0.1/32", or "" when the node has none
    ipv6: str = ""  # the node's /64 from the mesh's ULA /48, or ""
    endpoints: tuple[str, ...] = ()  # WireGuard endpoints "host:port"; the primary first
    role: NodeRole = NodeRole.OBSERVER
    api_address: str = ""  # "mesh-ip:port" of its gRPC API; "" for clients
    raft_address: str = ""  # "mesh-ip:port" of its Raft transport; "" for clients
    routes: tuple[str, ...] = ()  # extra CIDRs reachable through this node
    joined_at: float = 0.0  # unix seconds, decided by the proposer
    features: tuple[str, ...] = field(default=())
    # Its Raft public key (X25519, base64) when it keeps a replica: replicas admit each other's
    # Raft connections by these (webmesh.raft.credentials); "" for clients.
    raft_key: str = ""
    # The key it is replacing, admitted too while a rotation propagates; "" otherwise.
    raft_key_previous: str = ""
    # The mesh's key epoch (MeshState.raft_key_epoch) when raft_key was registered: a node whose
    # epoch is behind the mesh's makes a new key (``wmctl rotate-raft-keys``).
    raft_key_epoch: int = 0
    # Removed soon after it goes offline (``--mesh.ephemeral-grace``) instead of after
    # ``--mesh.purge-after``: a workstation that asked for it (``wmctl connect --ephemeral``).
    ephemeral: bool = False
    # "mesh-ip:port" of its MeshDNS server (--services.meshdns.enabled); "" when it serves none.
    dns_address: str = ""
    # "ip:port" its WireGuard traffic comes from as the servers see it (its NAT's public side):
    # decided by servers (the address of its Join, then WireGuard's view), never by the node.
    observed_endpoint: str = ""

    @property
    def primary_endpoint(self) -> str:
        return self.endpoints[0] if self.endpoints else ""

    @property
    def is_server(self) -> bool:
        return bool(self.api_address)

    def addresses(self) -> tuple[str, ...]:
        """The prefixes that belong to the node itself (what a peer's AllowedIPs must carry)."""
        return tuple(a for a in (self.ipv4, self.ipv6) if a)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "public_key": self.public_key,
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "endpoints": list(self.endpoints),
            "role": self.role.value,
            "api_address": self.api_address,
            "raft_address": self.raft_address,
            "routes": list(self.routes),
            "joined_at": self.joined_at,
            "features": list(self.features),
            **({"raft_key": self.raft_key} if self.raft_key else {}),
            **({"raft_key_previous": self.raft_key_previous} if self.raft_key_previous else {}),
            **({"raft_key_epoch": self.raft_key_epoch} if self.raft_key_epoch else {}),
            **({"ephemeral": True} if self.ephemeral else {}),
            **({"dns_address": self.dns_address} if self.dns_address else {}),
            **({"observed_endpoint": self.observed_endpoint} if self.observed_endpoint else {}),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Node:
        return cls(
            id=str(raw["id"]),
            public_key=str(raw["public_key"]),
            ipv4=str(raw.get("ipv4", "")),
            ipv6=str(raw.get("ipv6", "")),
            endpoints=tuple(str(e) for e in raw.get("endpoints", ())),
            role=NodeRole(raw.get("role", NodeRole.OBSERVER.value)),
            api_address=str(raw.get("api_address", "")),
            raft_address=str(raw.get("raft_address", "")),
            routes=tuple(str(r) for r in raw.get("routes", ())),
            joined_at=float(raw.get("joined_at", 0.0)),
            features=tuple(str(f) for f in raw.get("features", ())),
            raft_key=str(raw.get("raft_key", "")),
            raft_key_previous=str(raw.get("raft_key_previous", "")),
            raft_key_epoch=int(raw.get("raft_key_epoch", 0)),
            ephemeral=bool(raw.get("ephemeral", False)),
            dns_address=str(raw.get("dns_address", "")),
            observed_endpoint=str(raw.get("observed_endpoint", "")),
        )


def validate_public_key(key: str, *, what: str = "WireGuard public key") -> str:
    """An X25519 public key (WireGuard's, or a Raft key) is 32 bytes in standard base64."""
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidArgument(f"invalid {what} {key!r}: not base64") from exc
    if len(raw) != 32:
        raise errors.InvalidArgument(f"invalid {what} {key!r}: {len(raw)} bytes, expected 32")
    if raw == bytes(32):
        raise errors.InvalidArgument(f"invalid {what}: all zeros")
    return key


def validate_endpoint(endpoint: str) -> str:
    """Endpoints are "ipv4:port" or "[ipv6]:port" (or a resolvable "host:port")."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.InvalidArgument(f"invalid endpoint {endpoint!r}: expected host:port")
    return endpoint


def validate_node(node: Node) -> Node:
    """Check a node record before it enters the log."""
    validate_node_id(node.id)
    validate_public_key(node.public_key)
    for endpoint in node.endpoints:
        validate_endpoint(endpoint)
    for prefix in (*node.addresses(), *node.routes):
        validate_cidr(prefix)
    for key in (node.raft_key, node.raft_key_previous):
        if key:
            validate_public_key(key, what="raft key")
    if node.role is NodeRole.CLIENT and (node.raft_key or node.raft_key_previous):
        raise errors.InvalidArgument(f"node {node.id!r} is a client: it holds no raft key")
    if node.raft_key_previous and node.raft_key_previous == node.raft_key:
        raise errors.InvalidArgument("a raft key cannot replace itself")
    if node.raft_key_previous and not node.raft_key:
        raise errors.InvalidArgument("a previous raft key needs a current one")
    return node
