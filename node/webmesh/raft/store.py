"""The consensus interface the rest of webmesh programs against."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class StateMachine(Protocol):
    """What a consensus store drives. ``apply`` must be deterministic."""

    def apply(self, entry: bytes) -> bytes:
        """Apply a committed entry on this replica; the return value goes to the proposer."""
        ...

    def snapshot(self) -> bytes:
        """The whole state, for log compaction (versioned JSON, never pickle)."""
        ...

    def restore(self, data: bytes) -> None:
        """Replace the whole state with a snapshot (empty bytes: the initial state)."""
        ...


class RaftRole(enum.StrEnum):
    LEADER = "leader"
    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    OBSERVER = "observer"  # non-voting, read-only replica
    SHUTDOWN = "shutdown"


class SyncMode(enum.StrEnum):
    """When a replica's log reaches the disk (``webmesh.raft.durability``)."""

    ALWAYS = "always"  # before anything that acknowledges it leaves the replica
    BATCH = "batch"  # every 100 ms, nothing waits for it
    OFF = "off"  # never fsynced


@dataclass(frozen=True, slots=True)
class RaftStatus:
    """A point-in-time view of this replica's consensus state."""

    self_address: str  # "" for a non-voting replica
    role: RaftRole
    leader: str  # raft address of the leader, "" when unknown
    term: int
    commit_index: int
    applied_index: int
    voters: tuple[str, ...]  # raft addresses of the voting members (self included)
    has_quorum: bool
    ready: bool  # the journal has been replayed and the replica can serve reads
    leader_changes: int  # how many times this replica has seen the leader change
    # Handshakes with a replica we dialed that failed: its key is not the one our state holds.
    auth_failures: int = 0
    problem: str = ""  # a human-readable diagnosis ("" when healthy), e.g. an unknown key
    # Connections to or from this replica closed on the peer, by reason (channel.Refusal).
    refused: tuple[tuple[str, int], ...] = ()


class ConsensusStore(Protocol):
    """A replicated log of opaque entries applied to a StateMachine on every replica.

    All coroutines raise ``webmesh.errors`` exceptions: ``NotLeader`` (with ``leader`` set
    when known) for writes on a non-leader, ``Unavailable`` on timeout or lost quorum.
    """

    async def start(self) -> None:
        """Begin replicating (open the journal, connect to the other members)."""
        ...

    async def wait_ready(self, timeout: float) -> None:
        """Wait until the journal has been replayed (and, for voters, a leader is known)."""
        ...

    async def propose(self, entry: bytes, *, timeout: float = 5.0) -> bytes:
        """Commit ``entry`` through the leader; return what apply returned on this replica."""
        ...

    def status(self) -> RaftStatus: ...

    def is_leader(self) -> bool: ...

    def leader(self) -> str:
        """The leader's Raft address, "" when unknown: ``status().leader`` for hot paths
        (every Join asks), without building the whole status."""
        ...

    def peer_activity(self) -> dict[bytes, float]:
        """Raft key of each replica connected to this one (authenticated channels only) ->
        when it last sent anything (``time.monotonic``): the leader's view of who is alive
        (``webmesh.mesh.presence``). A peer whose host vanished keeps its connection until the
        idle timeout, but stops sending at once (a heartbeat answer every 0.25 s otherwise)."""
        ...

    def voters(self) -> tuple[str, ...]:
        """``status().voters`` (sorted, self included) for hot paths."""
        ...

    async def add_voter(
        self, address: str, *, timeout: float = 10.0, wait_for_commit: bool = True
    ) -> None:
        """Add a voting member (call on the leader, before the new member starts).

        ``wait_for_commit=False`` returns once the leader accepted the change: needed to grow a
        one-voter cluster, whose change commits only when the new member runs.
        """
        ...

    async def remove_voter(self, address: str, *, timeout: float = 10.0) -> None: ...

    async def transfer_leadership(self, *, timeout: float = 10.0) -> None: ...

    async def close(self) -> None:
        """Stop replicating and release the port and the journal."""
        ...
