"""Conversions between the policy objects and the webmesh.v1 Admin messages.

Building a domain object validates it, so a bad message becomes an ``InvalidArgument`` that says
what is wrong (a bad verb, a bad CIDR, a missing side of an ACL) before anything is proposed.
``ADMIN_KINDS`` is the one table of kind -> message types and RPC names; the servicer, the
forwarder and the client all read it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from webmesh import errors
from webmesh.api.v1 import admin_pb2
from webmesh.authz.acl import NetworkACL
from webmesh.authz.model import Group, Role, RoleBinding, Rule, Subject
from webmesh.mesh.objects import Kind, MeshObject, Peering, Route
from webmesh.syntax import malformed


@dataclass(frozen=True, slots=True)
class AdminKind:
    """How one kind of object appears in the Admin API."""

    kind: Kind
    message: type[Message]  # the object's message (what Put takes and Get returns)
    # What List returns, with the objects in ``items``: a constructor, since protobuf's stubs
    # type ``Message.__init__`` without the generated fields.
    list_message: Callable[..., Message]
    rpc: str  # the RPCs are Put<rpc>, Get<rpc>, Delete<rpc> and List<plural_rpc>
    plural_rpc: str

    def method(self, verb: str) -> str:
        """The RPC name for ``verb`` (Put, Get, Delete or List)."""
        return f"List{self.plural_rpc}" if verb == "List" else f"{verb}{self.rpc}"


ADMIN_KINDS: dict[Kind, AdminKind] = {
    Kind.ROLE: AdminKind(Kind.ROLE, admin_pb2.Role, admin_pb2.RoleList, "Role", "Roles"),
    Kind.ROLEBINDING: AdminKind(
        Kind.ROLEBINDING,
        admin_pb2.RoleBinding,
        admin_pb2.RoleBindingList,
        "RoleBinding",
        "RoleBindings",
    ),
    Kind.GROUP: AdminKind(Kind.GROUP, admin_pb2.Group, admin_pb2.GroupList, "Group", "Groups"),
    Kind.NETWORKACL: AdminKind(
        Kind.NETWORKACL,
        admin_pb2.NetworkACL,
        admin_pb2.NetworkACLList,
        "NetworkACL",
        "NetworkACLs",
    ),
    Kind.ROUTE: AdminKind(Kind.ROUTE, admin_pb2.Route, admin_pb2.RouteList, "Route", "Routes"),
    Kind.PEERING: AdminKind(
        Kind.PEERING, admin_pb2.Peering, admin_pb2.PeeringList, "Peering", "Peerings"
    ),
}


# --- domain -> proto --------------------------------------------------------------------------


def _subject(subject: Subject) -> admin_pb2.Subject:
    return admin_pb2.Subject(kind=subject.kind.value, name=subject.name)


def role_to_proto(role: Role) -> admin_pb2.Role:
    return admin_pb2.Role(
        name=role.name,
        rules=[
            admin_pb2.Rule(
                verbs=[v.value for v in r.verbs],
                resources=[res.value for res in r.resources],
                resource_names=list(r.resource_names),
            )
            for r in role.rules
        ],
    )


def rolebinding_to_proto(binding: RoleBinding) -> admin_pb2.RoleBinding:
    return admin_pb2.RoleBinding(
        name=binding.name, role=binding.role, subjects=[_subject(s) for s in binding.subjects]
    )


def group_to_proto(group: Group) -> admin_pb2.Group:
    return admin_pb2.Group(name=group.name, members=[_subject(m) for m in group.members])


def networkacl_to_proto(acl: NetworkACL) -> admin_pb2.NetworkACL:
    return admin_pb2.NetworkACL(
        name=acl.name,
        priority=acl.priority,
        action=acl.action.value,
        source_nodes=list(acl.source_nodes),
        destination_nodes=list(acl.destination_nodes),
        source_cidrs=list(acl.source_cidrs),
        destination_cidrs=list(acl.destination_cidrs),
    )


def route_to_proto(route: Route) -> admin_pb2.Route:
    return admin_pb2.Route(
        name=route.name, node=route.node, destination_cidrs=list(route.destination_cidrs)
    )


def peering_to_proto(peering: Peering) -> admin_pb2.Peering:
    return admin_pb2.Peering(
        name=peering.name,
        gateway=peering.gateway,
        remote_public_key=peering.remote_public_key,
        remote_endpoint=peering.remote_endpoint,
        export_cidrs=list(peering.export_cidrs),
        accept_cidrs=list(peering.accept_cidrs),
    )


def to_proto(obj: MeshObject) -> Message:
    """Any policy object as its Admin message."""
    match obj:
        case Role():
            return role_to_proto(obj)
        case RoleBinding():
            return rolebinding_to_proto(obj)
        case Group():
            return group_to_proto(obj)
        case NetworkACL():
            return networkacl_to_proto(obj)
        case Route():
            return route_to_proto(obj)
        case Peering():
            return peering_to_proto(obj)
    raise AssertionError(f"unhandled object {obj!r}")  # pragma: no cover


def list_to_proto(kind: Kind, objects: Sequence[MeshObject]) -> Message:
    """The List response of ``kind``: the objects, in the order given."""
    return ADMIN_KINDS[kind].list_message(items=[to_proto(o) for o in objects])


# --- proto -> domain (validating) -------------------------------------------------------------


def _subject_from(message: admin_pb2.Subject) -> Subject:
    return Subject(kind=message.kind, name=message.name)  # type: ignore[arg-type]  # validated


def role_from_proto(message: admin_pb2.Role) -> Role:
    with malformed("role"):
        rules = tuple(
            Rule(
                verbs=tuple(r.verbs),  # type: ignore[arg-type]  # parsed and validated by Rule
                resources=tuple(r.resources),  # type: ignore[arg-type]
                resource_names=tuple(r.resource_names),
            )
            for r in message.rules
        )
        return Role(name=message.name, rules=rules)


def rolebinding_from_proto(message: admin_pb2.RoleBinding) -> RoleBinding:
    with malformed("role binding"):
        return RoleBinding(
            name=message.name,
            role=message.role,
            subjects=tuple(_subject_from(s) for s in message.subjects),
        )


def group_from_proto(message: admin_pb2.Group) -> Group:
    with malformed("group"):
        return Group(name=message.name, members=tuple(_subject_from(m) for m in message.members))


def networkacl_from_proto(message: admin_pb2.NetworkACL) -> NetworkACL:
    with malformed("network ACL"):
        return NetworkACL(
            name=message.name,
            priority=message.priority,
            action=message.action,  # type: ignore[arg-type]  # parsed and validated by NetworkACL
            source_nodes=tuple(message.source_nodes),
            destination_nodes=tuple(message.destination_nodes),
            source_cidrs=tuple(message.source_cidrs),
            destination_cidrs=tuple(message.destination_cidrs),
        )


def route_from_proto(message: admin_pb2.Route) -> Route:
    with malformed("route"):
        return Route(
            name=message.name, node=message.node, destination_cidrs=tuple(message.destination_cidrs)
        )


def peering_from_proto(message: admin_pb2.Peering) -> Peering:
    with malformed("peering"):
        return Peering(
            name=message.name,
            gateway=message.gateway,
            remote_public_key=message.remote_public_key,
            remote_endpoint=message.remote_endpoint,
            export_cidrs=tuple(message.export_cidrs),
            accept_cidrs=tuple(message.accept_cidrs),
        )


_FROM_PROTO: dict[Kind, Any] = {
    Kind.ROLE: role_from_proto,
    Kind.ROLEBINDING: rolebinding_from_proto,
    Kind.GROUP: group_from_proto,
    Kind.NETWORKACL: networkacl_from_proto,
    Kind.ROUTE: route_from_proto,
    Kind.PEERING: peering_from_proto,
}


def from_proto(kind: Kind, message: Message) -> MeshObject:
    """The policy object of ``kind`` a message describes; ``InvalidArgument`` when it is bad."""
    expected = ADMIN_KINDS[kind].message
    if not isinstance(message, expected):
        raise errors.InvalidArgument(
            f"expected a {expected.DESCRIPTOR.full_name}, got {message.DESCRIPTOR.full_name}"
        )
    obj: MeshObject = _FROM_PROTO[kind](message)
    return obj
