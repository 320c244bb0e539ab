"""Names of the mesh (MeshDNS): which node a DNS name means, and who answers for the domain.

Pure: the DNS server (webmesh.dns) asks :class:`NameIndex` with the part of a query name below
the mesh domain and gets the node back; nothing here knows the DNS wire.

A name is ``<node-id>.<mesh-domain>``. Node ids are case-sensitive in the mesh, DNS names are
not (RFC 4343): an exact match wins, otherwise the id that matches ignoring case, when exactly
one does (two ids that differ only in case resolve by their exact spelling only).
"""

from __future__ import annotations

from webmesh.mesh.model import Node, NodeRole
from webmesh.mesh.state import MeshState


class NameIndex:
    """Resolves names against the latest state. An exact id costs a dict lookup; the case-folded
    index (O(nodes) to build) is built only when a name is not spelled exactly, at most once per
    state."""

    def __init__(self) -> None:
        self._folded_for: MeshState | None = None
        # folded id -> the id; None when two ids fold alike; "" for a name that only has nodes
        # below it (``b`` of the node ``a.b``: it exists, with no records of its own)
        self._folded: dict[str, str | None] = {}

    def lookup(self, state: MeshState, relative_name: str) -> Node | None:
        """The node ``relative_name`` (the query name below the domain) names, or None."""
        node = state.nodes.get(relative_name)
        if node is None:
            node_id = self._fold(state).get(relative_name.casefold())
            node = state.nodes.get(node_id) if node_id else None
        return node

    def exists(self, state: MeshState, relative_name: str) -> bool:
        """Whether the name exists: a node's, or one with nodes below it (RFC 8020: a name that
        does not exist has nothing below it, so ``b`` of the node ``a.b`` must exist)."""
        return relative_name in state.nodes or relative_name.casefold() in self._fold(state)

    def _fold(self, state: MeshState) -> dict[str, str | None]:
        if self._folded_for is not state:
            folded: dict[str, str | None] = {}
            for node_id in state.nodes:
                key = node_id.casefold()
                folded[key] = None if folded.get(key, "") != "" else node_id
                for parent in _parents(key):
                    folded.setdefault(parent, "")
            self._folded, self._folded_for = folded, state
        return self._folded


def _parents(name: str) -> list[str]:
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels))]


def meshdns_servers(state: MeshState, *, local_id: str = "") -> tuple[str, ...]:
    """The MeshDNS addresses ("ip:port") of the mesh, the best first: this node's own, then
    voters before other servers, then by id (the same order on every node)."""

    def rank(node: Node) -> tuple[bool, bool, str]:
        return (node.id != local_id, node.role is not NodeRole.VOTER, node.id)

    serving = sorted((state.nodes[i] for i in state.dns_nodes if i in state.nodes), key=rank)
    return tuple(n.dns_address for n in serving)
