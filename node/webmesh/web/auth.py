"""Who asks, and what they may read: the API's authenticators and the mesh's RBAC, over HTTP.

Nothing here decides anything of its own. The credentials a browser can present are turned
into the same ``authn.types.Credentials`` the gRPC ``CallGuard`` builds, checked by the same
``Chain`` (mTLS, htpasswd, LDAP), and the principal is checked against the replicated
``RbacView`` by ``mesh.view.readable`` (``get nodes``, then ``get`` on each policy list).

A browser has one login dialog, so its Basic user and password are offered to the htpasswd
file first and, when that refuses them, to LDAP (a ``Chain`` never retries wrong credentials
with the next method, and a gRPC client says which method it means: a browser cannot).
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
from collections.abc import Callable

from aiohttp import web

from webmesh import errors
from webmesh.authn.types import Chain, Credentials
from webmesh.authz.principal import Principal
from webmesh.logs import Throttle
from webmesh.mesh import view
from webmesh.mesh.state import MeshState

log = logging.getLogger("webmesh.web")

CHALLENGE = 'Basic realm="webmesh", charset="UTF-8"'


class Gate:
    """Admits a request or raises the HTTP error that refuses it (401, 403 or 503).

    ``authenticator`` None is insecure mode: no authentication, everything readable (as the
    API there). Refusals are logged once a minute per source and reason."""

    def __init__(self, authenticator: Chain | None, state: Callable[[], MeshState]) -> None:
        self._authenticator = authenticator
        self._state = state
        self._throttle = Throttle()

    @property
    def secure(self) -> bool:
        return self._authenticator is not None

    async def principal(self, request: web.Request) -> Principal | None:
        """The authenticated caller (None in insecure mode)."""
        if self._authenticator is None:
            return None
        try:
            return await self._authenticate(self._authenticator, request)
        except (errors.Unauthenticated, errors.InvalidArgument) as exc:
            raise self._refuse(request, web.HTTPUnauthorized, str(exc)) from None
        except errors.PermissionDenied as exc:
            raise self._refuse(request, web.HTTPForbidden, str(exc)) from None
        except errors.Unavailable as exc:
            raise self._refuse(request, web.HTTPServiceUnavailable, str(exc)) from None

    def may_read(self, principal: Principal | None) -> view.Readable | None:
        """What ``principal`` may read now; None when it may not read the mesh."""
        return view.readable(self._state(), principal)

    def readable(self, request: web.Request, principal: Principal | None) -> view.Readable:
        """What ``principal`` may read now; 403 when it may not read the mesh."""
        allowed = self.may_read(principal)
        if allowed is None:
            assert principal is not None
            why = f"{principal} may not {view.READ_MESH}: bind it a role that grants it"
            raise self._refuse(request, web.HTTPForbidden, why)
        return allowed

    async def _authenticate(self, chain: Chain, request: web.Request) -> Principal:
        cert = _peer_certificate(request)
        user, password = _basic(request.headers.get("Authorization", ""))
        attempts = [Credentials(peer_cert_pem=cert, basic_username=user, basic_password=password)]
        if user:
            attempts.append(
                Credentials(peer_cert_pem=cert, ldap_username=user, ldap_password=password)
            )
        refused: errors.Unauthenticated | None = None
        for credentials in attempts:
            try:
                identity = await chain.authenticate(credentials)
            except errors.Unauthenticated as exc:
                refused = refused or exc
                continue
            return identity.principal()
        assert refused is not None
        raise refused

    def _refuse(self, request: web.Request, error: type[web.HTTPError], why: str) -> web.HTTPError:
        source = request.remote or "?"
        if self._throttle.due((source, error.status_code)):
            log.info("dashboard refused source=%s status=%d why=%s", source, error.status_code, why)
        headers = {"WWW-Authenticate": CHALLENGE} if error is web.HTTPUnauthorized else None
        return error(text=f"{error.status_code} {_REASONS[error.status_code]}\n", headers=headers)


_REASONS = {401: "log in to read the mesh", 403: "not allowed to read the mesh", 503: "try later"}


def _basic(header: str) -> tuple[str, str]:
    """User and password of a Basic ``Authorization`` header; empty when there is none."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return "", ""
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise errors.Unauthenticated("malformed Basic credentials") from None
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise errors.Unauthenticated("malformed Basic credentials")
    return user, password


def _peer_certificate(request: web.Request) -> bytes | None:
    """The client certificate TLS verified against the mesh CA (PEM), if one was presented."""
    transport = request.transport
    tls = transport.get_extra_info("ssl_object") if transport is not None else None
    if not isinstance(tls, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = tls.getpeercert(binary_form=True)
    return ssl.DER_cert_to_PEM_cert(der).encode() if der else None
