"""Checked references: a put naming a node, group or role the mesh lacks is refused (NotFound)
on apply, so every replica refuses it alike; wildcards, users, node subjects and the groups a
binding may take from LDAP are not checked."""

from __future__ import annotations

import base64

import pytest

from webmesh import errors
from webmesh.authz.acl import AclAction, NetworkACL
from webmesh.authz.model import EVERY, Group, Role, RoleBinding, Subject, SubjectKind
from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.objects import Kind, MeshObject, Policy, Route
from webmesh.mesh.state import MeshState, Transition, apply

NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="fd00:1:2::/48", domain="webmesh.internal")
NOBODY = Role("nobody", ())


def booted(*objects: tuple[Kind, MeshObject]) -> MeshState:
    return apply(MeshState(), commands.Bootstrap(NETWORKS, Policy(), objects)).state


def put(state: MeshState, kind: Kind, obj: MeshObject) -> Transition:
    return apply(state, commands.PutObject(kind, obj))


def refused(state: MeshState, kind: Kind, obj: MeshObject, message: str) -> None:
    t = put(state, kind, obj)
    assert t.result.error_kind == "NotFound", t.result
    assert t.result.error_message == message
    assert t.state.objects == state.objects
    with pytest.raises(errors.NotFound, match=message):
        t.result.raise_for_error()


def accepted(state: MeshState, kind: Kind, obj: MeshObject) -> MeshState:
    t = put(state, kind, obj)
    assert t.result.ok, t.result
    assert t.state.objects.get(kind, obj.name) == obj
    return t.state


def with_node(state: MeshState, node_id: str) -> MeshState:
    key = base64.b64encode(bytes([1]) * 32).decode()
    node = Node(id=node_id, public_key=key, ipv4="172.16.0.1/32", role=NodeRole.OBSERVER)
    return apply(state, commands.PutNode(node)).state


def test_a_route_to_a_missing_node_is_refused_until_the_node_joins() -> None:
    route = Route("r1", "nosuch", ("10.9.0.0/24",))
    state = booted()
    refused(state, Kind.ROUTE, route, "route r1: node 'nosuch' is not in the mesh")
    state = accepted(with_node(state, "nosuch"), Kind.ROUTE, route)
    assert state.objects.routes_by_node == {"nosuch": ("10.9.0.0/24",)}


def test_a_binding_to_a_missing_role_is_refused() -> None:
    binding = RoleBinding("b1", "nobody", (Subject(SubjectKind.USER, "alice"),))
    state = booted()
    refused(state, Kind.ROLEBINDING, binding, "rolebinding b1: role 'nobody' is not in the mesh")
    accepted(accepted(state, Kind.ROLE, NOBODY), Kind.ROLEBINDING, binding)


@pytest.mark.parametrize(
    "subject",
    [
        Subject(SubjectKind.USER, "nosuch"),  # users come from the authenticators
        Subject(SubjectKind.NODE, "nosuch"),  # a node may be bound before it joins
        Subject(SubjectKind.NODE, EVERY),
        Subject(SubjectKind.USER, EVERY),
        Subject(SubjectKind.GROUP, "ldap-admins"),  # a group LDAP reports: no Group object
    ],
    ids=str,
)
def test_binding_subjects_are_not_checked(subject: Subject) -> None:
    state = booted((Kind.ROLE, NOBODY))
    accepted(state, Kind.ROLEBINDING, RoleBinding("b1", "nobody", (subject,)))


def acl(**selectors: tuple[str, ...]) -> NetworkACL:
    return NetworkACL("a1", 10, AclAction.DENY, **selectors)


@pytest.mark.parametrize("side", ["source_nodes", "destination_nodes"])
def test_an_acl_naming_a_missing_group_is_refused(side: str) -> None:
    other = "destination_nodes" if side == "source_nodes" else "source_nodes"
    naming = acl(**{side: ("*", "group:ops"), other: ("*",)})
    state = booted()
    refused(state, Kind.NETWORKACL, naming, "networkacl a1: group 'ops' is not in the mesh")
    accepted(accepted(state, Kind.GROUP, Group("ops", ())), Kind.NETWORKACL, naming)


def test_acl_node_ids_must_exist_unless_allowed_and_wildcards_always_pass() -> None:
    accepted(booted(), Kind.NETWORKACL, acl(source_nodes=("*",), destination_nodes=("*",)))
    named = acl(source_nodes=("b",), destination_nodes=("c",))
    refused(booted(), Kind.NETWORKACL, named, "networkacl a1: node 'b' is not in the mesh")
    refused(with_node(booted(), "b"), Kind.NETWORKACL, named,
            "networkacl a1: node 'c' is not in the mesh")  # fmt: skip
    # written on purpose before the nodes join (wmctl put ... --allow-missing-nodes)
    early = apply(booted(), commands.PutObject(Kind.NETWORKACL, named, allow_missing_nodes=True))
    assert early.result.ok
    route = Route("r9", "later", ("10.9.0.0/16",))
    late = apply(booted(), commands.PutObject(Kind.ROUTE, route, allow_missing_nodes=True))
    assert late.result.ok


def test_the_seed_may_name_its_own_objects_and_later_puts_may_name_them() -> None:
    seed = (
        (Kind.GROUP, Group("ops", (Subject(SubjectKind.NODE, "n1"),))),
        (Kind.ROLEBINDING, RoleBinding("ops", "nobody", (Subject(SubjectKind.GROUP, "ops"),))),
        (Kind.ROLE, NOBODY),  # after the binding that names it: the seed is not checked
    )
    state = booted(*seed)
    assert state.objects.get(Kind.ROLEBINDING, "ops").name == "ops"
    accepted(state, Kind.NETWORKACL, acl(source_nodes=("group:ops",), destination_nodes=("*",)))
    accepted(state, Kind.ROLEBINDING, RoleBinding("b2", "nobody", ()))


def test_deleting_a_referenced_object_is_still_allowed_but_a_later_put_is_checked() -> None:
    route = Route("r1", "n1", ("10.9.0.0/24",))
    state = accepted(with_node(booted(), "n1"), Kind.ROUTE, route)
    state = accepted(state, Kind.GROUP, Group("ops", ()))
    naming = acl(source_nodes=("group:ops",), destination_nodes=("*",))
    state = accepted(state, Kind.NETWORKACL, naming)
    state = apply(state, commands.DeleteObject(Kind.GROUP, "ops")).state
    state = apply(state, commands.RemoveNode("n1")).state
    assert state.objects.get(Kind.ROUTE, "r1") == route  # deletes do not cascade
    # a proposal made before the removal is refused alike on every replica
    refused(state, Kind.ROUTE, route, "route r1: node 'n1' is not in the mesh")
    refused(state, Kind.NETWORKACL, naming, "networkacl a1: group 'ops' is not in the mesh")
