"""One backup object: ``WMBK1`` + a 12-byte nonce + AES-256-GCM of a snapshot file.

GCM authenticates as well as encrypts: a backup that was changed, cut short, written under
another key (another mesh's) or that is not a backup at all fails to open, with a message that
says which of those it can tell apart. The associated data binds the format version, so a
future format cannot be mistaken for this one.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from webmesh import errors

MAGIC = b"WMBK1"
NONCE = 12
KEY_BYTES = 32
_AAD = b"webmesh-backup-v1"


def new_key() -> str:
    """A new backup key, as the key file holds it (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def read_key(path: Path) -> bytes:
    """The 32-byte key in ``path`` (base64, surrounding whitespace ignored)."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot read the backup key {path}: {exc.strerror}") from exc
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise errors.InvalidArgument(
            f"the backup key {path} must be {KEY_BYTES} bytes in base64 "
            "(make one with: head -c 32 /dev/urandom | base64)"
        )
    return key


def seal(key: bytes, snapshot: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, snapshot, _AAD)


def open_sealed(key: bytes, data: bytes, *, source: str = "the backup") -> bytes:
    """The snapshot file inside a backup; ``InvalidArgument`` when it cannot be trusted."""
    if not data.startswith(MAGIC):
        raise errors.InvalidArgument(f"{source} is not a webmesh backup (no {MAGIC.decode()})")
    nonce, sealed = data[len(MAGIC) : len(MAGIC) + NONCE], data[len(MAGIC) + NONCE :]
    try:
        return AESGCM(key).decrypt(nonce, sealed, _AAD)
    except InvalidTag:
        raise errors.InvalidArgument(
            f"{source} does not open with this key: it was changed, cut short, or written "
            "with another mesh's key"
        ) from None
