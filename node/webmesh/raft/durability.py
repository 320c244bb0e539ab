"""Acknowledged means on disk: pysyncobj's journal with fsync, and a barrier on what leaves.

pysyncobj writes its log into a memory-mapped file and its term and vote into a small meta file,
and never calls fsync: a kill -9 is survived (the page cache outlives the process), a power loss
is not (a majority losing power can lose committed entries, or a replica can vote twice in one
term). Raft needs the log entries a replica acknowledges, and the term and vote it answers with,
on stable storage before the message that reflects them leaves.

- :class:`DurableJournal` is pysyncobj's ``FileJournal`` with :meth:`~DurableJournal.sync`:
  ``fsync`` of the log file (which covers its memory-mapped pages on Linux), the meta file
  written to a temporary file, fsynced, renamed and its directory fsynced. It knows whether
  anything is unsynced.
- :class:`Barrier` holds the messages the transport sends until the next tick's
  :meth:`~Barrier.release`: one sync of whatever was written since the last (group commit: all
  the entries and votes of one poll round share it), then every held message goes out in order.
  A leader's appends leave only once its own copy is on disk, a follower's acknowledgement only
  once the entries it acknowledges are, a vote only once the term and vote are; and the leader
  counts itself towards a commit only for entries it synced on an earlier tick.

Modes (``--raft.sync``): ``always`` (the default; the above), ``batch`` (sync every
``BATCH_INTERVAL`` in the background, nothing held: a power loss of a majority can lose the
acknowledged writes of the last interval), ``off`` (never: pysyncobj's own behaviour).

The journal is installed by replacing ``pysyncobj.syncobj.createJournal`` for the replicas this
process creates (:func:`journals`), the one place pysyncobj builds a journal.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pysyncobj.syncobj as _syncobj_module
from pysyncobj.journal import FileJournal, MetaStorer
from pysyncobj.pickle import dumps

from webmesh.raft.store import SyncMode

BATCH_INTERVAL = 0.1  # seconds between two syncs in "batch" mode


class _DurableMeta(MetaStorer):  # type: ignore[misc]  # pysyncobj is untyped
    """pysyncobj's meta file (term, vote, commit index), written with fsync when asked."""

    def __init__(self, path: str, sync: bool) -> None:
        super().__init__(path)
        self._sync = sync

    def storeMeta(self, meta: Any) -> None:  # pysyncobj's name
        path = self.getPath()
        with open(path + ".tmp", "wb") as out:
            out.write(dumps(meta))
            out.flush()
            if self._sync:
                os.fsync(out.fileno())
        os.replace(path + ".tmp", path)
        if self._sync:
            _fsync_dir(os.path.dirname(path) or ".")


class DurableJournal(FileJournal):  # type: ignore[misc]  # pysyncobj is untyped
    """``FileJournal`` that can be synced, and says when it must be."""

    def __init__(self, journal_file: str, *, mode: SyncMode) -> None:
        with warnings.catch_warnings():
            # pysyncobj reads the meta file without closing it (ResourceWarning).
            warnings.filterwarnings("ignore", category=ResourceWarning, module="pysyncobj")
            super().__init__(journal_file)
        self.dirty = False
        self.syncs = 0
        self._fd = os.open(journal_file, os.O_RDONLY)
        self._fd_path = journal_file
        # Term and vote are stored at once (before the vote leaves); with a sync if asked.
        self._FileJournal__metaStorer = _DurableMeta(
            journal_file + ".meta", mode is not SyncMode.OFF
        )
        self._dir = os.path.dirname(os.path.abspath(journal_file))

    def add(self, command: Any, idx: int, term: int) -> None:
        super().add(command, idx, term)
        self.dirty = True

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        super().deleteEntriesFrom(entryFrom)
        self.dirty = True

    def deleteEntriesTo(self, entryTo: int) -> None:
        super().deleteEntriesTo(entryTo)
        self.dirty = True

    def clear(self) -> None:
        super().clear()
        self.dirty = True

    def sync(self) -> None:
        """Everything written so far is on stable storage when this returns."""
        if not self.dirty:
            return
        # fsync of the file writes back the pages dirtied through pysyncobj's shared mapping
        # too (Linux tracks them in the page cache), with the file's size. msync of the whole
        # mapping, as pysyncobj's flush() does, costs a scan of every mapped page: ~a quarter
        # of the Raft thread's time under load.
        os.fsync(self._fd)
        self.dirty = False
        self.syncs += 1

    def _destroy(self) -> None:
        with contextlib.suppress(OSError):
            self.sync()
        super()._destroy()
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Barrier:
    """Messages held until what they reflect is on disk (mode ``always``)."""

    def __init__(self, journal: Callable[[], DurableJournal | None]) -> None:
        self._journal = journal
        self._held: list[Callable[[], None]] = []
        self.released = 0

    def hold(self, send: Callable[[], None]) -> None:
        self._held.append(send)

    def release(self) -> None:
        """Sync what was written since the last release, then send every held message."""
        journal = self._journal()
        if journal is not None:
            journal.sync()
        held, self._held = self._held, []
        for send in held:
            send()
        self.released += len(held)


_factory_lock = threading.Lock()


@contextlib.contextmanager
def journals(mode: SyncMode, made: list[DurableJournal]) -> Iterator[None]:
    """While inside, pysyncobj builds ``DurableJournal``s in ``mode`` (appended to ``made``)."""

    def create(journal_file: str | None = None) -> Any:
        if journal_file is None:
            return original(None)
        journal = DurableJournal(journal_file, mode=mode)
        made.append(journal)
        return journal

    with _factory_lock:
        original = _syncobj_module.createJournal
        _syncobj_module.createJournal = create
        try:
            yield
        finally:
            _syncobj_module.createJournal = original


class BatchSyncer:
    """Mode ``batch``: sync the journal every ``interval`` from the tick thread."""

    def __init__(self, journal: DurableJournal, interval: float = BATCH_INTERVAL) -> None:
        self._journal = journal
        self._interval = interval
        self._last = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._journal.sync()
