"""secrets: generated once and kept; certificates the node's own mTLS code accepts."""

from __future__ import annotations

import argparse
import base64
import datetime
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import grpc
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from webmesh import errors
from webmesh.api.v1 import mesh_pb2, types_pb2
from webmesh.authn.mtls import MtlsAuthenticator
from webmesh.authn.types import Credentials
from webmesh.cli import main as wmctl
from webmesh.client import config as wmctl_config
from webmesh.client.mesh_client import ClientOptions, MeshClient, TlsFailed
from webmesh_operator import secrets
from webmesh_operator.render import names

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def mesh(servers: int = 3, mode: str = "mtls") -> dict[str, Any]:
    return {
        "metadata": {"name": "demo", "namespace": "ns"},
        "spec": {"servers": servers, "security": {"mode": mode}},
    }


def node(replicas: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"meshRef": {"name": "demo"}, "replicas": replicas},
    }


def decoded(manifests: Sequence[dict[str, Any]]) -> dict[str, dict[str, bytes]]:
    return {
        m["metadata"]["name"]: {k: base64.b64decode(v) for k, v in m["data"].items()}
        for m in manifests
    }


def cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def dns_names(certificate: x509.Certificate) -> list[str]:
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return list(san.get_values_for_type(x509.DNSName))


def test_names() -> None:
    assert secrets.mesh_secret_names(mesh()) == ["demo-ca", "demo-tls", "demo-admin"]
    assert secrets.mesh_secret_names(mesh(mode="insecure")) == ["demo-admin"]
    assert secrets.node_group_secret_names(node(), mesh()) == ["demo-ca", "demo-web-tls"]
    assert secrets.node_group_secret_names(node(), mesh(mode="insecure")) == []


def test_manifests_are_opaque_secrets_with_labels() -> None:
    manifests = secrets.render_mesh_secrets(mesh(), {}, now=NOW)
    assert [m["metadata"]["name"] for m in manifests] == secrets.mesh_secret_names(mesh())
    for manifest in manifests:
        assert manifest["apiVersion"] == "v1"
        assert manifest["kind"] == "Secret"
        assert manifest["type"] == "Opaque"
        assert manifest["metadata"]["namespace"] == "ns"
        assert manifest["metadata"]["labels"][names.MESH_LABEL] == "demo"
        assert list(manifest["data"]) == sorted(manifest["data"])


def test_round_trip_is_byte_identical() -> None:
    first = secrets.render_mesh_secrets(mesh(), {}, now=NOW)
    again = secrets.render_mesh_secrets(mesh(), decoded(first), now=NOW + 30 * DAY)
    assert again == first
    group = secrets.render_node_group_secrets(node(), mesh(), decoded(first), now=NOW)
    existing = {**decoded(first), **decoded(group)}
    assert secrets.render_node_group_secrets(node(), mesh(), existing, now=NOW) == group


def test_only_missing_or_invalid_entries_are_regenerated() -> None:
    first = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))
    tls = dict(first["demo-tls"])
    del tls["demo-1.key"]
    tls["demo-2.crt"] = b"garbage"
    broken = {**first, "demo-tls": tls}
    again = decoded(secrets.render_mesh_secrets(mesh(), broken, now=NOW))
    assert again["demo-ca"] == first["demo-ca"]
    assert again["demo-tls"]["demo-0.crt"] == first["demo-tls"]["demo-0.crt"]
    assert again["demo-tls"]["demo-1.crt"] != first["demo-tls"]["demo-1.crt"]
    assert again["demo-tls"]["demo-2.crt"] != b"garbage"
    assert again["demo-admin"] == first["demo-admin"]


def test_certificates_chain_to_the_ca_with_the_right_names() -> None:
    data = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))
    ca = cert(data["demo-ca"]["ca.crt"])
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.not_valid_after_utc - NOW > 3649 * DAY
    tls = data["demo-tls"]
    assert tls["ca.crt"] == data["demo-ca"]["ca.crt"]
    assert sorted(tls) == sorted(
        ["ca.crt", *(f"demo-{i}.{ext}" for i in range(3) for ext in ("crt", "key"))]
    )
    leaf = cert(tls["demo-1.crt"])
    leaf.verify_directly_issued_by(ca)
    assert dns_names(leaf) == [
        "demo-1",
        "demo-1.demo-headless.ns.svc",
        "demo-1.demo-headless.ns.svc.cluster.local",
        "demo-headless.ns.svc",
    ]
    usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    key = serialization.load_pem_private_key(tls["demo-1.key"], password=None)
    assert key.public_key() == leaf.public_key()
    assert 364 * DAY < leaf.not_valid_after_utc - NOW <= 365 * DAY


async def test_the_nodes_authenticator_accepts_node_and_user_certificates() -> None:
    data = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))
    authenticator = MtlsAuthenticator()
    pem = data["demo-tls"]["demo-0.crt"]
    identity = await authenticator.authenticate(
        Credentials(peer_cert_pem=pem, claimed_node_id="demo-0")
    )
    assert identity is not None
    assert (identity.name, identity.kind) == ("demo-0", "node")
    with pytest.raises(errors.PermissionDenied):
        await authenticator.authenticate(Credentials(peer_cert_pem=pem, claimed_node_id="demo-1"))
    admin = await authenticator.authenticate(
        Credentials(peer_cert_pem=data["demo-admin"]["tls.crt"])
    )
    assert admin is not None
    assert (admin.name, admin.kind) == ("admin", "user")


def test_expiring_leaf_is_reissued_and_the_ca_kept() -> None:
    first = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))
    later = NOW + 340 * DAY  # 25 days before the leaves expire
    again = decoded(secrets.render_mesh_secrets(mesh(), first, now=later))
    assert again["demo-ca"] == first["demo-ca"]
    for key in ("demo-0.crt", "demo-0.key"):
        assert again["demo-tls"][key] != first["demo-tls"][key]
    assert again["demo-admin"]["tls.crt"] != first["demo-admin"]["tls.crt"]
    fresh = cert(again["demo-tls"]["demo-0.crt"])
    assert fresh.not_valid_after_utc - later > 364 * DAY


def test_expiring_ca_replaces_every_certificate() -> None:
    first = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))
    later = NOW + 3630 * DAY
    again = decoded(secrets.render_mesh_secrets(mesh(), first, now=later))
    assert again["demo-ca"] != first["demo-ca"]
    new_ca = cert(again["demo-ca"]["ca.crt"])
    cert(again["demo-tls"]["demo-2.crt"]).verify_directly_issued_by(new_ca)
    cert(again["demo-admin"]["tls.crt"]).verify_directly_issued_by(new_ca)


def test_scale_down_keeps_the_missing_pods_certificates() -> None:
    first = decoded(secrets.render_mesh_secrets(mesh(servers=5), {}, now=NOW))
    smaller = decoded(secrets.render_mesh_secrets(mesh(servers=3), first, now=NOW))
    assert smaller["demo-tls"] == first["demo-tls"]


def test_node_group_certificates() -> None:
    mesh_data = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))
    with pytest.raises(secrets.CaNotReady, match="demo-ca"):
        secrets.render_node_group_secrets(node(), mesh(), {}, now=NOW)
    (manifest,) = secrets.render_node_group_secrets(node(), mesh(), mesh_data, now=NOW)
    assert manifest["metadata"]["name"] == "demo-web-tls"
    assert manifest["metadata"]["labels"]["app.kubernetes.io/instance"] == "web"
    data = decoded([manifest])["demo-web-tls"]
    assert sorted(data) == [
        "ca.crt",
        "demo-web-0.crt",
        "demo-web-0.key",
        "demo-web-1.crt",
        "demo-web-1.key",
    ]
    leaf = cert(data["demo-web-1.crt"])
    leaf.verify_directly_issued_by(cert(mesh_data["demo-ca"]["ca.crt"]))
    assert "demo-headless.ns.svc" not in dns_names(leaf), "only servers answer on the join address"
    assert secrets.render_node_group_secrets(node(), mesh(mode="insecure"), {}, now=NOW) == []


def admin_config(data: dict[str, bytes]) -> dict[str, Any]:
    """What wmctl takes from the file mounted at /mnt/admin (relative paths resolve there)."""
    parsed = wmctl_config.from_dict(yaml.safe_load(data["config.yaml"]))
    return wmctl_config.resolve(parsed, base=PurePosixPath("/mnt/admin")).values


def test_admin_config_for_wmctl() -> None:
    data = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))["demo-admin"]
    assert sorted(data) == ["ca.crt", "config.yaml", "tls.crt", "tls.key"]
    assert admin_config(data) == {
        "server": "demo-headless.ns.svc:8443",
        "tls.server_name": "demo-headless.ns.svc",
        "tls.ca_file": "/mnt/admin/ca.crt",
        "auth.mtls.cert_file": "/mnt/admin/tls.crt",
        "auth.mtls.key_file": "/mnt/admin/tls.key",
    }


def test_insecure_mesh_has_only_a_plain_admin_config() -> None:
    manifests = secrets.render_mesh_secrets(mesh(mode="insecure"), {}, now=NOW)
    data = decoded(manifests)
    assert sorted(data) == ["demo-admin"]
    assert sorted(data["demo-admin"]) == ["config.yaml"]
    assert admin_config(data["demo-admin"]) == {
        "server": "demo-headless.ns.svc:8443",
        "insecure": True,
    }
    assert secrets.render_mesh_secrets(mesh(mode="insecure"), data, now=NOW) == manifests


def test_admin_config_server_name_is_a_san_of_every_server() -> None:
    data = decoded(secrets.render_mesh_secrets(mesh(), {}, now=NOW))
    server_name = admin_config(data["demo-admin"])["tls.server_name"]
    for pod in ("demo-0", "demo-1", "demo-2"):
        assert server_name in dns_names(cert(data["demo-tls"][f"{pod}.crt"]))


async def test_admin_config_verifies_a_server_dialled_by_another_address(tmp_path: Path) -> None:
    """wmctl with the admin Secret's files, dialling 127.0.0.1 (as an external address would be):
    the server's certificate names the Service, not 127.0.0.1, and the config's server-name
    makes it verify; without it the same call is a TLS failure."""
    data = decoded(secrets.render_mesh_secrets(mesh(), {}, now=datetime.datetime.now(datetime.UTC)))
    for key, value in data["demo-admin"].items():
        (tmp_path / key).write_bytes(value)
    parsed = wmctl_config.from_dict(yaml.safe_load(data["demo-admin"]["config.yaml"]))
    values = wmctl_config.resolve(parsed, base=tmp_path).values
    security = wmctl.security_of(argparse.Namespace(**values))
    assert security.server_name == "demo-headless.ns.svc"
    tls = data["demo-tls"]
    server, address = await _serve_nodes(tls["demo-0.key"], tls["demo-0.crt"], tls["ca.crt"])
    try:
        async with MeshClient(address, ClientOptions(security=security, timeout=5)) as client:
            assert [n.id for n in await client.list_nodes()] == ["demo-0"]
        unnamed = ClientOptions(security=replace(security, server_name=""), timeout=5)
        async with MeshClient(address, unnamed) as client:
            with pytest.raises(TlsFailed, match=r"--tls\.server-name"):
                await client.list_nodes()
    finally:
        await server.stop(grace=None)


async def _serve_nodes(key: bytes, crt: bytes, ca: bytes) -> tuple[grpc.aio.Server, str]:
    """A TLS server (client certificates required, like --global.mtls) that lists demo-0."""

    async def list_nodes(request: Any, context: Any) -> mesh_pb2.NodeList:
        return mesh_pb2.NodeList(nodes=[types_pb2.MeshNode(id="demo-0")])

    handler = grpc.unary_unary_rpc_method_handler(
        list_nodes,
        request_deserializer=mesh_pb2.ListNodesRequest.FromString,
        response_serializer=mesh_pb2.NodeList.SerializeToString,
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("webmesh.v1.Mesh", {"ListNodes": handler})]
    )
    creds = grpc.ssl_server_credentials(
        [(key, crt)], root_certificates=ca, require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    return server, f"127.0.0.1:{port}"
