"""Authentication: who is calling? mTLS, htpasswd (Basic) and LDAP authenticators.

The API layer turns gRPC metadata and the TLS auth context into plain ``types.Credentials``; an
``Authenticator`` (or a ``Chain`` of them) turns those into an ``types.Identity`` or raises
``webmesh.errors.Unauthenticated`` / ``Unavailable``. The certificates it checks are made by
``webmesh.client.pki`` (``wmctl pki``, the operator); the URI that names a certificate's kind is
``webmesh.syntax.IDENTITY_URI_PREFIX``, shared by both sides.

May import only the stdlib, ``cryptography``, ``bcrypt``, the LDAP client (``ldap``, python-ldap),
``webmesh.syntax`` and ``webmesh.errors``. Must NOT import grpc (the API layer adapts gRPC to
plain values), pysyncobj, pyroute2, nor any other webmesh package (it sits beside the state
machine's floor, below the API).
"""
