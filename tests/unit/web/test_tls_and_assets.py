"""The web view's TLS context (the mesh CA only, client certificates optional) and its page
files (the allow-list read at start-up)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from webmesh import errors
from webmesh.client import pki
from webmesh.web import assets, tls


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    pki.init_ca(tmp_path)
    pki.issue(tmp_path, "n1", ca_dir=tmp_path, kind="node", sans=["127.0.0.1"])
    return tmp_path


def test_client_certificates_are_asked_for_from_the_mesh_ca_only(pki_dir: Path) -> None:
    context = tls.server_context(
        cert_file=str(pki_dir / "n1.crt"),
        key_file=str(pki_dir / "n1.key"),
        ca_file=str(pki_dir / "ca.crt"),
        client_certificates=True,
    )
    assert context.verify_mode is ssl.CERT_OPTIONAL
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    names = [dict(pair for rdn in c["subject"] for pair in rdn) for c in context.get_ca_certs()]
    # the mesh CA alone, not the system's CAs: any of them could otherwise mint a user
    assert [n["commonName"] for n in names] == ["webmesh-ca"]


def test_without_mtls_no_certificate_is_asked_for(pki_dir: Path) -> None:
    context = tls.server_context(
        cert_file=str(pki_dir / "n1.crt"),
        key_file=str(pki_dir / "n1.key"),
        ca_file="",
        client_certificates=False,
    )
    assert context.verify_mode is ssl.CERT_NONE
    assert context.get_ca_certs() == []


@pytest.mark.parametrize(
    ("cert", "key", "ca", "message"),
    [
        ("", "", "", "tls-cert-file"),
        ("n1.crt", "missing.key", "", "cannot be used"),
        ("n1.crt", "n1.key", "", "tls-ca-file"),
    ],
)
def test_unusable_files_are_refused(
    pki_dir: Path, cert: str, key: str, ca: str, message: str
) -> None:
    with pytest.raises(errors.InvalidArgument, match=message):
        tls.server_context(
            cert_file=str(pki_dir / cert) if cert else "",
            key_file=str(pki_dir / key) if key else "",
            ca_file=ca,
            client_certificates=True,
        )


def test_the_allow_list_holds_servable_files_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "sub" / "lib.min.js").write_text("lib")
    (tmp_path / "lib.LICENSE.txt").write_text("MIT")
    (tmp_path / ".hidden.js").write_text("x")
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "escape.js").symlink_to("/etc/passwd")
    found = assets.load(tmp_path)
    assert sorted(found) == ["index.html", "lib.LICENSE.txt", "sub/lib.min.js"]
    assert found["index.html"].cache_control == assets.REVALIDATE
    assert found["sub/lib.min.js"].cache_control == assets.LONG_CACHE
    assert found["lib.LICENSE.txt"].content_type == "text/plain; charset=utf-8"
    assert assets.load(tmp_path / "missing") == {}


def test_the_shipped_page_is_in_the_allow_list() -> None:
    found = assets.load()
    assert {"index.html", "app.css"} <= set(found)
    assert any(name.endswith(".LICENSE.txt") for name in found)  # the vendored library's licence
