"""The web view served by real nodes on loopback (real Raft and gRPC, fake WireGuard).

Insecure mode: the page, the state and the live stream (a join shows within seconds; a reader
that reads nothing delays nobody), and the stream limits from many source addresses (every
127.0.0.0/8 address is this host's). Secure mode: TLS with the API's certificate, Basic
credentials checked by the htpasswd plugin, a client certificate, and RBAC (a read-only role).

Requests are raw HTTP/1.1 on a fresh connection each, so what is sent is what the test says.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from integration.node.meshlab import HOST, Lab, Member, free_port
from support.wait import async_eventually
from webmesh.api.v1 import admin_pb2
from webmesh.client import pki
from webmesh.client.mesh_client import ClientOptions, MeshClient
from webmesh.client.security import ClientSecurity
from webmesh.mesh.objects import Kind
from webmesh.web import server

Response = tuple[int, dict[str, str], bytes]


def dashboard_flags(port: int) -> tuple[str, ...]:
    return ("--services.dashboard.enabled", f"--services.dashboard.listen-address={HOST}:{port}")


class Http:
    """Raw HTTP to one node's web view, over TLS when ``tls`` is given."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.tls = tls

    async def connect(
        self, source: str = HOST, tls: ssl.SSLContext | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(
            HOST, self.port, ssl=tls or self.tls, local_addr=(source, 0)
        )

    async def get(
        self, target: str, *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Response:
        reader, writer = await self.connect()
        try:
            writer.write(head(method, target, {"Connection": "close", **(headers or {})}))
            raw = await asyncio.wait_for(reader.read(), 10)
        finally:
            await close(writer)
        if not raw:
            raise ConnectionError("closed without an answer")
        return parse(raw)

    async def stream(
        self, source: str = HOST, headers: dict[str, str] | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
        reader, writer = await self.connect(source)
        writer.write(head("GET", "/api/events", headers or {}))
        status_head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        return reader, writer, int(status_head.split()[1])


def head(method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse(raw: bytes) -> Response:
    top, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    found = {}
    for line in lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), found, body


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()


async def next_state(reader: asyncio.StreamReader, timeout: float = 5) -> dict[str, Any]:
    """The next ``state`` event's document (comments, the retry hint and chunk sizes skipped)."""
    while True:
        block = (await asyncio.wait_for(reader.readuntil(b"\n\n"), timeout)).decode()
        lines = block.splitlines()
        if "event: state" in lines:
            data = next(line for line in lines if line.startswith("data: "))
            found: dict[str, Any] = json.loads(data.removeprefix("data: "))
            return found


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- insecure mode ---------------------------------------------------------------------------


async def test_an_insecure_node_serves_the_page_the_state_and_live_events(lab: Lab) -> None:
    port = free_port()
    n1 = await lab.start("n1", extra=dashboard_flags(port))
    await lab.start("n2", join=n1)
    http = Http(port)
    status, headers, body = await http.get("/")
    assert status == 200 and b"<html" in body
    assert headers["content-security-policy"] == server.SECURITY_HEADERS["Content-Security-Policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"

    async def both() -> dict[str, Any] | None:
        document: dict[str, Any] = json.loads((await http.get("/api/state"))[2])
        return document if len(document["nodes"]) == 2 else None

    document = await async_eventually(both, timeout=10, what="n1 and n2 in /api/state")
    assert [n["id"] for n in document["nodes"]] == ["n1", "n2"]
    assert document["mesh"]["served_by"] == "n1" and document["mesh"]["leader"] == "n1"

    idle_reader, idle_writer, status = await http.stream()  # opened, then never read
    assert status == 200
    reader, writer, status = await http.stream()
    try:
        assert status == 200
        first = await next_state(reader, timeout=2)  # at once, not at the first change
        assert first["mesh"]["nodes"] == 2
        await lab.start("n3", join=n1)
        while (await next_state(reader, timeout=5))["mesh"]["nodes"] != 3:
            pass  # the join's own commits may come as a few documents
    finally:
        await close(writer)
        await close(idle_writer)
    del idle_reader


async def test_stream_limits_per_source_and_in_total(lab: Lab) -> None:
    port = free_port()
    await lab.start("n1", extra=dashboard_flags(port))
    http = Http(port)
    opened: list[asyncio.StreamWriter] = []
    try:
        for _ in range(server.MAX_STREAMS_PER_SOURCE):
            _, writer, status = await http.stream("127.0.0.2")
            opened.append(writer)
            assert status == 200
        _, writer, status = await http.stream("127.0.0.2")
        opened.append(writer)
        assert status == 429  # the fifth from one source
        sources = server.MAX_STREAMS // server.MAX_STREAMS_PER_SOURCE
        for n in range(3, 3 + sources - 1):  # fill the rest of the 64 from other sources
            for _ in range(server.MAX_STREAMS_PER_SOURCE):
                _, writer, status = await http.stream(f"127.0.0.{n}")
                opened.append(writer)
                assert status == 200
        _, writer, status = await http.stream("127.0.0.100")
        opened.append(writer)
        assert status == 429  # the 65th in total
        status, _, _ = await http.get("/api/state")  # plain requests still answer
        assert status == 200
    finally:
        for writer in opened:
            await close(writer)


async def test_path_traversal_and_methods(lab: Lab) -> None:
    port = free_port()
    await lab.start("n1", extra=dashboard_flags(port))
    http = Http(port)
    for target in (
        "/static/../daemon/node.py",
        "/static/%2e%2e/daemon/node.py",
        "/static/..%2fdaemon%2fnode.py",
        "/static/%2e%2e%2f%2e%2e%2fdaemon%2fnode.py",
        "/static/....//daemon/node.py",
        "/static/index.html/../../web/server.py",
        "/static/%252e%252e/daemon/node.py",
    ):
        status, _, body = await http.get(target)
        assert status == 404, (target, body[:200])
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = await http.get("/api/state", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD"


# ---- secure mode -----------------------------------------------------------------------------


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    pki.init_ca(directory)
    pki.issue(directory, "n1", ca_dir=directory, kind="node", sans=["127.0.0.1"])
    for user in ("admin", "carol"):
        pki.issue(directory, user, ca_dir=directory, kind="user")
    foreign = tmp_path / "foreign"
    pki.init_ca(foreign, name="someone-else")
    pki.issue(foreign, "carol", ca_dir=foreign, kind="user")
    return directory


def htpasswd(path: Path) -> Path:
    lines = [
        f"{user}:{bcrypt.hashpw(f'{user}-pw'.encode(), bcrypt.gensalt(rounds=4)).decode()}"
        for user in ("admin", "carol", "dave")
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def client_tls(pki_dir: Path, user: str = "", ca_dir: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
    if user:
        where = ca_dir or pki_dir
        context.load_cert_chain(str(where / f"{user}.crt"), str(where / f"{user}.key"))
    return context


async def grant_viewer(member: Member, pki_dir: Path, user: str) -> None:
    """``wmctl put roles viewer --verb get --resource nodes ...`` and a binding, as admin (the
    API asks every caller for a certificate with ``--global.mtls``; the web view only offers)."""
    security = ClientSecurity(
        insecure=False,
        ca_file=str(pki_dir / "ca.crt"),
        cert_file=str(pki_dir / "admin.crt"),
        key_file=str(pki_dir / "admin.key"),
    )
    role = admin_pb2.Role(
        name="viewer",
        rules=[admin_pb2.Rule(verbs=["get"], resources=["nodes", "networkacls", "routes"])],
    )
    binding = admin_pb2.RoleBinding(
        name="viewer", role="viewer", subjects=[admin_pb2.Subject(kind="user", name=user)]
    )
    async with MeshClient(member.api, ClientOptions(security=security, timeout=5)) as client:
        await client.put_object(Kind.ROLE, role)
        await client.put_object(Kind.ROLEBINDING, binding)


async def test_a_secure_node_refuses_strangers_and_serves_a_read_only_role(
    lab: Lab, pki_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    flags = (
        "--global.insecure=false",
        f"--global.tls-cert-file={pki_dir / 'n1.crt'}",
        f"--global.tls-key-file={pki_dir / 'n1.key'}",
        f"--global.tls-ca-file={pki_dir / 'ca.crt'}",
        "--global.mtls",
        f"--tls.ca-file={pki_dir / 'ca.crt'}",
        f"--plugins.basic-auth.htpasswd-file={htpasswd(tmp_path / 'htpasswd')}",
        *dashboard_flags(port),
    )
    n1 = await lab.start("n1", extra=flags)
    https = Http(port, client_tls(pki_dir))

    with pytest.raises(ssl.SSLCertVerificationError):  # the API's certificate, from the mesh CA
        await Http(port, ssl.create_default_context()).get("/")
    for target in ("/", "/static/app.css", "/api/state", "/api/events"):
        status, headers, body = await https.get(target)
        assert status == 401, target
        assert headers["www-authenticate"].startswith('Basic realm="webmesh"')
        assert b"n1" not in body
    assert (await https.get("/api/state", headers=basic("carol", "wrong")))[0] == 401
    assert (await https.get("/api/state", headers=basic("nobody", "x")))[0] == 401
    assert (await https.get("/api/state", headers=basic("dave", "dave-pw")))[0] == 403
    assert (await https.get("/api/state", headers=basic("carol", "carol-pw")))[0] == 403

    await grant_viewer(n1, pki_dir, "carol")

    async def carol_reads() -> dict[str, Any] | None:
        status, _, body = await https.get("/api/state", headers=basic("carol", "carol-pw"))
        return json.loads(body) if status == 200 else None

    document = await async_eventually(carol_reads, timeout=10, what="carol reads the mesh")
    assert [n["id"] for n in document["nodes"]] == ["n1"]
    assert (await https.get("/", headers=basic("carol", "carol-pw")))[0] == 200
    assert (await https.get("/api/state", headers=basic("dave", "dave-pw")))[0] == 403
    status, _, _ = await https.get("/api/state", method="POST", headers=basic("carol", "carol-pw"))
    assert status == 405

    # a client certificate from the mesh CA is a login too; one from another CA is no TLS at all
    status, _, _ = await Http(port, client_tls(pki_dir, "carol")).get("/api/state")
    assert status == 200
    foreign = client_tls(pki_dir, "carol", ca_dir=pki_dir.parent / "foreign")
    with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
        status, _, _ = await Http(port, foreign).get("/api/state")
        assert status != 200

    reader, writer, status = await https.stream(headers=basic("carol", "carol-pw"))
    try:
        assert status == 200
        assert (await next_state(reader, timeout=2))["mesh"]["served_by"] == "n1"
    finally:
        await close(writer)
