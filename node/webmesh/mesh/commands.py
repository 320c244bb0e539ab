"""Replicated commands and their versioned JSON envelope.

Every change to the mesh is one of these, proposed by the leader with every id, timestamp and
address already decided, so that applying it is deterministic on every node. On the wire a command
is ``{"type": ..., "v": ..., "payload": ...}``; a type or version this build does not know is
rejected by ``apply`` with an error result (it never crashes a replica).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webmesh import errors
from webmesh.mesh import objects
from webmesh.mesh.model import Networks, Node

ENVELOPE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """Create the mesh: its networks, its security policy and the seeded RBAC objects.

    Rejected once the mesh exists.
    """

    networks: Networks
    policy: objects.Policy = field(default_factory=objects.Policy)
    seed: tuple[tuple[objects.Kind, objects.MeshObject], ...] = ()
    generation: str = ""  # a random id of this mesh (MeshState.generation)

    def payload(self) -> dict[str, Any]:
        return {
            "networks": self.networks.to_dict(),
            "policy": self.policy.to_dict(),
            "seed": [{"kind": kind.value, "object": obj.to_dict()} for kind, obj in self.seed],
            **({"generation": self.generation} if self.generation else {}),
        }

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> Bootstrap:
        seed = tuple(
            (objects.parse_kind(item["kind"]), _object(item["kind"], item["object"]))
            for item in raw.get("seed", ())
        )
        return cls(
            networks=Networks.from_dict(raw["networks"]),
            policy=objects.Policy.from_dict(raw.get("policy", {})),
            seed=seed,
            generation=str(raw.get("generation", "")),
        )


@dataclass(frozen=True, slots=True)
class Restore:
    """Create the mesh from a snapshot (``--bootstrap.restore-from``): its networks, policy
    objects and bookkeeping, under a new ``generation``; the node records follow in
    ``RestoreNodes`` commands, since a command is at most 1 MiB and a 10,000-node mesh's records
    are several. Until the last of them the state is ``restoring``. Rejected once the mesh
    exists."""

    snapshot: Mapping[str, Any]  # state.to_snapshot's dict, its "nodes" empty
    generation: str

    def payload(self) -> dict[str, Any]:
        return {"snapshot": dict(self.snapshot), "generation": self.generation}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> Restore:
        return cls(snapshot=dict(raw["snapshot"]), generation=str(raw["generation"]))


@dataclass(frozen=True, slots=True)
class RestoreNodes:
    """Node records of a restore in progress, as the snapshot held them; ``last`` ends it.
    Rejected unless the state is restoring that ``generation``."""

    generation: str
    nodes: tuple[Node, ...]
    last: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "nodes": [node.to_dict() for node in self.nodes],
            "last": self.last,
        }

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> RestoreNodes:
        nodes = tuple(Node.from_dict(item) for item in raw["nodes"])
        return cls(generation=str(raw["generation"]), nodes=nodes, last=bool(raw.get("last")))


def _object(kind: str, raw: Mapping[str, Any]) -> objects.MeshObject:
    return objects.from_dict(objects.parse_kind(kind), raw)


@dataclass(frozen=True, slots=True)
class PutObject:
    """Create or replace a policy object (role, rolebinding, group, networkacl, route, peering)."""

    kind: objects.Kind
    obj: objects.MeshObject
    allow_missing_nodes: bool = False  # node ids the mesh does not know (yet) are accepted

    def payload(self) -> dict[str, Any]:
        extra = {"allow_missing_nodes": True} if self.allow_missing_nodes else {}
        return {"kind": self.kind.value, "object": self.obj.to_dict(), **extra}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> PutObject:
        return cls(
            objects.parse_kind(raw["kind"]),
            _object(raw["kind"], raw["object"]),
            allow_missing_nodes=bool(raw.get("allow_missing_nodes", False)),
        )


@dataclass(frozen=True, slots=True)
class DeleteObject:
    kind: objects.Kind
    name: str

    def payload(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> DeleteObject:
        return cls(objects.parse_kind(raw["kind"]), str(raw["name"]))


@dataclass(frozen=True, slots=True)
class PutNode:
    """Add a node, or update one whose id and public key match. ``replaces_key``: the node
    rotates its WireGuard key; the record's current key must be this one."""

    node: Node
    replaces_key: str = ""

    def payload(self) -> dict[str, Any]:
        extra = {"replaces_key": self.replaces_key} if self.replaces_key else {}
        return {"node": self.node.to_dict(), **extra}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> PutNode:
        return cls(node=Node.from_dict(raw["node"]), replaces_key=str(raw.get("replaces_key", "")))


@dataclass(frozen=True, slots=True)
class RequestKeyRotation:
    """Ask a node for a new WireGuard key (``wmctl rotate-key``): its request count goes up by
    one, and the node, seeing a count above the one it last served, rotates."""

    node_id: str

    def payload(self) -> dict[str, Any]:
        return {"node_id": self.node_id}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> RequestKeyRotation:
        return cls(node_id=str(raw["node_id"]))


@dataclass(frozen=True, slots=True)
class RemoveNode:
    """Remove a node (it left, or an administrator removed it). ``at``: unix seconds, decided
    by the proposer: when its addresses were released (0 in logs older than the quarantine)."""

    node_id: str
    at: float = 0.0

    def payload(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "at": self.at}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> RemoveNode:
        return cls(node_id=str(raw["node_id"]), at=float(raw.get("at", 0.0)))


@dataclass(frozen=True, slots=True)
class RotateRaftKeys:
    """Ask every replica for a new Raft key: the mesh's key epoch goes up by one, and each
    replica whose key is older registers a new one (``webmesh.daemon.raft_keys``)."""

    def payload(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> RotateRaftKeys:
        del raw
        return cls()


@dataclass(frozen=True, slots=True)
class SetPresence:
    """Who the leader stopped seeing (with when each was last seen, unix seconds) and who it sees
    again. Written only when someone's presence changes, never per heartbeat
    (``webmesh.mesh.presence`` decides, ``webmesh.service.presence`` proposes)."""

    offline: Mapping[str, float] = field(default_factory=dict)
    online: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {"offline": dict(sorted(self.offline.items())), "online": sorted(self.online)}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> SetPresence:
        offline = {str(k): float(v) for k, v in dict(raw.get("offline", {})).items()}
        return cls(offline=offline, online=tuple(str(i) for i in raw.get("online", ())))


@dataclass(frozen=True, slots=True)
class ObserveEndpoints:
    """Where servers see nodes' WireGuard traffic come from ("ip:port", the public side of their
    NATs). Written only on changes (``webmesh.service.paths`` decides)."""

    endpoints: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"endpoints": dict(sorted(self.endpoints.items()))}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> ObserveEndpoints:
        return cls({str(k): str(v) for k, v in dict(raw.get("endpoints", {})).items()})


PATH_STATES = ("direct", "relayed", "")


@dataclass(frozen=True, slots=True)
class SetPath:
    """How two nodes without an endpoint reach each other: "direct" (their hole punch worked),
    "relayed" (it did not: stop trying for now), or "" (forget it: try again)."""

    a: str
    b: str
    path: str

    def payload(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "path": self.path}

    @classmethod
    def from_payload(cls, raw: Mapping[str, Any]) -> SetPath:
        path = str(raw.get("path", ""))
        if path not in PATH_STATES:
            raise errors.InvalidArgument(f"unknown path {path!r}: expected direct or relayed")
        return cls(a=str(raw["a"]), b=str(raw["b"]), path=path)


Command = (
    Bootstrap
    | Restore
    | RestoreNodes
    | PutNode
    | RemoveNode
    | PutObject
    | DeleteObject
    | RotateRaftKeys
    | SetPresence
    | RequestKeyRotation
    | ObserveEndpoints
    | SetPath
)

COMMAND_TYPES: dict[str, Any] = {
    "Bootstrap": Bootstrap,
    "Restore": Restore,
    "RestoreNodes": RestoreNodes,
    "PutNode": PutNode,
    "RemoveNode": RemoveNode,
    "PutObject": PutObject,
    "DeleteObject": DeleteObject,
    "RotateRaftKeys": RotateRaftKeys,
    "SetPresence": SetPresence,
    "RequestKeyRotation": RequestKeyRotation,
    "ObserveEndpoints": ObserveEndpoints,
    "SetPath": SetPath,
}


def encode(command: Command) -> bytes:
    envelope = {"type": type(command).__name__, "v": ENVELOPE_VERSION, "payload": command.payload()}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def decode(data: bytes) -> Command:
    """Parse an envelope; anything malformed is an InvalidArgument, never another exception."""
    try:
        envelope = json.loads(data)
        kind = COMMAND_TYPES[envelope["type"]]
        if envelope["v"] != ENVELOPE_VERSION:
            raise errors.InvalidArgument(f"unsupported command version {envelope['v']!r}")
        command: Command = kind.from_payload(envelope["payload"])
        return command
    except errors.MeshError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise errors.InvalidArgument(f"malformed command: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Result:
    """What applying a command returned to its proposer (JSON on the wire)."""

    ok: bool = True
    error_kind: str = ""
    error_message: str = ""
    value: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def failure(cls, error: errors.MeshError) -> Result:
        return cls(ok=False, error_kind=error.kind, error_message=str(error))

    def encode(self) -> bytes:
        return json.dumps(
            {"ok": self.ok, "kind": self.error_kind, "msg": self.error_message, "v": self.value},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> Result:
        raw = json.loads(data)
        return cls(ok=raw["ok"], error_kind=raw["kind"], error_message=raw["msg"], value=raw["v"])

    def raise_for_error(self) -> Result:
        if not self.ok:
            raise errors.error_from_kind(self.error_kind, self.error_message)
        return self
