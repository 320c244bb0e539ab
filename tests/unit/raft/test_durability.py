"""The journal syncs what was written, and the barrier sends nothing before the sync."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import webmesh.raft  # noqa: F401  (before pysyncobj: see webmesh/raft/__init__.py)
from webmesh.raft import durability
from webmesh.raft.store import SyncMode


def test_the_journal_syncs_only_when_something_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    journal = durability.DurableJournal(str(tmp_path / "raft.journal"), mode=SyncMode.ALWAYS)
    try:
        journal.sync()
        assert journal.syncs == 0, "nothing written: no fsync"
        journal.add(b"\x01", 1, 1)
        journal.add(b"\x01", 2, 1)
        journal.sync()
        assert journal.syncs == 1, "one fsync for everything written since the last"
        journal.sync()
        assert journal.syncs == 1
        before = len(fsyncs)
        journal.setCurrentTerm(2, "127.0.0.1:1")  # term and vote: stored and fsynced at once
        assert len(fsyncs) >= before + 2, "the meta file and its directory"
    finally:
        journal._destroy()
    again = durability.DurableJournal(str(tmp_path / "raft.journal"), mode=SyncMode.ALWAYS)
    try:
        assert [entry[1] for entry in again] == [1, 2]
        assert (again.getCurrentTerm(), again.getVotedForNodeId()) == (2, "127.0.0.1:1")
    finally:
        again._destroy()


def test_the_barrier_holds_messages_until_the_sync_then_sends_them_in_order(
    tmp_path: Path,
) -> None:
    journal = durability.DurableJournal(str(tmp_path / "raft.journal"), mode=SyncMode.ALWAYS)
    sent: list[Any] = []
    barrier = durability.Barrier(lambda: journal)
    try:
        journal.add(b"\x01", 1, 1)
        barrier.hold(lambda: sent.append(("ack", journal.dirty)))
        barrier.hold(lambda: sent.append(("vote", journal.dirty)))
        assert sent == [], "nothing leaves before the sync"
        barrier.release()
        assert sent == [("ack", False), ("vote", False)], "sent after the sync, in order"
        assert journal.syncs == 1
    finally:
        journal._destroy()
