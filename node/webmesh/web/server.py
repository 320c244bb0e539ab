"""The web view's HTTP server (aiohttp): the page, ``/api/state`` and ``/api/events``.

Every request, the page's files included, is authenticated first (secure mode), then checked
(GET or HEAD only, else 405), then routed; no request body is ever read. The port faces
strangers, so everything is bounded:

- at most :data:`MAX_CONNECTIONS` connections past the TLS handshake (the next ones are closed
  at once); a handshake must finish within :data:`HANDSHAKE_TIMEOUT` s, a request head (at most
  8 KiB a line, 64 headers) arrive whole within :data:`HEAD_TIMEOUT` s of the connection or of
  the previous answer, or the connection is closed;
- at most :data:`MAX_STREAMS` event streams, :data:`MAX_STREAMS_PER_SOURCE` per source address
  (429 beyond); a stream ends after :data:`STREAM_LIFETIME` s (the browser's EventSource
  reconnects, authenticating again) or when its reader loses ``get nodes``;
- a write that the client does not take within :data:`WRITE_TIMEOUT` s ends its stream, so a
  stalled reader holds at most one document in its socket buffer and delays nobody: every
  stream waits on the shared :class:`~webmesh.web.publisher.Publisher`, not on the others.

Every answer carries the security headers of :data:`SECURITY_HEADERS` and a Cache-Control.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from webmesh.authz.principal import Principal
from webmesh.mesh import view
from webmesh.web import assets
from webmesh.web.auth import Gate
from webmesh.web.publisher import Publisher

log = logging.getLogger("webmesh.web")

MAX_CONNECTIONS = 256
MAX_STREAMS = 64
MAX_STREAMS_PER_SOURCE = 4
HANDSHAKE_TIMEOUT = 10.0
HEAD_TIMEOUT = 10.0
WRITE_TIMEOUT = 30.0
KEEPALIVE = 15.0  # seconds between two comments on an idle stream (proxies drop silent ones)
STREAM_LIFETIME = 3600.0
RETRY_MS = 2000  # what EventSource waits before it reconnects
SHUTDOWN_TIMEOUT = 1.0

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NO_STORE = "no-store"
STATE = "state"  # the event's name

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
READABLE = web.RequestKey("readable", view.Readable)


class StreamLimits:
    """Counts the open event streams, in total and per source address."""

    def __init__(self, total: int = MAX_STREAMS, per_source: int = MAX_STREAMS_PER_SOURCE) -> None:
        self._total = total
        self._per_source = per_source
        self._open: Counter[str] = Counter()

    def acquire(self, source: str) -> bool:
        if self._open.total() >= self._total or self._open[source] >= self._per_source:
            return False
        self._open[source] += 1
        return True

    def release(self, source: str) -> None:
        self._open[source] -= 1
        if self._open[source] <= 0:
            del self._open[source]


class Dashboard:
    """The application; :func:`start` serves it."""

    def __init__(
        self,
        gate: Gate,
        publisher: Publisher,
        *,
        files: Mapping[str, assets.Asset] | None = None,
        limits: StreamLimits | None = None,
    ) -> None:
        self._gate = gate
        self._publisher = publisher
        self._files = assets.load() if files is None else files
        self._limits = limits or StreamLimits()
        self.app = web.Application(middlewares=[self._admit], client_max_size=1024)
        self.app.on_response_prepare.append(_headers)
        self.app.router.add_get("/", self._index)
        self.app.router.add_get("/static/{name:.+}", self._static)
        self.app.router.add_get("/api/state", self._state)
        self.app.router.add_get("/api/events", self._events)

    @web.middleware
    async def _admit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Authenticate and authorize, then refuse anything but GET and HEAD (no request body
        is ever read): every path, known or not, answers a stranger 401 and nothing else."""
        principal = await self._gate.principal(request)
        request[PRINCIPAL] = principal
        request[READABLE] = self._gate.readable(request, principal)
        if request.method not in ("GET", "HEAD"):
            refused = web.Response(status=405, text="GET only\n", headers={"Allow": "GET, HEAD"})
            refused.force_close()
            return refused
        return await handler(request)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return self._file(request, "index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        return self._file(request, request.match_info["name"])

    def _file(self, request: web.Request, name: str) -> web.StreamResponse:
        asset = self._files.get(name)
        if asset is None:
            raise web.HTTPNotFound(text="not found\n")
        headers = {"Cache-Control": asset.cache_control, "ETag": asset.etag}
        if asset.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = asset.content_type
        return web.Response(body=asset.body, headers=headers)

    async def _state(self, request: web.Request) -> web.StreamResponse:
        body = self._publisher.latest().encoded(request[READABLE])
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return web.Response(content_type="text/event-stream")
        source = request.remote or "?"
        if not self._limits.acquire(source):
            raise web.HTTPTooManyRequests(text="too many event streams\n")
        self._publisher.readers += 1
        try:
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
            )
            await response.prepare(request)
            with contextlib.suppress(ConnectionError, TimeoutError):
                await self._stream(response, request[PRINCIPAL])
            return response
        finally:
            self._publisher.readers -= 1
            self._limits.release(source)

    async def _stream(self, response: web.StreamResponse, principal: Principal | None) -> None:
        """One event per new snapshot, a comment when idle; until the lifetime ends."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_LIFETIME
        await _write(response, f"retry: {RETRY_MS}\n\n".encode())
        snapshot = self._publisher.latest()
        while loop.time() < ends:
            allowed = self._gate.may_read(principal)
            if allowed is None:
                return  # its rights were revoked since the stream opened
            event = b"event: " + STATE.encode() + b"\ndata: " + snapshot.encoded(allowed) + b"\n\n"
            await _write(response, event)
            newer = await self._publisher.next(snapshot.version, KEEPALIVE)
            while newer is None and loop.time() < ends:
                await _write(response, b": keepalive\n\n")
                newer = await self._publisher.next(snapshot.version, KEEPALIVE)
            snapshot = newer or snapshot


async def _write(response: web.StreamResponse, data: bytes) -> None:
    await asyncio.wait_for(response.write(data), WRITE_TIMEOUT)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """The security headers, and no caching unless the handler chose otherwise."""
    del request
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", NO_STORE)


class Listener:
    """A running :class:`Dashboard`: its runner and its listening socket(s)."""

    def __init__(self, runner: web.AppRunner, site: _Site) -> None:
        self._runner = runner
        self._site = site

    @property
    def port(self) -> int:
        return self._site.port

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return self._site.sockets

    async def close(self) -> None:
        """Stop listening, end the streams and connections (bounded by SHUTDOWN_TIMEOUT)."""
        await self._runner.cleanup()


async def start(
    dashboard: Dashboard, host: str, port: int, *, tls: ssl.SSLContext | None
) -> Listener:
    """Serve ``dashboard`` on ``host:port`` ("" or "::": every address of both families)."""
    runner = web.AppRunner(
        dashboard.app,
        access_log=None,
        keepalive_timeout=HEAD_TIMEOUT,
        max_headers=64,
        lingering_time=1.0,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    site = _Site(runner, None if host in ("", "::") else host, port, tls=tls)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Listener(runner, site)


class _Refused(asyncio.Protocol):
    """What a connection beyond MAX_CONNECTIONS gets: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class _Site(web.BaseSite):
    """aiohttp's TCPSite, with a bound on connections and on the TLS handshake."""

    __slots__ = ("_host", "_listening", "_port")

    def __init__(
        self, runner: web.AppRunner, host: str | None, port: int, *, tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(runner, ssl_context=tls)
        self._host = host
        self._port = port
        self._listening: asyncio.Server | None = None

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host or '*'}:{self.port}"

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._listening.sockets) if self._listening is not None else ()

    @property
    def port(self) -> int:
        found = self.sockets
        return int(found[0].getsockname()[1]) if found else self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            return _Refused() if len(server.connections) >= MAX_CONNECTIONS else server()

        self._listening = await asyncio.get_running_loop().create_server(
            protocol,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT if self._ssl_context else None,
            reuse_address=True,
        )
        self._server = self._listening  # what BaseSite.stop closes
