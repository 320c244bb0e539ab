"""Scheduled off-site backups: every ``interval`` the leader seals one snapshot of the mesh
state and puts it in the store, keeping the newest ``retain``.

Only the leader writes (every replica holds the same state, and one writer means one series of
backups, in order); a follower's schedule just ticks. A failed backup is logged and counted, and
the next tick tries again; the last success is what the metrics show, so an alert can fire on
its age.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from webmesh.backup import seal, store
from webmesh.backup.status import BackupStatus
from webmesh.mesh import snapshotfile
from webmesh.mesh.state import MeshState

log = logging.getLogger("webmesh.backup")


class BackupScheduler:
    def __init__(
        self,
        *,
        target: store.BackupStore,
        key: bytes,
        interval: float,
        retain: int,
        state: Callable[[], MeshState],
        is_leader: Callable[[], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.status = BackupStatus()
        self._key = key
        self._interval = interval
        self._retain = retain
        self._state = state
        self._is_leader = is_leader
        self._clock = clock

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.backup_once()
            except OSError as exc:
                self.status.failures += 1
                log.error("backup failed target=%s error=%s", self.target, exc)

    async def backup_once(self) -> str:
        """Write one backup now, on the leader; the object's name ("" elsewhere)."""
        state = self._state()
        if not self._is_leader() or not state.bootstrapped:
            return ""
        now = self._clock()
        data = seal.seal(self._key, snapshotfile.encode(state, created_at=now))
        name = store.object_name(now, state.index)
        await asyncio.to_thread(self.target.put, name, data)
        pruned = await asyncio.to_thread(self.target.prune, self._retain)
        self.status.last_success, self.status.last_bytes = now, len(data)
        self.status.last_name = name
        self.status.written += 1
        log.info(
            "backup written target=%s name=%s bytes=%d nodes=%d pruned=%d",
            self.target, name, len(data), len(state.nodes), len(pruned),
        )  # fmt: skip
        return name
