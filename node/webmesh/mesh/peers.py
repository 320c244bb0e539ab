"""Who peers with whom: the WireGuard topology derived from the mesh state.

Rules (after upstream webmesh):
- Two nodes peer directly when at least one of them has an endpoint: the one without an endpoint
  dials the other (and keeps the NAT mapping alive); the other learns its address by roaming.
- Two nodes that both lack an endpoint reach each other through the *relay*: the oldest node that
  has an endpoint (``MeshState.relay_id``). A node without an endpoint gives its relay's peer
  entry the whole mesh networks as AllowedIPs; WireGuard routes by longest prefix, so direct peers
  (their /32 and /64) still win and everything else in the mesh goes through the relay, which
  forwards it. Adding or removing a node without an endpoint therefore changes nothing on the
  other nodes without one: the cost of a change does not grow with the mesh.

Default routes (0.0.0.0/0, ::/0) are *exit routes*: a node that advertises one is an exit node,
but no peer's AllowedIPs carry them, so no node's traffic to the internet moves into the mesh
by itself. A peer entry lists them apart (``Peer.exit_routes``), and only a node that opted in
to that exit node adds them, locally, with policy routing (``webmesh.reconcile.desired``).

``peers_of`` computes a node's whole peer list (O(n)); ``peer_changes`` computes only what one
batch of changes does to it (O(changed nodes)), for the reconciler's and the streams' fast path.
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
    allowed_ips: tuple[str, ...]  # sorted: its own prefixes, its routes (and the mesh if relay)
    relay: bool = False  # this peer carries the mesh networks for us (we have no endpoint)
    exit_routes: tuple[str, ...] = ()  # the default routes it offers as an exit node (sorted)


def peer_entry(state: MeshState, local: Node, node: Node) -> Peer | None:
    """``local``'s peer entry for ``node``; None when they reach each other through the relay
    (or network ACLs leave ``local`` nothing of ``node`` to reach)."""
    if not (node.endpoints or local.endpoints):
        return None
    relay = not local.endpoints and node.id == state.relay_id
    if state.objects.acl_is_trivial:
        allowed = set(prefixes_of(state, node))
        if relay:
            allowed.update(_relayed_prefixes(state, local))
    else:
        allowed = set(_reachable(state, local, node))
        if relay:
            allowed.update(_relayed_reachable(state, local))
        if not allowed:
            return None
    return Peer(
        node_id=node.id,
        public_key=node.public_key,
        endpoint=node.primary_endpoint,
        allowed_ips=tuple(sorted(allowed)),
        relay=relay,
        exit_routes=exit_routes_of(state, node),
    )


EXIT_ROUTES = frozenset({"0.0.0.0/0", "::/0"})


def _advertised(state: MeshState, node: Node) -> tuple[str, ...]:
    return (*node.routes, *state.objects.routes_by_node.get(node.id, ()))


def prefixes_of(state: MeshState, node: Node) -> tuple[str, ...]:
    """Everything routed to ``node`` for every peer: its addresses, its routes and its Route
    objects, without exit routes."""
    routes = (r for r in _advertised(state, node) if r not in EXIT_ROUTES)
    return (*node.addresses(), *routes)


def exit_routes_of(state: MeshState, node: Node) -> tuple[str, ...]:
    """The default routes ``node`` advertises (it is an exit node when there is one)."""
    return tuple(sorted({r for r in _advertised(state, node) if r in EXIT_ROUTES}))


def _reachable(state: MeshState, local: Node, node: Node) -> tuple[str, ...]:
    """The part of ``node``'s prefixes the network ACLs let ``local`` reach."""
    return state.objects.acl.allowed_prefixes(local.id, node.id, prefixes_of(state, node))


def _relayed_reachable(state: MeshState, local: Node) -> set[str]:
    """With ACLs, the relay carries exactly the allowed prefixes of the nodes behind it: O(n),
    paid only by nodes without an endpoint in meshes that use ACLs."""
    prefixes: set[str] = set()
    for node in state.nodes.values():
        if not node.endpoints and node.id != local.id:
            prefixes.update(_reachable(state, local, node))
    return prefixes


def _relayed_prefixes(state: MeshState, local: Node) -> set[str]:
    """The mesh networks, plus the routes of other nodes without an endpoint."""
    prefixes = set()
    if state.networks is not None:
        prefixes.add(state.networks.ipv4)
        if state.networks.ipv6 and local.ipv6:
            prefixes.add(state.networks.ipv6)
    for node_id in state.routing_nodes | state.objects.routes_by_node.keys():
        node = state.nodes.get(node_id)
        if node is not None and not node.endpoints and node.id != local.id:
            prefixes.update(r for r in _advertised(state, node) if r not in EXIT_ROUTES)
    return prefixes


def peers_of(state: MeshState, local_id: str) -> tuple[Peer, ...]:
    """The complete desired peer list of ``local_id``, sorted by node id: O(n) for a node with
    an endpoint (everyone may dial it), O(nodes with an endpoint) for one without."""
    local = state.nodes.get(local_id)
    if local is None:
        return ()
    if local.endpoints:
        candidates: Iterable[Node] = state.nodes.values()
    else:
        candidates = (state.nodes[i] for i in state.endpoint_nodes if i in state.nodes)
    entries = (peer_entry(state, local, n) for n in candidates if n.id != local_id)
    return tuple(sorted((p for p in entries if p is not None), key=lambda p: p.node_id))


def peer_changes(
    before: MeshState, after: MeshState, local_id: str, changed: Iterable[str]
) -> dict[str, Peer | None] | None:
    """What changed in ``local_id``'s peers between two states, given the ids of changed nodes.

    Returns ``{node_id: new entry, or None when the peer goes away}``, or None when the change is
    too broad to compute incrementally (this node itself, the networks or the relay changed):
    then the caller recomputes the whole list with ``peers_of``.
    """
    local_before, local = before.nodes.get(local_id), after.nodes.get(local_id)
    if local_before != local or before.networks != after.networks:
        return None
    if before.objects.acl is not after.objects.acl:
        return None  # ACLs or groups changed: who reaches whom may differ anywhere
    if local is None:
        return {}
    affected = set(changed) - {local_id}
    if not local.endpoints and _relay_affected(before, after, affected):
        affected |= {before.relay_id, after.relay_id} - {""}
    result: dict[str, Peer | None] = {}
    for node_id in affected:
        old = _entry_in(before, local, node_id)
        new = _entry_in(after, local, node_id)
        if new != old:
            result[node_id] = new
    return result


def _entry_in(state: MeshState, local: Node, node_id: str) -> Peer | None:
    node = state.nodes.get(node_id)
    return peer_entry(state, local, node) if node is not None else None


def _relay_affected(before: MeshState, after: MeshState, changed: set[str]) -> bool:
    """Whether the relay's entry may have changed: another relay, or relayed routes changed."""
    if before.relay_id != after.relay_id:
        return True
    if not after.objects.acl_is_trivial:
        return bool(changed)  # the relay carries each reachable node's prefixes one by one
    return any(
        node_id in state.routing_nodes or node_id in state.objects.routes_by_node
        for node_id in changed
        for state in (before, after)
    )


def forwards_traffic(state: MeshState, local_id: str) -> bool:
    """Whether packets for other nodes pass through ``local_id`` (so it must forward IP)."""
    local = state.nodes.get(local_id)
    if local is None:
        return False
    return (
        local_id == state.relay_id
        or len(prefixes_of(state, local)) > len(local.addresses())
        or bool(exit_routes_of(state, local))
    )


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    relayed_by: str = ""  # "" for a direct WireGuard link


def mesh_graph(state: MeshState) -> tuple[Edge, ...]:
    """Every node-to-node connection, each pair once. O(n²): for display, not for hot paths."""
    edges: list[Edge] = []
    ids = sorted(state.nodes)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if state.nodes[a].endpoints or state.nodes[b].endpoints:
                edges.append(Edge(a, b))
            elif state.relay_id:
                edges.append(Edge(a, b, relayed_by=state.relay_id))
    return tuple(edges)
