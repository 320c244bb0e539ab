"""Authentication: who is calling? mTLS, htpasswd (Basic) and LDAP authenticators, and the mesh PKI.

The API layer turns gRPC metadata and the TLS auth context into plain ``types.Credentials``; an
``Authenticator`` (or a ``Chain`` of them) turns those into an ``types.Identity`` or raises
``webmesh.errors.Unauthenticated`` / ``Unavailable``. ``pki`` creates the mesh CA and the
node, server and user certificates behind ``wmctl pki init`` / ``wmctl pki issue``.

May import only the stdlib, ``cryptography``, ``bcrypt``, the LDAP client (``ldap``, python-ldap)
and ``webmesh.errors``. Must NOT import grpc (the API layer adapts gRPC to plain values),
pysyncobj, pyroute2, nor any other webmesh package (it sits beside the pure core, below the API).
"""
