"""The MeshDNS server: UDP and TCP on port 53 of the node's mesh addresses.

Every port faces strangers, this one too: a query is at most ``max_query_bytes`` and is parsed
into a DNS message (never into objects of ours); each source has a query budget (a token
bucket); TCP connections are limited in all and per source, and closed when idle; junk is
dropped without a reply (no reflection) and counted by reason, and each source and reason is
logged at most once a minute. Names of the mesh are answered in the turn of the event loop that
received them; only forwarded names wait, on at most ``Forwarder.max_in_flight`` upstream calls.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message

from webmesh import logs
from webmesh.dns.answer import Outcome, Zone, answer, refused, server_failure
from webmesh.dns.forward import Forwarder

log = logging.getLogger("webmesh.meshdns")

UDP_DEFAULT_SIZE = 512  # the answer size a client without EDNS can take (RFC 1035)
TCP_MAX_SIZE = 65535
_IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # Linux's value; Python names it from 3.12 on


@dataclass(frozen=True, slots=True)
class Limits:
    """What one source, and all of them, may cost the server."""

    max_query_bytes: int = 4096
    queries_per_second: float = 200.0  # per source address, with a burst of twice that
    tcp_connections: int = 256
    tcp_connections_per_source: int = 16
    tcp_idle_timeout: float = 10.0
    sources_remembered: int = 4096  # token buckets kept; the least recent is forgotten first


class _Budget:
    """A token bucket per source address, for the ``sources_remembered`` most recent ones."""

    def __init__(self, limits: Limits) -> None:
        self._rate = limits.queries_per_second
        self._burst = 2 * limits.queries_per_second
        self._capacity = limits.sources_remembered
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()

    def allow(self, source: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.pop(source, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self._capacity:
            self._buckets.popitem(last=False)
        return allowed


class MeshDnsServer:
    """Answers the mesh domain from ``zone``; other names through ``forwarder`` (or REFUSED)."""

    def __init__(
        self, zone: Zone, forwarder: Forwarder | None, *, limits: Limits | None = None
    ) -> None:
        self.zone = zone
        self.forwarder = forwarder
        self.limits = limits or Limits()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.refusals: collections.Counter[str] = collections.Counter()
        self.addresses: list[tuple[str, int]] = []
        self._budget = _Budget(self.limits)
        self._throttle = logs.Throttle(every=60.0)
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.Server] = []
        self._connections: collections.Counter[str] = collections.Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, host: str, port: int) -> None:
        """Serve UDP and TCP on ``host:port`` (port 0: any free port, the same for both)."""
        loop = asyncio.get_running_loop()
        tcp_sock = _bound_socket(host, port, socket.SOCK_STREAM)
        port = tcp_sock.getsockname()[1]
        udp_sock = _bound_socket(host, port, socket.SOCK_DGRAM)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), sock=udp_sock
        )
        self._udp.append(transport)
        self._tcp.append(await asyncio.start_server(self._serve_tcp, sock=tcp_sock))
        self.addresses.append((host, port))

    async def close(self) -> None:
        for transport in self._udp:
            transport.close()
        for server in self._tcp:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        for server in self._tcp:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self._udp.clear()
        self._tcp.clear()

    # ---- one query -----------------------------------------------------------------------------

    def refuse(self, source: str, reason: str) -> None:
        """Count a dropped query or closed connection; log the source now and then."""
        self.refusals[reason] += 1
        if self._throttle.due((source, reason)):
            log.warning("event=meshdns_refused source=%s reason=%s", source, reason)

    def admit(self, wire: bytes, source: str) -> dns.message.Message | None:
        """The parsed query, or None (counted) when it is too big, junk, or over budget."""
        if len(wire) > self.limits.max_query_bytes:
            self.refuse(source, "oversized")
            return None
        if not self._budget.allow(source):
            self.refuse(source, "rate")
            return None
        try:
            query = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError):
            self.refuse(source, "malformed")
            return None
        if query.flags & dns.flags.QR:
            self.refuse(source, "not-a-query")  # a response sent to us: never answer one
            return None
        return query

    def answer_now(self, query: dns.message.Message) -> dns.message.Message | None:
        """The answer when it needs no upstream; None when the query must be forwarded."""
        response, outcome = answer(self.zone, query)
        if outcome is not Outcome.FORWARD:
            self.outcomes[outcome.value] += 1
            return response
        if self.forwarder is None or self.forwarder.busy:
            reason = "forwarding-off" if self.forwarder is None else "forwarder-busy"
            self.outcomes[Outcome.REFUSED.value] += 1
            self.refusals[reason] += 1
            return refused(query)
        return None

    async def forward(self, query: dns.message.Message) -> dns.message.Message:
        assert self.forwarder is not None
        response = await self.forwarder.resolve(query)
        self.outcomes["forwarded" if response is not None else "servfail"] += 1
        return response if response is not None else server_failure(query)

    def spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- TCP -----------------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = _host_of(writer.get_extra_info("peername"))
        if not self._open_connection(source):
            writer.close()
            return
        try:
            while await self._one_tcp_query(reader, writer, source):
                pass
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._connections[source] -= 1
            if self._connections[source] <= 0:
                del self._connections[source]
            writer.close()

    def _open_connection(self, source: str) -> bool:
        if self._connections.total() >= self.limits.tcp_connections:
            self.refuse(source, "tcp-connections")
            return False
        if self._connections[source] >= self.limits.tcp_connections_per_source:
            self.refuse(source, "tcp-connections-per-source")
            return False
        self._connections[source] += 1
        return True

    async def _one_tcp_query(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str
    ) -> bool:
        """Read, answer and write one length-prefixed query; False ends the connection."""
        idle = self.limits.tcp_idle_timeout
        try:
            header = await asyncio.wait_for(reader.readexactly(2), idle)
        except TimeoutError:
            return False
        except asyncio.IncompleteReadError:
            return False  # the client closed
        length = int.from_bytes(header, "big")
        if not 0 < length <= self.limits.max_query_bytes:
            self.refuse(source, "oversized")
            return False
        try:  # the whole query within the idle timeout: a trickle does not hold a slot
            wire = await asyncio.wait_for(reader.readexactly(length), idle)
        except TimeoutError:
            self.refuse(source, "slow")
            return False
        query = self.admit(wire, source)
        if query is None:
            return False
        response = self.answer_now(query) or await self.forward(query)
        reply = _to_wire(query, response, TCP_MAX_SIZE)
        writer.write(len(reply).to_bytes(2, "big") + reply)
        await asyncio.wait_for(writer.drain(), idle)
        return True


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: MeshDnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector transport for UDP does not subclass DatagramTransport
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        server, source = self._server, _host_of(addr)
        query = server.admit(data, source)
        if query is None:
            return
        response = server.answer_now(query)
        if response is not None:
            self._send(query, response, addr)
        else:
            server.spawn(self._forward(query, addr))

    async def _forward(self, query: dns.message.Message, addr: tuple[Any, ...]) -> None:
        self._send(query, await self._server.forward(query), addr)

    def _send(
        self, query: dns.message.Message, response: dns.message.Message, addr: tuple[Any, ...]
    ) -> None:
        if self._transport is not None and not self._transport.is_closing():
            limit = max(UDP_DEFAULT_SIZE, query.payload) if query.edns >= 0 else UDP_DEFAULT_SIZE
            self._transport.sendto(_to_wire(query, response, limit), addr)


def _to_wire(query: dns.message.Message, response: dns.message.Message, limit: int) -> bytes:
    """The response in at most ``limit`` bytes: truncated (TC, no records) when it does not fit,
    so that the client asks again over TCP."""
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.set_rcode(response.rcode())
        truncated.flags |= dns.flags.TC
        return truncated.to_wire(max_size=limit)


def _bound_socket(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
    """A socket bound to ``host:port``; IP_FREEBIND lets it bind the mesh address even while
    the interface's IPv6 address is still tentative (duplicate address detection)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_IP, _IP_FREEBIND, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _host_of(address: Any) -> str:
    return str(address[0]) if isinstance(address, tuple) and address else "unknown"
