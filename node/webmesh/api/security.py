"""Transport security and per-call authentication for the API, on both sides of a channel.

Server side: TLS credentials (client certificates required with ``--global.mtls``) and
``CallGuard``, which turns a call's TLS identity or metadata into a ``Principal`` and checks it
against the method table and the mesh's RBAC. The client side (``ClientSecurity``: channel
credentials and the metadata that carries Basic or LDAP credentials) is
:mod:`webmesh.client.security`.

A follower that forwards a mutation authenticates to the leader as itself and names the original
caller in ``x-webmesh-caller``; the leader believes that header only from a node that serves the
API in this mesh, and then checks the *original caller's* permissions: a follower cannot be used
to gain rights its caller does not have.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc import aio

from webmesh import errors
from webmesh.authn.types import Chain, Credentials
from webmesh.authz.methods import Public, authorize_call, required_actions
from webmesh.authz.model import SubjectKind
from webmesh.authz.principal import Principal
from webmesh.client.security import (
    BASIC_PASSWORD,
    BASIC_USER,
    LDAP_PASSWORD,
    LDAP_USER,
    Metadata,
    read_file,
)
from webmesh.mesh.state import MeshState

CALLER_HEADER = "x-webmesh-caller"


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
    pair = [(read_file(key_file, "TLS key"), read_file(cert_file, "TLS certificate"))]
    roots = read_file(ca_file, "CA file") if ca_file else None
    return grpc.ssl_server_credentials(
        pair, root_certificates=roots, require_client_auth=require_client_cert
    )


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
        principal = self._original_caller(identity.principal(), context)
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
