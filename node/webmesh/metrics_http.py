"""The node's ``/metrics`` endpoint: a small asyncio HTTP server with every wait bounded.

prometheus_client's ``start_http_server`` starts a thread per connection and waits on a slow
client without limit: a port that faces strangers must not. This one, on the node's event loop:

- reads at most :data:`MAX_HEAD` bytes of request head, within :data:`READ_TIMEOUT` seconds;
- serves at most :data:`MAX_CONNECTIONS` connections at once and closes the rest at once;
- answers ``GET``/``HEAD /metrics`` with the registry in the OpenMetrics text format (what
  Prometheus asks for first), 404/405/400 otherwise, and closes every connection after one answer.

Metrics are rendered by prometheus_client's own OpenMetrics encoder; only its light modules are
loaded (:mod:`webmesh.narrowimport`): the package's ``__init__`` brings HTTP servers, WSGI, urllib
and the email package, about 4 MB resident for nothing here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("webmesh.metrics")

MAX_HEAD = 8192
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 10.0
MAX_CONNECTIONS = 16
PATH = "/metrics"

Render = Callable[[], tuple[bytes, str]]  # body, content type


def response(status: str, body: bytes, content_type: str, *, head_only: bool = False) -> bytes:
    headers = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return headers.encode("ascii") + (b"" if head_only else body)


def answer(request_line: str, render: Render) -> bytes:
    """The whole response to one request line (pure but for ``render``)."""
    parts = request_line.split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return response("400 Bad Request", b"bad request\n", "text/plain")
    method, target, _ = parts
    if target.split("?", 1)[0] != PATH:
        return response("404 Not Found", f"try {PATH}\n".encode(), "text/plain")
    if method not in ("GET", "HEAD"):
        return response("405 Method Not Allowed", b"GET only\n", "text/plain")
    body, content_type = render()
    return response("200 OK", body, content_type, head_only=method == "HEAD")


class MetricsServer:
    """Serves ``render()`` at ``/metrics`` (see the module docstring)."""

    def __init__(self, render: Render) -> None:
        self._render = render
        self._active = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``; "" or "::" means every address of both families (asyncio
        would make "::" IPv6-only, where prometheus_client's server was dual-stack)."""
        self._server = await asyncio.start_server(
            self._serve,
            None if host in ("", "::") else host,
            port,
            limit=MAX_HEAD,
            reuse_address=True,
        )

    @property
    def active(self) -> int:
        """Connections being served now."""
        return self._active

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        assert self._server is not None
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._active >= MAX_CONNECTIONS:
            writer.close()
            return
        self._active += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            writer.write(answer(request_line, self._render))
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ConnectionError,
            ValueError,  # readuntil's limit, as StreamReader raises it
        ):
            pass  # nothing to answer: a slow, oversized or vanished client
        finally:
            self._active -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)
