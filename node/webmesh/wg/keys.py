"""WireGuard keys: X25519 via ``cryptography``; base64 (as ``wg`` shows) and hex (as UAPI wants).

Every function validates its input and raises ``ValueError`` saying what is wrong, because keys
arrive from config files, flags and the network, and a silent bad key makes a silent dead tunnel.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.hazmat.primitives.asymmetric import x25519

KEY_LEN = 32
ZERO_KEY = base64.b64encode(bytes(KEY_LEN)).decode()


def decode(key_b64: str) -> bytes:
    """Return the 32 raw bytes of a base64 key, or raise ValueError with a clear message."""
    try:
        raw = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid WireGuard key {key_b64!r}: not base64 ({exc})") from exc
    if len(raw) != KEY_LEN:
        raise ValueError(
            f"invalid WireGuard key {key_b64!r}: {len(raw)} bytes, want {KEY_LEN} "
            "(44 base64 characters ending in '=')"
        )
    return raw


def validate(key_b64: str) -> str:
    """Return the key unchanged if it is a valid base64 WireGuard key, else raise ValueError."""
    decode(key_b64)
    return key_b64


def generate_private_key() -> str:
    """A fresh private key, base64 (like ``wg genkey``)."""
    raw = x25519.X25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(raw).decode()


def generate_preshared_key() -> str:
    """A fresh random preshared key, base64 (like ``wg genpsk``)."""
    return base64.b64encode(secrets.token_bytes(KEY_LEN)).decode()


def public_key(private_b64: str) -> str:
    """The public key of a base64 private key (like ``wg pubkey``)."""
    private = x25519.X25519PrivateKey.from_private_bytes(decode(private_b64))
    raw = private.public_key().public_bytes_raw()  # not .serialization: it loads every algorithm
    return base64.b64encode(raw).decode()


def to_hex(key_b64: str) -> str:
    """Base64 key -> 64 lowercase hex digits, the form UAPI speaks."""
    return decode(key_b64).hex()


def from_hex(key_hex: str) -> str:
    """64 hex digits (from UAPI) -> base64 key."""
    try:
        raw = bytes.fromhex(key_hex)
    except ValueError as exc:
        raise ValueError(f"invalid WireGuard key {key_hex!r}: not hex") from exc
    if len(raw) != KEY_LEN:
        raise ValueError(f"invalid WireGuard key {key_hex!r}: {len(raw)} bytes, want {KEY_LEN}")
    return base64.b64encode(raw).decode()
