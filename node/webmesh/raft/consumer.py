"""The one replicated entry point.

Snapshots do not go through pysyncobj's consumer hooks (which pickle them): the store gives
pysyncobj our serializer (``webmesh.raft.snapshot``), which asks the state machine for its
snapshot directly. ``_serialize``/``_deserialize`` remain as pysyncobj's interface requires.

We do not subclass ``SyncObj`` (nothing of ours lives in its ``__dict__``). The replicated method
is ``_apply_entry`` forever: pysyncobj numbers replicated methods by sorted name and stores the
number in the log, so adding or renaming one would break old logs. On the wire a call of it
travels as ``Regular(method, entry)`` (``webmesh.raft.codec``).
"""

from __future__ import annotations

import logging

from pysyncobj import SyncObjConsumer, replicated

from webmesh.raft import batch
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

        An entry is one state-machine entry or a batch of them (``webmesh.raft.batch``), applied
        in order; a batch returns every result. An exception here would make pysyncobj retry
        the same entry on every tick forever and wedge the replica, so it is logged and turned
        into ``None`` (the proposer reports it).
        """
        if not batch.is_batch(entry):
            return self._apply_one(entry)
        try:
            entries = batch.unpack(entry)
        except batch.BatchError:
            logger.exception("event=raft_apply_failed size=%d", len(entry))
            return None
        return batch.pack_results([self._apply_one(one) for one in entries])

    def _apply_one(self, entry: bytes) -> bytes | None:
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
