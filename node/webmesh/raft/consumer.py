"""The one replicated entry point, and how snapshots stay the state machine's own JSON.

How pysyncobj snapshots work (0.3.17, ``SyncObj.__tryLogCompaction``/``__loadDumpFile``): on log
compaction it pickles ``(data, last_entries, cluster)`` where ``data`` is the ``__dict__`` of the
SyncObj minus the attributes that existed when ``SyncObj.__init__`` ended, followed by
``consumer._serialize()`` for each ``SyncObjConsumer``. Restoring calls ``consumer._deserialize``.

Our choice: we do not subclass ``SyncObj`` at all (so its pickled ``__dict__`` holds only
pysyncobj's own code-version integer), and we register one ``SyncObjConsumer`` whose
``_serialize`` returns ``StateMachine.snapshot()`` (versioned JSON bytes) and whose
``_deserialize`` calls ``StateMachine.restore()``. The machine, locks and loops referenced by the
consumer are never pickled; the only thing of ours in a dump is a ``bytes`` value.

Rejected alternatives: the ``serializer``/``deserializer`` hooks of ``SyncObjConf`` only work with
a dump file (in-memory replicas would still pickle and lose the state on snapshot install), and
"set attributes before ``SyncObj.__init__``" relies on an implementation detail per attribute.

The replicated method is ``_apply_entry`` forever: pysyncobj numbers replicated methods by sorted
name and stores the number in the log, so adding or renaming one would break old logs.
"""

from __future__ import annotations

import logging

from pysyncobj import SyncObjConsumer, replicated

from webmesh.raft.store import StateMachine

logger = logging.getLogger("webmesh.raft")


class EntryConsumer(SyncObjConsumer):  # type: ignore[misc]  # pysyncobj is untyped
    """Applies committed entries to the machine; its snapshot is the machine's snapshot."""

    def __init__(self, machine: StateMachine) -> None:
        super().__init__()
        self._machine = machine

    @replicated  # type: ignore[untyped-decorator]
    def _apply_entry(self, entry: bytes) -> bytes | None:
        """Runs on pysyncobj's thread for each committed entry, on every replica.

        An exception here would make pysyncobj retry the same entry on every tick forever and
        wedge the replica, so it is logged and turned into ``None`` (the proposer reports it).
        """
        try:
            return self._machine.apply(entry)
        except Exception:
            logger.exception("event=raft_apply_failed size=%d", len(entry))
            return None

    def _serialize(self) -> bytes:
        return self._machine.snapshot()

    def _deserialize(self, data: object) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"raft snapshot holds {type(data).__name__}, expected bytes")
        self._machine.restore(data)
        logger.info("event=raft_snapshot_restored size=%d", len(data))
