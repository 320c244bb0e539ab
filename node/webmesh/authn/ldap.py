"""LDAP authentication: search the user with a service account, bind as the user, read the groups.

Client library: **python-ldap** (3.4.x, binding to the system's OpenLDAP libldap). It is maintained
(releases through 2025), its TLS is OpenLDAP's own (ldaps:// and StartTLS with a CA file) and it
is what slapd's authors test against. ``ldap3`` is pure Python and easier to install but has had
no release since 2021; for a security boundary we prefer the maintained one. Cost: it builds from
source and needs ``libldap2-dev libsasl2-dev`` (and a C compiler) where wheels are missing.
python-ldap ships no type hints: this module is the only importer and keeps the ``Any`` inside.

Flow of one ``authenticate`` (in a worker thread, each step bounded by ``timeout`` seconds):

1. connect and bind as ``bind_dn`` (the service account);
2. search ``(<user_id_attribute>=<escaped username>)`` under ``user_base_dn``: none or several
   matches is ``Unauthenticated`` (the same message as a wrong password: no user enumeration);
3. bind as the user's DN with the password on a second connection (an empty password is refused
   before anything: LDAP treats it as an anonymous bind, which would "succeed");
4. groups = the CN of each DN in the user's ``group_attribute`` (``memberOf``; values that are not
   DNs are taken as they are), plus, for directories without the memberof overlay, the CN of every
   ``groupOfNames`` (``member``), ``groupOfUniqueNames`` (``uniqueMember``) and ``posixGroup``
   (``memberUid``) entry naming the user under ``group_base_dn`` (default: the ``dc=`` suffix of
   ``user_base_dn``; disable with ``group_search=False``).

Errors: a directory that cannot be reached, times out, or rejects the service account raises
``Unavailable`` naming the server; a wrong password or unknown user raises ``Unauthenticated``.
Every value put into a filter is escaped (RFC 4515), so ``*)(uid=*`` matches nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Iterator
from typing import Any

import ldap  # type: ignore[import-untyped]
import ldap.dn  # type: ignore[import-untyped]
import ldap.filter  # type: ignore[import-untyped]

from webmesh import errors
from webmesh.authn.types import Credentials, Identity

log = logging.getLogger(__name__)

METHOD = "ldap"
INVALID = "invalid LDAP username or password"
_ATTRIBUTE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_UNREACHABLE = (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT)
_REFUSED = (ldap.INVALID_CREDENTIALS, ldap.INAPPROPRIATE_AUTH, ldap.UNWILLING_TO_PERFORM)


@dataclasses.dataclass(frozen=True, slots=True)
class LdapSettings:
    """``--plugins.ldap.*``."""

    server: str  # ldap://host:389 or ldaps://host:636
    bind_dn: str
    bind_password: str = dataclasses.field(repr=False)
    user_base_dn: str
    user_id_attribute: str = "uid"
    group_attribute: str = "memberOf"
    group_base_dn: str = ""
    group_search: bool = True
    ca_file: str = ""
    start_tls: bool = False
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.server.lower().startswith(("ldap://", "ldaps://")):
            raise errors.InvalidArgument(
                f"--plugins.ldap.server must be an ldap:// or ldaps:// URL, got {self.server!r}"
            )
        for flag, value in (
            ("user-id-attribute", self.user_id_attribute),
            ("group-attribute", self.group_attribute),
        ):
            if not _ATTRIBUTE_RE.match(value):
                raise errors.InvalidArgument(
                    f"--plugins.ldap.{flag} is not an attribute: {value!r}"
                )
        if not self.user_base_dn or not ldap.dn.is_dn(self.user_base_dn):
            raise errors.InvalidArgument(
                f"--plugins.ldap.user-base-dn is not a DN: {self.user_base_dn!r}"
            )
        if self.timeout <= 0:
            raise errors.InvalidArgument("the LDAP timeout must be positive")


class LdapAuthenticator:
    """One short-lived pair of connections per login; safe to share between tasks."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings

    async def authenticate(self, creds: Credentials) -> Identity | None:
        username = creds.ldap_username
        if not username:
            return None
        if not creds.ldap_password:
            raise errors.Unauthenticated(f"LDAP login for {username!r} has an empty password")
        # Five bounded steps; the thread may outlive a timeout, the caller does not wait for it.
        budget = self.settings.timeout * 5 + 1
        try:
            identity = await asyncio.wait_for(
                asyncio.to_thread(self._login, username, creds.ldap_password), budget
            )
        except TimeoutError as exc:
            raise errors.Unavailable(
                f"LDAP server {self.settings.server} did not answer within {budget:.0f}s"
            ) from exc
        log.info("ldap login user=%s groups=%s", identity.name, ",".join(identity.groups))
        return identity

    # -- blocking part, in a worker thread -----------------------------------------------------

    def _login(self, username: str, password: str) -> Identity:
        s = self.settings
        with self._connection() as service:
            with self._errors("bind as the service account"):
                try:
                    service.simple_bind_s(s.bind_dn, s.bind_password)
                except _REFUSED as exc:
                    raise errors.Unavailable(
                        f"LDAP server {s.server} refused the service account {s.bind_dn!r} "
                        f"({_describe(exc)}): check --plugins.ldap.bind-dn and bind-password"
                    ) from exc
            user_dn, entry = self._find_user(service, username)
            with self._connection() as user, self._errors("bind as the user"):
                try:
                    user.simple_bind_s(user_dn, password)
                except _REFUSED as exc:
                    log.info("ldap login refused user=%s reason=%s", username, _describe(exc))
                    raise errors.Unauthenticated(INVALID) from exc
            groups = set(_group_names(_values(entry, s.group_attribute)))
            if s.group_search:
                groups.update(self._search_groups(service, user_dn, username))
        return Identity(name=username, kind="user", groups=tuple(sorted(groups)), method=METHOD)

    def _find_user(self, conn: Any, username: str) -> tuple[str, dict[str, list[bytes]]]:
        s = self.settings
        query = f"({s.user_id_attribute}={ldap.filter.escape_filter_chars(username)})"
        with self._errors("search the user"):
            try:
                found = conn.search_ext_s(
                    s.user_base_dn,
                    ldap.SCOPE_SUBTREE,
                    query,
                    [s.group_attribute],
                    timeout=s.timeout,
                    sizelimit=2,
                )
            except ldap.SIZELIMIT_EXCEEDED:
                found = [("", {}), ("", {})]
            except ldap.NO_SUCH_OBJECT as exc:
                raise errors.Unavailable(
                    f"LDAP server {s.server}: user base DN {s.user_base_dn!r} does not exist"
                ) from exc
        entries = [(dn, attrs) for dn, attrs in found if dn is not None]  # drop referrals
        if len(entries) != 1:
            reason = "unknown-user" if not entries else "ambiguous-user"
            log.info("ldap login refused user=%s reason=%s", username, reason)
            raise errors.Unauthenticated(INVALID)
        dn, attrs = entries[0]
        return str(dn), dict(attrs)

    def _search_groups(self, conn: Any, user_dn: str, username: str) -> list[str]:
        s = self.settings
        dn, uid = (
            ldap.filter.escape_filter_chars(user_dn),
            ldap.filter.escape_filter_chars(username),
        )
        query = (
            f"(|(&(objectClass=groupOfNames)(member={dn}))"
            f"(&(objectClass=groupOfUniqueNames)(uniqueMember={dn}))"
            f"(&(objectClass=posixGroup)(memberUid={uid})))"
        )
        base = s.group_base_dn or _suffix(s.user_base_dn)
        with self._errors("search the user's groups"):
            try:
                found = conn.search_ext_s(
                    base, ldap.SCOPE_SUBTREE, query, ["cn"], timeout=s.timeout
                )
            except ldap.NO_SUCH_OBJECT:
                log.warning("ldap group base does not exist base=%s", base)
                return []
        names: list[str] = []
        for group_dn, attrs in found:
            if group_dn is None:
                continue
            cns = _values(attrs, "cn")
            names.append(cns[0] if cns else _group_names([str(group_dn)])[0])
        return names

    # -- plumbing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        s = self.settings
        with self._errors("connect"):
            conn = ldap.initialize(s.server)
            conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
            conn.set_option(ldap.OPT_REFERRALS, 0)
            conn.set_option(ldap.OPT_NETWORK_TIMEOUT, s.timeout)
            conn.set_option(ldap.OPT_TIMEOUT, s.timeout)
            # Without async connect libldap runs the ldaps:// TLS handshake on a blocking socket
            # with no timeout at all: a listener that never answers would hang the thread forever.
            conn.set_option(ldap.OPT_CONNECT_ASYNC, 1)
            if s.server.lower().startswith("ldaps://") or s.start_tls:
                self._tls_options(conn)
            if s.start_tls:
                conn.start_tls_s()
        try:
            yield conn
        finally:
            with contextlib.suppress(ldap.LDAPError):
                conn.unbind_s()

    def _tls_options(self, conn: Any) -> None:
        s = self.settings
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        try:
            if s.ca_file:
                conn.set_option(ldap.OPT_X_TLS_CACERTFILE, s.ca_file)
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        except ValueError as exc:  # libldap only says "option error"
            what = f"CA file {s.ca_file!r} (--plugins.ldap.ca-file)" if s.ca_file else "TLS"
            raise errors.Unavailable(
                f"LDAP server {s.server}: cannot set up TLS with {what}: missing or unreadable"
            ) from exc

    @contextlib.contextmanager
    def _errors(self, step: str) -> Iterator[None]:
        """Turn library errors that escaped the step's own handling into ``Unavailable``."""
        server = self.settings.server
        try:
            yield
        except _UNREACHABLE as exc:
            raise errors.Unavailable(
                f"LDAP server {server} unreachable ({step}): {_describe(exc)}"
            ) from exc
        except ldap.LDAPError as exc:
            raise errors.Unavailable(
                f"LDAP server {server} failed to {step}: {_describe(exc)}"
            ) from exc


def _describe(exc: BaseException) -> str:
    detail = exc.args[0] if exc.args else None
    if isinstance(detail, dict):
        parts = [str(detail.get("desc", "")), str(detail.get("info", ""))]
        return ": ".join(part for part in parts if part) or type(exc).__name__
    return str(exc) or type(exc).__name__


def _values(attrs: dict[str, list[bytes]], name: str) -> list[str]:
    """Attribute values, matched case-insensitively (servers may return another spelling)."""
    for key, values in attrs.items():
        if key.lower() == name.lower():
            return [value.decode("utf-8", "replace") for value in values]
    return []


def _group_names(values: list[str]) -> list[str]:
    """``cn=admins,ou=groups,dc=example,dc=org`` -> ``admins``; a value that is no DN stays."""
    names = []
    for value in values:
        try:
            rdns = ldap.dn.str2dn(value)
        except ldap.DECODING_ERROR:
            rdns = []
        if not rdns:
            names.append(value)
            continue
        first = rdns[0]
        cn = [ava[1] for ava in first if str(ava[0]).lower() == "cn"]
        names.append(str(cn[0] if cn else first[0][1]))
    return names


def _suffix(dn: str) -> str:
    """The trailing ``dc=`` components of ``dn`` (the naming context), or ``dn`` itself."""
    rdns = ldap.dn.str2dn(dn)
    tail: list[Any] = []
    for rdn in reversed(rdns):
        if len(rdn) != 1 or str(rdn[0][0]).lower() != "dc":
            break
        tail.insert(0, rdn)
    return str(ldap.dn.dn2str(tail)) if tail else dn
