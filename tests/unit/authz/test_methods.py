"""METHOD_PERMISSIONS: every served RPC has an entry, and each entry asks for the right thing."""

from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

import webmesh.api.v1
from webmesh import errors
from webmesh.api.v1 import membership_pb2
from webmesh.authz import methods, model
from webmesh.authz.authorize import Action, RbacView
from webmesh.authz.methods import (
    ANY_AUTHENTICATED,
    METHOD_PERMISSIONS,
    PUBLIC,
    UnknownMethod,
    authorize_call,
    required_actions,
)
from webmesh.authz.model import Resource, Role, RoleBinding, Rule, Subject, SubjectKind, Verb
from webmesh.authz.principal import Principal

G, P, D = Verb.GET, Verb.PUT, Verb.DELETE


def webmesh_descriptors() -> list[FileDescriptor]:
    """Every generated *_pb2 module of webmesh.api.v1, so a new service (Admin) is walked too."""
    found = []
    for info in pkgutil.iter_modules(webmesh.api.v1.__path__):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"webmesh.api.v1.{info.name}")
            found.append(module.DESCRIPTOR)
    return found


def served_methods() -> list[str]:
    names = []
    for descriptor in (*webmesh_descriptors(), health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR):
        for service in descriptor.services_by_name.values():
            names.extend(f"/{service.full_name}/{m.name}" for m in service.methods)
    return names


def test_descriptors_are_found() -> None:
    methods_found = served_methods()
    assert "/webmesh.v1.Membership/Join" in methods_found
    assert "/webmesh.v1.Node/GetStatus" in methods_found
    assert "/grpc.health.v1.Health/Check" in methods_found
    assert len(methods_found) >= 10


@pytest.mark.parametrize("method", served_methods())
def test_every_served_rpc_has_an_entry(method: str) -> None:
    assert method in METHOD_PERMISSIONS, f"{method} lacks an entry in METHOD_PERMISSIONS"
    assert not isinstance(required_actions(method, None), UnknownMethod)


def test_admin_service_is_in_the_table_before_it_exists() -> None:
    kinds = ("Role", "RoleBinding", "Group", "NetworkACL", "Route", "Peering")
    plurals = ("Roles", "RoleBindings", "Groups", "NetworkACLs", "Routes", "Peerings")
    for kind, plural in zip(kinds, plurals, strict=True):
        for verb in ("Put", "Get", "Delete"):
            assert f"/webmesh.v1.Admin/{verb}{kind}" in METHOD_PERMISSIONS
        assert f"/webmesh.v1.Admin/List{plural}" in METHOD_PERMISSIONS
    admin = [m for m in METHOD_PERMISSIONS if m.startswith("/webmesh.v1.Admin/")]
    assert len(admin) == 26  # 4 per kind, RotateRaftKeys and RotateWireGuardKey


NODE_A = Principal.node("a")
ALICE = Principal.user("alice")


def join(**fields: Any) -> membership_pb2.JoinRequest:
    return membership_pb2.JoinRequest(**fields)


CASES: list[tuple[str, object, Principal | None, object]] = [
    # public and any-authenticated
    ("/grpc.health.v1.Health/Check", None, None, PUBLIC),
    ("/grpc.health.v1.Health/Watch", None, None, PUBLIC),
    ("/grpc.health.v1.Health/List", None, None, ANY_AUTHENTICATED),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        None,
        ALICE,
        ANY_AUTHENTICATED,
    ),
    ("/webmesh.v1.Node/GetStatus", None, ALICE, ANY_AUTHENTICATED),
    ("/webmesh.v1.Mesh/GetNode", SimpleNamespace(id="b"), ALICE, ANY_AUTHENTICATED),
    ("/webmesh.v1.Mesh/ListNodes", None, ALICE, ANY_AUTHENTICATED),
    ("/webmesh.v1.Mesh/GetMeshGraph", None, ALICE, ANY_AUTHENTICATED),
    ("/webmesh.v1.Membership/SubscribePeers", SimpleNamespace(id="b"), NODE_A, ANY_AUTHENTICATED),
    # Join: self is free; another id needs put nodes; voter and routes add actions
    ("/webmesh.v1.Membership/Join", join(id="a"), NODE_A, ANY_AUTHENTICATED),
    ("/webmesh.v1.Membership/Join", join(id="b"), NODE_A, (Action(P, Resource.NODES, "b"),)),
    ("/webmesh.v1.Membership/Join", join(id="a"), None, (Action(P, Resource.NODES, "a"),)),
    (
        "/webmesh.v1.Membership/Join",
        join(id="a", as_voter=True),
        NODE_A,
        (Action(P, Resource.VOTES, "a"),),
    ),
    (
        "/webmesh.v1.Membership/Join",
        join(id="b", as_voter=True, routes=["10.0.0.0/24"]),
        ALICE,
        (
            Action(P, Resource.NODES, "b"),
            Action(P, Resource.VOTES, "b"),
            Action(P, Resource.ROUTES, "b"),
        ),
    ),
    # keeping a replica: put replicas, unless joining as a voter (put votes covers it)
    (
        "/webmesh.v1.Membership/Join",
        join(id="a", as_observer=True),
        NODE_A,
        (Action(P, Resource.REPLICAS, "a"),),
    ),
    (
        "/webmesh.v1.Membership/Join",
        join(id="a", as_voter=True, as_observer=True),
        NODE_A,
        (Action(P, Resource.VOTES, "a"),),
    ),
    ("/webmesh.v1.Admin/RotateRaftKeys", None, ALICE, (Action(P, Resource.RAFTKEYS),)),
    # RotateWireGuardKey: a node for itself, else put nodes/<id>
    (
        "/webmesh.v1.Admin/RotateWireGuardKey",
        SimpleNamespace(node_id="a"),
        NODE_A,
        ANY_AUTHENTICATED,
    ),
    (
        "/webmesh.v1.Admin/RotateWireGuardKey",
        SimpleNamespace(node_id="b"),
        NODE_A,
        (Action(P, Resource.NODES, "b"),),
    ),
    # Leave: self only, else delete nodes/<id>
    ("/webmesh.v1.Membership/Leave", SimpleNamespace(id="a"), NODE_A, ANY_AUTHENTICATED),
    (
        "/webmesh.v1.Membership/Leave",
        SimpleNamespace(id="b"),
        NODE_A,
        (Action(D, Resource.NODES, "b"),),
    ),
    ("/webmesh.v1.Membership/Leave", SimpleNamespace(), NODE_A, (Action(D, Resource.NODES),)),
    # Admin: the name comes from request.name, or from the object the request carries
    (
        "/webmesh.v1.Admin/PutNetworkACL",
        SimpleNamespace(name="deny-b-c"),
        ALICE,
        (Action(P, Resource.NETWORKACLS, "deny-b-c"),),
    ),
    (
        "/webmesh.v1.Admin/PutRoleBinding",
        SimpleNamespace(role_binding=SimpleNamespace(name="b1")),
        ALICE,
        (Action(P, Resource.ROLEBINDINGS, "b1"),),
    ),
    (
        "/webmesh.v1.Admin/DeleteRole",
        SimpleNamespace(name="r"),
        ALICE,
        (Action(D, Resource.ROLES, "r"),),
    ),
    (
        "/webmesh.v1.Admin/GetGroup",
        SimpleNamespace(name="g"),
        ALICE,
        (Action(G, Resource.GROUPS, "g"),),
    ),
    ("/webmesh.v1.Admin/ListRoutes", None, ALICE, (Action(G, Resource.ROUTES),)),
    ("/webmesh.v1.Admin/ListNetworkACLs", None, ALICE, (Action(G, Resource.NETWORKACLS),)),
    ("/webmesh.v1.Admin/PutRoute", None, ALICE, (Action(P, Resource.ROUTES),)),
    (
        "/webmesh.v1.Admin/PutPeering",
        SimpleNamespace(name="to-b"),
        ALICE,
        (Action(P, Resource.PEERINGS, "to-b"),),
    ),
    (
        "/webmesh.v1.Admin/DeletePeering",
        SimpleNamespace(name="to-b"),
        ALICE,
        (Action(D, Resource.PEERINGS, "to-b"),),
    ),
    (
        "/webmesh.v1.Admin/GetPeering",
        SimpleNamespace(name="to-b"),
        ALICE,
        (Action(G, Resource.PEERINGS, "to-b"),),
    ),
    ("/webmesh.v1.Admin/ListPeerings", None, ALICE, (Action(G, Resource.PEERINGS),)),
    # unknown
    ("/webmesh.v1.Nope/Nothing", None, ALICE, UnknownMethod("/webmesh.v1.Nope/Nothing")),
]


@pytest.mark.parametrize(("method", "request_", "principal", "expected"), CASES)
def test_required_actions(
    method: str, request_: object, principal: Principal | None, expected: object
) -> None:
    assert required_actions(method, request_, principal) == expected


def test_every_entry_resolves_without_a_request() -> None:
    for method in METHOD_PERMISSIONS:
        result = required_actions(method, None, None)
        assert not isinstance(result, UnknownMethod)


SEED = model.bootstrap_rbac("admin", ["v1"])
VIEW = RbacView.from_objects(
    (*SEED.roles, Role("acl", (Rule(verbs=(P,), resources=(Resource.NETWORKACLS,)),))),
    (
        *SEED.rolebindings,
        RoleBinding("acl", role="acl", subjects=(Subject(SubjectKind.USER, "o"),)),
    ),
    SEED.groups,
)


@pytest.mark.parametrize(
    ("principal", "method", "request_", "error"),
    [
        (None, "/grpc.health.v1.Health/Check", None, None),
        (None, "/webmesh.v1.Node/GetStatus", None, errors.Unauthenticated),
        (ALICE, "/webmesh.v1.Node/GetStatus", None, None),
        (ALICE, "/webmesh.v1.Nope/X", None, errors.PermissionDenied),
        (None, "/webmesh.v1.Nope/X", None, errors.PermissionDenied),
        (
            ALICE,
            "/webmesh.v1.Admin/PutNetworkACL",
            SimpleNamespace(name="x"),
            errors.PermissionDenied,
        ),
        (Principal.user("o"), "/webmesh.v1.Admin/PutNetworkACL", SimpleNamespace(name="x"), None),
        (Principal.user("admin"), "/webmesh.v1.Admin/DeleteRole", SimpleNamespace(name="x"), None),
        # voters: a voter node joins as itself; another node may join but not as a voter
        (Principal.node("v1"), "/webmesh.v1.Membership/Join", join(id="v1", as_voter=True), None),
        (NODE_A, "/webmesh.v1.Membership/Join", join(id="a"), None),
        (
            NODE_A,
            "/webmesh.v1.Membership/Join",
            join(id="a", as_voter=True),
            errors.PermissionDenied,
        ),
        (NODE_A, "/webmesh.v1.Membership/Join", join(id="v1"), errors.PermissionDenied),
        # replicas: every node (node/*) by default, no user unless bound
        (NODE_A, "/webmesh.v1.Membership/Join", join(id="a", as_observer=True), None),
        (
            ALICE,
            "/webmesh.v1.Membership/Join",
            join(id="alice", as_observer=True),
            errors.PermissionDenied,
        ),
        (ALICE, "/webmesh.v1.Membership/Join", join(id="alice"), None),  # a client
        (NODE_A, "/webmesh.v1.Admin/RotateRaftKeys", None, errors.PermissionDenied),
        (Principal.user("admin"), "/webmesh.v1.Admin/RotateRaftKeys", None, None),
        (NODE_A, "/webmesh.v1.Membership/Leave", SimpleNamespace(id="a"), None),
        (NODE_A, "/webmesh.v1.Membership/Leave", SimpleNamespace(id="v1"), errors.PermissionDenied),
        (Principal.node("admin"), "/webmesh.v1.Membership/Leave", SimpleNamespace(id="v1"), None),
    ],
)
def test_authorize_call(
    principal: Principal | None, method: str, request_: object, error: type[Exception] | None
) -> None:
    if error is None:
        authorize_call(VIEW, principal, method, request_)
    else:
        with pytest.raises(error):
            authorize_call(VIEW, principal, method, request_)


def test_denial_names_the_method_or_the_missing_permission() -> None:
    with pytest.raises(errors.PermissionDenied, match="not in the permission table"):
        authorize_call(VIEW, ALICE, "/x.Y/Z", None)
    with pytest.raises(errors.PermissionDenied, match="node a may not put votes/a"):
        authorize_call(VIEW, NODE_A, "/webmesh.v1.Membership/Join", join(id="a", as_voter=True))


def test_entries_describe_themselves() -> None:
    for method, entry in METHOD_PERMISSIONS.items():
        if isinstance(entry, methods.RequiresFor):
            assert entry.summary, method
