"""meshapi against real nodes on loopback (real Raft and gRPC, fake WireGuard).

The mTLS case starts a node with the certificates that ``secrets`` renders for a Mesh, and reads
it with the admin Secret's credentials: the Secrets work with the real node.
"""

from __future__ import annotations

import base64
import datetime
import time
from pathlib import Path

import pytest

from integration.node.meshlab import Lab, free_port, requests_served
from support.wait import async_eventually
from webmesh.api.v1 import admin_pb2
from webmesh.authz.model import VOTERS
from webmesh.mesh.objects import Kind
from webmesh_operator import meshapi, secrets
from webmesh_operator.status import MeshObservation

PUT_GROUP = "/webmesh.v1.Admin/PutGroup"
NOW = datetime.datetime.now(datetime.UTC)


async def voter_group(address: str, credentials: meshapi.Credentials | None) -> set[str]:
    """The node ids in the voters group, read with the same client the operator uses."""
    async with meshapi._bounded(address, 5), meshapi._client(address, credentials, 5, "") as c:
        group = await c.get_object(Kind.GROUP, VOTERS)
    assert isinstance(group, admin_pb2.Group)
    return {m.name for m in group.members if m.kind == "node"}


async def test_observe_and_ensure_voters_on_an_insecure_mesh(lab: Lab) -> None:
    n1 = await lab.start("op-a1")
    await lab.start("op-a2", join=n1, voter=True)
    await lab.start("op-a3", join=n1)

    async def three_members() -> MeshObservation | None:
        seen = await meshapi.observe(n1.api, None)
        return seen if len(seen.members) == 3 and len(seen.voters) == 2 else None

    seen = await async_eventually(three_members, timeout=15, what="three members, two voters")
    assert seen.leader == "op-a1"
    assert seen.voters == ("op-a1", "op-a2")
    assert [m.node_id for m in seen.members] == ["op-a1", "op-a2", "op-a3"]
    assert [m.voter for m in seen.members] == [True, True, False]
    assert [m.role for m in seen.members] == ["voter", "voter", "observer"]
    assert all(m.online and not m.last_seen for m in seen.members)
    assert all(m.addresses and m.addresses[0].count(".") == 3 for m in seen.members)

    before = requests_served(PUT_GROUP, "OK")
    await meshapi.ensure_voters(n1.api, None, ["op-web-0", "op-web-1", "op-web-0"])
    assert {"op-web-0", "op-web-1"} <= await voter_group(n1.api, None)
    assert requests_served(PUT_GROUP, "OK") == before + 1
    await meshapi.ensure_voters(n1.api, None, ["op-web-1"])
    assert requests_served(PUT_GROUP, "OK") == before + 1, "already there: no write"


async def test_unreachable_address_fails_fast() -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(meshapi.MeshApiError, match="unreachable") as raised:
        await meshapi.observe(address, None, timeout=2)
    assert raised.value.reason == "ApiUnreachable"
    assert time.monotonic() - started < 4.5


def write_pod_files(directory: Path, data: dict[str, bytes], pod: str) -> None:
    directory.mkdir(parents=True)
    for key in ("ca.crt", f"{pod}.crt", f"{pod}.key"):
        (directory / key).write_bytes(data[key])


def decoded(manifests: list[dict[str, object]]) -> dict[str, dict[str, bytes]]:
    result: dict[str, dict[str, bytes]] = {}
    for manifest in manifests:
        metadata, data = manifest["metadata"], manifest["data"]
        assert isinstance(metadata, dict)
        assert isinstance(data, dict)
        result[metadata["name"]] = {k: base64.b64decode(v) for k, v in data.items()}
    return result


async def test_a_node_with_the_operators_secrets(lab: Lab, tmp_path: Path) -> None:
    mesh = {
        "metadata": {"name": "opm", "namespace": "ns"},
        "spec": {"servers": 1, "security": {"mode": "mtls"}},
    }
    data = decoded(secrets.render_mesh_secrets(mesh, {}, now=NOW))
    tls_dir = tmp_path / "tls"
    write_pod_files(tls_dir, data["opm-tls"], "opm-0")
    node = await lab.start(
        "opm-0",
        extra=(
            "--global.insecure=false",
            f"--global.tls-cert-file={tls_dir / 'opm-0.crt'}",
            f"--global.tls-key-file={tls_dir / 'opm-0.key'}",
            f"--global.tls-ca-file={tls_dir / 'ca.crt'}",
            "--global.mtls",
            f"--tls.ca-file={tls_dir / 'ca.crt'}",
        ),
    )
    credentials = meshapi.credentials_from_admin_secret(data["opm-admin"])
    assert credentials is not None

    seen = await meshapi.observe(node.api, credentials, server_name="opm-0")
    assert (seen.leader, seen.voters) == ("opm-0", ("opm-0",))
    assert [m.node_id for m in seen.members] == ["opm-0"]

    await meshapi.ensure_voters(node.api, credentials, ["opm-web-0"], server_name="opm-0")
    async with (
        meshapi._bounded(node.api, 5),
        meshapi._client(node.api, credentials, 5, "opm-0") as client,
    ):
        group = await client.get_object(Kind.GROUP, VOTERS)
    assert isinstance(group, admin_pb2.Group)
    assert "opm-web-0" in {m.name for m in group.members}

    with pytest.raises(meshapi.MeshApiError) as plaintext:
        await meshapi.observe(node.api, None, timeout=2)
    assert plaintext.value.reason in ("TlsFailed", "ApiUnreachable")
    with pytest.raises(meshapi.MeshApiError, match="TLS") as wrong_name:
        await meshapi.observe(node.api, credentials, timeout=2, server_name="someone-else")
    assert wrong_name.value.reason == "TlsFailed"


def test_insecure_admin_secret_has_no_credentials() -> None:
    assert meshapi.credentials_from_admin_secret({"config.yaml": b"insecure: true"}) is None
