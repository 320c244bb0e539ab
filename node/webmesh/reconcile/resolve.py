"""Peer endpoints given as host names, turned into addresses before they reach WireGuard.

Nodes may advertise ``host:port`` with a DNS name (``--global.primary-endpoint``, a cloud load
balancer's host name, the operator's ``wg-{ordinal}.example.com``), but WireGuard takes only
``ip:port`` (wireguard-go's UAPI and the kernel's netlink alike; ``wg set`` resolves names
itself). The reconciler passes every peer through :class:`EndpointResolver` first:

- a literal address passes through untouched, with no I/O;
- a name is looked up (UDP, IPv4 preferred: the underlay may have no IPv6) and the answer cached
  for ``ttl`` seconds, so the periodic full resync re-resolves names the way wireguard-tools'
  ``reresolve-dns`` does;
- a name that does not resolve leaves the peer without an endpoint for now (it can still dial
  us) and is retried on the next pass that asks for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from webmesh.mesh.endpoints import format_endpoint, split_endpoint
from webmesh.mesh.feed import PeerDelta
from webmesh.mesh.peers import Peer
from webmesh.syntax import is_address

log = logging.getLogger("webmesh.reconcile")

DEFAULT_TTL = 60.0
LOOKUP_TIMEOUT = 5.0

Lookup = Callable[[str, int], Awaitable[list[str]]]


async def getaddrinfo_lookup(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for UDP, in the resolver's order."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM), LOOKUP_TIMEOUT
    )
    return [str(info[4][0]) for info in infos]


def prefer_ipv4(addresses: list[str]) -> str:
    """The first IPv4 address, else the first one."""
    return next((a for a in addresses if ":" not in a), addresses[0])


class EndpointResolver:
    """Resolves peers' endpoint host names, with a cache (see the module docstring)."""

    def __init__(
        self,
        lookup: Lookup = getaddrinfo_lookup,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}  # endpoint -> (expires, resolved)

    async def endpoint(self, endpoint: str) -> str:
        """``endpoint`` with its host resolved; "" when it cannot be resolved now."""
        if not endpoint:
            return endpoint
        try:
            host, port = split_endpoint(endpoint)
        except ValueError:
            return endpoint  # not ours to judge: WireGuard will say what is wrong with it
        if is_address(host):
            return endpoint
        cached = self._cache.get(endpoint)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        resolved = await self._resolve(host, port, endpoint)
        self._cache[endpoint] = (self._clock() + self._ttl, resolved)
        return resolved

    async def _resolve(self, host: str, port: int, endpoint: str) -> str:
        try:
            addresses = await self._lookup(host, port)
        except (OSError, TimeoutError) as exc:
            log.warning("cannot resolve peer endpoint endpoint=%s error=%s", endpoint, exc)
            return ""
        if not addresses:
            return ""
        return format_endpoint(prefer_ipv4(addresses), port)

    async def peer(self, peer: Peer) -> Peer:
        resolved = await self.endpoint(peer.endpoint)
        return peer if resolved == peer.endpoint else dataclasses.replace(peer, endpoint=resolved)

    async def delta(self, delta: PeerDelta) -> PeerDelta:
        """``delta`` with every peer's endpoint resolved (literal addresses cost nothing)."""
        if delta.full is not None:
            return PeerDelta(full=tuple(await asyncio.gather(*map(self.peer, delta.full))))
        changes = {
            node_id: None if peer is None else await self.peer(peer)
            for node_id, peer in delta.changes.items()
        }
        return PeerDelta(changes=changes)
