"""What every use case over the replicated state shares: local reads, mutations on the leader.

A mutation runs on the Raft leader only: elsewhere ``require_leader`` raises ``NotLeader`` with the
leader's API address, and the API layer replays the request there. ``propose`` commits one command
and raises the domain error ``apply`` rejected it with. Reads come from the local replica (possibly
slightly stale on a follower, as in any Raft follower read).
"""

from __future__ import annotations

from webmesh import errors
from webmesh.mesh import commands
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Node
from webmesh.mesh.state import MeshState
from webmesh.raft.store import ConsensusStore

PROPOSE_TIMEOUT = 5.0


class NodesByRaftAddress:
    """Node records by Raft address. The leader and the voters are looked up on every Join, and
    a scan of every node costs O(mesh) (a millisecond at 10,000 nodes): the ids found are kept
    and checked against the state, so a lookup is O(1) until a record moves."""

    _MAX = 64  # addresses remembered (leaders and voters: a handful)

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def get(self, state: MeshState, address: str) -> Node | None:
        """The node whose Raft address is ``address``; None for "" (clients have no address)."""
        if not address:
            return None
        node = state.nodes.get(self._ids.get(address, ""))
        if node is not None and node.raft_address == address:
            return node
        node = next((n for n in state.nodes.values() if n.raft_address == address), None)
        if node is not None:
            if len(self._ids) >= self._MAX:
                self._ids.clear()
            self._ids[address] = node.id
        return node


class ReplicatedService:
    """Base of the services: the consensus store, the local replica and the leader checks."""

    def __init__(self, *, store: ConsensusStore, machine: MeshMachine) -> None:
        self._store = store
        self._machine = machine
        self._by_raft_address = NodesByRaftAddress()

    @property
    def state(self) -> MeshState:
        """The local replica's current state (a whole, immutable snapshot)."""
        return self._machine.state

    async def propose(self, command: commands.Command) -> commands.Result:
        """Commit one command and raise the domain error it was rejected with, if any."""
        raw = await self._store.propose(commands.encode(command), timeout=PROPOSE_TIMEOUT)
        return commands.Result.decode(raw).raise_for_error()

    def leader_node(self) -> Node | None:
        """The node record of the current Raft leader, if it is known and in the state."""
        leader = self._store.leader()
        if not leader:
            return None
        return self._by_raft_address.get(self.state, leader)

    def require_leader(self) -> None:
        """Raise ``NotLeader`` (with the leader's API address, when known) off the leader."""
        if not self._store.is_leader():
            leader = self.leader_node()
            raise errors.NotLeader(
                "this node is not the leader",
                leader=leader.api_address if leader else "",
                leader_id=leader.id if leader else "",
            )
