"""Turning what pysyncobj exposes into a ``RaftStatus``: pure, so it is table-tested.

pysyncobj's ``getStatus()`` iterates internal dicts that its tick thread mutates, so calling it from
another thread can raise "dictionary changed size during iteration". The store therefore reads
individual, atomic properties into an ``Observed`` record and this module maps that.
"""

from __future__ import annotations

from dataclasses import dataclass

from webmesh.raft.store import RaftRole, RaftStatus
from webmesh.raft.transport import HandshakeReport

# pysyncobj's private _RAFT_STATE values, as passed to onStateChanged(old, new)
STATE_FOLLOWER = 0
STATE_CANDIDATE = 1
STATE_LEADER = 2


@dataclass(frozen=True, slots=True)
class Observed:
    """A raw reading of one replica (addresses as strings, "" when unknown)."""

    self_address: str  # "" for a non-voting replica
    raft_state: int  # last value seen through onStateChanged
    is_leader: bool
    leader: str
    term: int
    commit_index: int
    applied_index: int
    other_voters: tuple[str, ...]
    has_quorum: bool
    ready: bool
    leader_changes: int
    closed: bool
    auth_failures: int = 0
    problem: str = ""
    refused: tuple[tuple[str, int], ...] = ()  # connections refused, by reason

    @classmethod
    def unstarted(
        cls, self_address: str, other_voters: tuple[str, ...], *, closed: bool
    ) -> Observed:
        """A store that has not started (or was closed before it did)."""
        return cls(
            self_address=self_address,
            raft_state=STATE_FOLLOWER,
            is_leader=False,
            leader="",
            term=0,
            commit_index=0,
            applied_index=0,
            other_voters=other_voters,
            has_quorum=False,
            ready=False,
            leader_changes=0,
            closed=closed,
        )


def role_of(observed: Observed) -> RaftRole:
    if observed.closed:
        return RaftRole.SHUTDOWN
    if not observed.self_address:
        return RaftRole.OBSERVER
    if observed.is_leader or observed.raft_state == STATE_LEADER:
        return RaftRole.LEADER
    if observed.raft_state == STATE_CANDIDATE:
        return RaftRole.CANDIDATE
    return RaftRole.FOLLOWER


def to_status(observed: Observed) -> RaftStatus:
    voters = set(observed.other_voters)
    if observed.self_address:
        voters.add(observed.self_address)
    return RaftStatus(
        self_address=observed.self_address,
        role=role_of(observed),
        leader="" if observed.closed else observed.leader,
        term=observed.term,
        commit_index=observed.commit_index,
        applied_index=observed.applied_index,
        voters=tuple(sorted(voters)),
        has_quorum=observed.has_quorum and not observed.closed,
        ready=observed.ready and not observed.closed,
        leader_changes=observed.leader_changes,
        auth_failures=observed.auth_failures,
        problem=observed.problem,
        refused=observed.refused,
    )


PROBLEM_WINDOW = 30.0  # seconds a handshake failure stays in RaftStatus.problem


def problem_from(report: HandshakeReport, *, window: float = PROBLEM_WINDOW) -> str:
    """A diagnosis for RaftStatus.problem from recent handshake failures ("" when none)."""
    since = report.seconds_since_failure
    if since is None or since > window:
        return ""
    return (
        f"raft handshakes are failing ({report.failures} so far, last with "
        f"{report.last_failure_peer} {since:.0f}s ago: {report.last_failure_why}): this node "
        "and that replica do not admit each other's raft keys (a node removed or re-created, or "
        "a mesh state that lags)"
    )
