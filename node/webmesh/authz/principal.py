"""Who is calling: the principal that authentication produced.

Authentication (mTLS, Basic, LDAP) builds a ``Principal``; authorization only reads it. Whether
RBAC is enforced at all (insecure or test meshes) is the caller's decision, not this module's.
A follower that forwards a request to the leader sends the original principal along
(``to_dict``), and the leader checks that one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webmesh import errors
from webmesh.authz.model import SubjectKind
from webmesh.syntax import as_tuple, malformed, parse_enum, validate_identity


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``name`` is the authenticated identity (a node id, a certificate CN, a user name); for a node
    it is also its node id. ``groups`` are groups the authenticator vouches for (LDAP groups), on
    top of the ``Group`` objects of the mesh. ``method`` records how it authenticated ("mtls",
    "basic", "ldap"), for logs and audit only: it grants nothing.
    """

    name: str
    kind: SubjectKind
    groups: tuple[str, ...] = ()
    method: str = ""

    def __post_init__(self) -> None:
        kind = parse_enum(SubjectKind, self.kind, what="principal kind")
        if kind is SubjectKind.GROUP:
            raise errors.InvalidArgument("a principal is a node or a user, not a group")
        object.__setattr__(self, "kind", kind)
        validate_identity(self.name, what=f"{kind.value} name")
        groups = as_tuple(self.groups, what="groups")
        for group in groups:
            validate_identity(group, what="group name")
        object.__setattr__(self, "groups", groups)

    @classmethod
    def node(cls, name: str, *, groups: tuple[str, ...] = (), method: str = "") -> Principal:
        return cls(name=name, kind=SubjectKind.NODE, groups=groups, method=method)

    @classmethod
    def user(cls, name: str, *, groups: tuple[str, ...] = (), method: str = "") -> Principal:
        return cls(name=name, kind=SubjectKind.USER, groups=groups, method=method)

    @property
    def key(self) -> tuple[SubjectKind, str]:
        return (self.kind, self.name)

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "groups": list(self.groups),
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Principal:
        with malformed("principal"):
            return cls(
                name=raw["name"],
                kind=raw["kind"],
                groups=as_tuple(raw.get("groups", ()), what="groups"),
                method=str(raw.get("method", "")),
            )
