"""pki: the CA and leaf certificates carry the extensions the conventions promise."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webmesh import errors
from webmesh.client import pki


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    pki.init_ca(tmp_path / "ca", name="test-ca", days=30)
    return tmp_path / "ca"


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_ca(ca_dir: Path) -> None:
    cert = _load(ca_dir / "ca.crt")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "test-ca"
    assert cert.issuer == cert.subject
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    assert _mode(ca_dir / "ca.key") == 0o600
    assert 29 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 30


def test_init_ca_refuses_to_overwrite(ca_dir: Path) -> None:
    before = (ca_dir / "ca.key").read_bytes()
    with pytest.raises(errors.AlreadyExists, match="refusing to overwrite"):
        pki.init_ca(ca_dir)
    assert (ca_dir / "ca.key").read_bytes() == before
    pki.init_ca(ca_dir, force=True)
    assert (ca_dir / "ca.key").read_bytes() != before
    assert _mode(ca_dir / "ca.key") == 0o600


@pytest.mark.parametrize(
    ("kind", "ekus", "ou"),
    [
        ("node", {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}, "nodes"),
        ("server", {ExtendedKeyUsageOID.SERVER_AUTH}, "servers"),
        ("user", {ExtendedKeyUsageOID.CLIENT_AUTH}, "users"),
    ],
)
def test_issue_kinds(
    tmp_path: Path, ca_dir: Path, kind: pki.CertKind, ekus: set[x509.ObjectIdentifier], ou: str
) -> None:
    pair = pki.issue(
        tmp_path / "out", "node-1", ca_dir=ca_dir, kind=kind, sans=["10.0.0.1", "mesh.example"]
    )
    assert pair.cert == tmp_path / "out" / "node-1.crt"
    assert _mode(pair.key) == 0o600
    cert = _load(pair.cert)
    ca = _load(ca_dir / "ca.crt")
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node-1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == ou
    assert set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == ekus
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.0.0.1") in san.get_values_for_type(x509.IPAddress)
    dns = san.get_values_for_type(x509.DNSName)
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if kind == "user":
        assert dns == ["mesh.example"]
        assert uris == ["webmesh:user/node-1"]
    else:
        assert dns == ["node-1", "mesh.example"]
        assert uris == (["webmesh:node/node-1"] if kind == "node" else [])
    # never valid longer than the CA
    assert cert.not_valid_after_utc <= ca.not_valid_after_utc
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_issue_refuses_to_overwrite(tmp_path: Path, ca_dir: Path) -> None:
    pki.issue(tmp_path, "n", ca_dir=ca_dir)
    with pytest.raises(errors.AlreadyExists):
        pki.issue(tmp_path, "n", ca_dir=ca_dir)
    pki.issue(tmp_path, "n", ca_dir=ca_dir, force=True)


@pytest.mark.parametrize("name", ["", "../etc/passwd", "a/b", "-x", "x" * 64, "sp ace"])
def test_issue_rejects_bad_names(tmp_path: Path, ca_dir: Path, name: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid certificate name"):
        pki.issue(tmp_path, name, ca_dir=ca_dir)


def test_issue_rejects_bad_sans_kinds_and_days(tmp_path: Path, ca_dir: Path) -> None:
    with pytest.raises(errors.InvalidArgument, match="SAN"):
        pki.issue(tmp_path, "n", ca_dir=ca_dir, sans=["not a host!"])
    with pytest.raises(errors.InvalidArgument, match="kind"):
        pki.issue(tmp_path, "n", ca_dir=ca_dir, kind="admin")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument, match="day"):
        pki.issue(tmp_path, "n", ca_dir=ca_dir, days=0)
    assert not (tmp_path / "n.key").exists()


def test_names_that_are_not_host_names_get_no_dns_san(tmp_path: Path, ca_dir: Path) -> None:
    pair = pki.issue(tmp_path, "admin@corp", ca_dir=ca_dir, kind="node", sans=["*.mesh.local"])
    san = _load(pair.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["*.mesh.local"]


def test_issue_without_ca(tmp_path: Path) -> None:
    with pytest.raises(errors.FailedPrecondition, match="wmctl pki init"):
        pki.issue(tmp_path, "n", ca_dir=tmp_path / "nowhere")
