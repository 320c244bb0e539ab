"""The reconcile loop: make the interface match the newest desired state, with backoff.

Level-triggered: ``wake()`` only sets an event; each pass reads the *latest* peers through the
provider, so any number of wake-ups while a pass runs coalesce into one more pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from webmesh.mesh.peers import Peer
from webmesh.reconcile.desired import Desired, LocalInterface, desired
from webmesh.wg.driver import WireGuardDriver
from webmesh.wg.netlink import Links

log = logging.getLogger("webmesh.reconcile")

MAX_BACKOFF = 10.0


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one reconcile pass did (for logs and metrics)."""

    duration: float
    changes: str  # the plan, described; "" when nothing changed
    error: str = ""


class Reconciler:
    """Keeps one WireGuard interface equal to what the mesh state says."""

    def __init__(
        self,
        *,
        driver: WireGuardDriver,
        links: Links,
        local: LocalInterface,
        peers: Callable[[], Sequence[Peer]],
        forwarding: Callable[[], bool] = lambda: False,
        on_pass: Callable[[PassResult], None] = lambda _: None,
    ) -> None:
        self._driver = driver
        self._links = links
        self._local = local
        self._peers = peers
        self._forwarding = forwarding
        self._on_pass = on_pass
        self._wake = asyncio.Event()
        self._applied_routes: tuple[str, ...] | None = None
        self._forwarding_on = False
        self.passes = 0

    @property
    def local(self) -> LocalInterface:
        return self._local

    def wake(self) -> None:
        """Ask for a pass (call on the event loop's thread)."""
        self._wake.set()

    async def bring_up(self) -> None:
        """Create the interface with its addresses (before any peer is known)."""
        await self._driver.create(self._local.name, mtu=self._local.mtu)
        await self._links.set_addresses(self._local.name, list(self._local.addresses))
        await self.reconcile_once()

    async def run(self) -> None:
        """Reconcile on every wake-up until cancelled; back off (bounded) after failures."""
        backoff = 0.2
        while True:
            await self._wake.wait()
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
        started = time.perf_counter()
        want: Desired = desired(self._local, self._peers())
        plan = await self._driver.configure(self._local.name, want.device)
        if want.routes != self._applied_routes:
            await self._links.set_routes(self._local.name, list(want.routes))
            self._applied_routes = want.routes
        await self._ensure_forwarding()
        changes = "" if plan.empty else plan.describe()
        if changes:
            log.info("wireguard reconciled iface=%s %s", self._local.name, changes)
        result = PassResult(time.perf_counter() - started, changes)
        self.passes += 1
        self._on_pass(result)
        return result

    async def _ensure_forwarding(self) -> None:
        if self._forwarding_on or not self._forwarding():
            return
        ipv6 = any(":" in address for address in self._local.addresses)
        await self._links.enable_forwarding(ipv4=True, ipv6=ipv6)
        self._forwarding_on = True

    async def tear_down(self) -> None:
        """Remove the interface (on shutdown)."""
        await self._driver.delete(self._local.name)
