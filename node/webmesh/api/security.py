"""Transport security and per-call authentication for the API, on both sides of a channel.

Server: TLS credentials (client certificates required with ``--global.mtls``) and ``CallGuard``,
which turns a call's TLS identity or metadata into a ``Principal`` and checks it against the
method table and the mesh's RBAC. Client: ``ClientSecurity`` builds channel credentials and the
metadata that carries Basic or LDAP credentials (only ever over TLS).

A follower that forwards a mutation authenticates to the leader as itself and names the original
caller in ``x-webmesh-caller``; the leader believes that header only from a node that serves the
API in this mesh, and then checks the *original caller's* permissions: a follower cannot be used
to gain rights its caller does not have.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from webmesh import errors
from webmesh.authn.types import Chain, Credentials
from webmesh.authz.methods import Public, authorize_call, required_actions
from webmesh.authz.model import SubjectKind
from webmesh.authz.principal import Principal
from webmesh.mesh.state import MeshState

BASIC_USER, BASIC_PASSWORD = "x-webmesh-basic-username", "x-webmesh-basic-password"
LDAP_USER, LDAP_PASSWORD = "x-webmesh-ldap-username", "x-webmesh-ldap-password"
CALLER_HEADER = "x-webmesh-caller"
Metadata = tuple[tuple[str, str], ...]


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot read {what} {path}: {exc.strerror}") from exc


def server_credentials(
    *, cert_file: str, key_file: str, ca_file: str, require_client_cert: bool
) -> grpc.ServerCredentials:
    """TLS for the API; with ``require_client_cert`` every caller needs a certificate of the CA."""
    if not cert_file or not key_file:
        raise errors.InvalidArgument(
            "TLS needs --global.tls-cert-file and --global.tls-key-file (create them with "
            "`wmctl pki init` and `wmctl pki issue NODE`), or run a test mesh with "
            "--global.insecure"
        )
    if require_client_cert and not ca_file:
        raise errors.InvalidArgument("--global.mtls needs --global.tls-ca-file to verify clients")
    pair = [(_read(key_file, "TLS key"), _read(cert_file, "TLS certificate"))]
    roots = _read(ca_file, "CA file") if ca_file else None
    return grpc.ssl_server_credentials(
        pair, root_certificates=roots, require_client_auth=require_client_cert
    )


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    """How a client (wmctl, a joining node, a forwarding follower) talks to a server."""

    insecure: bool = True
    ca_file: str = ""
    insecure_skip_verify: bool = False
    server_name: str = ""  # verify servers against this name, not the dialled host
    cert_file: str = ""
    key_file: str = ""
    basic: tuple[str, str] = ("", "")
    ldap: tuple[str, str] = ("", "")

    def metadata(self) -> Metadata:
        """Per-call credentials. Never sent without TLS."""
        found: list[tuple[str, str]] = []
        if self.insecure:
            return ()
        if self.basic[0]:
            found += [(BASIC_USER, self.basic[0]), (BASIC_PASSWORD, self.basic[1])]
        if self.ldap[0]:
            found += [(LDAP_USER, self.ldap[0]), (LDAP_PASSWORD, self.ldap[1])]
        return tuple(found)

    def channel(self, address: str, *, server_name: str = "") -> aio.Channel:
        """A channel to ``address`` whose every call carries this client's credentials.

        ``server_name`` is the name to verify the server's certificate against when it is not
        the host in ``address``: nodes call each other on mesh addresses, and a node's
        certificate names the node (``wmctl pki issue NODE``), not its mesh address. Without it,
        this client's own ``server_name`` (``--tls.server-name``) applies: a server reached
        through a load balancer or a node port has a certificate that names it, not that address.
        """
        if self.insecure:
            return aio.insecure_channel(address)
        interceptors = [_AddMetadata(self.metadata())] if self.metadata() else None
        key = _read(self.key_file, "client key") if self.key_file else None
        cert = _read(self.cert_file, "client certificate") if self.cert_file else None
        roots = _read(self.ca_file, "CA file") if self.ca_file else None
        name = server_name or self.server_name
        if self.insecure_skip_verify:
            roots, name = _trust_on_sight(address)
        options: list[tuple[str, Any]] = []
        if name:
            options.append(("grpc.ssl_target_name_override", name))
        creds = grpc.ssl_channel_credentials(roots, private_key=key, certificate_chain=cert)
        return aio.secure_channel(address, creds, options=options, interceptors=interceptors)


class _AddMetadata(aio.UnaryUnaryClientInterceptor, aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Adds the client's credential metadata to every call (unary and server-streaming)."""

    def __init__(self, extra: Metadata) -> None:
        self._extra = extra

    def _details(self, details: Any) -> Any:
        metadata = aio.Metadata(*(details.metadata or ()), *self._extra)
        return details._replace(metadata=metadata)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


def _trust_on_sight(address: str) -> tuple[bytes, str]:
    """--tls.insecure-skip-verify: trust whatever certificate the server shows (unsafe)."""
    from cryptography import x509  # noqa: PLC0415  (3 MB resident: only this rare path needs it)

    host, _, port = address.rpartition(":")
    try:
        pem = ssl.get_server_certificate((host.strip("[]"), int(port)), timeout=5)
    except OSError as exc:
        raise errors.Unavailable(f"cannot reach {address} for its certificate: {exc}") from exc
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return pem.encode(), str(names[0].value) if names else host


def credentials_of(context: aio.ServicerContext[Any, Any], request: object) -> Credentials:
    """What the caller presented: its verified certificate, and Basic/LDAP metadata."""
    auth = context.auth_context() or {}
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    pem = auth.get("x509_pem_cert", [b""])[0] or None
    names = [n.decode() for n in auth.get("x509_common_name", [])]
    sans = tuple(n.decode() for n in auth.get("x509_subject_alternative_name", []))
    return Credentials(
        peer_cert_pem=pem,
        peer_common_name=names[0] if names else "",
        peer_sans=sans,
        basic_username=metadata.get(BASIC_USER, ""),
        basic_password=metadata.get(BASIC_PASSWORD, ""),
        ldap_username=metadata.get(LDAP_USER, ""),
        ldap_password=metadata.get(LDAP_PASSWORD, ""),
        # A forwarding server makes no claim of its own: the original caller is checked after.
        claimed_node_id="" if CALLER_HEADER in metadata else str(getattr(request, "id", "") or ""),
    )


class CallGuard:
    """Authenticate and authorize one call (None methods: insecure mode lets everything by)."""

    def __init__(self, authenticator: Chain, state: Callable[[], MeshState]) -> None:
        self._authenticator = authenticator
        self._state = state

    async def __call__(
        self, method: str, request: object, context: aio.ServicerContext[Any, Any]
    ) -> Principal | None:
        if isinstance(required_actions(method, request, None), Public):
            return None
        identity = await self._authenticator.authenticate(credentials_of(context, request))
        principal = Principal(
            identity.name, SubjectKind(identity.kind), tuple(identity.groups), identity.method
        )
        principal = self._original_caller(principal, context)
        state = self._state()
        if state.objects.policy.rbac_enabled:
            authorize_call(state.objects.rbac, principal, method, request)
        return principal

    def _original_caller(
        self, principal: Principal, context: aio.ServicerContext[Any, Any]
    ) -> Principal:
        """The caller named by a forwarding server, if the immediate caller is one."""
        header = dict(context.invocation_metadata() or ()).get(CALLER_HEADER)
        if not header:
            return principal
        node = self._state().nodes.get(principal.name)
        if principal.kind is not SubjectKind.NODE or node is None or not node.api_address:
            raise errors.PermissionDenied(
                f"{principal} may not act for another caller: only the mesh's servers forward"
            )
        try:
            return Principal.from_dict(json.loads(str(header)))
        except (ValueError, TypeError) as exc:
            raise errors.InvalidArgument(f"malformed {CALLER_HEADER} header") from exc


def caller_header(principal: Principal | None) -> Metadata:
    if principal is None:
        return ()
    return ((CALLER_HEADER, json.dumps(principal.to_dict(), separators=(",", ":"))),)


def chain_of(authenticators: Sequence[Any]) -> Chain:
    return Chain(list(authenticators))
