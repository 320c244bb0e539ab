"""One document per change, shared by every reader of the web view.

Why one publisher and not each stream on its own: a stream that rebuilt the document whenever
the state changed would cost (streams x changes) builds, ~11 ms each at 1,000 nodes. Here one
task waits on the daemon's ``StateWatch`` (the signal the ``SubscribePeers`` streams wait on),
builds at most every :data:`MIN_INTERVAL` seconds however fast the state changes (the changes
in between are coalesced: the build reads the newest state), and at least every
:data:`REFRESH` seconds while someone watches, since the WireGuard handshake ages move without
any change of the state. Each :class:`Snapshot` encodes its document once for everyone, and
once more per distinct set of rights for readers that may not see every policy object.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable

from webmesh.mesh import view
from webmesh.service.watch import StateWatch

MIN_INTERVAL = 0.5  # seconds between two documents: at most two a second
REFRESH = 5.0  # seconds: handshake ages are refreshed this often while someone watches


@dataclasses.dataclass(slots=True)
class Snapshot:
    """A built document, numbered; its encodings are made once, on first demand."""

    version: int
    document: view.View
    _encoded: dict[view.Readable, bytes] = dataclasses.field(default_factory=dict)

    def encoded(self, allowed: view.Readable = view.EVERYTHING) -> bytes:
        """The JSON of what ``allowed`` may see; the same bytes object for every such reader.

        The cache is keyed by rights, not by reader; its size is bounded by the distinct
        rights among the (at most a few dozen) readers of this one version."""
        found = self._encoded.get(allowed)
        if found is None:
            found = view.encode(view.restrict(self.document, allowed))
            self._encoded[allowed] = found
        return found


class Publisher:
    """Builds snapshots with ``build()`` and wakes the streams waiting for a newer one."""

    def __init__(
        self,
        build: Callable[[], view.View],
        watch: StateWatch,
        *,
        min_interval: float = MIN_INTERVAL,
        refresh: float = REFRESH,
    ) -> None:
        self._build = build
        self._watch = watch
        self._min_interval = min_interval
        self._refresh = refresh
        self._current: Snapshot | None = None
        self._dirty = True
        self._published = asyncio.Event()
        self._built_at = -float("inf")
        self.readers = 0  # streams open now: with none, nothing is built ahead of demand

    def latest(self) -> Snapshot:
        """The newest snapshot, built now if the state changed since (``GET /api/state``), but
        never more often than every ``min_interval``: readers cannot make it build at their rate."""
        fresh = time.monotonic() - self._built_at < self._min_interval
        if self._current is None or (self._dirty and not fresh):
            self._publish()
        assert self._current is not None
        return self._current

    async def next(self, after: int, timeout: float) -> Snapshot | None:
        """A snapshot newer than version ``after``, or None after ``timeout`` seconds."""
        while self._current is None or self._current.version <= after:
            published = self._published
            try:
                await asyncio.wait_for(published.wait(), timeout)
            except TimeoutError:
                return None
        return self._current

    async def run(self) -> None:
        """Follow the state until cancelled."""
        while True:
            changed = await self._watch.wait(self._refresh)
            self._dirty = self._dirty or changed
            if not self.readers:
                self._dirty = True  # the device moved on too: build on the next demand
                continue
            wait = self._built_at + self._min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # coalesce: the build below reads the newest state
            self._publish()

    def _publish(self) -> None:
        version = self._current.version + 1 if self._current else 1
        self._current = Snapshot(version, self._build())
        self._dirty = False
        self._built_at = time.monotonic()
        published, self._published = self._published, asyncio.Event()
        published.set()

    async def close(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
