"""The web view's model of the mesh: one JSON document built from a state, and the part of it a
reader may see.

Pure (no I/O, no aiohttp: ``webmesh.web`` serves what this builds), so it is unit-tested on
hand-made states and measured in-process by ``bench/dashboard_state.py``: at 1,000 nodes (100
with an endpoint, 40 punching) the document is ~450 KB and takes ~11 ms (p50) to build and encode.

Why the graph is cut above :data:`COMPLETE_GRAPH_MAX` nodes: every pair of nodes is an edge
(``peers.mesh_graph`` is O(n²)), 500,000 of them at 1,000 nodes, which neither the build, the
wire nor a browser's layout survives. Above the limit the document says ``edges_complete:
false`` and carries, in O(nodes + recorded punches):

- each node without an endpoint's link to the relay (the relay carries its traffic to every
  other node without an endpoint: those pairs are implied, not drawn);
- every pair whose hole punch has an outcome (``MeshState.paths``): punched (direct) or
  failed (relayed);
- the pairs still punching, while there are at most :data:`PUNCHING_DRAWN_MAX` punch nodes.

Every pair in which one node has an endpoint is direct and implied.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from webmesh.authz.authorize import Action
from webmesh.authz.model import Resource, Verb
from webmesh.authz.principal import Principal
from webmesh.mesh import peers
from webmesh.mesh.model import Node
from webmesh.mesh.objects import Kind, Peering, Route
from webmesh.mesh.state import MeshState, pair_key

COMPLETE_GRAPH_MAX = 150  # nodes: up to here every pair is an edge (11,175 at most)
PUNCHING_DRAWN_MAX = 64  # punch nodes: up to here their undecided pairs are drawn (2,016 at most)

View = dict[str, Any]
Handshakes = Mapping[str, float]  # WireGuard public key -> last handshake (unix s; 0 = never)

# The policy lists of the document: the RBAC resource a reader needs to see an entry, and the
# kind of the objects listed.
LISTS: Mapping[str, tuple[Resource, Kind]] = {
    "acls": (Resource.NETWORKACLS, Kind.NETWORKACL),
    "routes": (Resource.ROUTES, Kind.ROUTE),
    "peerings": (Resource.PEERINGS, Kind.PEERING),
}
READ_MESH = Action(Verb.GET, Resource.NODES)  # what a reader of the web view needs at least


def build(
    state: MeshState, *, served_by: str, leader: str, handshakes: Handshakes, at: float
) -> View:
    """The whole document (before any reader's filter), for ``state`` seen from ``served_by``
    at unix time ``at``: ``handshakes`` is ``served_by``'s WireGuard device."""
    nodes = sorted(state.nodes.values(), key=lambda n: n.id)
    edges, complete = graph(state)
    return {
        "mesh": _mesh(state, served_by=served_by, leader=leader, at=at),
        "nodes": [_node(state, node, handshakes, at) for node in nodes],
        "edges": edges,
        "edges_complete": complete,
        "acls": _acls(state),
        "routes": _routes(state),
        "peerings": _peerings(state),
    }


def encode(view: View) -> bytes:
    """Compact JSON (no newline inside, so it fits one ``data:`` line of an event stream)."""
    return json.dumps(view, separators=(",", ":"), ensure_ascii=False).encode()


def _mesh(state: MeshState, *, served_by: str, leader: str, at: float) -> dict[str, Any]:
    networks = state.networks
    offline = sum(1 for node_id in state.offline if node_id in state.nodes)
    return {
        "domain": networks.domain if networks else "",
        "ipv4": networks.ipv4 if networks else "",
        "ipv6": networks.ipv6 if networks else "",
        "generation": state.generation,
        "leader": leader,
        "served_by": served_by,
        "nodes": len(state.nodes),
        "online": len(state.nodes) - offline,
        "default_network_policy": state.objects.policy.default_network_policy.value,
        "at": round(at, 3),
    }


def _node(state: MeshState, node: Node, handshakes: Handshakes, at: float) -> dict[str, Any]:
    handshake = handshakes.get(node.public_key, 0.0)
    routes = (*node.routes, *state.objects.routes_by_node.get(node.id, ()))
    return {
        "id": node.id,
        "role": node.role.value,
        "online": state.is_online(node.id),
        "last_seen": state.offline.get(node.id),  # null: online (only absences are recorded)
        "ipv4": node.ipv4,
        "ipv6": node.ipv6,
        "endpoints": list(node.endpoints),
        "observed_endpoint": node.observed_endpoint,
        "exit": bool(peers.exit_routes_of(state, node)),
        "relay": node.id == state.relay_id,
        "handshake_age": round(max(0.0, at - handshake), 1) if handshake > 0 else None,
        "routes": sorted(set(routes)),
    }


# ---- the graph -------------------------------------------------------------------------------


def graph(state: MeshState) -> tuple[list[dict[str, str]], bool]:
    """The edges, and whether they are all of them (see the module docstring)."""
    if len(state.nodes) <= COMPLETE_GRAPH_MAX:
        return [_edge(e) for e in peers.mesh_graph(state)], True
    found = {(e.source, e.target): e for e in _summary(state)}
    return [_edge(found[key]) for key in sorted(found)], False


def _edge(edge: peers.Edge) -> dict[str, str]:
    return {
        "source": edge.source,
        "target": edge.target,
        "path": edge.path,
        "relayed_by": edge.relayed_by,
        "why": edge.why,
    }


def _summary(state: MeshState) -> Iterator[peers.Edge]:
    """The edges of a large mesh that are not implied: O(nodes + recorded punches)."""
    relay = state.relay_id
    if relay:
        for node in state.nodes.values():
            if not node.endpoints and node.id != relay:
                yield _ordered(node.id, relay, why=f"{relay} relays for it (it has no endpoint)")
    for key, path in state.paths.items():
        a, _, b = key.partition(" ")
        if a in state.nodes and b in state.nodes:
            yield _punch_edge(a, b, path, relay)
    if len(state.punch_nodes) <= PUNCHING_DRAWN_MAX:
        punching = sorted(state.punch_nodes)
        for i, a in enumerate(punching):
            for b in punching[i + 1 :]:
                if pair_key(a, b) not in state.paths and relay:
                    yield _punch_edge(a, b, peers.PUNCHING, relay)


def _ordered(a: str, b: str, *, why: str, path: str = peers.DIRECT, via: str = "") -> peers.Edge:
    source, target = sorted((a, b))
    return peers.Edge(source, target, relayed_by=via, path=path, why=why)


def _punch_edge(a: str, b: str, path: str, relay: str) -> peers.Edge:
    if path == peers.DIRECT:
        return _ordered(a, b, why="hole punched: both NATs let the other in")
    if path == peers.PUNCHING:
        why = "punching a hole through both NATs; relayed meanwhile"
    else:
        why = "the hole punch failed (a NAT that maps each destination anew?)"
    return _ordered(a, b, why=why, path=path, via=relay)


# ---- policy objects --------------------------------------------------------------------------


def _objects(state: MeshState, kind: Kind) -> list[Any]:
    return [state.objects.by_kind[kind][name] for name in sorted(state.objects.by_kind[kind])]


def _acls(state: MeshState) -> list[dict[str, Any]]:
    """Highest priority first, as they are evaluated."""
    acls = sorted(_objects(state, Kind.NETWORKACL), key=lambda a: (-a.priority, a.name))
    return [acl.to_dict() for acl in acls]


def _routes(state: MeshState) -> list[dict[str, Any]]:
    routes: list[Route] = _objects(state, Kind.ROUTE)
    return [
        {"name": r.name, "node": r.node, "destination_cidrs": list(r.destination_cidrs)}
        for r in routes
    ]


def _peerings(state: MeshState) -> list[dict[str, Any]]:
    """Without the other gateway's key: the page has no use for it."""
    found: list[Peering] = _objects(state, Kind.PEERING)
    return [
        {
            "name": p.name,
            "gateway": p.gateway,
            "remote_endpoint": p.remote_endpoint,
            "export_cidrs": list(p.export_cidrs),
            "accept_cidrs": list(p.accept_cidrs),
        }
        for p in found
    ]


# ---- what a reader may see -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Readable:
    """The entries of each policy list a reader may get: None = all of them (it may list the
    resource), else the names it may get one by one. Equal for readers with the same rights,
    so one filtered encoding serves them all."""

    acls: frozenset[str] | None = None
    routes: frozenset[str] | None = None
    peerings: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.acls is None and self.routes is None and self.peerings is None


EVERYTHING = Readable()


def readable(state: MeshState, principal: Principal | None) -> Readable | None:
    """What ``principal`` may read of the view: None when it may not read the mesh at all
    (``get nodes``); everything when RBAC is off or nobody authenticates (insecure mode).

    Why filter the lists rather than require ``get`` on all three: a role made for operators
    of the data plane (nodes and routes) should show them the page without the ACLs, as
    ``wmctl get`` would refuse just the ACLs. A list left out is empty, not an error."""
    rbac = state.objects.rbac
    if principal is None or not state.objects.policy.rbac_enabled:
        return EVERYTHING
    if not rbac.authorize(principal, READ_MESH):
        return None
    allowed: dict[str, frozenset[str] | None] = {}
    for key, (resource, kind) in LISTS.items():
        if rbac.authorize(principal, Action(Verb.GET, resource)):
            allowed[key] = None
            continue
        allowed[key] = frozenset(
            name
            for name in state.objects.by_kind[kind]
            if rbac.authorize(principal, Action(Verb.GET, resource, name))
        )
    return Readable(**allowed)


def restrict(view: View, allowed: Readable) -> View:
    """``view`` with only the policy entries ``allowed`` names (a shallow copy)."""
    if allowed.everything:
        return view
    restricted = dict(view)
    for key in LISTS:
        names = getattr(allowed, key)
        if names is not None:
            restricted[key] = [entry for entry in view[key] if entry["name"] in names]
    return restricted
