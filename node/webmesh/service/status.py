"""A node's view of itself, in domain terms (the API converts it)."""

from __future__ import annotations

from dataclasses import dataclass

from webmesh.mesh.model import NodeRole
from webmesh.raft.store import RaftStatus
from webmesh.wg.config import DeviceState


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    name: str
    addresses: tuple[str, ...]
    device: DeviceState | None  # None when the device could not be read


@dataclass(frozen=True, slots=True)
class NodeStatus:
    node_id: str
    version: str
    started_at: float
    role: NodeRole
    raft: RaftStatus | None  # None for clients, which keep no replica
    interface: InterfaceInfo
    node_count: int
    leader_id: str
    peer_names: dict[str, str]  # public key -> node id
    mesh_generation: str = ""  # MeshState.generation
