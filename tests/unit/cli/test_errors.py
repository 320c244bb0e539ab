"""wmctl against REAL failures: each error class is one line, names the server and the fix, and
exits with its own documented code. Servers are grpc.aio servers started in the test, with
certificates from webmesh.client.pki; wmctl runs in a thread (it owns its event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest

from support.wait import async_eventually
from webmesh.api.v1 import membership_pb2, mesh_pb2, node_pb2, types_pb2
from webmesh.cli import main as wmctl
from webmesh.client import join, pki
from webmesh.client.mesh_client import ClientOptions, MeshClient, TlsFailed, resolution_failure
from webmesh.client.security import ClientSecurity

FAILURES = {
    "missing": (grpc.StatusCode.NOT_FOUND, "node missing not found"),
    "secret": (grpc.StatusCode.PERMISSION_DENIED, "user:bob may not get nodes/secret"),
    "anon": (grpc.StatusCode.UNAUTHENTICATED, "no credentials"),
    "bad": (grpc.StatusCode.INVALID_ARGUMENT, "invalid node id"),
    "leaderless": (grpc.StatusCode.UNAVAILABLE, "no leader is elected right now; retry shortly"),
}


class Mesh:
    """Just enough of webmesh.v1 to answer wmctl (and fail on request)."""

    def __init__(self) -> None:
        self.address = ""
        self.streams_open = 0

    async def list_nodes(self, request: Any, context: Any) -> mesh_pb2.NodeList:
        return mesh_pb2.NodeList(
            nodes=[types_pb2.MeshNode(id="node-b", private_ipv4="172.16.0.2/32")]
        )

    async def get_node(self, request: Any, context: Any) -> types_pb2.MeshNode:
        if request.id in FAILURES:
            await context.abort(*FAILURES[request.id])
        return types_pb2.MeshNode(id=request.id, api_address=self.address)

    async def get_status(self, request: Any, context: Any) -> node_pb2.Status:
        return node_pb2.Status(id="node-b", version="test")

    async def join(self, request: Any, context: Any) -> membership_pb2.JoinResponse:
        return membership_pb2.JoinResponse(address_ipv4="172.16.0.9/32")

    async def subscribe(self, request: Any, context: Any) -> AsyncIterator[membership_pb2.PeerList]:
        self.streams_open += 1
        try:
            yield membership_pb2.PeerList(peers=[types_pb2.WireGuardPeer(id="node-c")], index=3)
            await asyncio.Event().wait()  # a real stream stays open: wmctl must close it
        finally:
            self.streams_open -= 1

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        def unary(fn: Callable[..., Any], req: Any, resp: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.FromString, response_serializer=resp.SerializeToString
            )

        stream = grpc.unary_stream_rpc_method_handler(
            self.subscribe,
            request_deserializer=membership_pb2.SubscribePeersRequest.FromString,
            response_serializer=membership_pb2.PeerList.SerializeToString,
        )
        return [
            grpc.method_handlers_generic_handler(
                "webmesh.v1.Mesh",
                {
                    "ListNodes": unary(
                        self.list_nodes, mesh_pb2.ListNodesRequest, mesh_pb2.NodeList
                    ),
                    "GetNode": unary(self.get_node, mesh_pb2.GetNodeRequest, types_pb2.MeshNode),
                },
            ),
            grpc.method_handlers_generic_handler(
                "webmesh.v1.Node",
                {"GetStatus": unary(self.get_status, node_pb2.GetStatusRequest, node_pb2.Status)},
            ),
            grpc.method_handlers_generic_handler(
                "webmesh.v1.Membership",
                {
                    "SubscribePeers": stream,
                    "Join": unary(
                        self.join, membership_pb2.JoinRequest, membership_pb2.JoinResponse
                    ),
                },
            ),
        ]


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    pki.init_ca(root / "ca")
    pki.issue(root, "node-b", ca_dir=root / "ca", kind="node", sans=["localhost"])
    pki.issue(root, "admin", ca_dir=root / "ca", kind="user")
    pki.issue(root, "server.example", ca_dir=root / "ca", kind="server")
    pki.init_ca(root / "evil", name="evil-ca")
    return root


async def _serve(mesh: Mesh, creds: grpc.ServerCredentials | None) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(mesh.handlers())
    port = (
        server.add_secure_port("127.0.0.1:0", creds)
        if creds
        else server.add_insecure_port("127.0.0.1:0")
    )
    await server.start()
    mesh.address = f"127.0.0.1:{port}"
    return server, port


@pytest.fixture
async def mtls_server(pki_dir: Path) -> AsyncIterator[tuple[str, Mesh]]:
    """A TLS server that requires a client certificate of the mesh CA (like --global.mtls)."""
    creds = grpc.ssl_server_credentials(
        [((pki_dir / "node-b.key").read_bytes(), (pki_dir / "node-b.crt").read_bytes())],
        root_certificates=(pki_dir / "ca" / "ca.crt").read_bytes(),
        require_client_auth=True,
    )
    mesh = Mesh()
    server, port = await _serve(mesh, creds)
    try:
        yield f"localhost:{port}", mesh
    finally:
        await server.stop(grace=None)


@pytest.fixture
async def named_server(pki_dir: Path) -> AsyncIterator[str]:
    """A TLS server whose certificate names only server.example, dialled as 127.0.0.1 (like a
    load balancer's or a node port's address)."""
    creds = grpc.ssl_server_credentials(
        [
            (
                (pki_dir / "server.example.key").read_bytes(),
                (pki_dir / "server.example.crt").read_bytes(),
            )
        ]
    )
    server, port = await _serve(Mesh(), creds)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


@pytest.fixture
async def plain_server() -> AsyncIterator[tuple[str, Mesh]]:
    mesh = Mesh()
    server, port = await _serve(mesh, None)
    try:
        yield f"127.0.0.1:{port}", mesh
    finally:
        await server.stop(grace=None)


async def wmctl_run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    def call() -> int:
        try:
            wmctl.main(["--timeout", "5", *argv])
        except SystemExit as exited:
            return int(exited.code or 0)
        return 0

    code = await asyncio.to_thread(call)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str, server: str) -> str:
    assert err.startswith("wmctl: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert server in err, err
    return err


def tls(pki_dir: Path, *, ca: str = "ca/ca.crt", user: str = "") -> list[str]:
    flags = ["--tls.ca-file", str(pki_dir / ca)]
    if user:
        flags += ["--auth.mtls.cert-file", str(pki_dir / f"{user}.crt")]
        flags += ["--auth.mtls.key-file", str(pki_dir / f"{user}.key")]
    return flags


async def test_mtls_with_a_client_certificate_works(
    mtls_server: tuple[str, Mesh], pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = mtls_server
    code, out, err = await wmctl_run(
        capsys, "-s", server, *tls(pki_dir, user="admin"), "get", "nodes"
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("node-b ")


async def test_server_wants_a_client_certificate_exit_7(
    mtls_server: tuple[str, Mesh], pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = mtls_server
    code, _, err = await wmctl_run(capsys, "-s", server, *tls(pki_dir), "get", "nodes")
    assert code == 7
    assert "wants a client certificate" in one_line(err, server)
    assert "--auth.mtls.cert-file" in err


async def test_wrong_ca_exit_7(
    mtls_server: tuple[str, Mesh], pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = mtls_server
    argv = ("-s", server, *tls(pki_dir, ca="evil/ca.crt", user="admin"), "get", "nodes")
    code, _, err = await wmctl_run(capsys, *argv)
    assert code == 7
    assert "--tls.ca-file" in one_line(err, server)


async def test_insecure_wmctl_against_tls_exit_7(
    mtls_server: tuple[str, Mesh], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = mtls_server
    code, _, err = await wmctl_run(capsys, "-s", server, "--insecure", "get", "nodes")
    assert code == 7
    assert "drop --insecure" in one_line(err, server)


async def test_tls_wmctl_against_a_plaintext_server_exit_7(
    plain_server: tuple[str, Mesh], pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = plain_server
    code, _, err = await wmctl_run(capsys, "-s", server, *tls(pki_dir), "get", "nodes")
    assert code == 7
    assert "--insecure" in one_line(err, server)


async def test_connection_refused_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await wmctl_run(capsys, "-s", "127.0.0.1:1", "--insecure", "get", "nodes")
    assert code == 3
    assert "Connection refused" in one_line(err, "127.0.0.1:1")
    assert "--server" in err


@pytest.mark.parametrize(
    ("node", "code", "hint"),
    [
        ("missing", 4, "wmctl get nodes"),
        ("secret", 5, "role binding"),
        ("anon", 5, "--auth.mtls.cert-file"),
        ("bad", 6, "invalid node id"),
        ("leaderless", 8, "quorum of voters"),
    ],
)
async def test_server_errors_have_their_exit_codes(
    plain_server: tuple[str, Mesh],
    capsys: pytest.CaptureFixture[str],
    node: str,
    code: int,
    hint: str,
) -> None:
    server, _ = plain_server
    got, _, err = await wmctl_run(capsys, "-s", server, "--insecure", "get", "node", node)
    assert got == code
    assert hint in one_line(err, server)


async def test_status_of_a_node_asks_it_and_verifies_its_name(
    mtls_server: tuple[str, Mesh], pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The node's API address is 127.0.0.1:PORT; its certificate names node-b, not 127.0.0.1.
    server, _ = mtls_server
    argv = ("-s", server, *tls(pki_dir, user="admin"), "status", "node-b", "-o", "json")
    code, out, err = await wmctl_run(capsys, *argv)
    assert (code, err) == (0, "")
    assert '"id": "node-b"' in out


async def test_get_peers_takes_the_first_message_and_closes(
    plain_server: tuple[str, Mesh], capsys: pytest.CaptureFixture[str]
) -> None:
    server, mesh = plain_server
    code, out, err = await wmctl_run(capsys, "-s", server, "--insecure", "get", "peers", "node-b")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("node-c ")

    async def closed() -> bool:
        return mesh.streams_open == 0

    await async_eventually(closed, timeout=5, what="the peer stream to be closed")


async def test_unexpected_exceptions_are_one_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(client: Any, args: Any) -> str:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(wmctl.COMMANDS, "leave", broken)
    monkeypatch.delenv("WMCTL_DEBUG", raising=False)
    code, _, err = await wmctl_run(capsys, "--insecure", "leave", "x")
    assert code == 1
    assert err == (
        "wmctl: internal error: RuntimeError: boom second line (a bug; WMCTL_DEBUG=1 shows where)\n"
    )


async def test_a_name_mismatch_is_exit_7_and_points_at_tls_server_name(
    named_server: str, pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await wmctl_run(capsys, "-s", named_server, *tls(pki_dir), "get", "nodes")
    assert code == 7
    assert "does not name the host you dialled" in one_line(err, named_server)
    assert "--tls.server-name" in err


async def test_tls_server_name_verifies_against_that_name(
    named_server: str, pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("-s", named_server, *tls(pki_dir), "--tls.server-name", "server.example")
    code, out, err = await wmctl_run(capsys, *argv, "get", "nodes")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("node-b ")
    argv = ("-s", named_server, *tls(pki_dir), "--tls.server-name", "other.example")
    code, _, err = await wmctl_run(capsys, *argv, "get", "nodes")
    assert code == 7
    assert "does not name 'other.example'" in one_line(err, named_server)


async def test_server_name_from_the_config_context(
    named_server: str, pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ("set-cluster", "lb", "--server", named_server, "--ca-file", str(pki_dir / "ca/ca.crt")),
        ("set-context", "lb", "--cluster", "lb"),
        ("use-context", "lb"),
    ):
        assert (await wmctl_run(capsys, "config", *argv))[0] == 0
    code, _, err = await wmctl_run(capsys, "get", "nodes")
    assert code == 7, "without server-name the certificate does not match"
    assert "--tls.server-name" in one_line(err, named_server)
    await wmctl_run(capsys, "config", "set-cluster", "lb", "--server-name", "server.example")
    code, out, err = await wmctl_run(capsys, "get", "nodes")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("node-b ")


async def test_a_per_call_server_name_wins_over_tls_server_name(
    mtls_server: tuple[str, Mesh], pki_dir: Path
) -> None:
    """Nodes learnt from the mesh are verified by node id, whatever --tls.server-name says."""
    _, mesh = mtls_server  # mesh.address is 127.0.0.1:PORT; the certificate names node-b
    security = ClientSecurity(
        insecure=False,
        ca_file=str(pki_dir / "ca" / "ca.crt"),
        cert_file=str(pki_dir / "admin.crt"),
        key_file=str(pki_dir / "admin.key"),
        server_name="server.example",
    )
    options = ClientOptions(security=security, timeout=5)
    async with MeshClient(mesh.address, options, server_name="node-b") as client:
        assert (await client.status()).id == "node-b"
    async with MeshClient(mesh.address, options) as client:
        with pytest.raises(TlsFailed, match=r"does not name 'server\.example'"):
            await client.status()


async def test_connect_joins_a_server_by_its_tls_server_name(
    named_server: str, pki_dir: Path
) -> None:
    """``wmctl connect --tls.server-name``: the join servers are verified against that name."""
    flags = (*tls(pki_dir), "--tls.server-name", "server.example")
    args = wmctl.build_parser().parse_args(["connect", "--join-server", named_server, *flags])
    security = wmctl.security_of(args)
    assert security.server_name == "server.example"
    request = membership_pb2.JoinRequest(id="laptop")
    server, response = await join.join([named_server], request, max_retries=0, security=security)
    assert (server, response.address_ipv4) == (named_server, "172.16.0.9/32")
    with pytest.raises(TlsFailed, match=r"--tls\.server-name"):
        await join.join(
            [named_server], request, max_retries=0, security=replace(security, server_name="")
        )


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (
            "errors resolving nosuch:8443: [field:hostname lookup error:Address lookup failed for "
            "nosuch:8443 os_error: Name or service not known syscall: getaddrinfo]",
            ("nosuch", "Name or service not known"),
        ),
        ("DNS resolution failed for foo.example:8443: timeout", ("foo.example", "lookup failed")),
        ("failed to connect to all addresses; last error: connection refused", None),
    ],
)
def test_resolution_failures_name_the_host(details: str, expected: tuple[str, str] | None) -> None:
    assert resolution_failure(details) == expected


def test_unknown_host_exit_3_names_it_and_the_resolver(capsys: pytest.CaptureFixture[str]) -> None:
    """A real lookup of a name under .invalid (RFC 6761: never resolves)."""
    with pytest.raises(SystemExit) as exited:
        wmctl.main(
            ["--insecure", "--server", "nosuch.invalid:8443", "--timeout", "5", "get", "nodes"]
        )
    assert exited.value.code == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("wmctl: error: cannot resolve 'nosuch.invalid'")
    assert "system resolver" in err and len(err.splitlines()) == 1
