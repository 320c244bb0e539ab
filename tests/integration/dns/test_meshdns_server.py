"""The MeshDNS server on loopback, over real UDP and TCP sockets, asked by dnspython.

The upstream of the forwarding tests is a second MeshDNS server answering another domain, so
that a forwarded answer can only have come through the first one. The hostile clients send what
a stranger on the mesh could: junk, oversized and response packets, floods, and TCP connections
that declare too much, trickle, or pile up; the server must drop each without replying, count it
by reason, and keep answering everybody else.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from support.wait import async_eventually
from webmesh.dns.answer import Addresses, Zone
from webmesh.dns.forward import Forwarder, Upstream
from webmesh.dns.server import Limits, MeshDnsServer

LOOPBACK = "127.0.0.1"
MESH = {
    "node-a": Addresses(ipv4=("172.16.0.1",), ipv6=("fd00:1:2:1::1",)),
    "node-b": Addresses(ipv4=("172.16.0.2",)),
    # 40 IPv6 addresses: an answer far larger than the 512 bytes of plain UDP
    "big": Addresses(ipv6=tuple(f"fd00:1:2:{i:x}::1" for i in range(1, 41))),
}
UPSTREAM = {"www": Addresses(ipv4=("192.0.2.80",))}


def zone(domain: str, names: Mapping[str, Addresses]) -> Zone:
    return Zone.of(domain, names.get)


async def started(server: MeshDnsServer) -> tuple[str, int]:
    await server.listen(LOOPBACK, 0)
    return server.addresses[-1]


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, int]]:
    server = MeshDnsServer(zone("upstream.test", UPSTREAM), None)
    try:
        yield await started(server)
    finally:
        await server.close()


async def serve(
    forwarder: Forwarder | None = None, limits: Limits | None = None
) -> tuple[MeshDnsServer, int]:
    server = MeshDnsServer(zone("webmesh.internal", MESH), forwarder, limits=limits)
    _, port = await started(server)
    return server, port


async def udp(port: int, name: str, rdtype: str = "A", **kwargs: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    return await dns.asyncquery.udp(query, LOOPBACK, port=port, timeout=2)


async def tcp(port: int, name: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.tcp(query, LOOPBACK, port=port, timeout=2)


def addresses(response: dns.message.Message) -> set[str]:
    return {item.to_text() for rrset in response.answer for item in rrset}


async def test_mesh_names_over_udp_and_tcp() -> None:
    server, port = await serve()
    try:
        a = await udp(port, "node-a.webmesh.internal")
        assert a.rcode() == dns.rcode.NOERROR and a.flags & dns.flags.AA
        assert addresses(a) == {"172.16.0.1"}
        assert addresses(await tcp(port, "node-a.webmesh.internal", "AAAA")) == {"fd00:1:2:1::1"}
        assert addresses(await udp(port, "node-b.WebMesh.Internal")) == {"172.16.0.2"}
        missing = await udp(port, "node-z.webmesh.internal")
        assert missing.rcode() == dns.rcode.NXDOMAIN
        assert server.outcomes == {"answered": 3, "nxdomain": 1}
    finally:
        await server.close()


async def test_an_answer_too_big_for_udp_is_truncated_and_whole_over_tcp() -> None:
    server, port = await serve()
    try:
        plain = await udp(port, "big.webmesh.internal", "AAAA", use_edns=False)
        assert plain.flags & dns.flags.TC and not plain.answer
        assert len(addresses(await tcp(port, "big.webmesh.internal", "AAAA"))) == 40
        # with EDNS the client takes 4096 bytes: it fits in one datagram
        edns = await udp(port, "big.webmesh.internal", "AAAA", use_edns=0, payload=4096)
        assert not edns.flags & dns.flags.TC and len(addresses(edns)) == 40
    finally:
        await server.close()


async def test_other_names_are_forwarded_to_the_upstream(upstream: tuple[str, int]) -> None:
    host, port_up = upstream
    server, port = await serve(Forwarder([Upstream(host, port_up)]))
    try:
        answer = await udp(port, "www.upstream.test")
        assert addresses(answer) == {"192.0.2.80"}
        assert addresses(await tcp(port, "www.upstream.test")) == {"192.0.2.80"}
        assert (await udp(port, "nope.upstream.test")).rcode() == dns.rcode.NXDOMAIN
        assert server.outcomes["forwarded"] == 3
    finally:
        await server.close()


async def test_forwarding_off_refuses_and_a_dead_upstream_fails_within_its_timeout() -> None:
    off, port_off = await serve(None)
    dead_port = _closed_udp_port()
    dead, port_dead = await serve(Forwarder([Upstream(LOOPBACK, dead_port)], timeout=0.5))
    try:
        assert (await udp(port_off, "www.upstream.test")).rcode() == dns.rcode.REFUSED
        started_at = time.monotonic()
        assert (await udp(port_dead, "www.upstream.test")).rcode() == dns.rcode.SERVFAIL
        assert time.monotonic() - started_at < 2.0
        assert dead.outcomes["servfail"] == 1
    finally:
        await off.close()
        await dead.close()


def _closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


async def _datagram_gets_no_reply(port: int, payload: bytes) -> bool:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((LOOPBACK, port))
        await loop.sock_sendall(sock, payload)
        try:
            await asyncio.wait_for(loop.sock_recv(sock, 65535), 0.3)
        except TimeoutError:
            return True
        return False


async def test_junk_oversized_and_response_datagrams_are_dropped_and_counted() -> None:
    server, port = await serve()
    try:
        assert await _datagram_gets_no_reply(port, b"\x00\x01junk")
        assert await _datagram_gets_no_reply(port, b"\x00" * 5000)
        reply = dns.message.make_response(dns.message.make_query("node-a.webmesh.internal", "A"))
        assert await _datagram_gets_no_reply(port, reply.to_wire())
        assert server.refusals == {"malformed": 1, "oversized": 1, "not-a-query": 1}
        assert addresses(await udp(port, "node-a.webmesh.internal")) == {"172.16.0.1"}
    finally:
        await server.close()


async def test_a_flood_from_one_source_is_cut_to_its_budget() -> None:
    server, port = await serve(limits=Limits(queries_per_second=20.0))
    wire = dns.message.make_query("node-a.webmesh.internal", "A").to_wire()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(200):
                sock.sendto(wire, (LOOPBACK, port))
        await async_eventually(
            _total_is(server, 200), timeout=5, what=lambda: f"{server.outcomes} {server.refusals}"
        )
        assert server.outcomes["answered"] <= 45  # the burst (40) and what refilled meanwhile
        assert server.refusals["rate"] >= 155
    finally:
        await server.close()


def _total_is(server: MeshDnsServer, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return server.outcomes.total() + server.refusals.total() >= count

    return check


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), within) == b""
    except (TimeoutError, ConnectionResetError):
        return False


async def test_tcp_connections_that_declare_too_much_trickle_or_pile_up_are_closed() -> None:
    limits = Limits(tcp_idle_timeout=0.3, tcp_connections_per_source=2)
    server, port = await serve(limits=limits)
    opened: list[asyncio.StreamWriter] = []
    try:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        opened.append(writer)
        writer.write(b"\xff\xff")  # declares 65535 bytes: more than any query
        assert await _closed_by_server(reader, 2.0)

        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        opened.append(writer)
        writer.write(b"\x00\x40\x00")  # declares 64 bytes, sends one, then nothing
        assert await _closed_by_server(reader, 2.0)

        idle = [await asyncio.open_connection(LOOPBACK, port) for _ in range(3)]
        opened.extend(w for _, w in idle)
        assert await _closed_by_server(idle[2][0], 1.0)  # the third from this source

        await async_eventually(_refused(server), timeout=3, what=lambda: str(server.refusals))
        # the two admitted idle connections are closed after the idle timeout, freeing the slots
        assert await _closed_by_server(idle[0][0], 2.0)
        assert await _closed_by_server(idle[1][0], 2.0)
        assert addresses(await tcp(port, "node-a.webmesh.internal")) == {"172.16.0.1"}
    finally:
        for writer in opened:
            writer.close()
        await server.close()


def _refused(server: MeshDnsServer) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        wanted = {"oversized", "slow", "tcp-connections-per-source"}
        return wanted <= set(server.refusals)

    return check


async def test_many_queries_on_one_tcp_connection() -> None:
    server, port = await serve()
    try:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        for name in ("node-a", "node-b", "node-a"):
            wire = dns.message.make_query(f"{name}.webmesh.internal", "A").to_wire()
            writer.write(len(wire).to_bytes(2, "big") + wire)
        answers = []
        for _ in range(3):
            length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 2), "big")
            answers.append(dns.message.from_wire(await reader.readexactly(length)))
        assert [addresses(a) for a in answers] == [
            {"172.16.0.1"},
            {"172.16.0.2"},
            {"172.16.0.1"},
        ]
        writer.close()
    finally:
        await server.close()
