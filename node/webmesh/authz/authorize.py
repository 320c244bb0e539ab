"""Deciding whether a principal may perform an action, over an immutable indexed view of RBAC.

Kubernetes semantics: rules only allow, so the answer is "yes" when any rule of any role bound to
the caller grants the action, and "no" otherwise. A principal is matched by a binding that names
it (same kind and name), names every principal of its kind (name ``*``), names a ``Group`` object
it is a member of (same kind and name), or names a group it carries in ``Principal.groups`` (LDAP
groups).

``RbacView`` indexes the bindings once (subject -> role names), so a check costs O(rules of the
caller's roles) and not O(all bindings). Build a new view when the RBAC objects change; a view
is never mutated, so it is safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from webmesh import errors
from webmesh.authz.model import (
    EVERY,
    Group,
    Resource,
    Role,
    RoleBinding,
    Rule,
    SubjectKind,
    Verb,
)
from webmesh.authz.principal import Principal
from webmesh.syntax import parse_enum

_Key = tuple[SubjectKind, str]
_T = TypeVar("_T", Role, RoleBinding, Group)


@dataclass(frozen=True, slots=True)
class Action:
    """A concrete request: ``verb`` on ``resource`` (named ``name``; "" for a List)."""

    verb: Verb
    resource: Resource
    name: str = ""

    def __post_init__(self) -> None:
        verb = parse_enum(Verb, self.verb, what="verb")
        resource = parse_enum(Resource, self.resource, what="resource")
        if verb is Verb.ALL or resource is Resource.ALL:
            raise errors.InvalidArgument(
                f"an action is concrete: {verb.value} {resource.value} has a wildcard"
            )
        if not isinstance(self.name, str):
            raise errors.InvalidArgument(f"invalid action name {self.name!r}: not a string")
        object.__setattr__(self, "verb", verb)
        object.__setattr__(self, "resource", resource)

    def __str__(self) -> str:
        target = f"{self.resource.value}/{self.name}" if self.name else self.resource.value
        return f"{self.verb.value} {target}"


def _keyed(objects: Mapping[str, _T], what: str) -> Mapping[str, _T]:
    for key, obj in objects.items():
        if key != obj.name:
            raise errors.InvalidArgument(f"{what} stored under {key!r} is named {obj.name!r}")
    return MappingProxyType(dict(objects))


class RbacView:
    """Roles, role bindings and groups keyed by name, with the index a check needs."""

    __slots__ = ("_by_group", "_by_subject", "_groups", "_rolebindings", "_roles", "_rules")

    def __init__(
        self,
        roles: Mapping[str, Role] | None = None,
        rolebindings: Mapping[str, RoleBinding] | None = None,
        groups: Mapping[str, Group] | None = None,
    ) -> None:
        self._roles = _keyed(roles or {}, "role")
        self._rolebindings = _keyed(rolebindings or {}, "role binding")
        self._groups = _keyed(groups or {}, "group")
        self._rules: Mapping[str, tuple[Rule, ...]] = {n: r.rules for n, r in self._roles.items()}
        by_subject: dict[_Key, set[str]] = {}
        for binding in self._rolebindings.values():
            for subject in binding.subjects:
                by_subject.setdefault(subject.key, set()).add(binding.role)
        # Group objects: their members inherit the roles bound to the group, resolved now.
        for group in self._groups.values():
            inherited = by_subject.get((SubjectKind.GROUP, group.name))
            if inherited:
                for member in group.members:
                    by_subject.setdefault(member.key, set()).update(inherited)
        self._by_subject: Mapping[_Key, frozenset[str]] = {
            k: frozenset(v) for k, v in by_subject.items() if k[0] is not SubjectKind.GROUP
        }
        # Groups by name, for the groups a principal carries itself (LDAP groups).
        self._by_group: Mapping[str, frozenset[str]] = {
            k[1]: frozenset(v) for k, v in by_subject.items() if k[0] is SubjectKind.GROUP
        }

    @classmethod
    def from_objects(
        cls,
        roles: Iterable[Role] = (),
        rolebindings: Iterable[RoleBinding] = (),
        groups: Iterable[Group] = (),
    ) -> RbacView:
        """Build from lists of objects (for example ``bootstrap_rbac``'s seed)."""
        return cls(
            roles={r.name: r for r in roles},
            rolebindings={b.name: b for b in rolebindings},
            groups={g.name: g for g in groups},
        )

    @property
    def roles(self) -> Mapping[str, Role]:
        return self._roles

    @property
    def rolebindings(self) -> Mapping[str, RoleBinding]:
        return self._rolebindings

    @property
    def groups(self) -> Mapping[str, Group]:
        return self._groups

    def roles_of(self, principal: Principal) -> frozenset[str]:
        """The names of the roles bound to the principal, directly or through its groups."""
        roles = self._by_subject.get(principal.key, frozenset())
        roles = roles | self._by_subject.get((principal.kind, EVERY), frozenset())
        for group in principal.groups:
            roles = roles | self._by_group.get(group, frozenset())
        return roles

    def authorize(self, principal: Principal, action: Action) -> bool:
        for role in self.roles_of(principal):
            for rule in self._rules.get(role, ()):
                if rule.allows(action.verb, action.resource, action.name):
                    return True
        return False

    def require(self, principal: Principal, action: Action) -> None:
        """Raise ``PermissionDenied`` naming the caller, the action and what would grant it."""
        if self.authorize(principal, action):
            return
        roles = sorted(self.roles_of(principal))
        if roles:
            held = f"its roles: {', '.join(roles)}"
        else:
            held = f"no role is bound to {principal} or its groups"
        raise errors.PermissionDenied(
            f"{principal} may not {action}: no role grants it ({held}); bind a role with "
            f"{action.verb.value} on {action.resource.value} to {principal} or one of its groups"
        )

    def require_all(self, principal: Principal, actions: Iterable[Action]) -> None:
        for action in actions:
            self.require(principal, action)
