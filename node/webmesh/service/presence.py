"""Presence on every server: who it sees, and on the leader the writes that record it.

Every half second a server gathers whom it sees now: the replicas whose Raft channels are open to it
(by their Raft keys), the clients whose ``SubscribePeers`` streams it serves (``Streams``), and
itself. The leader adds what followers report (``report``), asks the pure rules
(``webmesh.mesh.presence``) what changed, proposes ``SetPresence`` when something did, and
removes nodes offline for too long. A follower sends the leader the clients it serves (the
replicas the leader sees itself). Nothing is written while nobody's presence changes.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from webmesh import errors
from webmesh.mesh import presence
from webmesh.mesh.commands import SetPresence
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.state import MeshState, replicas_by_raft_key
from webmesh.raft.store import ConsensusStore
from webmesh.service.leader import ReplicatedService

log = logging.getLogger("webmesh.service")

INTERVAL = 0.5  # seconds between two passes (a relay fails over within ~2 passes of the grace)


class Streams:
    """The ``SubscribePeers`` streams this server serves, by node id (a node may hold two for a
    moment while it moves between servers)."""

    def __init__(self) -> None:
        self._open: collections.Counter[str] = collections.Counter()

    def opened(self, node_id: str) -> None:
        self._open[node_id] += 1

    def closed(self, node_id: str) -> None:
        self._open[node_id] -= 1
        if self._open[node_id] <= 0:
            del self._open[node_id]

    def node_ids(self) -> tuple[str, ...]:
        return tuple(self._open)


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    offline_after: float = presence.OFFLINE_AFTER
    purge_after: float = presence.PURGE_AFTER
    ephemeral_grace: float = presence.EPHEMERAL_GRACE
    interval: float = INTERVAL


class PresenceService(ReplicatedService):
    """Runs ``run()`` on every server; ``report`` is the leader's end of followers' reports."""

    def __init__(
        self,
        *,
        node_id: str,
        streams: Streams,
        report_to_leader: Callable[[tuple[str, ...]], Awaitable[None]],
        remove: Callable[[str], Awaitable[None]],
        store: ConsensusStore,
        machine: MeshMachine,
        settings: PresenceSettings = PresenceSettings(),
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(store=store, machine=machine)
        self._node_id = node_id
        self._streams = streams
        self._report_to_leader = report_to_leader
        self._remove = remove
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic  # the Raft channels' clock
        self._last_seen: dict[str, float] = {}
        self._leading_since: float | None = None
        self._keys: tuple[MeshState | None, dict[str, str]] = (None, {})

    def report(self, node_ids: Iterable[str]) -> None:
        """A follower sees these nodes now (the leader's end; NotLeader elsewhere)."""
        self.require_leader()
        now = self._clock()
        for node_id in node_ids:
            self._last_seen[node_id] = now

    async def run(self) -> None:
        while True:
            try:
                await self.pass_once()
            except errors.MeshError as exc:  # no leader, not committed: the next pass retries
                log.debug("presence pass skipped error=%s", exc)
            await asyncio.sleep(self._settings.interval)

    async def pass_once(self) -> None:
        now = self._clock()
        if not self._store.is_leader():
            self._leading_since = None
            clients = self._streams.node_ids()
            if clients:
                await self._report_to_leader(clients)
            return
        if self._leading_since is None:  # took over: start from what this server sees
            self._leading_since, self._last_seen = now, {}
        for node_id, at in self._seen_here(now).items():
            self._last_seen[node_id] = max(at, self._last_seen.get(node_id, at))
        await self._record(now)
        await self._purge(now)

    def _seen_here(self, now: float) -> dict[str, float]:
        """Node id -> when this server last heard from it (wall clock): replicas by the last
        message on their Raft connection, clients with an open stream and itself now."""
        by_key = self._node_ids_by_key(self.state)
        ago = self._monotonic()
        seen: dict[str, float] = {}
        for key, last_read in self._store.peer_activity().items():
            node_id = by_key.get(base64.b64encode(key).decode())
            if node_id is not None:
                seen[node_id] = now - max(0.0, ago - last_read)
        seen.update(dict.fromkeys(self._streams.node_ids(), now))
        seen[self._node_id] = now
        return seen

    def _node_ids_by_key(self, state: MeshState) -> dict[str, str]:
        """Raft key (base64) -> node id; rebuilt when the state changed (O(n), at most once a
        pass)."""
        if self._keys[0] is not state:
            index = {key: node.id for key, node in replicas_by_raft_key(state).items()}
            self._keys = (state, index)
        return self._keys[1]

    async def _record(self, now: float) -> None:
        sightings = presence.Sightings(self._last_seen, self._leading_since or now)
        change = presence.transitions(self.state, sightings, now, self._settings.offline_after)
        if change is None:
            return
        await self.propose(change)
        _log_change(change)

    async def _purge(self, now: float) -> None:
        s = self._settings
        for node_id in presence.purgeable(
            self.state, now, purge_after=s.purge_after, ephemeral_grace=s.ephemeral_grace
        ):
            last_seen = self.state.offline.get(node_id, now)
            await self._remove(node_id)
            log.info("node purged node=%s offline_for=%.0fs", node_id, max(0.0, now - last_seen))


LOGGED_BY_NAME = 10  # changes in one pass named a line each; more share one line


def _log_change(change: SetPresence) -> None:
    """A line per node for the usual few; one line for a crowd (a rack losing power, or a
    thousand joiners that never came up), which would otherwise flood the log and, at a
    thousand a second, cost the leader a tenth of its CPU."""
    offline, online = sorted(change.offline.items()), change.online
    if len(offline) + len(online) <= LOGGED_BY_NAME:
        for node_id, last_seen in offline:
            log.info("node offline node=%s last_seen=%.0f", node_id, last_seen)
        for node_id in online:
            log.info("node online again node=%s", node_id)
        return
    if offline:
        log.info(
            "nodes offline count=%d nodes=%s", len(offline), _some(node for node, _ in offline)
        )
    if online:
        log.info("nodes online again count=%d nodes=%s", len(online), _some(online))


def _some(node_ids: Iterable[str]) -> str:
    """The first ``LOGGED_BY_NAME`` ids, and how many more (the metrics count them all)."""
    ids = list(node_ids)
    shown = ",".join(ids[:LOGGED_BY_NAME])
    return shown if len(ids) <= LOGGED_BY_NAME else f"{shown},+{len(ids) - LOGGED_BY_NAME} more"
