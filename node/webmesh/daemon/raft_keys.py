"""Rotating this node's Raft key when the mesh asks for it, with no downtime.

``wmctl rotate-raft-keys`` raises the mesh's key epoch (``MeshState.raft_key_epoch``). A replica
whose record carries an older epoch rotates, in three steps:

1. make a new key and keep both in the identity file (so a restart resumes the rotation), then
   register the new key with the old one as ``raft_key_previous``: every replica admits both;
2. once that record is in this node's own replica, present the new key in new handshakes
   (channels already open stay open: they were authenticated when they opened);
3. after ``RETIRE_AFTER`` seconds, register the new key alone: replicas close the channels
   still authenticated by the old key (``Refusal.REVOKED``) and the two sides reconnect at once
   with the new one. From then on the old key opens nothing.

Only the decision is here (``decide``, pure); the daemon performs the steps.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from webmesh.mesh.model import Node
from webmesh.raft.credentials import RaftKey

RETIRE_AFTER = 5.0  # seconds both keys are admitted: every replica has applied the new one


class Step(enum.Enum):
    NOTHING = "nothing"
    START = "start"  # the mesh asked for a new key: make one and register it
    PRESENT_NEW = "present_new"  # the new key is registered: use it in new handshakes


@dataclass(frozen=True, slots=True)
class Keys:
    """This node's Raft public keys, as its identity file holds them."""

    current: str
    previous: str  # "" unless a rotation is under way
    presenting: str  # the one new handshakes use now


@functools.lru_cache(maxsize=8)
def public_of(private_text: str) -> str:
    """The public key (base64) of a private one from the identity file ("" for ""); cached,
    because every state change asks (a scalar multiplication each time otherwise)."""
    return RaftKey.from_text(private_text).public_text if private_text else ""


def decide(record: Node | None, mesh_epoch: int, keys: Keys) -> Step:
    """What a state change means for this node's Raft key."""
    if record is None:
        return Step.NOTHING  # not in our replica yet (joining) or removed
    if keys.previous:
        if record.raft_key == keys.current and keys.presenting != keys.current:
            return Step.PRESENT_NEW
        return Step.NOTHING
    if record.raft_key == keys.current and record.raft_key_epoch < mesh_epoch:
        return Step.START
    return Step.NOTHING
