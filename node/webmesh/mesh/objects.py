"""The mesh's policy objects: RBAC (roles, bindings, groups), network ACLs and routes.

They live in the replicated state beside the nodes, are changed by ``PutObject`` /
``DeleteObject`` commands (administrators, through the Admin API), and are compiled once per change
into the views that decisions use (``RbacView``, ``AclView``, routes by node), so that checking a
call or computing a peer never walks every object.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from webmesh import errors
from webmesh.authz.acl import GROUP_PREFIX, AclAction, AclView, NetworkACL
from webmesh.authz.authorize import RbacView
from webmesh.authz.model import Group, Role, RoleBinding
from webmesh.syntax import as_tuple, validate_cidr, validate_name, validate_node_id


@dataclass(frozen=True, slots=True)
class Route:
    """CIDRs reachable through a node (besides what the node itself advertises).

    The node must be in the mesh when the route is put (``check_references``).
    """

    name: str
    node: str
    destination_cidrs: tuple[str, ...]

    def __post_init__(self) -> None:
        validate_name(self.name, what="route name")
        validate_node_id(self.node)
        cidrs = tuple(validate_cidr(c) for c in as_tuple(self.destination_cidrs, what="cidrs"))
        if not cidrs:
            raise errors.InvalidArgument(f"route {self.name!r} has no destination CIDR")
        object.__setattr__(self, "destination_cidrs", cidrs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": self.node,
            "destination_cidrs": list(self.destination_cidrs),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Route:
        try:
            return cls(str(raw["name"]), str(raw["node"]), tuple(raw["destination_cidrs"]))
        except (KeyError, TypeError) as exc:
            raise errors.InvalidArgument(f"malformed route: {exc!r}") from exc


class Kind(enum.StrEnum):
    ROLE = "role"
    ROLEBINDING = "rolebinding"
    GROUP = "group"
    NETWORKACL = "networkacl"
    ROUTE = "route"


MeshObject = Role | RoleBinding | Group | NetworkACL | Route
CLASSES: dict[Kind, Any] = {
    Kind.ROLE: Role,
    Kind.ROLEBINDING: RoleBinding,
    Kind.GROUP: Group,
    Kind.NETWORKACL: NetworkACL,
    Kind.ROUTE: Route,
}


def parse_kind(kind: str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise errors.InvalidArgument(
            f"unknown object kind {kind!r}: use one of {', '.join(k.value for k in Kind)}"
        ) from None


def from_dict(kind: Kind, raw: Mapping[str, Any]) -> MeshObject:
    obj: MeshObject = CLASSES[kind].from_dict(raw)
    return obj


@dataclass(frozen=True, slots=True)
class Policy:
    """Mesh-wide security settings, fixed at bootstrap."""

    rbac_enabled: bool = True
    default_network_policy: AclAction = AclAction.ACCEPT

    def to_dict(self) -> dict[str, Any]:
        return {
            "rbac": self.rbac_enabled,
            "default_network_policy": self.default_network_policy.value,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Policy:
        return cls(
            rbac_enabled=bool(raw.get("rbac", True)),
            default_network_policy=AclAction(raw.get("default_network_policy", "accept")),
        )


_NO_OBJECTS: Mapping[Kind, Mapping[str, MeshObject]] = MappingProxyType(
    {kind: MappingProxyType({}) for kind in Kind}
)


@dataclass(frozen=True, slots=True)
class Objects:
    """All policy objects by kind and name, with their compiled views."""

    by_kind: Mapping[Kind, Mapping[str, MeshObject]] = field(default_factory=lambda: _NO_OBJECTS)
    policy: Policy = field(default_factory=Policy)
    # Derived from by_kind and policy (so left out of equality):
    rbac: RbacView = field(default_factory=RbacView, compare=False)
    acl: AclView = field(default_factory=AclView, compare=False)
    routes_by_node: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    @property
    def acl_is_trivial(self) -> bool:
        """No ACL and a default accept: every pair may talk (the fast, O(1) peer path)."""
        return not self.acl.acls and self.acl.default_policy is AclAction.ACCEPT

    def get(self, kind: Kind, name: str) -> MeshObject:
        try:
            return self.by_kind[kind][name]
        except KeyError:
            raise errors.NotFound(f"{kind.value} {name!r} not found") from None

    def with_policy(self, policy: Policy) -> Objects:
        return compile_objects(self.by_kind, policy)

    def put(self, kind: Kind, obj: MeshObject) -> Objects:
        by_kind = dict(self.by_kind)
        by_kind[kind] = MappingProxyType({**self.by_kind[kind], obj.name: obj})
        return compile_objects(by_kind, self.policy)

    def delete(self, kind: Kind, name: str) -> Objects:
        self.get(kind, name)
        by_kind = dict(self.by_kind)
        by_kind[kind] = MappingProxyType({k: v for k, v in self.by_kind[kind].items() if k != name})
        return compile_objects(by_kind, self.policy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_dict(),
            **{
                kind.value: [o.to_dict() for _, o in sorted(self.by_kind[kind].items())]
                for kind in Kind
            },
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Objects:
        by_kind = {
            kind: {o.name: o for o in (from_dict(kind, item) for item in raw.get(kind.value, ()))}
            for kind in Kind
        }
        return compile_objects(by_kind, Policy.from_dict(raw.get("policy", {})))


def compile_objects(by_kind: Mapping[Kind, Mapping[str, MeshObject]], policy: Policy) -> Objects:
    """Rebuild the views: O(objects), once per object change (rare), never per decision."""
    frozen = MappingProxyType({kind: MappingProxyType(dict(by_kind[kind])) for kind in Kind})
    groups: dict[str, Group] = dict(frozen[Kind.GROUP])  # type: ignore[arg-type]
    routes: dict[str, list[str]] = {}
    for route in frozen[Kind.ROUTE].values():
        assert isinstance(route, Route)
        routes.setdefault(route.node, []).extend(route.destination_cidrs)
    return Objects(
        by_kind=frozen,
        policy=policy,
        rbac=RbacView(
            roles=dict(frozen[Kind.ROLE]),  # type: ignore[arg-type]
            rolebindings=dict(frozen[Kind.ROLEBINDING]),  # type: ignore[arg-type]
            groups=groups,
        ),
        acl=AclView(frozen[Kind.NETWORKACL].values(), groups, policy.default_network_policy),  # type: ignore[arg-type]
        routes_by_node={node: tuple(sorted(set(cidrs))) for node, cidrs in routes.items()},
    )


def check_references(
    kind: Kind,
    obj: MeshObject,
    objects: Objects,
    nodes: Container[str],
    allow_missing_nodes: bool = False,
) -> None:
    """Refuse (``NotFound``) an object that names a node, group or role the mesh does not hold.

    A typo (``--node nosuch``) would otherwise be stored and silently route, grant or select
    nothing. Checked: a route's node, a role binding's role, and a network ACL's node ids and
    ``group:NAME`` selectors (those only ever select ``Group`` objects). Node ids of routes and
    ACLs are accepted only with ``allow_missing_nodes`` (``wmctl put ... --allow-missing-nodes``):
    policy written on purpose before its nodes join. Not checked, on purpose:

    - the wildcard ``*``: it names no object;
    - node subjects of bindings: they are identities allowed to do something, often before the
      node exists (the binding that lets ``server-2`` join as a voter must come first; the
      built-in ``replicas`` binding names ``node *``);
    - user subjects: users come from the authenticators (mTLS, Basic, LDAP), never the state;
    - group subjects of bindings: they may name a group the authenticator reports (an LDAP
      group), which is not a ``Group`` object (see ``RoleBinding``).

    Only puts are checked: deleting a node, group or role that is still named is allowed, and
    the dangling reference then routes, grants or selects nothing.
    """
    missing = _missing_reference(obj, objects, nodes, allow_missing_nodes)
    if missing:
        raise errors.NotFound(f"{kind.value} {obj.name}: {missing} is not in the mesh")


def _missing_reference(
    obj: MeshObject, objects: Objects, nodes: Container[str], allow_missing_nodes: bool
) -> str:
    """The first checked reference of ``obj`` that does not resolve ("" when all do)."""
    if isinstance(obj, Route) and obj.node not in nodes and not allow_missing_nodes:
        return f"node {obj.node!r}"
    if isinstance(obj, RoleBinding) and obj.role not in objects.by_kind[Kind.ROLE]:
        return f"role {obj.role!r}"
    if isinstance(obj, NetworkACL):
        for selector in (*obj.source_nodes, *obj.destination_nodes):
            if selector.startswith(GROUP_PREFIX):
                group = selector.removeprefix(GROUP_PREFIX)
                if group not in objects.by_kind[Kind.GROUP]:
                    return f"group {group!r}"
            elif selector != "*" and selector not in nodes and not allow_missing_nodes:
                return f"node {selector!r}"
    return ""
