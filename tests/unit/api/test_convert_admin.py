"""Admin converters: every kind round-trips; a bad message is an InvalidArgument that says why."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message

from webmesh import errors
from webmesh.api.v1 import admin_pb2
from webmesh.authz.acl import AclAction, NetworkACL
from webmesh.authz.methods import METHOD_PERMISSIONS
from webmesh.authz.model import (
    MESH_ADMIN_ROLE,
    Group,
    Resource,
    Role,
    RoleBinding,
    Rule,
    Subject,
    SubjectKind,
    Verb,
)
from webmesh.client import convert_admin
from webmesh.mesh.objects import Kind, MeshObject, Peering, Route

KEY = "B" * 43 + "="  # a WireGuard public key (32 bytes in base64)

OBJECTS: list[tuple[Kind, MeshObject]] = [
    (Kind.ROLE, MESH_ADMIN_ROLE),
    (
        Kind.ROLE,
        Role(
            "acl-editor",
            (
                Rule((Verb.GET, Verb.PUT), (Resource.NETWORKACLS,)),
                Rule((Verb.GET,), (Resource.NODES,), ("node-b",)),
            ),
        ),
    ),
    (Kind.ROLE, Role("nothing", ())),
    (
        Kind.ROLEBINDING,
        RoleBinding(
            "editors",
            "acl-editor",
            (
                Subject(SubjectKind.USER, "Alice Smith"),
                Subject(SubjectKind.NODE, "n1"),
                Subject(SubjectKind.GROUP, "netops"),
            ),
        ),
    ),
    (Kind.GROUP, Group("web", (Subject(SubjectKind.NODE, "web-1"),))),
    (Kind.GROUP, Group("empty")),
    (
        Kind.NETWORKACL,
        NetworkACL(
            "deny-b-c",
            100,
            AclAction.DENY,
            source_nodes=("b", "group:web"),
            destination_nodes=("*",),
            source_cidrs=("10.0.0.0/8",),
            destination_cidrs=("172.16.0.0/12", "fd00::/8"),
        ),
    ),
    (Kind.NETWORKACL, NetworkACL("lowest", -(2**31), AclAction.ACCEPT, ("*",), ("*",))),
    (Kind.ROUTE, Route("office", "gw-1", ("192.168.10.0/24", "0.0.0.0/0"))),
    (
        Kind.PEERING,
        Peering(
            "to-b",
            "gw-1",
            KEY,
            export_cidrs=("10.10.0.0/16", "fd00:a::/48"),
            accept_cidrs=("10.20.0.0/16",),
            remote_endpoint="b-1.example:51820",
        ),
    ),
    (Kind.PEERING, Peering("dialed-in", "gw-1", KEY, ("10.10.0.0/16",), ("10.30.0.0/16",))),
]


@pytest.mark.parametrize(("kind", "obj"), OBJECTS, ids=lambda v: getattr(v, "name", str(v)))
def test_round_trip(kind: Kind, obj: MeshObject) -> None:
    message = convert_admin.to_proto(obj)
    assert isinstance(message, convert_admin.ADMIN_KINDS[kind].message)
    assert message.name == obj.name  # type: ignore[attr-defined]
    # Through the wire format too: what arrives is what was sent.
    wire = type(message).FromString(message.SerializeToString())
    assert convert_admin.from_proto(kind, wire) == obj


def test_networkacl_fields() -> None:
    _, acl = OBJECTS[6]
    message = convert_admin.to_proto(acl)
    assert isinstance(message, admin_pb2.NetworkACL)
    assert (message.priority, message.action) == (100, "deny")
    assert list(message.source_nodes) == ["b", "group:web"]
    assert list(message.destination_cidrs) == ["172.16.0.0/12", "fd00::/8"]


def test_list_keeps_the_order_given() -> None:
    roles = [obj for kind, obj in OBJECTS if kind is Kind.ROLE]
    listed = convert_admin.list_to_proto(Kind.ROLE, roles)
    assert isinstance(listed, admin_pb2.RoleList)
    assert [r.name for r in listed.items] == ["mesh-admin", "acl-editor", "nothing"]


def _peering(**changes: object) -> admin_pb2.Peering:
    """A valid Peering message, but for ``changes``."""
    fields: dict[str, object] = {
        "name": "to-b",
        "gateway": "gw-1",
        "remote_public_key": KEY,
        "remote_endpoint": "192.0.2.1:51820",
        "export_cidrs": ["10.10.0.0/16"],
        "accept_cidrs": ["10.20.0.0/16"],
    }
    return admin_pb2.Peering(**{**fields, **changes})


def test_peering_fields() -> None:
    _, peering = next(o for o in OBJECTS if o[0] is Kind.PEERING)
    message = convert_admin.to_proto(peering)
    assert message == admin_pb2.Peering(
        name="to-b",
        gateway="gw-1",
        remote_public_key=KEY,
        remote_endpoint="b-1.example:51820",
        export_cidrs=["10.10.0.0/16", "fd00:a::/48"],
        accept_cidrs=["10.20.0.0/16"],
    )


@pytest.mark.parametrize(
    ("kind", "message", "says"),
    [
        (Kind.ROLE, admin_pb2.Role(name="Bad_Name"), "invalid role name"),
        (Kind.ROLE, admin_pb2.Role(name="r", rules=[admin_pb2.Rule(verbs=["get"])]), "resource"),
        (
            Kind.ROLE,
            admin_pb2.Role(name="r", rules=[admin_pb2.Rule(verbs=["fly"], resources=["*"])]),
            "invalid verb 'fly'",
        ),
        (
            Kind.ROLE,
            admin_pb2.Role(name="r", rules=[admin_pb2.Rule(verbs=["get"], resources=["cats"])]),
            "invalid resource 'cats'",
        ),
        (
            Kind.ROLEBINDING,
            admin_pb2.RoleBinding(
                name="b", role="r", subjects=[admin_pb2.Subject(kind="robot", name="x")]
            ),
            "invalid subject kind 'robot'",
        ),
        (Kind.ROLEBINDING, admin_pb2.RoleBinding(name="b"), "invalid role name ''"),
        (
            Kind.GROUP,
            admin_pb2.Group(name="g", members=[admin_pb2.Subject(kind="group", name="x")]),
            "groups contain only nodes and users",
        ),
        (
            Kind.GROUP,
            admin_pb2.Group(name="g", members=[admin_pb2.Subject(kind="user", name="")]),
            "invalid user name",
        ),
        (
            Kind.NETWORKACL,
            admin_pb2.NetworkACL(name="a", action="drop", source_nodes=["*"]),
            "invalid ACL action 'drop'",
        ),
        (
            Kind.NETWORKACL,
            admin_pb2.NetworkACL(name="a", action="deny", source_nodes=["*"]),
            "has no destination",
        ),
        (
            Kind.NETWORKACL,
            admin_pb2.NetworkACL(
                name="a", action="deny", source_nodes=["*"], destination_cidrs=["10.0.0.300/8"]
            ),
            "10.0.0.300/8",
        ),
        (
            Kind.NETWORKACL,
            admin_pb2.NetworkACL(
                name="a", action="deny", source_nodes=["no spaces"], destination_nodes=["*"]
            ),
            "invalid node selector",
        ),
        (Kind.ROUTE, admin_pb2.Route(name="r", node="n1"), "no destination CIDR"),
        (Kind.ROUTE, admin_pb2.Route(name="r", destination_cidrs=["10.0.0.0/8"]), "node id"),
        (Kind.PEERING, _peering(remote_public_key="nope"), "invalid WireGuard public key"),
        (Kind.PEERING, _peering(remote_endpoint="b-1.example"), "b-1.example"),
        (Kind.PEERING, _peering(export_cidrs=[]), "has no export CIDR"),
        (Kind.PEERING, _peering(accept_cidrs=[]), "has no accept CIDR"),
        (Kind.PEERING, _peering(accept_cidrs=["10.20.0.0/33"]), "10.20.0.0/33"),
        (Kind.PEERING, _peering(gateway=""), "node id"),
    ],
)
def test_invalid_messages_are_invalid_arguments(kind: Kind, message: Message, says: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        convert_admin.from_proto(kind, message)
    assert says in str(caught.value)


def test_a_message_of_another_kind_is_refused() -> None:
    with pytest.raises(errors.InvalidArgument, match=r"expected a webmesh\.v1\.Route"):
        convert_admin.from_proto(Kind.ROUTE, admin_pb2.Group(name="g"))


def test_rpc_names_match_the_permission_table() -> None:
    service = admin_pb2.DESCRIPTOR.services_by_name["Admin"]
    served = {f"/webmesh.v1.Admin/{m.name}" for m in service.methods}
    named = {
        f"/webmesh.v1.Admin/{spec.method(verb)}"
        for spec in convert_admin.ADMIN_KINDS.values()
        for verb in ("Put", "Get", "Delete", "List")
    }
    named.add("/webmesh.v1.Admin/RotateRaftKeys")  # not a kind of object: an action
    named.add("/webmesh.v1.Admin/RotateWireGuardKey")
    admin_entries = {m for m in METHOD_PERMISSIONS if m.startswith("/webmesh.v1.Admin/")}
    assert served == named == admin_entries
    assert len(served) == 26
