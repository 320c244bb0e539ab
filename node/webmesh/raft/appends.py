"""Raft's rule for appending entries (section 5.3), applied before pysyncobj sees a message.

pysyncobj's follower deletes every entry after the leader's ``prevLogIdx`` whenever the previous
entry matches, even when the entries it deletes match the leader's (Raft deletes only from the
first *conflict*). A late or repeated append (a follower paused for a few seconds, a leader whose
``nextIndex`` a stale reply rewound) then truncates entries the follower had already applied:
pysyncobj logs ``CRITICAL truncating already-applied log entries``, and an acknowledged entry
can be lost if the leader dies before it sends them again.

:func:`plan_append` rewrites such a message so that pysyncobj only ever deletes from a real
conflict: entries the follower already holds with the same term are dropped from the message
(its ``prevLogIdx`` moves past them); when nothing new is left but the follower's log goes on,
the message becomes a heartbeat without a log position (term, leader and commit index only,
the commit index capped at the last entry known to match) and the success reply pysyncobj
would have sent is sent by us. Pure: the follower's log is read through ``term_at``.

:class:`StaleReplies` is the leader's half: a failure reply that would rewind ``nextIndex`` to
entries the follower already confirmed on the same connection is a late answer to an older
append, and is dropped (a follower that restarted has a new connection, and is believed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TermAt = Callable[[int], int | None]  # the local term of an index; None beyond the log's end


@dataclass(frozen=True, slots=True)
class AppendPlan:
    message: dict[str, Any]  # what pysyncobj gets
    reply: dict[str, Any] | None = None  # a reply we send ourselves (pysyncobj will not)
    skipped: int = 0  # entries the follower already had


def plan_append(message: Mapping[str, Any], term_at: TermAt, last_index: int) -> AppendPlan:
    """The message pysyncobj should process instead of ``message`` (an ``append_entries`` with
    a log position), and a reply to send if pysyncobj will not."""
    prev, prev_term = message["prevLogIdx"], message["prevLogTerm"]
    entries = list(message.get("entries") or ())
    if term_at(prev) != prev_term:
        return AppendPlan(dict(message))  # pysyncobj answers the mismatch; it deletes nothing
    matched = 0
    for _command, index, term in entries:
        if term_at(index) != term:
            break
        matched += 1
    if matched:
        prev, prev_term = entries[matched - 1][1], entries[matched - 1][2]
    rest = entries[matched:]
    if rest or last_index <= prev:
        # pysyncobj deletes after ``prev`` only what conflicts with ``rest`` (or nothing).
        rewritten = {**message, "prevLogIdx": prev, "prevLogTerm": prev_term, "entries": rest}
        return AppendPlan(rewritten, skipped=matched)
    heartbeat = {
        "type": "append_entries",
        "term": message["term"],
        "commit_index": min(message["commit_index"], prev),
    }
    reply = {"type": "next_node_idx", "next_node_idx": prev + 1, "reset": False, "success": True}
    return AppendPlan(heartbeat, reply=reply, skipped=matched)


class StaleReplies:
    """Per follower connection: the highest index it confirmed, to spot late failure replies."""

    def __init__(self) -> None:
        self._confirmed: dict[Any, int] = {}  # node -> highest next_node_idx of a success

    def forget(self, node: Any) -> None:
        """The connection to ``node`` ended: what it confirmed is no longer known."""
        self._confirmed.pop(node, None)

    def is_stale(self, node: Any, message: Mapping[str, Any]) -> bool:
        """Whether a ``next_node_idx`` reply is a late one, to drop; records successes."""
        next_index = message["next_node_idx"]
        if message["success"]:
            self._confirmed[node] = max(self._confirmed.get(node, 0), next_index)
            return False
        confirmed = self._confirmed.get(node)
        return bool(message["reset"]) and confirmed is not None and next_index < confirmed
