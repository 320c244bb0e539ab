"""Who peers with whom: the WireGuard topology derived from the mesh state.

Rules (after upstream webmesh):
- Two nodes peer directly when at least one of them has an endpoint: the one without an endpoint
  dials the other (and keeps the NAT mapping alive); the other learns its address by roaming.
- Two nodes that both lack an endpoint, when the servers have seen both from outside (their
  ``observed_endpoint``, the public side of their NATs: ``MeshState.punch_nodes``), try to reach
  each other directly: each puts the other in its peers at that address with no AllowedIPs, so
  WireGuard handshakes (kept going by the keepalive) open both NATs while traffic still takes
  the relay (*punching*). When a handshake completes, a node records the pair as direct
  (``SetPath``) and both move the other's prefixes onto that entry; when it does not, as
  relayed, and they stop trying until the pair is forgotten again (``webmesh.service.paths``).
- Otherwise two nodes that both lack an endpoint reach each other through the *relay*: the
  oldest node that has an endpoint (``MeshState.relay_id``). A node without an endpoint gives its
  relay's peer entry the whole mesh networks as AllowedIPs; WireGuard routes by longest
  prefix, so direct peers (their /32 and /64) still win and everything else in the mesh goes
  through the relay, which forwards it. Adding or removing a node without an endpoint (and not
  seen from outside) therefore changes nothing on the other nodes without one.

Default routes (0.0.0.0/0, ::/0) are *exit routes*: a node that advertises one is an exit node,
but no peer's AllowedIPs carry them, so no node's traffic to the internet moves into the mesh
by itself. A peer entry lists them apart (``Peer.exit_routes``), and only a node that opted in
to that exit node adds them, locally, with policy routing (``webmesh.reconcile.desired``).

A peering with another mesh (``objects.Peering``) adds one entry, on its gateway only: the
other mesh's gateway, at its endpoint, with the accepted prefixes as AllowedIPs (its id is
``peering/<name>``, which no node id can be). Every other node reaches those prefixes through the
gateway like a Route object's, ACLs included.

``peers_of`` computes a node's whole peer list (O(n)); ``peer_changes`` computes only what one
batch of changes does to it (O(changed nodes)), for the reconciler's and the streams' fast path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from webmesh.mesh.model import Node
from webmesh.mesh.state import MeshState, pair_key

DIRECT, RELAYED, PUNCHING = "direct", "relayed", "punching"
PEERING_PREFIX = "peering/"  # the id of a peering's entry ("/" is in no node id)
PEERING_KEEPALIVE = 25  # seconds: the other gateway may be behind a NAT or a firewall


@dataclass(frozen=True, slots=True)
class Peer:
    """One WireGuard peer of the local node, in domain terms."""

    node_id: str
    public_key: str
    endpoint: str  # "" when the peer has no endpoint (it dials us)
    allowed_ips: tuple[str, ...]  # sorted: its own prefixes, its routes (and the mesh if relay)
    relay: bool = False  # this peer carries the mesh networks for us (we have no endpoint)
    exit_routes: tuple[str, ...] = ()  # the default routes it offers as an exit node (sorted)
    # between two nodes without an endpoint: "punching" (no AllowedIPs yet) or "direct"
    path: str = ""
    keepalive: int = 0  # seconds; 0: the interface's setting


def path_between(state: MeshState, a: Node, b: Node) -> str:
    """How two nodes reach each other: direct (one dials the other, or their punch worked),
    punching (trying to, meanwhile relayed) or relayed."""
    if a.endpoints or b.endpoints:
        return DIRECT
    if a.id in state.punch_nodes and b.id in state.punch_nodes:
        return state.paths.get(pair_key(a.id, b.id), PUNCHING)
    return RELAYED


def peer_entry(state: MeshState, local: Node, node: Node) -> Peer | None:
    """``local``'s peer entry for ``node``; None when they reach each other through the relay
    (or network ACLs leave ``local`` nothing of ``node`` to reach)."""
    if not (node.endpoints or local.endpoints):
        return _punched_entry(state, local, node)
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


def _punched_entry(state: MeshState, local: Node, node: Node) -> Peer | None:
    """The entry for another node without an endpoint: at its observed endpoint, with its
    prefixes once the punch worked, with none while punching (the relay carries the traffic)."""
    path = path_between(state, local, node)
    if path == RELAYED:
        return None
    if state.objects.acl_is_trivial:
        reachable = prefixes_of(state, node)
    else:
        reachable = _reachable(state, local, node)
        if not reachable:
            return None  # nothing of it to reach: no reason to open a path
    return Peer(
        node_id=node.id,
        public_key=node.public_key,
        endpoint=node.observed_endpoint,
        allowed_ips=tuple(sorted(set(reachable))) if path == DIRECT else (),
        exit_routes=exit_routes_of(state, node) if path == DIRECT else (),
        path=path,
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
        if _behind_relay(state, local, node):
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
        if node is not None and _behind_relay(state, local, node):
            prefixes.update(r for r in _advertised(state, node) if r not in EXIT_ROUTES)
    return prefixes


def _behind_relay(state: MeshState, local: Node, node: Node) -> bool:
    """Whether ``local`` (without an endpoint) reaches ``node`` through its relay: another node
    without an endpoint, and no hole punched to it (a punched entry carries its prefixes, and
    WireGuard gives a prefix to one peer only)."""
    return not node.endpoints and node.id != local.id and path_between(state, local, node) != DIRECT


def peers_of(state: MeshState, local_id: str) -> tuple[Peer, ...]:
    """The complete desired peer list of ``local_id``, sorted by node id: O(n) for a node with
    an endpoint (everyone may dial it), O(nodes with an endpoint + punch nodes) for one
    without."""
    local = state.nodes.get(local_id)
    if local is None:
        return ()
    if local.endpoints:
        candidates: Iterable[Node] = state.nodes.values()
    else:
        ids = state.endpoint_nodes
        if local_id in state.punch_nodes:
            ids = ids | state.punch_nodes
        candidates = (state.nodes[i] for i in ids if i in state.nodes)
    entries = (peer_entry(state, local, n) for n in candidates if n.id != local_id)
    found = [p for p in entries if p is not None]
    return tuple(sorted((*found, *peering_entries(state, local_id)), key=lambda p: p.node_id))


def peering_entries(state: MeshState, local_id: str) -> tuple[Peer, ...]:
    """The other meshes' gateways, when ``local_id`` is a peering gateway (else none)."""
    return tuple(
        Peer(
            node_id=PEERING_PREFIX + peering.name,
            public_key=peering.remote_public_key,
            endpoint=peering.remote_endpoint,
            allowed_ips=tuple(sorted(peering.accept_cidrs)),
            keepalive=PEERING_KEEPALIVE,
        )
        for peering in state.objects.peerings_by_gateway.get(local_id, ())
    )


def export_rules(
    state: MeshState, local_id: str
) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """For a peering gateway's filter (``webmesh.wg.peering_filter``): per peering, the other
    mesh's accepted prefixes and this mesh's exported ones."""
    return tuple(
        (peering.accept_cidrs, peering.export_cidrs)
        for peering in state.objects.peerings_by_gateway.get(local_id, ())
    )


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
    gateways = (before.objects.peerings_by_gateway, after.objects.peerings_by_gateway)
    if gateways[0].get(local_id) != gateways[1].get(local_id):
        return None  # its own peerings changed: entries that are no node's
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
    path: str = DIRECT  # direct, punching (relayed meanwhile) or relayed
    why: str = ""  # for people: how this path came about


def mesh_graph(state: MeshState) -> tuple[Edge, ...]:
    """Every node-to-node connection, each pair once. O(n²): for display, not for hot paths."""
    edges: list[Edge] = []
    ids = sorted(state.nodes)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            edge = _edge(state, state.nodes[a], state.nodes[b])
            if edge is not None:
                edges.append(edge)
    return tuple(edges)


def _edge(state: MeshState, a: Node, b: Node) -> Edge | None:
    path = path_between(state, a, b)
    if a.endpoints or b.endpoints:
        dialled = a if a.endpoints else b
        return Edge(a.id, b.id, why=f"{dialled.id} has an endpoint")
    if path == DIRECT:
        return Edge(a.id, b.id, why="hole punched: both NATs let the other in")
    if not state.relay_id:
        return None
    if path == PUNCHING:
        why = "punching a hole through both NATs; relayed meanwhile"
    elif {a.id, b.id} <= state.punch_nodes:
        why = "the hole punch failed (a NAT that maps each destination anew?)"
    else:
        clients = [n.id for n in (a, b) if n.observed_endpoint and n.id not in state.punch_nodes]
        unseen = [n.id for n in (a, b) if not n.observed_endpoint]
        why = "no endpoint on either side"
        if unseen:
            why += f", and no outside address known for {', '.join(unseen)}"
        if clients:
            why += f"; {', '.join(clients)} (wmctl connect) does not punch holes"
    return Edge(a.id, b.id, relayed_by=state.relay_id, path=path, why=why)
