"""/metrics over a real socket: the registry as OpenMetrics, and strangers kept in bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from support.wait import async_eventually
from webmesh import metrics, metrics_http
from webmesh.metrics_http import MetricsServer


@pytest.fixture
async def server() -> AsyncIterator[MetricsServer]:
    served = MetricsServer(metrics.render)
    await served.start("127.0.0.1", 0)
    try:
        yield served
    finally:
        await served.close()


async def is_(value: int, wanted: int) -> bool:
    return value == wanted


async def exchange(port: int, request: bytes, *, timeout: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def test_get_metrics_is_openmetrics_with_our_and_process_metrics(
    server: MetricsServer,
) -> None:
    metrics.GRPC_REQUESTS.labels(method="/test/Probe", code="OK").inc()
    reply = await exchange(server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Type: application/openmetrics-text" in head
    text = body.decode()
    assert 'webmesh_grpc_requests_total{code="OK",method="/test/Probe"}' in text
    assert "process_resident_memory_bytes" in text  # the default collectors are registered
    assert text.endswith("# EOF\n")
    assert f"Content-Length: {len(body)}".encode() in head


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET / HTTP/1.1", b"404"),
        (b"POST /metrics HTTP/1.1", b"405"),
        (b"garbage", b"400"),
    ],
)
async def test_other_requests_are_refused(
    server: MetricsServer, request_line: bytes, status: bytes
) -> None:
    reply = await exchange(server.port, request_line + b"\r\n\r\n")
    assert reply.split(b" ")[1] == status


async def test_head_has_no_body(server: MetricsServer) -> None:
    reply = await exchange(server.port, b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert reply.endswith(b"\r\n\r\n")


async def test_an_oversized_head_is_dropped_unanswered(server: MetricsServer) -> None:
    huge = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * (metrics_http.MAX_HEAD * 2) + b"\r\n\r\n"
    assert await exchange(server.port, huge) == b""


async def test_a_silent_client_is_dropped_after_the_read_timeout(
    server: MetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_http, "READ_TIMEOUT", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    finally:
        writer.close()


async def test_connections_beyond_the_cap_are_closed_at_once(
    server: MetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_http, "MAX_CONNECTIONS", 2)
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    try:
        await async_eventually(lambda: is_(server.active, 2), timeout=5)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        # Once one is gone, a new client is served again.
        held.pop()[1].close()
        await async_eventually(lambda: is_(server.active, 1), timeout=5)
        reply = await exchange(server.port, b"GET /metrics HTTP/1.1\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200")
    finally:
        for _, writer in held:
            writer.close()


async def test_the_wildcard_listens_on_ipv4_and_ipv6() -> None:
    served = MetricsServer(metrics.render)
    await served.start("::", 0)
    try:
        families = {sock.family.name for sock in served.sockets}
        assert "AF_INET" in families
    finally:
        await served.close()
