"""Who peers with whom: the WireGuard topology derived from the mesh state.

Rules (the upstream webmesh design):
- Two nodes peer directly when at least one of them has an endpoint: the one without an endpoint
  dials the other (and keeps the NAT mapping alive), the other learns its address by roaming.
- Two nodes that both lack an endpoint reach each other through a *relay*: the oldest node that has
  an endpoint. Each side's peer entry for the relay carries the other's addresses in AllowedIPs, and
  the relay forwards between them (it needs IP forwarding on).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from webmesh.mesh.model import Node
from webmesh.mesh.state import MeshState


@dataclass(frozen=True, slots=True)
class Peer:
    """One WireGuard peer of the local node, in domain terms."""

    node_id: str
    public_key: str
    endpoint: str  # "" when the peer has no endpoint (it dials us)
    allowed_ips: tuple[str, ...]  # sorted: its own prefixes, its routes, and whom it relays for us
    relayed: tuple[str, ...] = ()  # ids of the nodes reached through this peer


def relay_candidates(nodes: Iterable[Node]) -> list[Node]:
    """Nodes that can relay, best first: those with an endpoint, oldest first (stable)."""
    return sorted((n for n in nodes if n.endpoints), key=lambda n: (n.joined_at, n.id))


def peers_of(state: MeshState, local_id: str) -> tuple[Peer, ...]:
    """The complete desired peer list of ``local_id``, sorted by node id."""
    local = state.nodes.get(local_id)
    if local is None:
        return ()
    relays = relay_candidates(state.nodes.values())
    relay = relays[0] if relays else None  # never one of a pair that both lack an endpoint
    direct: dict[str, Node] = {}
    relayed: dict[str, list[Node]] = {}
    for node in state.nodes.values():
        if node.id == local_id:
            continue
        if node.endpoints or local.endpoints:
            direct[node.id] = node
            continue
        if relay is not None:
            relayed.setdefault(relay.id, []).append(node)
    return tuple(_peer(direct[i], relayed.get(i, [])) for i in sorted(direct))


def _peer(node: Node, relayed: list[Node]) -> Peer:
    allowed = {*node.addresses(), *node.routes}
    for other in relayed:
        allowed.update(other.addresses())
        allowed.update(other.routes)
    return Peer(
        node_id=node.id,
        public_key=node.public_key,
        endpoint=node.primary_endpoint,
        allowed_ips=tuple(sorted(allowed)),
        relayed=tuple(sorted(n.id for n in relayed)),
    )


def relays_traffic(state: MeshState, local_id: str) -> bool:
    """Whether other nodes route through ``local_id`` (so it must forward IP packets)."""
    local = state.nodes.get(local_id)
    if local is None or not local.endpoints:
        return False
    without_endpoint = sum(1 for n in state.nodes.values() if not n.endpoints)
    if without_endpoint < 2:
        return False
    return relay_candidates(state.nodes.values())[0].id == local_id


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    relayed_by: str = ""  # "" for a direct WireGuard link


def mesh_graph(state: MeshState) -> tuple[Edge, ...]:
    """Every node-to-node connection (undirected, each once). O(n²): for display, not hot paths."""
    edges: list[Edge] = []
    ids = sorted(state.nodes)
    for i, a in enumerate(ids):
        reached = {p.node_id: p for p in peers_of(state, a)}
        for b in ids[i + 1 :]:
            if b in reached:
                edges.append(Edge(a, b))
                continue
            via = next((p.node_id for p in reached.values() if b in p.relayed), "")
            if via:
                edges.append(Edge(a, b, relayed_by=via))
    return tuple(edges)
