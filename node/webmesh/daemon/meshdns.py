"""The node's MeshDNS: the server (``--services.meshdns.*``) and the host's resolver
(``--mesh.use-meshdns``), wired to the replicated state.

The server answers from the latest state on every query, so a join or a leave is visible to
the next query after this node applied it. The host resolver follows the mesh's list of MeshDNS
servers (``webmesh.mesh.names.meshdns_servers``), checked when the state changes, at most once
a second; it is put back when the node stops, and at the next start if the node died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from webmesh import errors
from webmesh.daemon.settings import MeshDnsSettings
from webmesh.dns import hostresolver
from webmesh.dns.answer import Addresses, Zone
from webmesh.dns.forward import Forwarder, Upstream, parse_upstream
from webmesh.dns.hostresolver import resolv_conf_servers
from webmesh.dns.server import MeshDnsServer
from webmesh.mesh import ipam, names
from webmesh.mesh.state import MeshState

log = logging.getLogger("webmesh.meshdns")

RESOLVER_CHECK = 1.0  # seconds between two looks at the mesh's MeshDNS servers


def lookup_in(state: Callable[[], MeshState]) -> Callable[[str], Addresses | None]:
    """The zone's lookup: a node's interface addresses from the latest state."""
    index = names.NameIndex()

    def lookup(relative_name: str) -> Addresses | None:
        current = state()
        node = index.lookup(current, relative_name)
        if node is None:
            return Addresses() if index.exists(current, relative_name) else None
        return Addresses(
            ipv4=(ipam.interface_address(node.ipv4),) if node.ipv4 else (),
            ipv6=(ipam.interface_address(node.ipv6),) if node.ipv6 else (),
        )

    return lookup


class MeshDns:
    """Starts and stops the server and the host resolver; ``state_changed`` after each apply."""

    def __init__(
        self,
        settings: MeshDnsSettings,
        *,
        use_meshdns: bool,
        state: Callable[[], MeshState],
        node_id: str,
        interface: str,
        data_dir: Path,
    ) -> None:
        self.settings = settings
        self.use_meshdns = use_meshdns
        self._state = state
        self._node_id = node_id
        self.server: MeshDnsServer | None = None
        self.resolver = hostresolver.for_host(interface, data_dir / hostresolver.BACKUP_NAME)
        self._pointed: tuple[str, ...] = ()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def serves(self) -> bool:
        return self.settings.enabled

    async def start(self, mesh_addresses: tuple[str, ...], domain: str) -> None:
        """Serve on the mesh addresses (or the configured ones); then follow the servers."""
        if self.settings.enabled:
            await self._serve(mesh_addresses, domain)
        if self.use_meshdns:
            self._task = asyncio.create_task(self._follow_servers(domain), name="meshdns-resolver")

    async def _serve(self, mesh_addresses: tuple[str, ...], domain: str) -> None:
        s = self.settings
        forwarder = None
        if not s.no_forward:
            upstreams = [parse_upstream(text) for text in s.forwarders] or self._host_upstreams()
            own = set(mesh_addresses) | set(s.listen_addresses)
            upstreams = [u for u in upstreams if u.host not in own]  # never ask ourselves
            forwarder = Forwarder(upstreams)
        self.server = MeshDnsServer(Zone.of(domain, lookup_in(self._state)), forwarder)
        for host in s.listen_addresses or mesh_addresses:
            try:
                await self.server.listen(host, s.listen_port)
            except OSError as exc:
                await self.server.close()
                raise errors.FailedPrecondition(
                    f"MeshDNS cannot listen on {host} port {s.listen_port}: {exc.strerror or exc}"
                    " (--services.meshdns.listen-port, --services.meshdns.listen-addresses)"
                ) from exc
        log.info(
            "meshdns listening addresses=%s domain=%s forwarders=%s",
            ",".join(f"{h}:{p}" for h, p in self.server.addresses),
            domain,
            ",".join(str(u) for u in forwarder.upstreams) if forwarder else "off",
        )

    def _host_upstreams(self) -> list[Upstream]:
        """The host's own resolvers, as they were before webmesh changed anything."""
        original = (
            self.resolver.original()
            if isinstance(self.resolver, hostresolver.ResolvConfFile)
            else hostresolver.RESOLV_CONF.read_text(errors="replace")
        )
        upstreams = []
        for text in hostresolver.nameservers(original):
            with contextlib.suppress(errors.InvalidArgument):  # not an address: not usable
                upstreams.append(parse_upstream(text))
        return upstreams

    def state_changed(self) -> None:
        self._wake.set()

    async def _follow_servers(self, domain: str) -> None:
        while True:
            self._wake.clear()
            wanted = resolv_conf_servers(
                names.meshdns_servers(self._state(), local_id=self._node_id)
            )
            if wanted and wanted != self._pointed:
                try:
                    self.resolver.point_at(wanted, domain)
                    self._pointed = wanted
                except OSError as exc:
                    log.warning("cannot point the host resolver at MeshDNS error=%s", exc)
            elif not wanted and not self._pointed:
                log.debug("no MeshDNS server on port 53 in the mesh yet")
            await self._wake.wait()
            await asyncio.sleep(RESOLVER_CHECK)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.use_meshdns:
            try:
                self.resolver.restore()
            except OSError as exc:
                log.error("cannot restore the host's resolver config error=%s", exc)
            self._pointed = ()
        if self.server is not None:
            await self.server.close()
            self.server = None
