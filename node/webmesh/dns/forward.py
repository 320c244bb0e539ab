"""Forwarding the names outside the mesh domain to the host's own resolvers.

A host that points its resolver at MeshDNS (``--mesh.use-meshdns``) still resolves every other
name as before: MeshDNS asks the resolvers the host had (its original resolv.conf), in order,
each with a bounded wait. At most ``max_in_flight`` queries are forwarded at once; beyond that a
query is refused at once instead of queueing, so a flood cannot grow memory or pin upstreams.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message

from webmesh import logs, syntax

log = logging.getLogger("webmesh.meshdns")

DEFAULT_TIMEOUT = 2.0  # seconds per upstream
DEFAULT_MAX_IN_FLIGHT = 64


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_upstream(text: str) -> Upstream:
    """``ADDRESS[:PORT]`` or ``[ADDRESS]:PORT``; raises ``errors.InvalidArgument``."""
    host, port = syntax.parse_dns_server(text)
    return Upstream(host, port)


class Forwarder:
    """Asks the upstream resolvers, the first first; returns None when none answered."""

    def __init__(
        self,
        upstreams: Sequence[Upstream],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.upstreams = tuple(upstreams)
        self._timeout = timeout
        self._slots = max_in_flight
        self._throttle = logs.Throttle(every=60.0, capacity=64)

    @property
    def busy(self) -> bool:
        return self._slots <= 0

    async def resolve(self, query: dns.message.Message) -> dns.message.Message | None:
        """The first upstream answer (UDP, then TCP when truncated), or None."""
        self._slots -= 1
        try:
            for upstream in self.upstreams:
                try:
                    response, _ = await asyncio.wait_for(
                        dns.asyncquery.udp_with_fallback(
                            query, upstream.host, timeout=self._timeout, port=upstream.port
                        ),
                        self._timeout * 2,
                    )
                    return response
                except (dns.exception.DNSException, OSError, TimeoutError) as exc:
                    if self._throttle.due(str(upstream)):
                        log.warning(
                            "event=meshdns_upstream_failed upstream=%s error=%r", upstream, exc
                        )
            return None
        finally:
            self._slots += 1
