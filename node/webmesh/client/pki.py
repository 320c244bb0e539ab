"""The mesh PKI: a CA and the node, server and user certificates it signs (``wmctl pki ...``).

Key type: **ECDSA P-256** (SHA-256 signatures) for the CA and every leaf. gRPC's BoringSSL accepts
it for server and client certificates alike (``tests/unit/authn/test_pki_grpc.py`` proves both
with a real mTLS handshake). Ed25519 was measured too: with grpcio 1.85 an Ed25519 CA and leaves
fail the handshake ("Handshake read failed"), so it is not an option.

Certificate conventions (what ``mtls.MtlsAuthenticator`` reads back):

- subject ``CN=<name>``; ``O=webmesh``; ``OU=nodes|users|servers`` (for humans reading
  ``openssl x509 -subject``; the authenticator does not trust it);
- a URI SAN ``webmesh:node/<name>`` or ``webmesh:user/<name>``: **the** marker of the kind.
  A client certificate without it is a node (certificates from another tool keep working);
- EKU: node = serverAuth + clientAuth (a node is both), server = serverAuth, user = clientAuth;
- DNS SANs: the name itself when it is a valid host name (node and server), plus ``sans``;
  entries of ``sans`` that parse as IP addresses become IP SANs.

Files: ``<dir>/ca.crt`` + ``ca.key`` and ``<dir>/<name>.crt`` + ``<name>.key``; keys are
unencrypted PKCS#8 PEM with mode 0600 (gRPC needs them unencrypted). Existing files are never
overwritten unless ``force=True``.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import re
import typing
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webmesh import errors, files
from webmesh.syntax import IDENTITY_URI_PREFIX

CertKind = typing.Literal["node", "user", "server"]
KINDS: tuple[CertKind, ...] = ("node", "user", "server")
URI_PREFIX = IDENTITY_URI_PREFIX  # URI SAN "webmesh:<node|user>/<name>"
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
ORGANIZATION = "webmesh"
_OU = {"node": "nodes", "user": "users", "server": "servers"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_BACKDATE = datetime.timedelta(minutes=5)  # tolerate clock skew between nodes


@dataclasses.dataclass(frozen=True, slots=True)
class KeyPair:
    """Where a certificate and its private key were written."""

    cert: Path
    key: Path


def kind_uri(kind: str, name: str) -> str:
    return f"{URI_PREFIX}{kind}/{name}"


def init_ca(
    directory: str | os.PathLike[str],
    *,
    name: str = "webmesh-ca",
    days: int = 3650,
    force: bool = False,
) -> KeyPair:
    """Create a self-signed mesh CA: ``<directory>/ca.crt`` and ``ca.key`` (0600)."""
    _check_days(days)
    out = Path(directory)
    pair = KeyPair(out / CA_CERT, out / CA_KEY)
    _refuse_overwrite(pair, force=force)
    cert, key = make_ca(name=name, days=days)
    _write(pair, cert, key)
    return pair


def make_ca(
    *, name: str = "webmesh-ca", days: int = 3650, now: datetime.datetime | None = None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed mesh CA in memory (``init_ca`` writes one; the operator keeps one in a
    Secret)."""
    _check_days(days)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )
    now = now or datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(
    directory: str | os.PathLike[str],
    name: str,
    *,
    ca_dir: str | os.PathLike[str],
    kind: CertKind = "node",
    sans: Sequence[str] = (),
    days: int = 365,
    force: bool = False,
) -> KeyPair:
    """Write ``<directory>/<name>.crt`` and ``<name>.key`` signed by the CA in ``ca_dir``."""
    out = Path(directory)
    pair = KeyPair(out / f"{name}.crt", out / f"{name}.key")
    _check_leaf(name, kind, days)
    _refuse_overwrite(pair, force=force)
    ca_cert, ca_key = load_ca(ca_dir)
    cert, key = make_leaf(ca_cert, ca_key, name, kind=kind, sans=sans, days=days)
    _write(pair, cert, key)
    return pair


def _check_leaf(name: str, kind: str, days: int) -> None:
    if kind not in KINDS:
        raise errors.InvalidArgument(
            f"certificate kind must be one of {', '.join(KINDS)}: {kind!r}"
        )
    if not _NAME_RE.match(name):
        raise errors.InvalidArgument(
            f"invalid certificate name {name!r}: use 1-63 letters, digits, '.', '_', '@' or '-'"
        )
    _check_days(days)


def make_leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    name: str,
    *,
    kind: CertKind = "node",
    sans: Sequence[str] = (),
    days: int = 365,
    now: datetime.datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate for ``name`` signed by the CA, in memory (``issue`` writes one; the
    operator keeps them in Secrets). Never valid beyond the CA."""
    _check_leaf(name, kind, days)
    key = ec.generate_private_key(ec.SECP256R1())
    now = now or datetime.datetime.now(datetime.UTC)
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _OU[kind]),
        ]
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(_eku(kind)), critical=False)
        .add_extension(x509.SubjectAlternativeName(san_entries(name, kind, sans)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def load_ca(ca_dir: str | os.PathLike[str]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Read the CA written by ``init_ca``; a missing or foreign CA is ``FailedPrecondition``."""
    base = Path(ca_dir)
    try:
        cert = x509.load_pem_x509_certificate((base / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((base / CA_KEY).read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise errors.FailedPrecondition(
            f"no mesh CA in {base}: missing {exc.filename}; run `wmctl pki init` first"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise errors.FailedPrecondition(f"cannot read the mesh CA in {base}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise errors.FailedPrecondition(f"the CA key in {base} is not an EC key")
    return cert, key


def _check_days(days: int) -> None:
    if days <= 0:
        raise errors.InvalidArgument(f"validity must be at least one day, got {days}")


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _eku(kind: CertKind) -> list[x509.ObjectIdentifier]:
    if kind == "server":
        return [ExtendedKeyUsageOID.SERVER_AUTH]
    if kind == "user":
        return [ExtendedKeyUsageOID.CLIENT_AUTH]
    return [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def san_entries(name: str, kind: CertKind, sans: Sequence[str]) -> list[x509.GeneralName]:
    """The SANs :func:`make_leaf` writes: the kind's URI marker, the name (a host name, for node
    and server certificates), then ``sans`` (IP addresses become IP SANs)."""
    entries: list[x509.GeneralName] = []
    if kind in ("node", "user"):
        entries.append(x509.UniformResourceIdentifier(kind_uri(kind, name)))
    wanted = ([name] if kind != "user" and _HOST_RE.match(name) else []) + list(sans)
    for value in dict.fromkeys(wanted):  # keep order, drop duplicates
        entry = _general_name(value)
        if entry not in entries:
            entries.append(entry)
    return entries


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        pass
    if _HOST_RE.match(value.removeprefix("*.")):
        return x509.DNSName(value)
    raise errors.InvalidArgument(f"SAN {value!r} is neither a DNS name nor an IP address")


def _refuse_overwrite(pair: KeyPair, *, force: bool) -> None:
    if force:
        return
    existing = [str(path) for path in (pair.cert, pair.key) if path.exists()]
    if existing:
        raise errors.AlreadyExists(
            f"refusing to overwrite {' and '.join(existing)}: pass --force to replace"
        )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: gRPC cannot read an encrypted key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(pair: KeyPair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    pair.cert.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomically(pair.key, key_pem(key), mode=0o600)
    files.write_atomically(pair.cert, cert_pem(cert), mode=0o644)
