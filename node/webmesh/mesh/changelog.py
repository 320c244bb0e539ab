"""Which nodes changed at which state index: what makes per-change work O(changed nodes).

The consensus thread produces states; the event loop records each one here (in order) with the ids
its effects touched. A consumer that remembers the state it last handled asks for the ids changed
since then and recomputes only those; when the history no longer reaches back (or a change was too
broad, such as a snapshot install), it gets None and recomputes everything.
"""

from __future__ import annotations

from collections import deque

from webmesh.mesh.state import MeshState

DEFAULT_CAPACITY = 4096


class ChangeLog:
    """A bounded, in-order history of (state index, changed node ids). Single-threaded."""

    def __init__(self, initial: MeshState, capacity: int = DEFAULT_CAPACITY) -> None:
        self._latest = initial
        self._entries: deque[tuple[int, frozenset[str] | None]] = deque(maxlen=capacity)

    @property
    def latest(self) -> MeshState:
        """The newest state recorded (consumers read this, never the machine's live state)."""
        return self._latest

    def record(self, state: MeshState, changed: frozenset[str] | None) -> None:
        """Add the next state; ``changed`` None means anything may have changed."""
        if state.index < self._latest.index:
            changed = None  # a restore to an older snapshot: nothing can be assumed
        self._latest = state
        self._entries.append((state.index, changed))

    def changed_since(self, index: int) -> frozenset[str] | None:
        """Union of the ids changed after ``index``; None when that cannot be known."""
        if index == self._latest.index:
            return frozenset()
        if not self._entries or self._entries[0][0] > index + 1 or index > self._latest.index:
            return None
        ids: set[str] = set()
        for entry_index, changed in reversed(self._entries):
            if entry_index <= index:
                break
            if changed is None:
                return None
            ids.update(changed)
        return frozenset(ids)
