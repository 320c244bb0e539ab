"""Who may speak Raft with us: each replica's own key, and the roster of keys the mesh admits.

Every replica (voter or observer) holds its own X25519 key pair; the mesh state records each
replica's public key next to its Raft address. A channel is opened only between two keys the
roster admits (``webmesh.raft.handshake``), so:

- a client-role node, or anyone else, holds no key the roster knows and is refused at the
  handshake;
- removing a replica from the mesh removes its key from the roster, and channels already open
  with it are closed (:meth:`webmesh.raft.channel.Channel.check_deadlines`): what it held is
  revoked, with nothing to re-distribute to anyone else;
- rotating a replica's key is a state change like any other (``KeyRing`` holds the keys a
  replica may present while the new one propagates).

The roster is a small protocol so that this package need not know the mesh model: the daemon
builds one from the replicated state, tests use :class:`StaticRoster`.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from webmesh import errors

KEY_BYTES = 32
ANY_ADDRESS = "*"  # a roster entry that may speak for any address (tests, single-key meshes)


class Roster(Protocol):
    """The Raft keys this replica admits."""

    def address_of(self, public_key: bytes) -> str | None:
        """The Raft address the holder of ``public_key`` speaks for (``ANY_ADDRESS``: any), or
        None when the key is no replica's: the peer is refused."""
        ...


@dataclass(frozen=True, slots=True)
class StaticRoster:
    """A fixed roster: public key -> Raft address (or ``ANY_ADDRESS``)."""

    keys: Mapping[bytes, str]

    def address_of(self, public_key: bytes) -> str | None:
        return self.keys.get(public_key)


class RaftKey:
    """One X25519 key pair: the replica's Raft identity."""

    __slots__ = ("_private", "public")

    def __init__(self, private: X25519PrivateKey) -> None:
        self._private = private
        # the *_raw methods, not .serialization: that module loads every algorithm
        self.public = private.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> RaftKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str) -> RaftKey:
        """From the base64 private key kept in the node's identity file."""
        return cls(X25519PrivateKey.from_private_bytes(decode_key(text, what="raft private key")))

    def to_text(self) -> str:
        return base64.b64encode(self._private.private_bytes_raw()).decode()

    @property
    def public_text(self) -> str:
        return encode_key(self.public)

    def exchange(self, peer_public: bytes) -> bytes:
        """X25519 with a peer's public key (raises ``ValueError`` on a degenerate key)."""
        return self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))


def encode_key(public: bytes) -> str:
    return base64.b64encode(public).decode()


def decode_key(text: str, *, what: str = "raft key") -> bytes:
    """A base64 X25519 key (32 bytes), or ``InvalidArgument``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidArgument(f"invalid {what}: not base64 ({exc})") from exc
    if len(raw) != KEY_BYTES:
        raise errors.InvalidArgument(f"invalid {what}: {len(raw)} bytes, expected {KEY_BYTES}")
    return raw


class KeyRing:
    """The key this replica presents in new handshakes; swapped when it rotates its key.

    Read on pysyncobj's thread, written on the asyncio one: a lock keeps the swap whole.
    """

    def __init__(self, key: RaftKey) -> None:
        self._lock = threading.Lock()
        self._key = key

    @property
    def current(self) -> RaftKey:
        with self._lock:
            return self._key

    def replace(self, key: RaftKey) -> None:
        with self._lock:
            self._key = key


@dataclass(frozen=True, slots=True)
class RaftCredentials:
    """What a replica needs to open channels: its own key and the roster it admits."""

    keys: KeyRing
    roster: Roster

    @classmethod
    def shared(cls, key: RaftKey) -> RaftCredentials:
        """Every replica holds ``key`` and admits it for any address: for tests of the Raft
        layer alone, where no mesh state names the replicas."""
        return cls(KeyRing(key), StaticRoster({key.public: ANY_ADDRESS}))
