"""pysyncobj's ``FAIL_REASON`` codes as domain errors, in one table.

pysyncobj reports every failed command as a small integer to a callback; callers of the store must
instead see ``webmesh.errors`` exceptions whose message says what happened and what to do.
"""

from __future__ import annotations

from pysyncobj import FAIL_REASON

from webmesh import errors

# reason -> (error class, what happened). NOT_LEADER is special-cased: it carries the leader.
_REASONS: dict[int, tuple[type[errors.MeshError], str]] = {
    FAIL_REASON.QUEUE_FULL: (
        errors.Unavailable,
        "the raft command queue is full: this node is overloaded, retry later",
    ),
    FAIL_REASON.MISSING_LEADER: (
        errors.Unavailable,
        "no raft leader is known (an election is in progress or the cluster is unreachable)",
    ),
    FAIL_REASON.DISCARDED: (
        errors.Unavailable,
        "a new leader was elected and discarded the entry before it committed: retry",
    ),
    FAIL_REASON.LEADER_CHANGED: (
        errors.Unavailable,
        "the raft leader changed before the entry committed: outcome unknown, check and retry",
    ),
    FAIL_REASON.REQUEST_DENIED: (
        errors.Unavailable,
        "the raft leader denied the request (another membership change is in flight, "
        "or the change is not allowed)",
    ),
    FAIL_REASON.UNKNOWN_OUTCOME: (
        errors.Unavailable,
        "the outcome of the entry is unknown (the leader restarted or a snapshot overtook it): "
        "check and retry",
    ),
}


def error_for(reason: int, *, action: str, leader: str = "") -> errors.MeshError:
    """The error to raise for a failed pysyncobj command; ``action`` says what was attempted."""
    if reason == FAIL_REASON.NOT_LEADER:
        where = f" (the leader is {leader})" if leader else ""
        return errors.NotLeader(
            f"{action}: this node is no longer the raft leader{where}", leader=leader
        )
    kind, message = _REASONS.get(
        reason, (errors.MeshError, f"unexpected pysyncobj failure code {reason}")
    )
    return kind(f"{action}: {message}")


def reason_name(reason: int) -> str:
    """The symbolic name of a FAIL_REASON value, for logs."""
    for name, value in vars(FAIL_REASON).items():
        if not name.startswith("_") and value == reason:
            return str(name)
    return str(reason)
