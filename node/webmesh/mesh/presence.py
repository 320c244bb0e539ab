"""Who is online: the leader's sightings turned into the few writes that record presence.

The signal is what the servers already hold open, so nothing is sent, and nothing is written to
Raft, per heartbeat:

- every replica (voter or observer) keeps an authenticated Raft connection to the leader, which
  the leader's transport reports by the replica's key;
- every client (``wmctl connect``) keeps a ``SubscribePeers`` stream to some server; a server
  that is not the leader reports the streams it serves to the leader every half second.

A killed process closes its connections at once (the kernel sends FIN or RST); a node cut off
without that is noticed by the Raft channel's idle timeout or gRPC's keepalive. The leader keeps
the last time it saw each node (in memory), and proposes ``SetPresence`` only when a node has
been unseen for ``offline_after`` (it goes offline, last seen then) or is seen again after being
offline. A new leader has seen nobody yet: it waits ``LEADER_GRACE`` after taking over before
it counts anyone it does not see as gone. Replicas are connected to every voter already, so the
new leader sees them at once; clients' streams are reported by the followers twice a second.

This module is the pure decision; ``webmesh.service.presence`` gathers the sightings and
proposes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from webmesh.mesh.commands import SetPresence
from webmesh.mesh.model import NodeRole
from webmesh.mesh.state import MeshState

OFFLINE_AFTER = 4.0  # seconds unseen before a node counts as offline
LEADER_GRACE = 1.5  # seconds a new leader gathers sightings before it counts the unseen as gone
PURGE_AFTER = 86400.0  # seconds offline before a non-voting node is removed (--mesh.purge-after)
EPHEMERAL_GRACE = 30.0  # seconds offline before an ephemeral node is removed


@dataclass(frozen=True, slots=True)
class Sightings:
    """What the leader knows: when it last saw each node, and since when it leads."""

    last_seen: Mapping[str, float]  # node id -> unix seconds
    leading_since: float


def transitions(
    state: MeshState,
    seen: Sightings,
    now: float,
    offline_after: float = OFFLINE_AFTER,
    grace: float = LEADER_GRACE,
) -> SetPresence | None:
    """The presence changes to record now, or None."""
    gone: dict[str, float] = {}
    back: list[str] = []
    settled = now - seen.leading_since >= grace
    for node_id, node in state.nodes.items():
        last = seen.last_seen.get(node_id)
        if node_id in state.offline:
            if last is not None and now - last < offline_after:
                back.append(node_id)
        elif last is not None:
            if now - last >= offline_after:
                gone[node_id] = last
        elif settled and now - node.joined_at >= grace:
            gone[node_id] = seen.leading_since  # seen by the previous leader, not by us
    if not gone and not back:
        return None
    return SetPresence(offline=gone, online=tuple(sorted(back)))


def purgeable(
    state: MeshState,
    now: float,
    *,
    purge_after: float = PURGE_AFTER,
    ephemeral_grace: float = EPHEMERAL_GRACE,
) -> tuple[str, ...]:
    """Offline nodes due for removal: never a voter (removing voters changes the quorum, so a
    human decides); an ephemeral node after ``ephemeral_grace``, any other after ``purge_after``
    (0 turns purging off, not the ephemeral grace)."""
    due: list[str] = []
    for node_id, last_seen in state.offline.items():
        node = state.nodes.get(node_id)
        if node is None or node.role is NodeRole.VOTER:
            continue
        limit = ephemeral_grace if node.ephemeral else purge_after
        if limit > 0 and now - last_seen >= limit:
            due.append(node_id)
    return tuple(sorted(due))
