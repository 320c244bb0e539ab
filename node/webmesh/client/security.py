"""How a client talks to a server: TLS, client certificates, and Basic or LDAP credentials.

Used by wmctl, a joining node, a follower forwarding to the leader and the operator. The server
side (what a server accepts, and who the caller is) is :mod:`webmesh.api.security`; the metadata
keys that carry credentials are defined here, where they are written.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from webmesh import errors

BASIC_USER, BASIC_PASSWORD = "x-webmesh-basic-username", "x-webmesh-basic-password"
LDAP_USER, LDAP_PASSWORD = "x-webmesh-ldap-username", "x-webmesh-ldap-password"
Metadata = tuple[tuple[str, str], ...]


def read_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot read {what} {path}: {exc.strerror}") from exc


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
        key = read_file(self.key_file, "client key") if self.key_file else None
        cert = read_file(self.cert_file, "client certificate") if self.cert_file else None
        roots = read_file(self.ca_file, "CA file") if self.ca_file else None
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
