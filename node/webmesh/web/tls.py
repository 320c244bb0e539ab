"""The web view's TLS: the API's certificate and key, and the mesh CA for client certificates.

Why not ``ssl.create_default_context(Purpose.CLIENT_AUTH)``: it trusts the system's CAs for
client certificates too, and ``MtlsAuthenticator`` takes a verified certificate's CN as the
caller's name, so any public CA could then mint an "admin". Only the mesh CA is loaded here.

Client certificates are asked for, not required (``CERT_OPTIONAL``), with ``--global.mtls``:
a browser without one can still log in with Basic or LDAP credentials when those are on; a
certificate that is presented must verify, or the handshake fails.
"""

from __future__ import annotations

import ssl

from webmesh import errors


def server_context(
    *, cert_file: str, key_file: str, ca_file: str, client_certificates: bool
) -> ssl.SSLContext:
    """TLS 1.2 or later with ``cert_file``/``key_file``; with ``client_certificates``, a
    certificate signed by ``ca_file`` is asked for."""
    if not cert_file or not key_file:
        raise errors.InvalidArgument(
            "the web view needs --global.tls-cert-file and --global.tls-key-file (as the API), "
            "or a test mesh with --global.insecure"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
        if client_certificates:
            if not ca_file:
                raise errors.InvalidArgument("--global.mtls needs --global.tls-ca-file")
            context.load_verify_locations(cafile=ca_file)
            context.verify_mode = ssl.CERT_OPTIONAL
    except (OSError, ssl.SSLError) as exc:
        raise errors.InvalidArgument(f"the web view's TLS files cannot be used: {exc}") from exc
    return context
