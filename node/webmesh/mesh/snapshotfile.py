"""The snapshot file: the whole mesh state, as `wmctl snapshot save` writes it.

One header line of JSON, then the state's versioned JSON (``state.to_snapshot``, never pickle).
The header names the format and its version, the mesh (domain and networks), the Raft index
the state was taken at, when, and the SHA-256 and length of the body: a file that was cut short,
changed, or is not a webmesh snapshot at all is refused with a message that says which, before
anything is parsed into a state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webmesh import errors
from webmesh.mesh.model import NodeRole
from webmesh.mesh.state import MeshState, from_snapshot, to_snapshot

FORMAT = "webmesh-snapshot"
VERSION = 1
MAX_HEADER = 64 * 1024  # bytes: a header is a few hundred


@dataclass(frozen=True, slots=True)
class Header:
    created_at: float
    index: int
    domain: str
    ipv4: str
    ipv6: str
    sha256: str
    length: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "v": VERSION,
            "created_at": self.created_at,
            "index": self.index,
            "domain": self.domain,
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "sha256": self.sha256,
            "bytes": self.length,
        }


def encode(state: MeshState, *, created_at: float) -> bytes:
    """The file's bytes for ``state`` (a bootstrapped one)."""
    if state.networks is None:
        raise errors.FailedPrecondition("the mesh is not bootstrapped yet: nothing to save")
    body = json.dumps(to_snapshot(state), separators=(",", ":"), sort_keys=True).encode()
    header = Header(
        created_at=created_at,
        index=state.index,
        domain=state.networks.domain,
        ipv4=state.networks.ipv4,
        ipv6=state.networks.ipv6,
        sha256=hashlib.sha256(body).hexdigest(),
        length=len(body),
    )
    return json.dumps(header.to_dict(), sort_keys=True).encode() + b"\n" + body


def decode(data: bytes, *, source: str = "the snapshot") -> tuple[Header, MeshState]:
    """The header and the state of a snapshot file; ``InvalidArgument`` naming what is wrong."""
    line, newline, body = data.partition(b"\n")
    if not newline or len(line) > MAX_HEADER:
        raise errors.InvalidArgument(f"{source} is not a webmesh snapshot (no header line)")
    header = _header(line, source)
    if len(body) != header.length:
        raise errors.InvalidArgument(
            f"{source} is cut short or padded: {len(body)} bytes of state, the header says "
            f"{header.length}"
        )
    if hashlib.sha256(body).hexdigest() != header.sha256:
        raise errors.InvalidArgument(f"{source} is corrupted: its checksum does not match")
    try:
        state = from_snapshot(json.loads(body))
    except (ValueError, KeyError, TypeError, errors.InvalidArgument) as exc:
        raise errors.InvalidArgument(f"{source} holds a malformed state: {exc}") from exc
    return header, state


def _header(line: bytes, source: str) -> Header:
    try:
        raw = json.loads(line)
        if not isinstance(raw, Mapping) or raw.get("format") != FORMAT:
            raise ValueError("no format")
    except ValueError:
        raise errors.InvalidArgument(f"{source} is not a webmesh snapshot") from None
    if raw.get("v") != VERSION:
        raise errors.InvalidArgument(
            f"{source} is a version {raw.get('v')!r} snapshot; this webmesh reads {VERSION}"
        )
    try:
        return Header(
            created_at=float(raw["created_at"]),
            index=int(raw["index"]),
            domain=str(raw["domain"]),
            ipv4=str(raw["ipv4"]),
            ipv6=str(raw.get("ipv6", "")),
            sha256=str(raw["sha256"]),
            length=int(raw["bytes"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.InvalidArgument(f"{source} has a malformed header: {exc!r}") from exc


def summary(header: Header, state: MeshState) -> dict[str, Any]:
    """What ``wmctl snapshot inspect`` prints: enough to tell two snapshots apart."""
    roles = {role.value: 0 for role in NodeRole}
    for node in state.nodes.values():
        roles[node.role.value] += 1
    objects = {kind.value + "s": len(items) for kind, items in state.objects.by_kind.items()}
    return {
        "created_at": header.created_at,
        "index": header.index,
        "domain": header.domain,
        "networks": {"ipv4": header.ipv4, "ipv6": header.ipv6},
        "nodes": len(state.nodes),
        "by_role": roles,
        "offline": len(state.offline),
        "objects": objects,
        "sha256": header.sha256,
        "bytes": header.length,
    }
