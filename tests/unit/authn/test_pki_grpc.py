"""The PKI's certificates against a REAL grpc.aio mTLS server and client (BoringSSL).

A certificate from the mesh CA completes the handshake; one from a foreign CA, none at all, or a
server-only certificate used as a client certificate fails it (the client sees UNAVAILABLE).
The server echoes what ``context.auth_context()`` reports, which is exactly what the API layer will
put into ``Credentials`` (and what ``MtlsAuthenticator`` maps to an identity).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from webmesh.authn import mtls
from webmesh.authn.types import Credentials
from webmesh.client import pki

METHOD = "/webmesh.test.Echo/Who"


async def _who(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    auth = context.auth_context()
    body = {key: [v.decode() for v in values] for key, values in auth.items()}
    return json.dumps(body).encode()


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    pki.init_ca(tmp_path / "ca")
    pki.issue(
        tmp_path, "server-1", ca_dir=tmp_path / "ca", kind="node", sans=["localhost", "127.0.0.1"]
    )
    pki.issue(tmp_path, "node-a", ca_dir=tmp_path / "ca", kind="node")
    pki.issue(tmp_path, "alice", ca_dir=tmp_path / "ca", kind="user")
    pki.issue(tmp_path, "web", ca_dir=tmp_path / "ca", kind="server", sans=["localhost"])
    pki.init_ca(tmp_path / "evil-ca", name="evil-ca")
    pki.issue(tmp_path / "evil", "node-a", ca_dir=tmp_path / "evil-ca", kind="node")
    return tmp_path


@pytest.fixture
async def server(pki_dir: Path) -> AsyncIterator[str]:
    srv = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "webmesh.test.Echo", {"Who": grpc.unary_unary_rpc_method_handler(_who)}
    )
    srv.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        [((pki_dir / "server-1.key").read_bytes(), (pki_dir / "server-1.crt").read_bytes())],
        root_certificates=(pki_dir / "ca" / "ca.crt").read_bytes(),
        require_client_auth=True,
    )
    port = srv.add_secure_port("127.0.0.1:0", creds)
    await srv.start()
    try:
        yield f"localhost:{port}"
    finally:
        await srv.stop(grace=None)


async def _call(target: str, ca: Path, client: Path | None, name: str = "") -> dict[str, list[str]]:
    key_pem = (client.parent / f"{name}.key").read_bytes() if client else None
    cert_pem = (client.parent / f"{name}.crt").read_bytes() if client else None
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(), private_key=key_pem, certificate_chain=cert_pem
    )
    async with grpc.aio.secure_channel(target, creds) as channel:
        call = channel.unary_unary(METHOD)
        reply = await call(b"", timeout=5)
    result: dict[str, list[str]] = json.loads(reply)
    return result


def _creds_from(auth: dict[str, list[str]]) -> Credentials:
    """What the API layer is expected to do with the auth context."""
    return Credentials(
        peer_cert_pem=auth["x509_pem_cert"][0].encode(),
        peer_common_name=auth["x509_common_name"][0],
        peer_sans=tuple(auth.get("x509_subject_alternative_name", ())),
    )


async def test_node_cert_from_the_mesh_ca_connects(server: str, pki_dir: Path) -> None:
    auth = await _call(server, pki_dir / "ca" / "ca.crt", pki_dir / "node-a.crt", "node-a")
    assert auth["x509_common_name"] == ["node-a"]
    identity = await mtls.MtlsAuthenticator().authenticate(_creds_from(auth))
    assert identity is not None
    assert (identity.name, identity.kind, identity.method) == ("node-a", "node", "mtls")


async def test_user_cert_connects_and_maps_to_a_user(server: str, pki_dir: Path) -> None:
    auth = await _call(server, pki_dir / "ca" / "ca.crt", pki_dir / "alice.crt", "alice")
    identity = await mtls.MtlsAuthenticator().authenticate(_creds_from(auth))
    assert identity is not None
    assert (identity.name, identity.kind) == ("alice", "user")


@pytest.mark.parametrize(
    ("client", "name"),
    [("evil/node-a.crt", "node-a"), (None, ""), ("web.crt", "web")],
    ids=["foreign-ca", "no-cert", "server-only-eku"],
)
async def test_handshake_fails(server: str, pki_dir: Path, client: str | None, name: str) -> None:
    path = pki_dir / client if client else None
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _call(server, pki_dir / "ca" / "ca.crt", path, name)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_rejects_a_server_from_another_ca(server: str, pki_dir: Path) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _call(server, pki_dir / "evil-ca" / "ca.crt", pki_dir / "node-a.crt", "node-a")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
