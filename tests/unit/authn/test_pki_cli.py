"""pki_cli: the two commands a user needs to turn mTLS on."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from cryptography import x509

from webmesh import errors
from webmesh.cli import pki_cmd as pki_cli


def _run(*argv: str) -> str:
    parser = argparse.ArgumentParser(prog="wmctl")
    pki_cli.add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    assert pki_cli.run(parser.parse_args(list(argv)), out=out) == 0
    return out.getvalue()


def test_init_then_issue_node_and_user(tmp_path: Path) -> None:
    ca = str(tmp_path / "ca")
    assert "ca.key" in _run("pki", "init", "--dir", ca)
    _run("pki", "issue", "node-1", "--ca-dir", ca, "--san", "10.1.0.1")
    _run("pki", "issue", "admin", "--user", "--ca-dir", ca, "--out-dir", str(tmp_path / "me"))
    node = x509.load_pem_x509_certificate((tmp_path / "ca" / "node-1.crt").read_bytes())
    user = x509.load_pem_x509_certificate((tmp_path / "me" / "admin.crt").read_bytes())
    node_sans = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    user_sans = user.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "webmesh:node/node-1" in node_sans.get_values_for_type(x509.UniformResourceIdentifier)
    assert user_sans.get_values_for_type(x509.UniformResourceIdentifier) == ["webmesh:user/admin"]
    with pytest.raises(errors.AlreadyExists):
        _run("pki", "issue", "node-1", "--ca-dir", ca)
