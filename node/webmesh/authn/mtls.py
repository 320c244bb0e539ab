"""mTLS: map a client certificate the TLS layer already verified against the mesh CA to an identity.

This module does not verify the chain (gRPC did, with ``require_client_auth=True`` and the mesh CA
as the only root); it reads the name and kind out of the verified leaf:

- name: the subject CN; when there is none, the first DNS SAN;
- kind: ``user`` when the certificate carries the URI SAN ``webmesh:user/<name>`` (what
  ``webmesh.client.pki.issue(kind="user")`` writes), otherwise ``node``. A
  ``webmesh:<kind>/<other>`` URI that
  names someone else than the CN is refused: the certificate is inconsistent;
- a node certificate may only claim its own node id (``claimed_node_id``): anything else is
  ``PermissionDenied``.

When the API layer passes the PEM (``x509_pem_cert`` of the auth context) it is the source of truth;
otherwise ``peer_common_name`` and ``peer_sans`` (``x509_common_name`` and
``x509_subject_alternative_name``) are used as they are.
"""

from __future__ import annotations

import logging

from cryptography import x509
from cryptography.x509.oid import NameOID

from webmesh import errors
from webmesh.authn.types import Credentials, Identity, Kind
from webmesh.syntax import IDENTITY_URI_PREFIX

log = logging.getLogger(__name__)

METHOD = "mtls"


class MtlsAuthenticator:
    """Stateless; safe to share between tasks and threads."""

    async def authenticate(self, creds: Credentials) -> Identity | None:
        if creds.peer_cert_pem:
            common_name, dns_names, uris = _from_pem(creds.peer_cert_pem)
        elif creds.peer_common_name or creds.peer_sans:
            common_name = creds.peer_common_name
            uris = [san for san in creds.peer_sans if san.startswith(IDENTITY_URI_PREFIX)]
            dns_names = [san for san in creds.peer_sans if san not in uris]
        else:
            return None
        name = common_name or (dns_names[0] if dns_names else "")
        if not name:
            raise errors.Unauthenticated("client certificate names nobody: it has no CN or DNS SAN")
        kind = _kind(name, uris)
        if kind == "node" and creds.claimed_node_id and creds.claimed_node_id != name:
            raise errors.PermissionDenied(
                f"the client certificate is for node {name!r}; it cannot join as node "
                f"{creds.claimed_node_id!r} (drop --mesh.node-id or use that node's certificate)"
            )
        return Identity(name=name, kind=kind, groups=(), method=METHOD)


def _from_pem(pem: bytes) -> tuple[str, list[str], list[str]]:
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise errors.Unauthenticated(f"unreadable client certificate: {exc}") from exc
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = cns[0].value if cns else ""
    if isinstance(common_name, bytes):
        common_name = common_name.decode("utf-8", "replace")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return common_name, [], []
    return (
        common_name,
        san.get_values_for_type(x509.DNSName),
        san.get_values_for_type(x509.UniformResourceIdentifier),
    )


def _kind(name: str, uris: list[str]) -> Kind:
    kind: Kind = "node"
    for uri in uris:
        if not uri.startswith(IDENTITY_URI_PREFIX):
            continue
        claimed_kind, _, claimed_name = uri.removeprefix(IDENTITY_URI_PREFIX).partition("/")
        if claimed_kind not in ("node", "user"):
            continue
        if claimed_name != name:
            raise errors.Unauthenticated(
                f"inconsistent client certificate: CN {name!r} but SAN {uri!r}"
            )
        if claimed_kind == "user":
            kind = "user"
    return kind
