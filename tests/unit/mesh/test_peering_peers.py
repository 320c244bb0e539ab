"""A peering's data plane from the state: the gateway peers with the other mesh's gateway (the
accepted prefixes as AllowedIPs, a keepalive); every other node routes the accepted prefixes to
the gateway, subject to ACLs; deleting the peering takes all of it away."""

from __future__ import annotations

import base64

from webmesh.authz.acl import AclAction, NetworkACL
from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.objects import Kind, Peering
from webmesh.mesh.peers import PEERING_PREFIX, export_rules, peer_changes, peers_of
from webmesh.mesh.state import MeshState, apply, changed_node_ids

NETWORKS = Networks(ipv4="10.10.0.0/16", ipv6="", domain="a.internal")
REMOTE_KEY = base64.b64encode(b"r" * 32).decode()
PEERING = Peering("to-b", "gw", REMOTE_KEY, ("10.10.0.3/32",), ("10.20.0.0/16",), "192.0.2.9:51820")


def node(node_id: str, n: int) -> Node:
    key = base64.b64encode(bytes([n]) * 32).decode()
    return Node(id=node_id, public_key=key, ipv4=f"10.10.0.{n}/32", role=NodeRole.OBSERVER,
                endpoints=(f"192.0.2.{n}:51820",))  # fmt: skip


def mesh() -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS)).state
    for n, node_id in enumerate(("gw", "a2", "a3"), start=1):
        state = apply(state, commands.PutNode(node(node_id, n))).state
    return state


def peered(state: MeshState) -> MeshState:
    t = apply(state, commands.PutObject(Kind.PEERING, PEERING))
    assert t.result.ok, t.result.error_message
    return t.state


def test_the_gateway_peers_with_the_other_gateway() -> None:
    state = peered(mesh())
    entry = next(p for p in peers_of(state, "gw") if p.node_id == PEERING_PREFIX + "to-b")
    assert entry.public_key == REMOTE_KEY and entry.endpoint == "192.0.2.9:51820"
    assert entry.allowed_ips == ("10.20.0.0/16",) and entry.keepalive > 0
    assert export_rules(state, "gw") == ((("10.20.0.0/16",), ("10.10.0.3/32",)),)
    assert export_rules(state, "a2") == ()
    assert all(not p.node_id.startswith(PEERING_PREFIX) for p in peers_of(state, "a2"))


def test_the_other_nodes_route_the_accepted_prefixes_to_the_gateway() -> None:
    state = peered(mesh())
    gateway = next(p for p in peers_of(state, "a2") if p.node_id == "gw")
    assert "10.20.0.0/16" in gateway.allowed_ips


def test_acls_decide_who_reaches_the_other_mesh() -> None:
    deny = NetworkACL(name="no-b", priority=10, action=AclAction.DENY, source_nodes=("a3",),
                      destination_cidrs=("10.20.0.0/16",))  # fmt: skip
    state = apply(peered(mesh()), commands.PutObject(Kind.NETWORKACL, deny)).state
    a3_gateway = next(p for p in peers_of(state, "a3") if p.node_id == "gw")
    a2_gateway = next(p for p in peers_of(state, "a2") if p.node_id == "gw")
    assert "10.20.0.0/16" not in a3_gateway.allowed_ips
    assert "10.20.0.0/16" in a2_gateway.allowed_ips


def test_a_peering_change_reaches_the_gateway_and_its_peers_and_deleting_takes_it_all() -> None:
    before = mesh()
    after = peered(before)
    transition = apply(after, commands.DeleteObject(Kind.PEERING, "to-b"))
    assert changed_node_ids(transition.effects) == {"gw"}
    assert peer_changes(before, after, "gw", {"gw"}) is None  # its own entries: recompute
    gone = transition.state
    assert peers_of(gone, "gw") == peers_of(before, "gw")
    assert peers_of(gone, "a2") == peers_of(before, "a2")
    assert export_rules(gone, "gw") == ()
