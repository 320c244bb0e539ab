"""MtlsAuthenticator: certificate -> identity, the user convention, and claimed node ids."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webmesh import errors
from webmesh.authn.mtls import MtlsAuthenticator
from webmesh.authn.types import Credentials, Identity, resolve_node_id
from webmesh.client import pki


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pki")
    pki.init_ca(base / "ca")
    pki.issue(base, "node-a", ca_dir=base / "ca", kind="node")
    pki.issue(base, "alice", ca_dir=base / "ca", kind="user")
    return base


def _pem(certs: Path, name: str) -> bytes:
    return (certs / f"{name}.crt").read_bytes()


def _foreign_cert(cn: str | None, sans: list[x509.GeneralName]) -> bytes:
    """A certificate made by another tool (no webmesh URI, maybe no CN)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


async def _auth(creds: Credentials) -> Identity | None:
    return await MtlsAuthenticator().authenticate(creds)


async def test_node_certificate(certs: Path) -> None:
    identity = await _auth(Credentials(peer_cert_pem=_pem(certs, "node-a")))
    assert identity == Identity("node-a", "node", (), "mtls")


async def test_user_certificate(certs: Path) -> None:
    identity = await _auth(Credentials(peer_cert_pem=_pem(certs, "alice")))
    assert identity == Identity("alice", "user", (), "mtls")


async def test_without_pem_uses_cn_and_sans() -> None:
    user = await _auth(Credentials(peer_common_name="bob", peer_sans=("webmesh:user/bob",)))
    node = await _auth(Credentials(peer_common_name="n1", peer_sans=("n1", "10.0.0.1")))
    assert user == Identity("bob", "user", (), "mtls")
    assert node == Identity("n1", "node", (), "mtls")


async def test_dns_san_when_no_cn() -> None:
    pem = _foreign_cert(None, [x509.DNSName("host-7.example"), x509.DNSName("other")])
    identity = await _auth(Credentials(peer_cert_pem=pem))
    assert identity == Identity("host-7.example", "node", (), "mtls")


async def test_nobody_named() -> None:
    with pytest.raises(errors.Unauthenticated, match="no CN or DNS SAN"):
        await _auth(Credentials(peer_cert_pem=_foreign_cert(None, [])))


async def test_inconsistent_uri_is_refused() -> None:
    pem = _foreign_cert("eve", [x509.UniformResourceIdentifier("webmesh:user/admin")])
    with pytest.raises(errors.Unauthenticated, match="inconsistent"):
        await _auth(Credentials(peer_cert_pem=pem))


async def test_garbage_pem() -> None:
    with pytest.raises(errors.Unauthenticated, match="unreadable client certificate"):
        await _auth(Credentials(peer_cert_pem=b"-----BEGIN CERTIFICATE-----\nxx\n"))


async def test_no_certificate_is_none() -> None:
    assert await _auth(Credentials(basic_username="u", basic_password="p")) is None


async def test_node_may_claim_only_its_own_id(certs: Path) -> None:
    own = await _auth(Credentials(peer_cert_pem=_pem(certs, "node-a"), claimed_node_id="node-a"))
    assert own is not None and own.name == "node-a"
    with pytest.raises(errors.PermissionDenied, match=r"for node 'node-a'.*as node 'node-b'"):
        await _auth(Credentials(peer_cert_pem=_pem(certs, "node-a"), claimed_node_id="node-b"))


def test_resolve_node_id() -> None:
    node = Identity("node-a", "node", method="mtls")
    user = Identity("alice", "user", method="basic")
    assert resolve_node_id(node, "") == "node-a"
    assert resolve_node_id(user, "alice") == "alice"
    with pytest.raises(errors.PermissionDenied, match="cannot join as node 'x'"):
        resolve_node_id(user, "x")
    assert resolve_node_id(user, "x", allow_override=True) == "x"
    with pytest.raises(errors.PermissionDenied):
        resolve_node_id(node, "x", allow_override=True)
