"""The Raft keys this node admits, read from the replicated mesh state.

A replica admits the Raft key of every voter and observer the state records (and the key it is
replacing, while a rotation propagates), bound to that node's Raft address
(``webmesh.raft.credentials``). Until this node's own copy of the state has
caught up (its own record is not in it yet: a node that has just joined), it also admits the
voters' keys from its Join response, which is how it can talk to the voters that will send it
the state in the first place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from webmesh import errors
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import NodeRole
from webmesh.mesh.state import MeshState
from webmesh.raft.credentials import decode_key


class StateRoster:
    """A ``webmesh.raft.credentials.Roster`` over the live mesh state.

    Called on pysyncobj's thread for every handshake and, once a second, for every open channel:
    the key index is rebuilt only when the state object changes (states are immutable).
    """

    def __init__(
        self, machine: MeshMachine, node_id: str, voter_keys: Mapping[str, str] = {}
    ) -> None:
        self._machine = machine
        self._node_id = node_id
        self._from_join = _index_of(voter_keys.items())
        self._indexed: tuple[MeshState | None, Mapping[bytes, str]] = (None, {})

    def address_of(self, public_key: bytes) -> str | None:
        state = self._machine.state
        indexed_state, index = self._indexed
        if indexed_state is not state:
            index = keys_of(state)
            self._indexed = (state, index)
        found = index.get(public_key)
        if found is None and self._node_id not in state.nodes:
            found = self._from_join.get(public_key)
        return found


def keys_of(state: MeshState) -> dict[bytes, str]:
    """Raft public key -> Raft address of every replica (voter or observer) in ``state``."""
    return _index_of(
        (node.raft_address, key)
        for node in state.nodes.values()
        if node.role is not NodeRole.CLIENT
        for key in (node.raft_key, node.raft_key_previous)
        if key
    )


def voter_keys(state: MeshState, voters: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(Raft address, Raft key) of the voters, for the identity file."""
    return tuple(
        sorted(
            (node.raft_address, node.raft_key)
            for node in state.nodes.values()
            if node.raft_key and node.raft_address in voters
        )
    )


def _index_of(pairs: Iterable[tuple[str, str]]) -> dict[bytes, str]:
    index: dict[bytes, str] = {}
    for address, key in pairs:
        try:
            index[decode_key(key)] = address
        except errors.InvalidArgument:
            continue  # validated when stored; a bad one admits nobody
    return index
