"""The one table from gRPC method to the permission it needs, and the check the interceptor runs.

Every RPC the node serves has an entry in ``METHOD_PERMISSIONS`` (a unit test walks the service
descriptors and fails on any gap); a method that is not in the table is denied by default.

An entry is one of:

- ``PUBLIC``: no authentication at all. Only gRPC health ``Check`` and ``Watch``: Kubernetes
  probes (and load balancers) cannot present credentials, and the answer ("SERVING") reveals
  nothing. Health ``List`` enumerates the services, so it needs authentication.
- ``ANY_AUTHENTICATED``: any authenticated caller, no role needed (reads of the mesh, a node's
  status, its peer stream, reflection: they reveal nothing that membership does not).
- ``Requires(actions)``: static RBAC actions.
- ``SelfOr(verb, resource)``: free for the node the request names (``request.id`` equals the
  caller's authenticated name, which *is* the node identity); anyone else needs
  ``verb resource/<id>``. Leave uses it: a node may leave by itself; removing another needs
  ``delete nodes``.
- ``RequiresFor(resolve)``: actions computed from the request and the caller (Join, Admin).

This module never imports generated protobuf code: a request is any object with attributes
(``id``, ``as_voter``, ``routes``, ``name``), read with ``getattr`` and a default, so a missing
field reads as empty. Static entries never look at the request (the interceptor may pass None,
for example for a client-streaming call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from webmesh import errors
from webmesh.authz.authorize import Action, RbacView
from webmesh.authz.model import Resource, Verb
from webmesh.authz.principal import Principal


@dataclass(frozen=True, slots=True)
class Public:
    """No authentication needed."""


@dataclass(frozen=True, slots=True)
class AnyAuthenticated:
    """Authentication needed, no role."""


@dataclass(frozen=True, slots=True)
class UnknownMethod:
    """The method is not in the table: deny it."""

    method: str


PUBLIC = Public()
ANY_AUTHENTICATED = AnyAuthenticated()


@dataclass(frozen=True, slots=True)
class Requires:
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class SelfOr:
    """Free for the node named by ``request.<attribute>``; others need ``verb resource/<id>``."""

    verb: Verb
    resource: Resource
    attribute: str = "id"


Resolver = Callable[[object, Principal | None], tuple[Action, ...]]


@dataclass(frozen=True, slots=True)
class RequiresFor:
    """Actions that depend on the request (and the caller); ``()`` means authentication only."""

    resolve: Resolver
    summary: str  # for humans: what the resolver asks for


MethodPermission = Public | AnyAuthenticated | Requires | SelfOr | RequiresFor
Requirement = tuple[Action, ...] | Public | AnyAuthenticated | UnknownMethod


def _str(request: object, attribute: str) -> str:
    value = getattr(request, attribute, "")
    return value if isinstance(value, str) else ""


def is_self(principal: Principal | None, node_id: str) -> bool:
    """Whether the caller is the node ``node_id``: its authenticated name is the node identity."""
    return principal is not None and bool(node_id) and principal.name == node_id


def _join(request: object, principal: Principal | None) -> tuple[Action, ...]:
    """Join: a node joins as itself freely; as another id it needs ``put nodes/<id>``.

    Joining as a voter needs ``put votes/<id>`` (the ``voters`` group has it), as an observer
    ``put replicas/<id>`` (every node has it by default): both put the joiner's Raft key where
    every replica admits it. Advertising routes needs ``put routes/<id>`` (a route attracts other
    nodes' traffic for its CIDRs).
    """
    node_id = _str(request, "id")
    actions: list[Action] = []
    if not is_self(principal, node_id):
        actions.append(Action(Verb.PUT, Resource.NODES, node_id))
    if bool(getattr(request, "as_voter", False)):
        actions.append(Action(Verb.PUT, Resource.VOTES, node_id))
    elif bool(getattr(request, "as_observer", False)):
        actions.append(Action(Verb.PUT, Resource.REPLICAS, node_id))
    if tuple(getattr(request, "routes", ()) or ()):
        actions.append(Action(Verb.PUT, Resource.ROUTES, node_id))
    return tuple(actions)


def _object_name(request: object, fields: tuple[str, ...]) -> str:
    """``request.name``, else ``request.<field>.name`` (a Put that carries the whole object)."""
    name = _str(request, "name")
    for field in fields:
        if name:
            break
        name = _str(getattr(request, field, None), "name")
    return name


def _named(verb: Verb, resource: Resource, fields: tuple[str, ...]) -> RequiresFor:
    def resolve(request: object, principal: Principal | None) -> tuple[Action, ...]:
        del principal
        return (Action(verb, resource, _object_name(request, fields)),)

    return RequiresFor(resolve, summary=f"{verb.value} {resource.value}/{{request.name}}")


# Admin objects: (message name, plural used by List, resource, attributes that may hold the object)
_ADMIN_OBJECTS: tuple[tuple[str, str, Resource, tuple[str, ...]], ...] = (
    ("Role", "Roles", Resource.ROLES, ("role",)),
    ("RoleBinding", "RoleBindings", Resource.ROLEBINDINGS, ("role_binding", "rolebinding")),
    ("Group", "Groups", Resource.GROUPS, ("group",)),
    ("NetworkACL", "NetworkACLs", Resource.NETWORKACLS, ("network_acl", "networkacl", "acl")),
    ("Route", "Routes", Resource.ROUTES, ("route",)),
    ("Peering", "Peerings", Resource.PEERINGS, ("peering",)),
)


def _admin_entries() -> dict[str, MethodPermission]:
    entries: dict[str, MethodPermission] = {}
    for kind, plural, resource, fields in _ADMIN_OBJECTS:
        prefix = "/webmesh.v1.Admin/"
        entries[f"{prefix}Put{kind}"] = _named(Verb.PUT, resource, fields)
        entries[f"{prefix}Get{kind}"] = _named(Verb.GET, resource, fields)
        entries[f"{prefix}Delete{kind}"] = _named(Verb.DELETE, resource, fields)
        entries[f"{prefix}List{plural}"] = Requires((Action(Verb.GET, resource),))
    return entries


METHOD_PERMISSIONS: Mapping[str, MethodPermission] = MappingProxyType(
    {
        "/webmesh.v1.Membership/Join": RequiresFor(
            _join,
            summary="self, or put nodes/{id}; + put votes/{id} if as_voter, else put "
            "replicas/{id} if as_observer; "
            "+ put routes/{id} if routes",
        ),
        "/webmesh.v1.Membership/Leave": SelfOr(Verb.DELETE, Resource.NODES),
        "/webmesh.v1.Membership/SubscribePeers": ANY_AUTHENTICATED,
        # Servers only: the voters' role has "put votes" (what a report decides is who counts
        # as online, which moves relays and purges nodes).
        "/webmesh.v1.Membership/ReportPresence": Requires((Action(Verb.PUT, Resource.VOTES),)),
        # A node reports its own hole punches; anyone else needs put nodes/<node_id>.
        "/webmesh.v1.Membership/ReportPath": SelfOr(Verb.PUT, Resource.NODES, "node_id"),
        "/webmesh.v1.Node/GetStatus": ANY_AUTHENTICATED,
        "/webmesh.v1.Mesh/GetNode": ANY_AUTHENTICATED,
        "/webmesh.v1.Mesh/ListNodes": ANY_AUTHENTICATED,
        "/webmesh.v1.Mesh/GetMeshGraph": ANY_AUTHENTICATED,
        "/webmesh.v1.Mesh/SaveSnapshot": Requires((Action(Verb.GET, Resource.SNAPSHOTS),)),
        **_admin_entries(),
        "/webmesh.v1.Admin/RotateRaftKeys": Requires((Action(Verb.PUT, Resource.RAFTKEYS),)),
        "/webmesh.v1.Admin/RotateWireGuardKey": SelfOr(Verb.PUT, Resource.NODES, "node_id"),
        "/grpc.health.v1.Health/Check": PUBLIC,
        "/grpc.health.v1.Health/Watch": PUBLIC,
        # List enumerates every registered service: probes never need it, so it is not public.
        "/grpc.health.v1.Health/List": ANY_AUTHENTICATED,
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": ANY_AUTHENTICATED,
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": ANY_AUTHENTICATED,
    }
)


def required_actions(
    method: str, request: object = None, principal: Principal | None = None
) -> Requirement:
    """What ``method`` called with ``request`` by ``principal`` needs. Never raises KeyError.

    Returns the RBAC actions to check (all of them), ``PUBLIC``, ``ANY_AUTHENTICATED`` (also when
    a dynamic entry needs no action, such as a node leaving by itself), or ``UnknownMethod``.
    """
    entry = METHOD_PERMISSIONS.get(method)
    match entry:
        case None:
            return UnknownMethod(method)
        case Public() | AnyAuthenticated():
            return entry
        case Requires(actions):
            return actions
        case SelfOr(verb, resource, attribute):
            node_id = _str(request, attribute)
            if is_self(principal, node_id):
                return ANY_AUTHENTICATED
            return (Action(verb, resource, node_id),)
        case RequiresFor(resolve, _):
            return resolve(request, principal) or ANY_AUTHENTICATED
    raise AssertionError(f"unhandled permission entry {entry!r}")  # pragma: no cover


def authorize_call(
    view: RbacView, principal: Principal | None, method: str, request: object = None
) -> None:
    """The interceptor's whole decision, for a mesh with RBAC on.

    Raises ``Unauthenticated`` when a non-public method has no principal, ``PermissionDenied``
    for an unknown method or a missing permission; returns when the call may proceed.
    """
    needed = required_actions(method, request, principal)
    if isinstance(needed, Public):
        return
    if isinstance(needed, UnknownMethod):
        raise errors.PermissionDenied(
            f"{method} is not in the permission table, so it is denied by default"
        )
    if principal is None:
        raise errors.Unauthenticated(
            f"{method} needs credentials (a client certificate, "
            "Basic or LDAP) and the call carried none"
        )
    if isinstance(needed, AnyAuthenticated):
        return
    view.require_all(principal, needed)
