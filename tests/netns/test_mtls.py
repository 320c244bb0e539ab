"""The quick start in mTLS mode, on the real data plane: nodes with certificates from the mesh
CA (made with the mesh's own PKI) join and ping; a node with a foreign certificate cannot join
and leaves no trace in the mesh state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.netlab import BIN, Host, Lab
from support.wait import eventually
from webmesh.client import pki

pytestmark = pytest.mark.netns

BASE = ("--global.no-ipv6", "--global.detect-endpoints", "--global.detect-private-endpoints")


def tls_flags(ca: Path, certs: Path, name: str) -> tuple[str, ...]:
    return (
        f"--global.tls-cert-file={certs / name}.crt",
        f"--global.tls-key-file={certs / name}.key",
        f"--global.tls-ca-file={ca}",
        "--global.mtls",
        f"--tls.ca-file={ca}",
    )


def nodes_seen_by_admin(host: Host, pki_dir: Path) -> set[str]:
    out = host.in_container(
        str(BIN / "wmctl"), "--server", "bootstrap-node:8443",
        f"--tls.ca-file={pki_dir / 'ca.crt'}",
        f"--auth.mtls.cert-file={pki_dir / 'admin.crt'}",
        f"--auth.mtls.key-file={pki_dir / 'admin.key'}",
        "get", "nodes", "-o", "json", check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return {n["id"] for n in json.loads(out.stdout)}


def test_mtls_mesh_in_namespaces() -> None:
    with Lab() as lab:
        pki_dir, foreign = lab.dir / "pki", lab.dir / "foreign"
        pki.init_ca(pki_dir)
        for name in ("bootstrap-node", "node-b"):
            pki.issue(pki_dir, name, ca_dir=pki_dir, kind="node")
        pki.issue(pki_dir, "admin", ca_dir=pki_dir, kind="user")
        pki.init_ca(foreign, name="not-the-mesh")
        pki.issue(foreign, "node-x", ca_dir=foreign, kind="node")
        ca = pki_dir / "ca.crt"

        boot, joiner, rogue = (lab.add_host(n) for n in ("bootstrap-node", "node-b", "node-x"))
        boot.node(*BASE, *tls_flags(ca, pki_dir, "bootstrap-node"), "--bootstrap.enabled")
        boot.wait_port(8443)
        join = "--mesh.join-address=bootstrap-node:8443"
        joiner.node(*BASE, *tls_flags(ca, pki_dir, "node-b"), join)
        boot_ip, joiner_ip = boot.wait_mesh_ip(), joiner.wait_mesh_ip()
        eventually(lambda: joiner.ping(boot_ip), timeout=20, what=joiner.logs)
        eventually(lambda: boot.ping(joiner_ip), timeout=10, what="bootstrap -> joiner")

        attempt = rogue.node(
            *BASE, *tls_flags(ca, foreign, "node-x"), join, "--mesh.max-join-retries=0"
        )
        assert attempt.popen.wait(30) == 1
        assert "could not join" in attempt.tail(3)
        assert "mesh CA" in attempt.tail(3)  # says what to do about the certificate
        assert nodes_seen_by_admin(boot, pki_dir) == {"bootstrap-node", "node-b"}
