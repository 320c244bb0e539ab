"""The Raft channel's handshake: fixed-size messages, mutual authentication by each replica's key.

Three messages, each of a fixed size, so that a listener never reads more than 104 bytes from a
peer it has not authenticated::

    dialer   -> listener   MAGIC | S_d | E_d                 (72 bytes)
    listener -> dialer     MAGIC | S_l | E_l | proof_l       (104 bytes)
    dialer   -> listener   proof_d                           (32 bytes)

``S`` are the replicas' static X25519 public keys (``webmesh.raft.credentials``), ``E`` fresh
ephemeral ones. Each side checks the other's static key against its roster *before* any other
work, then both derive, from three Diffie-Hellman results (the "3DH" of Signal's first
protocol):

    K = HKDF(DH(E_d, E_l) | DH(S_d, E_l) | DH(E_d, S_l), salt = SHA-256(transcript))

Only the holder of ``S_l``'s private key can compute ``DH(E_d, S_l)``, and only the holder of
``S_d``'s private key ``DH(S_d, E_l)``: the proofs ``HMAC(K, label | transcript)`` show each side
holds its key, bind the whole exchange (the transcript) and cannot be replayed (fresh
ephemerals) or reflected (labels). Session keys come from ``K`` and the transcript, one per
direction, so a stolen static key does not decrypt past sessions.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from webmesh.raft.credentials import KEY_BYTES, RaftKey

MAGIC = b"WMRAFT\x00\x02"  # protocol name and version: a foreign service fails at once
PROOF_BYTES = 32
DIALER_HELLO = len(MAGIC) + 2 * KEY_BYTES
LISTENER_HELLO = len(MAGIC) + 2 * KEY_BYTES + PROOF_BYTES


class HandshakeError(Exception):
    """A peer's key material is unusable (a low-order point): treated as a failed proof."""


@dataclass(frozen=True, slots=True)
class Hello:
    static: bytes  # the sender's Raft public key
    ephemeral: bytes
    proof: bytes = b""  # the listener's only


@dataclass(frozen=True, slots=True)
class Session:
    """What both sides derive: the proofs each must show and one key per direction."""

    dialer_proof: bytes
    listener_proof: bytes
    to_listener: bytes
    to_dialer: bytes


def dialer_hello(static: RaftKey, ephemeral: RaftKey) -> bytes:
    return MAGIC + static.public + ephemeral.public


def listener_hello(static: RaftKey, ephemeral: RaftKey, session: Session) -> bytes:
    return MAGIC + static.public + ephemeral.public + session.listener_proof


def parse_hello(data: bytes) -> Hello:
    """A dialer's (72 bytes) or listener's (104 bytes) hello; its magic is already checked."""
    body = data[len(MAGIC) :]
    return Hello(body[:KEY_BYTES], body[KEY_BYTES : 2 * KEY_BYTES], body[2 * KEY_BYTES :])


def dialer_session(static: RaftKey, ephemeral: RaftKey, listener: Hello) -> Session:
    """The dialer's side, once the listener's hello is in."""
    transcript = _transcript(static.public, ephemeral.public, listener.static, listener.ephemeral)
    return _derive(
        _exchange(ephemeral, listener.ephemeral),
        _exchange(static, listener.ephemeral),
        _exchange(ephemeral, listener.static),
        transcript,
    )


def listener_session(static: RaftKey, ephemeral: RaftKey, dialer: Hello) -> Session:
    """The listener's side, once the dialer's hello is in (and its key admitted)."""
    transcript = _transcript(dialer.static, dialer.ephemeral, static.public, ephemeral.public)
    return _derive(
        _exchange(ephemeral, dialer.ephemeral),
        _exchange(ephemeral, dialer.static),
        _exchange(static, dialer.ephemeral),
        transcript,
    )


def proofs_match(expected: bytes, received: bytes) -> bool:
    return hmac.compare_digest(expected, received)


def _exchange(mine: RaftKey, theirs: bytes) -> bytes:
    try:
        return mine.exchange(theirs)
    except ValueError as exc:  # a low-order point gives an all-zero secret
        raise HandshakeError(str(exc)) from exc


def _transcript(*parts: bytes) -> bytes:
    return hashlib.sha256(MAGIC + b"".join(parts)).digest()


def _hkdf(material: bytes, *, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


def _derive(dh1: bytes, dh2: bytes, dh3: bytes, transcript: bytes) -> Session:
    key = _hkdf(dh1 + dh2 + dh3, salt=transcript, info=b"webmesh raft handshake v2")
    return Session(
        dialer_proof=hmac.new(key, b"dialer" + transcript, hashlib.sha256).digest(),
        listener_proof=hmac.new(key, b"listener" + transcript, hashlib.sha256).digest(),
        to_listener=_hkdf(key, salt=transcript, info=b"dialer to listener"),
        to_dialer=_hkdf(key, salt=transcript, info=b"listener to dialer"),
    )
