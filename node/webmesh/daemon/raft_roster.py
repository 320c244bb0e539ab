"""The Raft keys this node admits, read from the replicated mesh state.

A replica admits the Raft key of every voter and observer the state records (and the key it is
replacing, while a rotation propagates), bound to that node's Raft address
(``webmesh.raft.credentials``). Until this node's own copy of the state has caught up (its own
record is not in it yet: a node that has just joined), it also admits the voters' keys from its
Join response, which is how it can talk to the voters that will send it the state in the first
place.

The index costs O(nodes) to build, and the state changes with every applied entry (a thousand
times a second under load) while every open channel asks once a second: so the index is rebuilt
at most every ``MAX_AGE`` seconds, and sooner only for a key it does not hold (a replica that
has just joined), at most every ``MISS_REBUILD`` seconds (a stranger cannot make us rebuild at
the rate it sends hellos). A removed replica is refused within ``MAX_AGE`` plus the channel's
one-second check.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping

from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.state import MeshState, replicas_by_raft_key

MAX_AGE = 0.5  # seconds an index may lag the state
MISS_REBUILD = 0.05  # seconds between two rebuilds forced by unknown keys


class StateRoster:
    """A ``webmesh.raft.credentials.Roster`` over the live mesh state (called on pysyncobj's
    thread; the lock only guards the cache)."""

    def __init__(
        self,
        machine: MeshMachine,
        node_id: str,
        voter_keys: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._machine = machine
        self._node_id = node_id
        self._from_join = {key: address for address, key in (voter_keys or {}).items()}
        self._clock = clock
        self._lock = threading.Lock()
        self._state: MeshState | None = None
        self._index: Mapping[str, str] = {}
        self._built_at = float("-inf")

    def address_of(self, public_key: bytes) -> str | None:
        key = base64.b64encode(public_key).decode()
        state = self._machine.state
        with self._lock:
            found = self._lookup(state, key, MAX_AGE)
            if found is None:
                found = self._lookup(state, key, MISS_REBUILD)
        if found is None and self._node_id not in state.nodes:
            found = self._from_join.get(key)
        return found

    def _lookup(self, state: MeshState, key: str, max_age: float) -> str | None:
        now = self._clock()
        if self._state is not state and now - self._built_at >= max_age:
            self._state, self._index, self._built_at = state, keys_of(state), now
        return self._index.get(key)


def keys_of(state: MeshState) -> dict[str, str]:
    """Raft public key (base64) -> Raft address of every replica (voter or observer)."""
    return {key: node.raft_address for key, node in replicas_by_raft_key(state).items()}
