"""Values crossing the authentication boundary, the ``Authenticator`` protocol and ``Chain``.

Contract of ``Authenticator.authenticate(creds)``:

- returns ``None`` when ``creds`` carry nothing for this method (a ``Chain`` then tries the next);
- returns an ``Identity`` when they prove who the caller is;
- raises ``errors.Unauthenticated`` when they are wrong (the message never contains a password);
- raises ``errors.Unavailable`` when the backend cannot be reached (the message names it);
- may raise ``errors.PermissionDenied`` when the credentials are valid but claim something they
  do not allow (a node certificate claiming another node id).

Node ids and the authenticated name (see ``resolve_node_id``): the identity's name *is* the node
id a joining node gets. An explicitly claimed id (``--mesh.node-id``) is accepted only when it is
the same name, or when the caller passes ``allow_override=True`` (a policy decision of the service
layer, for example for an admin user enrolling a node on someone's behalf).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence

from webmesh import errors
from webmesh.authz.model import SubjectKind
from webmesh.authz.principal import Principal

Kind = typing.Literal["node", "user"]


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated caller (``principal()`` is what RBAC decides for)."""

    name: str
    kind: Kind
    groups: tuple[str, ...] = ()
    method: str = ""  # "mtls" | "basic" | "ldap"

    def principal(self) -> Principal:
        return Principal(self.name, SubjectKind(self.kind), tuple(self.groups), self.method)


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """What a caller presented; empty means "not presented". Secrets stay out of repr."""

    peer_cert_pem: bytes | None = dataclasses.field(default=None, repr=False)
    peer_common_name: str = ""
    peer_sans: tuple[str, ...] = ()
    basic_username: str = ""
    basic_password: str = dataclasses.field(default="", repr=False)
    ldap_username: str = ""
    ldap_password: str = dataclasses.field(default="", repr=False)
    claimed_node_id: str = ""


class Authenticator(typing.Protocol):
    async def authenticate(self, creds: Credentials) -> Identity | None: ...


class Chain:
    """Try each authenticator in order; the first that returns an identity wins.

    An authenticator that raises stops the chain: wrong credentials for one method are never
    retried with another, and an unreachable backend is reported, not skipped.
    """

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._authenticators = tuple(authenticators)

    async def authenticate(self, creds: Credentials) -> Identity:
        for authenticator in self._authenticators:
            identity = await authenticator.authenticate(creds)
            if identity is not None:
                return identity
        raise errors.Unauthenticated("no credentials: use mTLS, basic or LDAP")


def resolve_node_id(
    identity: Identity, claimed_node_id: str, *, allow_override: bool = False
) -> str:
    """The node id a joining caller gets: its authenticated name unless a permitted override.

    Raises ``PermissionDenied`` when ``claimed_node_id`` names another node and overriding is not
    allowed. A certificate's node name is never overridable (``MtlsAuthenticator`` enforces that).
    """
    if not claimed_node_id or claimed_node_id == identity.name:
        return identity.name
    if allow_override and not (identity.method == "mtls" and identity.kind == "node"):
        return claimed_node_id
    raise errors.PermissionDenied(
        f"{identity.kind} {identity.name!r} (authenticated by {identity.method or 'unknown'}) "
        f"cannot join as node {claimed_node_id!r}: drop --mesh.node-id or use credentials for "
        f"{claimed_node_id!r}"
    )
