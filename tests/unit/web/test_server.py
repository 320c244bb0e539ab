"""The web view's HTTP server in-process on loopback, over a hand-made state: files from the
allow-list only, security headers, methods, the event stream and its limits, and the gate.

Requests go out as raw bytes (``support``-free, one connection each) so that what is sent is
exactly what the test says: an HTTP client library would normalise ``..`` away first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from webmesh import errors
from webmesh.authn.types import Chain, Credentials, Identity
from webmesh.authz.model import Resource, Role, RoleBinding, Rule, Subject, SubjectKind, Verb
from webmesh.mesh import commands, view
from webmesh.mesh.model import Networks, Node
from webmesh.mesh.objects import Kind, Policy
from webmesh.mesh.state import MeshState, apply
from webmesh.service.watch import StateWatch
from webmesh.web import assets, server
from webmesh.web.auth import Gate
from webmesh.web.publisher import Publisher

KEY = base64.b64encode(bytes(range(1, 33))).decode()


def state(*, rbac: bool = False) -> MeshState:
    networks = Networks("172.16.0.0/12", "", "x")
    current = apply(MeshState(), commands.Bootstrap(networks, Policy(rbac_enabled=rbac))).state
    node = Node("n1", KEY, ipv4="172.16.0.1/32", endpoints=("10.0.0.1:51820",))
    current = apply(current, commands.PutNode(node)).state
    role = Role("viewer", (Rule((Verb.GET,), (Resource.NODES,)),))
    binding = RoleBinding("viewer", "viewer", (Subject(SubjectKind.USER, "alice"),))
    current = apply(current, commands.PutObject(Kind.ROLE, role)).state
    return apply(current, commands.PutObject(Kind.ROLEBINDING, binding)).state


class Passwords:
    """alice/pw and bob/pw exist (bob has no role); anything else is refused."""

    async def authenticate(self, creds: Credentials) -> Identity | None:
        if not creds.basic_username:
            return None
        if creds.basic_username in ("alice", "bob") and creds.basic_password == "pw":
            return Identity(creds.basic_username, "user", method="basic")
        raise errors.Unauthenticated("invalid basic auth username or password")


def page(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "vendor").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>webmesh</title>")
    (root / "app.js").write_text("'use strict';")
    (root / "vendor" / "lib.min.js").write_text("/* lib */")
    (root / ".secret.js").write_text("hidden")
    (root / "notes.md").write_text("unknown type")
    (root / "linked.js").symlink_to(Path(server.__file__))
    return root


class Running:
    def __init__(self, listener: server.Listener, watch: StateWatch, task: asyncio.Task[None]):
        self.listener = listener
        self.watch = watch
        self.task = task

    @property
    def port(self) -> int:
        return self.listener.port


async def serve(
    tmp_path: Path,
    *,
    secure: bool = False,
    limits: server.StreamLimits | None = None,
    current: Callable[[], MeshState] | None = None,
) -> Running:
    mesh = state(rbac=secure)
    read = current or (lambda: mesh)
    watch = StateWatch()

    def build() -> view.View:
        return view.build(read(), served_by="n1", leader="n1", handshakes={}, at=1.0)

    publisher = Publisher(build, watch, min_interval=0.05)
    gate = Gate(Chain([Passwords()]) if secure else None, read)
    dashboard = server.Dashboard(gate, publisher, files=assets.load(page(tmp_path)), limits=limits)
    listener = await server.start(dashboard, "127.0.0.1", 0, tls=None)
    return Running(listener, watch, asyncio.create_task(publisher.run()))


@pytest.fixture
async def insecure(tmp_path: Path) -> AsyncIterator[Running]:
    running = await serve(tmp_path)
    try:
        yield running
    finally:
        running.task.cancel()
        await running.listener.close()


async def request(
    port: int, target: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), found, body


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_the_page_and_its_files_with_security_headers_and_caching(
    insecure: Running,
) -> None:
    status, headers, body = await request(insecure.port, "/")
    assert status == 200 and body.startswith(b"<!doctype html>")
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    for name, value in server.SECURITY_HEADERS.items():
        assert headers[name.lower()] == value
    status, headers, _ = await request(
        insecure.port, "/", headers={"If-None-Match": headers["etag"]}
    )
    assert status == 304
    status, headers, body = await request(insecure.port, "/static/vendor/lib.min.js")
    assert (status, body) == (200, b"/* lib */")
    assert headers["cache-control"] == assets.LONG_CACHE
    assert headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "target",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2fserver.py",
        "/static/%2e%2e%2f%2e%2e%2fdaemon%2fnode.py",
        "/static/vendor/../../server.py",
        "/static//etc/passwd",
        "/static/.secret.js",
        "/static/notes.md",
        "/static/linked.js",
        "/static/",
        "/server.py",
        "/etc/passwd",
    ],
)
async def test_nothing_outside_the_allow_list_is_served(insecure: Running, target: str) -> None:
    status, headers, body = await request(insecure.port, target)
    assert status == 404, (target, body)
    assert headers["x-content-type-options"] == "nosniff"  # on errors too
    assert b"import" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_only_get_and_head(insecure: Running, method: str) -> None:
    status, headers, _ = await request(insecure.port, "/api/state", method=method)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert headers["connection"] == "close"


async def test_the_state_is_the_view_document(insecure: Running) -> None:
    status, headers, body = await request(insecure.port, "/api/state")
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    document = json.loads(body)
    assert [n["id"] for n in document["nodes"]] == ["n1"]
    assert document["edges_complete"] is True


async def open_stream(
    port: int, headers: dict[str, str] | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = ["GET /api/events HTTP/1.1", "Host: localhost"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, int(head.split()[1])


async def next_event(reader: asyncio.StreamReader) -> dict[str, object]:
    """The next ``state`` event's document (skipping comments and the retry hint)."""
    while True:
        block = await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
        text = block.decode()
        # chunked encoding: drop the chunk-size lines
        lines = [line for line in text.splitlines() if line.startswith(("event:", "data:"))]
        if "event: state" in lines:
            data = next(line for line in lines if line.startswith("data:"))
            found: dict[str, object] = json.loads(data.removeprefix("data: "))
            return found


async def test_events_start_at_once_and_follow_changes(tmp_path: Path) -> None:
    nodes = [state()]
    running = await serve(tmp_path, current=lambda: nodes[-1])
    try:
        reader, writer, status = await open_stream(running.port)
        assert status == 200
        first = await next_event(reader)
        assert first["mesh"]["nodes"] == 1  # type: ignore[index]
        joiner = Node("n2", base64.b64encode(bytes(range(2, 34))).decode(), ipv4="172.16.0.2/32")
        nodes.append(apply(nodes[-1], commands.PutNode(joiner)).state)
        running.watch.notify()
        second = await next_event(reader)
        assert second["mesh"]["nodes"] == 2  # type: ignore[index]
        writer.close()
        await writer.wait_closed()
    finally:
        running.task.cancel()
        await running.listener.close()


async def test_streams_are_limited_per_source_and_in_total(tmp_path: Path) -> None:
    running = await serve(tmp_path, limits=server.StreamLimits(total=6, per_source=4))
    opened = []
    try:
        for _ in range(4):
            opened.append(await open_stream(running.port))
        assert [status for _, _, status in opened] == [200] * 4
        opened.append(await open_stream(running.port))
        assert opened[-1][2] == 429
        opened[0][1].close()  # one closes: a place is free again
        await asyncio.sleep(0.2)
        opened.append(await open_stream(running.port))
        assert opened[-1][2] == 200
    finally:
        for _, writer, _ in opened:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        running.task.cancel()
        await running.listener.close()
    limits = server.StreamLimits(total=2, per_source=4)
    assert limits.acquire("a") and limits.acquire("b") and not limits.acquire("c")
    limits.release("a")
    assert limits.acquire("c")


@pytest.mark.parametrize(
    ("target", "method", "credentials", "expected"),
    [
        ("/", "GET", None, 401),
        ("/static/app.js", "GET", None, 401),
        ("/api/state", "GET", None, 401),
        ("/api/events", "GET", None, 401),
        ("/nowhere", "GET", None, 401),
        ("/api/state", "POST", None, 401),  # authenticated first, whatever the method
        ("/api/state", "GET", ("alice", "wrong"), 401),
        ("/api/state", "GET", ("mallory", "pw"), 401),
        ("/api/state", "GET", ("bob", "pw"), 403),
        ("/nowhere", "GET", ("bob", "pw"), 403),
        ("/api/state", "GET", ("alice", "pw"), 200),
        ("/static/app.js", "GET", ("alice", "pw"), 200),
        ("/api/state", "POST", ("alice", "pw"), 405),
    ],
)
async def test_secure_mode_authenticates_every_request_then_checks_rbac(
    tmp_path: Path,
    target: str,
    method: str,
    credentials: tuple[str, str] | None,
    expected: int,
) -> None:
    running = await serve(tmp_path, secure=True)
    try:
        headers = basic(*credentials) if credentials else None
        status, found, body = await request(running.port, target, method=method, headers=headers)
        assert status == expected, body
        if expected == 401:
            assert found["www-authenticate"] == 'Basic realm="webmesh", charset="UTF-8"'
            assert b"n1" not in body
        assert (
            found["content-security-policy"] == server.SECURITY_HEADERS["Content-Security-Policy"]
        )
    finally:
        running.task.cancel()
        await running.listener.close()


async def test_malformed_basic_credentials_are_refused(tmp_path: Path) -> None:
    running = await serve(tmp_path, secure=True)
    try:
        for value in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer x"):
            status, _, _ = await request(
                running.port, "/api/state", headers={"Authorization": value}
            )
            assert status == 401
    finally:
        running.task.cancel()
        await running.listener.close()
