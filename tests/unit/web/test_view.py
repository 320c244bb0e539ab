"""The web view's document (webmesh.mesh.view): nodes, edges small and large, policy lists, and
what a reader's rights let it see."""

from __future__ import annotations

import base64
import json

import pytest

from webmesh.authz.acl import AclAction, NetworkACL
from webmesh.authz.model import Resource, Role, RoleBinding, Rule, Subject, SubjectKind, Verb
from webmesh.authz.principal import Principal
from webmesh.mesh import commands, peers, view
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.objects import Kind, MeshObject, Peering, Policy, Route
from webmesh.mesh.state import MeshState, apply

NETWORKS = Networks("172.16.0.0/12", "fd00:1:2::/48", "corp.example")
NOW = 1_800_000_000.0


def key(n: int) -> str:
    return base64.b64encode(bytes([n % 256, n // 256 + 1]) * 16).decode()


def make(
    node_id: str,
    n: int,
    *,
    endpoint: str = "",
    observed: str = "",
    role: NodeRole = NodeRole.OBSERVER,
    routes: tuple[str, ...] = (),
) -> Node:
    return Node(
        id=node_id,
        public_key=key(n),
        ipv4=f"172.16.{n // 250}.{n % 250 + 1}/32",
        endpoints=(endpoint,) if endpoint else (),
        role=role,
        joined_at=float(n + 1),
        routes=routes,
        observed_endpoint=observed,
    )


def ok(state: MeshState, command: commands.Command) -> MeshState:
    transition = apply(state, command)
    assert transition.result.ok, transition.result
    return transition.state


def mesh(*nodes: Node, rbac: bool = False) -> MeshState:
    state = ok(MeshState(), commands.Bootstrap(NETWORKS, policy=Policy(rbac_enabled=rbac)))
    for node in nodes:
        state = ok(state, commands.PutNode(node))
    return state


def put(state: MeshState, kind: Kind, obj: MeshObject) -> MeshState:
    return ok(state, commands.PutObject(kind, obj))


SERVER = make("server", 0, endpoint="10.0.0.1:51820", role=NodeRole.VOTER)
EXIT = make("exit", 1, endpoint="10.0.0.2:51820", routes=("0.0.0.0/0", "10.9.0.0/16"))
LAPTOP = make("laptop", 2, observed="198.51.100.7:40000", role=NodeRole.CLIENT)
PHONE = make("phone", 3)


def small() -> MeshState:
    state = mesh(SERVER, EXIT, LAPTOP, PHONE)
    state = ok(state, commands.SetPresence(offline={"phone": NOW - 600}))
    state = put(state, Kind.ROUTE, Route("lab", "server", ("10.50.0.0/16",)))
    everyone = {"source_nodes": ("*",), "destination_nodes": ("*",)}
    state = put(state, Kind.NETWORKACL, NetworkACL("low", 10, AclAction.ACCEPT, **everyone))
    high = NetworkACL("high", 500, AclAction.DENY, ("phone",), destination_cidrs=("10.9.0.0/16",))
    state = put(state, Kind.NETWORKACL, high)
    peering = Peering("partner", "server", key(99), ("10.50.0.0/16",), ("10.77.0.0/16",), "p:1")
    return put(state, Kind.PEERING, peering)


def build(state: MeshState, handshakes: dict[str, float] | None = None) -> view.View:
    return view.build(
        state, served_by="server", leader="server", handshakes=handshakes or {}, at=NOW
    )


def test_the_mesh_header_counts_nodes_and_who_is_online() -> None:
    document = build(small())
    assert document["mesh"] == {
        "domain": "corp.example",
        "ipv4": "172.16.0.0/12",
        "ipv6": "fd00:1:2::/48",
        "generation": "",
        "leader": "server",
        "served_by": "server",
        "nodes": 4,
        "online": 3,
        "default_network_policy": "accept",
        "at": NOW,
    }


def test_nodes_are_sorted_with_role_presence_exit_relay_and_handshake_age() -> None:
    handshakes = {EXIT.public_key: NOW - 42.34, LAPTOP.public_key: 0.0}
    nodes = {n["id"]: n for n in build(small(), handshakes)["nodes"]}
    assert list(nodes) == ["exit", "laptop", "phone", "server"]
    assert nodes["exit"] == {
        "id": "exit",
        "role": "observer",
        "online": True,
        "last_seen": None,
        "ipv4": "172.16.0.2/32",
        "ipv6": "",
        "endpoints": ["10.0.0.2:51820"],
        "observed_endpoint": "",
        "exit": True,
        "relay": False,
        "handshake_age": 42.3,
        "routes": ["0.0.0.0/0", "10.9.0.0/16"],
    }
    assert nodes["server"]["relay"] and nodes["server"]["role"] == "voter"
    assert nodes["server"]["routes"] == ["10.50.0.0/16", "10.77.0.0/16"]  # Route + peering
    assert nodes["laptop"]["role"] == "client"
    assert nodes["laptop"]["observed_endpoint"] == "198.51.100.7:40000"
    assert nodes["laptop"]["handshake_age"] is None  # 0: never
    assert nodes["phone"]["online"] is False
    assert nodes["phone"]["last_seen"] == NOW - 600
    assert nodes["phone"]["handshake_age"] is None  # no peer entry at all
    assert not nodes["server"]["exit"]


def test_a_small_mesh_has_every_edge_as_the_graph_gives_it() -> None:
    state = small()
    document = build(state)
    assert document["edges_complete"] is True
    assert document["edges"] == [
        {
            "source": e.source,
            "target": e.target,
            "path": e.path,
            "relayed_by": e.relayed_by,
            "why": e.why,
        }
        for e in peers.mesh_graph(state)
    ]
    relayed = [e for e in document["edges"] if e["path"] == "relayed"]
    assert relayed == [
        {
            "source": "laptop",
            "target": "phone",
            "path": "relayed",
            "relayed_by": "server",
            "why": relayed[0]["why"],
        }
    ]


def test_policy_lists_acls_by_priority_routes_and_peerings_without_keys() -> None:
    document = build(small())
    assert [a["name"] for a in document["acls"]] == ["high", "low"]
    assert document["acls"][0]["action"] == "deny"
    assert document["acls"][0]["source_nodes"] == ["phone"]
    assert document["routes"] == [
        {"name": "lab", "node": "server", "destination_cidrs": ["10.50.0.0/16"]}
    ]
    assert document["peerings"] == [
        {
            "name": "partner",
            "gateway": "server",
            "remote_endpoint": "p:1",
            "export_cidrs": ["10.50.0.0/16"],
            "accept_cidrs": ["10.77.0.0/16"],
        }
    ]


def test_the_encoding_is_one_line_of_json() -> None:
    document = build(small())
    encoded = view.encode(document)
    assert b"\n" not in encoded
    assert json.loads(encoded) == document


# ---- a large mesh ----------------------------------------------------------------------------


def large(n: int, *, with_endpoint: int, punch: int) -> MeshState:
    """``with_endpoint`` servers, ``punch`` punch nodes, the rest without any endpoint."""
    nodes = []
    for i in range(n):
        if i < with_endpoint:
            nodes.append(make(f"s{i:04}", i, endpoint=f"10.0.{i // 250}.{i % 250}:51820"))
        elif i < with_endpoint + punch:
            nodes.append(make(f"p{i:04}", i, observed=f"198.51.100.{i % 250}:{40000 + i}"))
        else:
            nodes.append(make(f"n{i:04}", i))
    return mesh(*nodes)


def test_a_large_mesh_draws_relay_links_and_punches_without_pairing_everyone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = large(400, with_endpoint=20, punch=6)
    state = ok(state, commands.SetPath("p0020", "p0021", "direct"))
    state = ok(state, commands.SetPath("p0022", "p0023", "relayed"))

    def quadratic(state: MeshState) -> tuple[peers.Edge, ...]:
        raise AssertionError("mesh_graph is O(n²): not for a large mesh")

    monkeypatch.setattr(peers, "mesh_graph", quadratic)
    document = build(state)
    assert document["edges_complete"] is False
    edges = document["edges"]
    relay = state.relay_id
    assert relay == "s0000"
    links = [e for e in edges if relay in (e["source"], e["target"])]
    assert len(links) == 380  # every node without an endpoint, to its relay
    assert all(e["path"] == "direct" and not e["relayed_by"] for e in links)
    others = {(e["source"], e["target"]): e for e in edges if e not in links}
    assert others[("p0020", "p0021")]["path"] == "direct"
    assert others[("p0022", "p0023")]["path"] == "relayed"
    assert others[("p0022", "p0023")]["relayed_by"] == relay
    punching = [e for e in others.values() if e["path"] == "punching"]
    assert len(punching) == 15 - 2  # 6 punch nodes: 15 pairs, 2 decided
    assert all(e["relayed_by"] == relay for e in punching)
    assert len(edges) == 380 + 15
    assert edges == sorted(edges, key=lambda e: (e["source"], e["target"]))


def test_many_punch_nodes_leave_their_undecided_pairs_implied() -> None:
    state = large(200, with_endpoint=5, punch=view.PUNCHING_DRAWN_MAX + 1)
    edges = build(state)["edges"]
    assert not [e for e in edges if e["path"] == "punching"]
    assert len(edges) == 195


def test_a_mesh_of_exactly_the_limit_is_still_complete() -> None:
    state = large(view.COMPLETE_GRAPH_MAX, with_endpoint=3, punch=0)
    assert build(state)["edges_complete"] is True


# ---- what a reader may see -------------------------------------------------------------------

ALICE = Principal.user("alice")


def with_role(state: MeshState, *rules: Rule) -> MeshState:
    state = put(state, Kind.ROLE, Role("reader", rules))
    binding = RoleBinding("reader", "reader", (Subject(SubjectKind.USER, "alice"),))
    return put(state, Kind.ROLEBINDING, binding)


def secured() -> MeshState:
    """The small mesh's nodes and policy objects, with RBAC on."""
    state = mesh(SERVER, EXIT, LAPTOP, PHONE, rbac=True)
    for kind in (Kind.ROUTE, Kind.NETWORKACL, Kind.PEERING):
        for obj in small().objects.by_kind[kind].values():
            state = put(state, kind, obj)
    return state


def test_without_get_nodes_nothing_is_readable() -> None:
    state = with_role(secured(), Rule((Verb.GET,), (Resource.ROUTES,)))
    assert view.readable(state, ALICE) is None
    assert view.readable(state, Principal.user("bob")) is None


def test_get_nodes_alone_shows_the_mesh_without_policy_objects() -> None:
    state = with_role(secured(), Rule((Verb.GET,), (Resource.NODES,)))
    allowed = view.readable(state, ALICE)
    assert allowed == view.Readable(frozenset(), frozenset(), frozenset())
    restricted = view.restrict(build(state), allowed)
    assert restricted["acls"] == restricted["routes"] == restricted["peerings"] == []
    assert len(restricted["nodes"]) == 4


def test_named_rules_show_only_the_objects_they_name() -> None:
    state = with_role(
        secured(),
        Rule((Verb.GET,), (Resource.NODES, Resource.ROUTES)),
        Rule((Verb.GET,), (Resource.NETWORKACLS,), ("low",)),
    )
    allowed = view.readable(state, ALICE)
    assert allowed == view.Readable(acls=frozenset({"low"}), routes=None, peerings=frozenset())
    restricted = view.restrict(build(state), allowed)
    assert [a["name"] for a in restricted["acls"]] == ["low"]
    assert [r["name"] for r in restricted["routes"]] == ["lab"]
    assert restricted["peerings"] == []


def test_a_full_reader_insecure_mode_and_rbac_off_see_everything() -> None:
    rules = Rule((Verb.GET,), (Resource.NODES, Resource.NETWORKACLS, Resource.ROUTES))
    state = with_role(secured(), rules, Rule((Verb.GET,), (Resource.PEERINGS,)))
    assert view.readable(state, ALICE) == view.EVERYTHING
    assert view.readable(state, None) is view.EVERYTHING  # insecure mode: nobody authenticates
    assert view.readable(small(), ALICE) is view.EVERYTHING  # RBAC off: authentication only
    document = build(state)
    assert view.restrict(document, view.EVERYTHING) is document
