"""The mesh's policy objects: RBAC (roles, bindings, groups), network ACLs, routes and peerings
with other meshes.

They live in the replicated state beside the nodes, are changed by ``PutObject`` /
``DeleteObject`` commands (administrators, through the Admin API), and are compiled once per change
into the views that decisions use (``RbacView``, ``AclView``, routes by node), so that checking a
call or computing a peer never walks every object.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from webmesh import errors
from webmesh.authz.acl import GROUP_PREFIX, AclAction, AclView, NetworkACL
from webmesh.authz.authorize import RbacView
from webmesh.authz.model import Group, Role, RoleBinding
from webmesh.mesh.model import validate_endpoint, validate_public_key
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
        validate_name(self.name, what="route")
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


@dataclass(frozen=True, slots=True)
class Peering:
    """A link to another mesh, which that mesh's administrators mirror with a peering of theirs.

    This mesh's ``gateway`` node and the other mesh's gateway (``remote_public_key``, at
    ``remote_endpoint``) become WireGuard peers. Every node here reaches ``accept_cidrs`` (the
    other mesh's prefixes it takes) through the gateway, as if a Route put them there, and so do
    network ACLs with destination CIDRs there; the gateway lets traffic from the other mesh
    reach only ``export_cidrs`` (this mesh's prefixes it offers), and drops the rest. Deleting
    the peering takes all of it away. A peering whose accepted prefixes overlap this mesh's
    networks, or another peering's, is refused (``check_peering``): a prefix would mean two
    places.
    """

    name: str
    gateway: str
    remote_public_key: str
    export_cidrs: tuple[str, ...]
    accept_cidrs: tuple[str, ...]
    remote_endpoint: str = ""  # "" when only the other gateway has an endpoint: it dials us

    def __post_init__(self) -> None:
        validate_name(self.name, what="peering")
        validate_node_id(self.gateway)
        validate_public_key(self.remote_public_key)
        if self.remote_endpoint:
            validate_endpoint(self.remote_endpoint)
        for what in ("export_cidrs", "accept_cidrs"):
            cidrs = tuple(validate_cidr(c) for c in as_tuple(getattr(self, what), what="cidrs"))
            if not cidrs:
                word = what.split("_")[0]
                raise errors.InvalidArgument(f"peering {self.name!r} has no {word} CIDR")
            object.__setattr__(self, what, cidrs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "gateway": self.gateway,
            "remote_public_key": self.remote_public_key,
            "remote_endpoint": self.remote_endpoint,
            "export_cidrs": list(self.export_cidrs),
            "accept_cidrs": list(self.accept_cidrs),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Peering:
        try:
            return cls(
                name=str(raw["name"]),
                gateway=str(raw["gateway"]),
                remote_public_key=str(raw["remote_public_key"]),
                remote_endpoint=str(raw.get("remote_endpoint", "")),
                export_cidrs=tuple(raw["export_cidrs"]),
                accept_cidrs=tuple(raw["accept_cidrs"]),
            )
        except (KeyError, TypeError) as exc:
            raise errors.InvalidArgument(f"malformed peering: {exc!r}") from exc


class Kind(enum.StrEnum):
    ROLE = "role"
    ROLEBINDING = "rolebinding"
    GROUP = "group"
    NETWORKACL = "networkacl"
    ROUTE = "route"
    PEERING = "peering"


MeshObject = Role | RoleBinding | Group | NetworkACL | Route | Peering
CLASSES: dict[Kind, Any] = {
    Kind.ROLE: Role,
    Kind.ROLEBINDING: RoleBinding,
    Kind.GROUP: Group,
    Kind.NETWORKACL: NetworkACL,
    Kind.ROUTE: Route,
    Kind.PEERING: Peering,
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
    # node id -> the CIDRs routed through it: Route objects, and what its peerings accept
    routes_by_node: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # gateway node id -> its peerings, by name
    peerings_by_gateway: Mapping[str, tuple[Peering, ...]] = field(
        default_factory=dict, compare=False
    )

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
    peerings: dict[str, list[Peering]] = {}
    for peering in frozen[Kind.PEERING].values():
        assert isinstance(peering, Peering)
        routes.setdefault(peering.gateway, []).extend(peering.accept_cidrs)
        peerings.setdefault(peering.gateway, []).append(peering)
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
        peerings_by_gateway={
            node: tuple(sorted(found, key=lambda p: p.name)) for node, found in peerings.items()
        },
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
    if isinstance(obj, Peering) and obj.gateway not in nodes and not allow_missing_nodes:
        return f"node {obj.gateway!r}"
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


def check_peering(peering: Peering, networks: tuple[str, ...], objects: Objects) -> None:
    """Refuse (``InvalidArgument``) a peering whose accepted prefixes overlap this mesh's
    ``networks`` or what another peering accepts: the same address would mean two places."""
    for accepted in peering.accept_cidrs:
        clash = next((n for n in networks if _overlap(accepted, n)), None)
        if clash is not None:
            raise errors.InvalidArgument(
                f"peering {peering.name}: the other mesh's {accepted} overlaps this mesh's "
                f"network {clash}; peered meshes need networks that do not overlap (bootstrap "
                "one with another --bootstrap.ipv4-network)"
            )
        for other in objects.by_kind[Kind.PEERING].values():
            assert isinstance(other, Peering)
            theirs = next((c for c in other.accept_cidrs if _overlap(accepted, c)), None)
            if other.name != peering.name and theirs is not None:
                raise errors.InvalidArgument(
                    f"peering {peering.name}: {accepted} overlaps {theirs}, which peering "
                    f"{other.name} accepts"
                )


def _overlap(a: str, b: str) -> bool:
    net_a, net_b = ipaddress.ip_network(a, strict=False), ipaddress.ip_network(b, strict=False)
    return net_a.version == net_b.version and net_a.overlaps(net_b)
