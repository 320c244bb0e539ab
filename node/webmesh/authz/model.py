"""RBAC objects as the replicated state stores them: rules, roles, subjects, bindings, groups.

Semantics follow Kubernetes RBAC: rules only ever *allow*; a role is a set of rules; a role
binding grants one role to subjects (nodes, users or groups); a group gathers nodes and users.
Every object validates itself when built (raising ``InvalidArgument``) and converts to and from
plain JSON-able dicts, because it travels in commands and lives in snapshots.

Names of stored objects (roles, bindings, groups, network ACLs) are DNS-label-like. The name a
subject or group member carries is an *identity* (what authentication produced: a node id, a
certificate CN, an htpasswd user, an LDAP uid or group), so it is only checked to be printable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from webmesh import errors
from webmesh.syntax import (
    NODE_ID_PATTERN,
    as_tuple,
    malformed,
    parse_enum,
    validate_identity,
    validate_name,
    validate_node_id,
)


class Verb(enum.StrEnum):
    GET = "get"
    PUT = "put"
    DELETE = "delete"
    ALL = "*"


class Resource(enum.StrEnum):
    NODES = "nodes"
    VOTES = "votes"  # "put votes/<node id>": the node may join (or be promoted) as a Raft voter
    # "put replicas/<node id>": the node may keep a replica of the state (join as an observer),
    # so its Raft key is admitted by the other replicas
    REPLICAS = "replicas"
    RAFTKEYS = "raftkeys"  # "put raftkeys": make every replica replace its Raft key
    SNAPSHOTS = "snapshots"  # "get snapshots": read the whole state at once (wmctl snapshot)
    ROLES = "roles"
    ROLEBINDINGS = "rolebindings"
    GROUPS = "groups"
    NETWORKACLS = "networkacls"
    ROUTES = "routes"
    # "put peerings/<name>": link the mesh to another one (its gateway becomes a WireGuard peer
    # and its prefixes are routed in), so it is as sensitive as routes and network ACLs
    PEERINGS = "peerings"
    ALL = "*"


class SubjectKind(enum.StrEnum):
    NODE = "node"
    USER = "user"
    GROUP = "group"


def validate_resource_name(name: object) -> str:
    """A name a rule may restrict to: a node id or an object name (node ids are the superset)."""
    if not isinstance(name, str) or not NODE_ID_PATTERN.match(name):
        raise errors.InvalidArgument(
            f"invalid resource name {name!r} in a rule: use letters, digits, '.', '_' or '-' "
            "(leave resource_names empty to mean every name)"
        )
    return name


@dataclass(frozen=True, slots=True)
class Rule:
    """Allows each of ``verbs`` on each of ``resources`` (restricted to ``resource_names``)."""

    verbs: tuple[Verb, ...]
    resources: tuple[Resource, ...]
    resource_names: tuple[str, ...] = ()  # empty: every name

    def __post_init__(self) -> None:
        verbs = as_tuple(self.verbs, what="verbs")
        resources = as_tuple(self.resources, what="resources")
        names = as_tuple(self.resource_names, what="resource_names")
        if not verbs:
            raise errors.InvalidArgument("a rule needs at least one verb (get, put, delete or *)")
        if not resources:
            raise errors.InvalidArgument("a rule needs at least one resource ('*' for all)")
        object.__setattr__(self, "verbs", tuple(parse_enum(Verb, v, what="verb") for v in verbs))
        object.__setattr__(
            self, "resources", tuple(parse_enum(Resource, r, what="resource") for r in resources)
        )
        object.__setattr__(self, "resource_names", tuple(validate_resource_name(n) for n in names))

    def allows(self, verb: Verb, resource: Resource, name: str = "") -> bool:
        """Whether this rule grants ``verb`` on ``resource/name``.

        A rule restricted by ``resource_names`` never matches an unnamed action (a List), as in
        Kubernetes: a name restriction cannot grant access to every name.
        """
        if verb not in self.verbs and Verb.ALL not in self.verbs:
            return False
        if resource not in self.resources and Resource.ALL not in self.resources:
            return False
        return not self.resource_names or name in self.resource_names

    def to_dict(self) -> dict[str, Any]:
        return {
            "verbs": [v.value for v in self.verbs],
            "resources": [r.value for r in self.resources],
            "resource_names": list(self.resource_names),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Rule:
        with malformed("rule"):
            return cls(
                verbs=as_tuple(raw["verbs"], what="verbs"),
                resources=as_tuple(raw["resources"], what="resources"),
                resource_names=as_tuple(raw.get("resource_names", ()), what="resource_names"),
            )


@dataclass(frozen=True, slots=True)
class Role:
    """A named set of rules. A role with no rules grants nothing (allowed, as in Kubernetes)."""

    name: str
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        validate_name(self.name, what="role")
        rules = as_tuple(self.rules, what="rules")
        for rule in rules:
            if not isinstance(rule, Rule):
                raise errors.InvalidArgument(f"role {self.name}: {rule!r} is not a Rule")
        object.__setattr__(self, "rules", rules)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rules": [r.to_dict() for r in self.rules]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Role:
        with malformed("role"):
            rules = as_tuple(raw.get("rules", ()), what="rules")
            return cls(name=raw["name"], rules=tuple(Rule.from_dict(r) for r in rules))


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a binding grants to, or who belongs to a group."""

    kind: SubjectKind
    name: str

    def __post_init__(self) -> None:
        kind = parse_enum(SubjectKind, self.kind, what="subject kind")
        object.__setattr__(self, "kind", kind)
        if kind is SubjectKind.NODE:
            if not isinstance(self.name, str):
                raise errors.InvalidArgument(f"invalid node id {self.name!r}: not a string")
            if self.name != EVERY:
                validate_node_id(self.name)
        elif kind is SubjectKind.GROUP and self.name == EVERY:
            raise errors.InvalidArgument(
                "a group subject names one group: '*' is for nodes or users"
            )
        else:
            validate_identity(self.name, what=f"{kind.value} name")

    @property
    def key(self) -> tuple[SubjectKind, str]:
        return (self.kind, self.name)

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Subject:
        with malformed("subject"):
            return cls(kind=raw["kind"], name=raw["name"])


def _subjects(raw: object, *, what: str) -> tuple[Subject, ...]:
    subjects = as_tuple(raw, what=what)
    for subject in subjects:
        if not isinstance(subject, Subject):
            raise errors.InvalidArgument(f"{what}: {subject!r} is not a Subject")
    return subjects


@dataclass(frozen=True, slots=True)
class RoleBinding:
    """Grants ``role`` to ``subjects``.

    A group subject names either a ``Group`` object or a group the authenticator reports (an LDAP
    group): both count, so group subjects are not checked to exist. Putting a binding to a role
    that does not exist is refused (``NotFound``); one whose role is deleted later grants nothing
    until the role is back.
    """

    name: str
    role: str
    subjects: tuple[Subject, ...]

    def __post_init__(self) -> None:
        validate_name(self.name, what="role binding")
        validate_name(self.role, what="role")
        object.__setattr__(self, "subjects", _subjects(self.subjects, what="subjects"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "subjects": [s.to_dict() for s in self.subjects],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RoleBinding:
        with malformed("role binding"):
            subjects = as_tuple(raw.get("subjects", ()), what="subjects")
            return cls(
                name=raw["name"],
                role=raw["role"],
                subjects=tuple(Subject.from_dict(s) for s in subjects),
            )


@dataclass(frozen=True, slots=True)
class Group:
    """A named set of nodes and users (groups do not nest)."""

    name: str
    members: tuple[Subject, ...] = ()

    def __post_init__(self) -> None:
        validate_name(self.name, what="group")
        members = _subjects(self.members, what="members")
        for member in members:
            if member.kind is SubjectKind.GROUP:
                raise errors.InvalidArgument(
                    f"group {self.name}: member {member} is a group; groups contain only nodes "
                    "and users"
                )
        object.__setattr__(self, "members", members)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "members": [m.to_dict() for m in self.members]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Group:
        with malformed("group"):
            members = as_tuple(raw.get("members", ()), what="members")
            return cls(name=raw["name"], members=tuple(Subject.from_dict(m) for m in members))


# --- built-ins ------------------------------------------------------------------------------

MESH_ADMIN = "mesh-admin"  # role and role binding: everything
VOTERS = "voters"  # role (put votes), role binding (to the group) and group (the voter nodes)
REPLICAS = "replicas"  # role (put replicas) and role binding (by default to every node)
EVERY = "*"  # a subject named "*": every authenticated principal of its kind

MESH_ADMIN_ROLE = Role(MESH_ADMIN, (Rule(verbs=(Verb.ALL,), resources=(Resource.ALL,)),))
VOTERS_ROLE = Role(
    VOTERS, (Rule(verbs=(Verb.PUT,), resources=(Resource.VOTES, Resource.REPLICAS)),)
)
REPLICAS_ROLE = Role(REPLICAS, (Rule(verbs=(Verb.PUT,), resources=(Resource.REPLICAS,)),))

_BUILTIN: Mapping[Resource, frozenset[str]] = {
    Resource.ROLES: frozenset({MESH_ADMIN, VOTERS, REPLICAS}),
    Resource.ROLEBINDINGS: frozenset({MESH_ADMIN, VOTERS, REPLICAS}),
    Resource.GROUPS: frozenset({VOTERS}),
}
# Built-ins whose content the Admin API must not change either. The voters group is not among
# them (its members change as voters join and leave), nor is the replicas binding: a mesh that
# wants fewer replicas than every node binds the role to a group of its choice instead.
_READ_ONLY: Mapping[Resource, frozenset[str]] = {
    Resource.ROLES: frozenset({MESH_ADMIN, VOTERS, REPLICAS}),
    Resource.ROLEBINDINGS: frozenset({MESH_ADMIN, VOTERS}),
}


def is_builtin(kind: Resource | str, name: str) -> bool:
    """Whether ``kind/name`` is seeded at bootstrap and so cannot be deleted."""
    return name in _BUILTIN.get(parse_enum(Resource, kind, what="resource"), frozenset())


def is_read_only(kind: Resource | str, name: str) -> bool:
    """Whether ``kind/name`` is a built-in the Admin API may not overwrite (nor delete)."""
    return name in _READ_ONLY.get(parse_enum(Resource, kind, what="resource"), frozenset())


class RbacSeed(NamedTuple):
    roles: tuple[Role, ...]
    rolebindings: tuple[RoleBinding, ...]
    groups: tuple[Group, ...]


def bootstrap_rbac(admin: str, voters: Sequence[str]) -> RbacSeed:
    """The RBAC objects a new mesh starts with (as upstream webmesh seeds them).

    - role ``mesh-admin`` (``*`` on ``*``), bound by ``mesh-admin`` to user ``admin`` and, when
      ``admin`` is also a valid node id, to node ``admin``;
    - role ``voters`` (``put votes`` and ``put replicas``), bound by ``voters`` to group
      ``voters``;
    - group ``voters`` with the given voter node ids (duplicates dropped, order kept);
    - role ``replicas`` (``put replicas``), bound by ``replicas`` to every node (``node/*``):
      any node authenticated as itself may keep a replica, no user may unless bound to it.
    """
    admins = [Subject(SubjectKind.USER, admin)]
    if NODE_ID_PATTERN.match(admin):
        admins.append(Subject(SubjectKind.NODE, admin))
    voter_ids = tuple(dict.fromkeys(validate_node_id(v) for v in voters))
    return RbacSeed(
        roles=(MESH_ADMIN_ROLE, VOTERS_ROLE, REPLICAS_ROLE),
        rolebindings=(
            RoleBinding(MESH_ADMIN, role=MESH_ADMIN, subjects=tuple(admins)),
            RoleBinding(VOTERS, role=VOTERS, subjects=(Subject(SubjectKind.GROUP, VOTERS),)),
            RoleBinding(REPLICAS, role=REPLICAS, subjects=(Subject(SubjectKind.NODE, EVERY),)),
        ),
        groups=(Group(VOTERS, tuple(Subject(SubjectKind.NODE, v) for v in voter_ids)),),
    )
