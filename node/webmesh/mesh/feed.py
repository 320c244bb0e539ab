"""Where a node's peers come from: its own replica, incrementally (pure; no I/O).

Used by the reconciler (the node's own interface) and by SubscribePeers streams (one per client).

``ReplicaFeed.poll`` hands out either the changes since the previous poll (the fast path, O(changed
nodes)) or, when that cannot be computed, the whole peer list. Until the replica knows this node
(a joiner whose replica is still catching up), the peers the join returned are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from webmesh.mesh.changelog import ChangeLog
from webmesh.mesh.peers import Peer, peer_changes, peers_of
from webmesh.mesh.state import MeshState


@dataclass(frozen=True, slots=True)
class PeerDelta:
    """Either ``full`` (the whole list) or ``changes`` (node id -> new entry, None = gone)."""

    full: tuple[Peer, ...] | None = None
    changes: dict[str, Peer | None] = field(default_factory=dict)


class PeerFeed(Protocol):
    def poll(self, *, full: bool = False) -> PeerDelta:
        """What changed since the previous poll (everything, when ``full``)."""
        ...


class ReplicaFeed:
    """Peers of ``local_id`` from the replicated state, through the change log."""

    def __init__(self, log: ChangeLog, local_id: str, fallback: Sequence[Peer] = ()) -> None:
        self._log = log
        self._local_id = local_id
        self._fallback = tuple(fallback)
        self._seen: MeshState | None = None
        self._known = False  # the replica has listed this node at least once

    def poll(self, *, full: bool = False) -> PeerDelta:
        state = self._log.latest
        seen, self._seen = self._seen, state
        if seen is not None and not full:
            if seen is state:
                return PeerDelta()
            changed = self._log.changed_since(seen.index)
            if changed is not None:
                delta = peer_changes(seen, state, self._local_id, changed)
                if delta is not None:
                    return PeerDelta(changes=delta)
        if self._local_id not in state.nodes:
            # Until the replica catches up, use the peers the join returned; once this node has
            # been listed, its absence means it was removed: no peers at all.
            return PeerDelta(full=() if self._known else self._fallback)
        self._known = True
        return PeerDelta(full=peers_of(state, self._local_id))


class StaticFeed:
    """A fixed peer list, replaced with ``set`` (clients that follow a SubscribePeers stream)."""

    def __init__(self, peers: Sequence[Peer] = ()) -> None:
        self._peers = tuple(peers)
        self._dirty = True

    def set(self, peers: Sequence[Peer]) -> None:
        self._peers = tuple(peers)
        self._dirty = True

    def poll(self, *, full: bool = False) -> PeerDelta:
        if not (self._dirty or full):
            return PeerDelta()
        self._dirty = False
        return PeerDelta(full=self._peers)
