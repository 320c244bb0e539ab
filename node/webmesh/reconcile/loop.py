"""The reconcile loop: make the interface match the newest desired state, with backoff.

Level-triggered: ``wake()`` only sets an event, and each pass asks the feed for everything that
changed since the previous pass, so any number of wake-ups coalesce into one pass.

Two paths:
- fast: the feed gives the peers that changed; the plan for just those is sent to the device
  without reading it, so a change costs the same with 10 or 10,000 peers;
- full: the feed gives the whole list; the device is read and diffed (``driver.configure``). It
  runs at start, when the feed cannot say what changed, after any failure, and every
  ``resync_interval`` seconds to repair drift (someone ran ``wg set`` by hand).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from webmesh.mesh.feed import PeerDelta, PeerFeed
from webmesh.mesh.peers import Peer
from webmesh.reconcile.desired import (
    LocalInterface,
    desired,
    exit_routes_in_use,
    extra_routes,
    incremental_plan,
)
from webmesh.reconcile.resolve import EndpointResolver
from webmesh.wg.driver import WireGuardDriver
from webmesh.wg.netlink import EXIT_TABLE, Links
from webmesh.wg.peering_filter import Rule as PeeringRule
from webmesh.wg.plan import Plan

log = logging.getLogger("webmesh.reconcile")

MAX_BACKOFF = 10.0
RESYNC_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one reconcile pass did (for logs and metrics)."""

    duration: float
    changes: str  # the plan, described; "" when nothing changed
    full: bool = False
    error: str = ""


class Reconciler:
    """Keeps one WireGuard interface equal to what the mesh state says."""

    def __init__(
        self,
        *,
        driver: WireGuardDriver,
        links: Links,
        local: LocalInterface,
        feed: PeerFeed,
        forwarding: Callable[[], bool] = lambda: False,
        masquerade: Callable[[], bool] | None = None,
        peering_filter: Callable[[], Sequence[PeeringRule]] | None = None,
        on_pass: Callable[[PassResult], None] = lambda _: None,
        resync_interval: float = RESYNC_INTERVAL,
        resolver: EndpointResolver | None = None,
    ) -> None:
        self._driver = driver
        self._links = links
        self._local = local
        self._feed = feed
        self._forwarding = forwarding
        self._masquerade = masquerade
        self._peering_filter = peering_filter
        self._on_pass = on_pass
        self._resync_interval = resync_interval
        self._resolver = resolver or EndpointResolver()
        self._wake = asyncio.Event()
        self._after_next_pass: list[Callable[[], None]] = []
        self._peers: dict[str, Peer] = {}  # what the device was last made to carry
        self._routes: tuple[str, ...] | None = None
        self._needs_full = True
        self._last_full = 0.0
        self._forwarding_on = False
        # default routes sent into the tunnel, and masquerading: None until the first pass
        # makes them so (it also clears what a crashed run of the node left behind)
        self._exit: tuple[str, ...] | None = None
        self._masquerading: bool | None = None
        self._filtering: tuple[PeeringRule, ...] | None = None
        self.passes = 0

    @property
    def local(self) -> LocalInterface:
        return self._local

    @property
    def peers(self) -> Mapping[str, Peer]:
        return self._peers

    def wake(self) -> None:
        """Ask for a pass (call on the event loop's thread)."""
        self._wake.set()

    def after_next_pass(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, after the next pass that starts from now succeeds: a pass
        already running read the state before this call, so it does not count."""
        self._after_next_pass.append(callback)
        self._wake.set()

    async def bring_up(self) -> None:
        """Create the interface with its addresses and the peers known so far."""
        await self._driver.create(self._local.name, mtu=self._local.mtu)
        await self._links.set_addresses(self._local.name, list(self._local.addresses))
        await self.reconcile_once()

    async def run(self) -> None:
        """Reconcile on every wake-up (and periodically) until cancelled; back off on failure."""
        backoff = 0.2
        while True:
            timeout = max(0.0, self._last_full + self._resync_interval - time.monotonic())
            try:
                # asyncio.timeout, not wait_for: wait_for wraps the wait in a new Task, and
                # this loop wakes on every applied change (a cost the leader felt under load)
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                self._needs_full = True
            self._wake.clear()
            try:
                await self.reconcile_once()
                backoff = 0.2
            except Exception as exc:
                log.warning("reconcile failed error=%r retry_in=%.1fs", exc, backoff)
                self._on_pass(PassResult(0.0, "", error=type(exc).__name__))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                self._wake.set()

    async def reconcile_once(self) -> PassResult:
        """One pass; on failure the next pass is a full one."""
        started = time.perf_counter()
        full = self._needs_full
        self._needs_full = True
        callbacks, self._after_next_pass = self._after_next_pass, []
        try:
            delta = await self._resolver.delta(self._feed.poll(full=full))
            plan = await (self._full(delta) if delta.full is not None else self._fast(delta))
            await self._ensure_forwarding()
            await self._sync_exit()
            await self._sync_masquerade()
            await self._sync_peering_filter()
        except BaseException:
            self._after_next_pass[:0] = callbacks  # for the pass that retries
            raise
        self._needs_full = False
        changes = "" if plan.empty else plan.describe()
        if changes:
            log.info("wireguard reconciled iface=%s full=%s %s", self._local.name, full, changes)
        result = PassResult(time.perf_counter() - started, changes, full=delta.full is not None)
        self.passes += 1
        self._on_pass(result)
        for callback in callbacks:
            callback()
        return result

    async def _full(self, delta: PeerDelta) -> Plan:
        assert delta.full is not None
        want = desired(self._local, delta.full)
        plan = await self._driver.configure(self._local.name, want.device)
        self._peers = {p.node_id: p for p in delta.full}
        await self._set_routes(want.routes)
        self._last_full = time.monotonic()
        return plan

    async def _fast(self, delta: PeerDelta) -> Plan:
        if not delta.changes:
            return Plan()
        plan = incremental_plan(self._local, self._peers, delta.changes)
        await self._driver.apply(self._local.name, plan)
        reroute = any(
            self._has_extra_routes(peer)
            for node_id, new in delta.changes.items()
            for peer in (self._peers.get(node_id), new)
            if peer is not None
        )
        for node_id, new in delta.changes.items():
            if new is None:
                self._peers.pop(node_id, None)
            else:
                self._peers[node_id] = new
        if reroute:
            await self._set_routes(extra_routes(self._local, self._peers.values()))
        return plan

    def _has_extra_routes(self, peer: Peer) -> bool:
        return bool(extra_routes(self._local, (peer,)))

    async def _set_routes(self, routes: tuple[str, ...]) -> None:
        if routes != self._routes:
            await self._links.set_routes(self._local.name, list(routes))
            self._routes = routes

    async def _ensure_forwarding(self) -> None:
        if self._forwarding_on or not self._forwarding():
            return
        ipv6 = any(":" in address for address in self._local.addresses)
        await self._links.enable_forwarding(ipv4=True, ipv6=ipv6, iface=self._local.name)
        self._forwarding_on = True

    async def switch_private_key(self, private_key: str) -> None:
        """Move the device to a new key (a rotation: ``webmesh.daemon.wg_keys``); the sessions
        of the old key end, and the next packet to each peer starts a handshake."""
        self._local = replace(self._local, private_key=private_key)
        await self._driver.apply(self._local.name, Plan(private_key=private_key))

    async def _sync_exit(self) -> None:
        """Policy routing to the chosen exit node while it offers exit routes. The device's
        firewall mark goes on before the rules (or WireGuard's own packets would loop into the
        tunnel) and comes off after them."""
        wanted = exit_routes_in_use(self._local, self._peers)
        if wanted == self._exit:
            return
        if wanted:
            await self._driver.apply(self._local.name, Plan(fwmark=EXIT_TABLE))
        await self._links.set_exit_routing(self._local.name, list(wanted))
        if not wanted:
            await self._driver.apply(self._local.name, Plan(fwmark=0))
        if wanted or self._exit:
            log.info(
                "exit routing iface=%s via=%s routes=%s",
                self._local.name,
                self._local.exit_node if wanted else "-",
                ",".join(wanted) or "off (the host's own default route)",
            )
        self._exit = wanted

    async def _sync_masquerade(self) -> None:
        """``masquerade`` None: this interface never masquerades (a ``wmctl connect``
        workstation), so there is nothing to sync or clean up, and no ``nft`` to run."""
        if self._masquerade is None:
            return
        wanted = self._masquerade()
        if wanted != self._masquerading:
            await self._links.set_masquerade(self._local.name, wanted)
            self._masquerading = wanted

    async def _sync_peering_filter(self) -> None:
        """``peering_filter`` None: this interface is never a peering gateway (``wmctl
        connect``), so there is nothing to sync or clean up, and no ``nft`` to run."""
        if self._peering_filter is None:
            return
        wanted = tuple(self._peering_filter())
        if wanted != self._filtering:
            await self._links.set_peering_filter(self._local.name, wanted)
            self._filtering = wanted

    async def tear_down(self) -> None:
        """Undo what the node did to the host, then remove the interface (on shutdown): exit
        routing and masquerading go first, then the sysctls it changed are restored."""
        undos: list[Awaitable[None]] = [self._links.set_exit_routing(self._local.name, [])]
        if self._masquerade is not None:
            undos.append(self._links.set_masquerade(self._local.name, False))
        if self._peering_filter is not None:
            undos.append(self._links.set_peering_filter(self._local.name, ()))
        undos.append(self._links.restore_host())
        for undo in undos:
            try:
                await undo
            except Exception as exc:  # keep undoing: the interface must go in any case
                log.warning("cannot undo a host change iface=%s error=%r", self._local.name, exc)
        self._exit, self._masquerading, self._filtering = None, None, None
        await self._driver.delete(self._local.name)
