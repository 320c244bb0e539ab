"""Building pysyncobj's ``SyncObjConf`` from our settings, in one pure, unit-tested place.

Every choice that differs from pysyncobj's defaults is made here, with its reason:

- No ``password``: pysyncobj's own encryption (Fernet) is off, because our transport
  (``webmesh.raft.transport``) authenticates every connection by each replica's own key
  (``webmesh.raft.credentials``), encrypts it, and speaks our schema instead of pickle.
- ``serializer``/``deserializer`` and a dump file on every replica (``StorePaths.in_dir`` of a
  private temporary directory when the replica keeps nothing): snapshots are our format
  (``webmesh.raft.snapshot``), never a pickle.
- ``appendEntriesBatchSizeBytes`` = ``BATCH_BYTES`` (twice ``MAX_ENTRY_BYTES``): pysyncobj would
  cut a command as large as a batch into pickled chunks; the store refuses proposals above
  ``MAX_ENTRY_BYTES`` instead (so a command, with its few bytes of envelope, never reaches a
  batch), and the transport refuses chunked entries. A batch is at most ``BATCH_BYTES`` plus one
  command: ``MAX_FRAME_BYTES`` holds it. Snapshots go out in chunks of ``MAX_ENTRY_BYTES``.
- ``bindAddress = self_address``: pysyncobj otherwise binds ``0.0.0.0`` (all interfaces), but
  Raft must only listen on the mesh (WireGuard) address.
- ``appendEntriesUseBatch=False``: a commit costs ~1-2 ms instead of waiting for the next tick
  (~100 ms).
- ``commandsWaitLeader=False``: without a leader a proposal fails at once (``MISSING_LEADER``)
  instead of sitting in a queue and perhaps committing after the caller gave up.
- ``dynamicMembershipChange=True``: voters are added and removed at run time.
- ``useFork=False``: the process also runs gRPC threads; forking it for a dump is unsafe.
- Timings (``RaftTimings``) are more lenient than pysyncobj's (0.4-1.4 s election timeout):
  on a 2-core machine a few hundred milliseconds of CPU starvation must not start an election.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pysyncobj import SyncObjConf

from webmesh import errors

MAX_ENTRY_BYTES = 1 << 20  # the largest command a replica proposes
BATCH_BYTES = 2 * MAX_ENTRY_BYTES  # pysyncobj's appendEntriesBatchSizeBytes
MAX_FRAME_BYTES = 4 * MAX_ENTRY_BYTES  # the largest message a Raft connection accepts
JOURNAL_FILE = "raft.journal"  # pysyncobj also writes "raft.journal.meta" next to it
DUMP_FILE = "raft.dump"
VOTERS_FILE = "raft.voters.json"  # ours: the last voter set this replica saw


@dataclass(frozen=True, slots=True)
class RaftTimings:
    """Raft timers in seconds. Keep ``election_min > 3 * heartbeat`` (pysyncobj asserts it)."""

    # appendEntriesPeriod: how often an idle leader pings. Commits do not wait for it (entries
    # are sent as soon as they are proposed), so it only bounds failure detection; 0.25 s halves
    # an idle node's CPU against 0.1 s (bench/idle_node).
    heartbeat: float = 0.25
    tick: float = 0.1  # autoTickPeriod: the longest pysyncobj's thread sleeps when idle
    election_min: float = 1.0  # a follower waits a random time in [min, max] for the leader
    election_max: float = 2.5
    connection_timeout: float = 5.0  # no byte from a peer for this long: the connection is dead
    connection_retry: float = 1.0  # reconnect to an unreachable peer this often
    leader_fallback: float = 5.0  # a leader without a majority answering steps down after this
    bind_retry: float = 0.5  # retry binding the Raft port (the mesh address may appear late)
    bind_timeout: float = 10.0  # give up binding after this long

    def validate(self) -> RaftTimings:
        if not 0 < self.heartbeat * 3 < self.election_min < self.election_max:
            raise errors.InvalidArgument(
                "raft timings: need 0 < 3 * heartbeat < election_min < election_max, got "
                f"heartbeat={self.heartbeat} election_min={self.election_min} "
                f"election_max={self.election_max}"
            )
        if self.connection_timeout < self.election_max:
            raise errors.InvalidArgument("raft timings: connection_timeout < election_max")
        if self.leader_fallback <= self.heartbeat or self.bind_retry <= 0:
            raise errors.InvalidArgument("raft timings: leader_fallback or bind_retry too small")
        return self


@dataclass(frozen=True, slots=True)
class StorePaths:
    """Where a persistent replica keeps its journal and its full dump (snapshot)."""

    journal: Path
    dump: Path
    voters: Path

    @classmethod
    def in_dir(cls, data_dir: Path) -> StorePaths:
        return cls(
            journal=data_dir / JOURNAL_FILE,
            dump=data_dir / DUMP_FILE,
            voters=data_dir / VOTERS_FILE,
        )


def load_voters(path: Path) -> list[str] | None:
    """The voter set saved by a previous run, or None (no file, or unreadable: ignored)."""
    try:
        raw = json.loads(path.read_text())
        return [validate_address(str(voter)) for voter in raw["voters"]]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, errors.InvalidArgument):
        return None


def save_voters(path: Path, voters: list[str]) -> None:
    """Atomically record the voter set (self included), for a restart with no voters given."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"v": 1, "voters": sorted(voters)}))
    os.replace(tmp, path)


def validate_address(address: str) -> str:
    """A Raft address is ``ip:port`` (or ``[ipv6]:port``, or ``host:port``); port 1-65535."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.InvalidArgument(f"invalid raft address {address!r}: expected host:port")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise errors.InvalidArgument(f"invalid raft address {address!r}: {exc}") from exc
    return address


def other_voters(voters: list[str] | tuple[str, ...], self_address: str | None) -> list[str]:
    """pysyncobj's ``otherNodes``: the voters without this node, validated and de-duplicated."""
    seen: dict[str, None] = {}
    for voter in voters:
        if voter != self_address:
            seen[validate_address(voter)] = None
    return list(seen)


def build_conf(
    *,
    bind_address: str | None,
    paths: StorePaths,
    timings: RaftTimings,
    persistent: bool,
    serializer: Callable[[str, Any], None],
    deserializer: Callable[[str], Any],
    on_ready: Callable[[], None] | None = None,
    on_state_changed: Callable[[int, int], None] | None = None,
) -> Any:
    """The ``SyncObjConf`` for one replica (``Any``: pysyncobj is untyped). ``persistent``:
    keep a journal in ``paths`` (else only the snapshot file lives there)."""
    timings.validate()
    bind_attempts = max(2, round(timings.bind_timeout / timings.bind_retry))
    return SyncObjConf(
        bindAddress=bind_address,
        appendEntriesUseBatch=False,
        appendEntriesBatchSizeBytes=BATCH_BYTES,
        commandsWaitLeader=False,
        dynamicMembershipChange=True,
        useFork=False,
        journalFile=str(paths.journal) if persistent else None,
        fullDumpFile=str(paths.dump),
        serializer=serializer,
        deserializer=deserializer,
        appendEntriesPeriod=timings.heartbeat,
        autoTickPeriod=timings.tick,
        raftMinTimeout=timings.election_min,
        raftMaxTimeout=timings.election_max,
        connectionTimeout=timings.connection_timeout,
        connectionRetryTime=timings.connection_retry,
        leaderFallbackTimeout=timings.leader_fallback,
        bindRetryTime=timings.bind_retry,
        maxBindRetries=bind_attempts,
        onReady=on_ready,
        onStateChanged=on_state_changed,
    )


def bind_error(address: str) -> str:
    """Why binding failed, found by trying once ourselves (pysyncobj swallows the error)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, int(port)))
    except OSError as exc:
        return exc.strerror or str(exc)
    return "the port could not be bound in time"
