"""Names of the mesh: which node a DNS name means, and which nodes answer for the domain."""

from __future__ import annotations

import base64

from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.names import NameIndex, meshdns_servers
from webmesh.mesh.state import MeshState, apply, from_snapshot, to_snapshot

NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="fd00:1:2::/48", domain="webmesh.internal")


def key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


def node(node_id: str, n: int, **kw: object) -> Node:
    fields: dict[str, object] = {"ipv4": f"172.16.0.{n}/32", "role": NodeRole.OBSERVER}
    fields.update(kw)
    return Node(id=node_id, public_key=key(n), **fields)  # type: ignore[arg-type]


def dns_node(node_id: str, n: int, role: NodeRole = NodeRole.OBSERVER) -> Node:
    return node(node_id, n, role=role, dns_address=f"172.16.0.{n}:53")


def put(state: MeshState, *nodes: Node) -> MeshState:
    for one in nodes:
        transition = apply(state, commands.PutNode(one))
        assert transition.result.ok, transition.result
        state = transition.state
    return state


def remove(state: MeshState, node_id: str) -> MeshState:
    transition = apply(state, commands.RemoveNode(node_id))
    assert transition.result.ok, transition.result
    return transition.state


def mesh(*nodes: Node) -> MeshState:
    return put(apply(MeshState(), commands.Bootstrap(NETWORKS)).state, *nodes)


def found(index: NameIndex, state: MeshState, name: str) -> str | None:
    node = index.lookup(state, name)
    return node.id if node is not None else None


# ---- NameIndex -------------------------------------------------------------------------------


def test_an_exact_id_is_found() -> None:
    state = mesh(node("node-a", 1), node("node-b", 2))
    assert found(NameIndex(), state, "node-a") == "node-a"
    assert found(NameIndex(), state, "node-b") == "node-b"


def test_a_multi_label_id_is_found() -> None:
    state = mesh(node("a.b", 1))
    assert found(NameIndex(), state, "a.b") == "a.b"


def test_names_match_ids_ignoring_case() -> None:
    """DNS names are case-insensitive (RFC 4343); node ids are not."""
    state = mesh(node("Node-A", 1))
    index = NameIndex()
    assert found(index, state, "node-a") == "Node-A"
    assert found(index, state, "NODE-A") == "Node-A"
    assert found(index, state, "Node-A") == "Node-A"


def test_ids_that_differ_only_in_case_resolve_by_exact_spelling_only() -> None:
    state = mesh(node("Node-A", 1), node("node-a", 2))
    index = NameIndex()
    assert found(index, state, "Node-A") == "Node-A"
    assert found(index, state, "node-a") == "node-a"
    assert found(index, state, "NODE-A") is None  # ambiguous: neither is meant more than the other


def test_an_unknown_name_is_none() -> None:
    state = mesh(node("node-a", 1))
    index = NameIndex()
    assert found(index, state, "node-b") is None
    assert found(index, state, "") is None
    assert found(index, state, "node-a.extra") is None


def test_an_index_reused_across_states_sees_the_latest() -> None:
    """The case-folded index is built once per state: a later state must not be served from it."""
    index = NameIndex()
    before = mesh(node("node-a", 1))
    assert found(index, before, "NODE-B") is None  # builds the folded index for ``before``
    after = put(before, node("Node-B", 2))
    assert found(index, after, "NODE-B") == "Node-B"
    assert found(index, after, "node-b") == "Node-B"
    gone = remove(after, "Node-B")
    assert found(index, gone, "node-b") is None
    assert found(index, after, "node-b") == "Node-B"  # an older state still answers as it was


# ---- meshdns_servers -------------------------------------------------------------------------


def test_only_nodes_that_serve_meshdns_are_listed() -> None:
    state = mesh(dns_node("a", 1), node("b", 2), dns_node("c", 3))
    assert meshdns_servers(state) == ("172.16.0.1:53", "172.16.0.3:53")
    assert state.dns_nodes == {"a", "c"}


def test_servers_are_ordered_local_first_then_voters_then_by_id() -> None:
    state = mesh(
        dns_node("obs-b", 1),
        dns_node("voter-z", 2, NodeRole.VOTER),
        dns_node("obs-a", 3),
        dns_node("voter-y", 4, NodeRole.VOTER),
    )
    assert meshdns_servers(state) == (
        "172.16.0.4:53",  # voter-y
        "172.16.0.2:53",  # voter-z
        "172.16.0.3:53",  # obs-a
        "172.16.0.1:53",  # obs-b
    )
    assert meshdns_servers(state, local_id="obs-b") == (
        "172.16.0.1:53",
        "172.16.0.4:53",
        "172.16.0.2:53",
        "172.16.0.3:53",
    )


def test_a_local_node_that_serves_nothing_changes_nothing() -> None:
    state = mesh(dns_node("a", 1), node("me", 2))
    assert meshdns_servers(state, local_id="me") == meshdns_servers(state) == ("172.16.0.1:53",)


def test_a_removed_node_is_no_longer_a_server() -> None:
    state = mesh(dns_node("a", 1), dns_node("b", 2))
    state = remove(state, "a")
    assert meshdns_servers(state) == ("172.16.0.2:53",)
    assert state.dns_nodes == {"b"}


def test_a_node_that_stops_serving_is_no_longer_a_server() -> None:
    state = mesh(dns_node("a", 1), dns_node("b", 2))
    state = put(state, node("a", 1))  # the same node, now without --services.meshdns.enabled
    assert meshdns_servers(state) == ("172.16.0.2:53",)
    assert state.dns_nodes == {"b"}


def test_the_dns_index_equals_what_a_restore_rebuilds() -> None:
    """Maintained per command on apply, rebuilt from the nodes on restore: both must agree."""
    state = mesh(dns_node("a", 1), node("b", 2), dns_node("c", 3, NodeRole.VOTER))
    state = put(state, dns_node("b", 2), node("c", 3, role=NodeRole.VOTER), dns_node("d", 4))
    state = remove(state, "a")
    restored = from_snapshot(to_snapshot(state))
    assert restored.dns_nodes == state.dns_nodes == {"b", "d"}
    assert meshdns_servers(restored, local_id="d") == meshdns_servers(state, local_id="d")
    assert meshdns_servers(state, local_id="d") == ("172.16.0.4:53", "172.16.0.2:53")


def test_a_name_with_only_nodes_below_it_exists_without_being_a_node() -> None:
    """RFC 8020: NXDOMAIN for ``b`` would tell resolvers that ``a.b`` cannot exist either."""
    state = mesh(node("a.b", 1), node("x.y.z", 2))
    index = NameIndex()
    assert index.lookup(state, "b") is None
    assert index.exists(state, "b") and index.exists(state, "y.z") and index.exists(state, "Z")
    assert not index.exists(state, "c")
    assert index.exists(state, "a.b")


def test_three_ids_that_fold_alike_stay_ambiguous() -> None:
    state = mesh(node("Node", 1), node("NODE", 2), node("node", 3))
    index = NameIndex()
    assert found(index, state, "nOdE") is None
    assert found(index, state, "NODE") == "NODE"


def test_a_node_named_like_a_parent_label_is_found() -> None:
    state = mesh(node("a.b", 1), node("B", 2))
    assert found(NameIndex(), state, "b") == "B"
