"""The node's own persisted identity: id, WireGuard key, Raft key and mesh membership.

Kept in ``<data-dir>/node.json`` (mode 0600: it holds the private keys), so a node restarted on
the same data resumes with the same id, keys and addresses.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from webmesh.mesh.peers import Peer

IDENTITY_FILE = "node.json"
IDENTITY_VERSION = 1


@dataclass(frozen=True, slots=True)
class Identity:
    node_id: str
    private_key: str  # WireGuard
    raft_key: str = ""  # the Raft private key (X25519, base64) this node presents to replicas
    # The key being replaced while a rotation propagates (webmesh.daemon.raft_keys).
    raft_key_previous: str = ""
    # Filled once the node is in a mesh (bootstrapped or joined):
    role: str = ""  # voter | observer | client
    network_ipv4: str = ""
    network_ipv6: str = ""
    domain: str = ""
    ipv4: str = ""
    ipv6: str = ""
    voters: tuple[str, ...] = field(default=())
    # Raft address -> Raft public key of the voters, from the Join response (kept fresh from the
    # state): the keys a new replica admits before its own copy of the state has caught up.
    voter_keys: tuple[tuple[str, str], ...] = field(default=())
    bootstrapped_here: bool = False
    # The peers that lead to Raft (voters and the relay), so that a resumed node can reach the
    # voters through WireGuard before its replica has caught up.
    peers: tuple[Peer, ...] = field(default=())
    # Why and when the mesh removed this node, once it noticed ("" while it is a member): a
    # restart then refuses to rejoin unless --mesh.rejoin-after-removal says so.
    removed: str = ""
    # WireGuard key rotation (webmesh.daemon.wg_keys): the key being published (until the
    # device switches to it), when the current key was made (unix seconds), and how many
    # rotations asked by the mesh (wmctl rotate-key) it has served.
    private_key_next: str = ""
    key_created_at: float = 0.0
    key_rotations_served: int = 0

    @property
    def in_mesh(self) -> bool:
        return bool(self.network_ipv4 and self.ipv4)

    def with_membership(self, **changes: Any) -> Identity:
        return replace(self, **changes)


def load(data_dir: Path) -> Identity | None:
    path = data_dir / IDENTITY_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    if raw.pop("v", None) != IDENTITY_VERSION:
        raise ValueError(f"{path}: unsupported identity file version")
    raw.pop("raft_secret", None)  # written before replicas had their own keys: unused
    raw["voters"] = tuple(raw.get("voters", ()))
    raw["voter_keys"] = tuple((str(a), str(k)) for a, k in raw.get("voter_keys", ()))
    raw["peers"] = tuple(
        Peer(**{**p, "allowed_ips": tuple(p["allowed_ips"])}) for p in raw.get("peers", ())
    )
    return Identity(**raw)


def save(data_dir: Path, identity: Identity) -> None:
    """Write atomically with owner-only permissions."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / IDENTITY_FILE
    tmp = path.with_suffix(".tmp")
    payload = {"v": IDENTITY_VERSION, **asdict(identity)}
    payload["voters"] = list(identity.voters)
    payload["voter_keys"] = [list(pair) for pair in identity.voter_keys]
    payload["peers"] = [asdict(p) for p in identity.peers]
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
