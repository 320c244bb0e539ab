"""Pure authorization: RBAC objects and checks, the RPC permission table, and network ACLs.

- ``model``: roles, rules, role bindings, groups, subjects; built-in names and the bootstrap seed.
- ``principal``: who is calling (what authentication produced).
- ``authorize``: ``RbacView``, an immutable indexed view that answers "may this principal do this".
- ``methods``: ``METHOD_PERMISSIONS``, the one table from gRPC method to what it requires.
- ``acl``: network ACLs and ``AclView``, which decides which nodes and prefixes may talk.

Stdlib only, like ``webmesh.mesh``. Must not import any I/O library (grpc, protobuf, pysyncobj,
pyroute2, asyncio, sockets) nor any other webmesh package except ``webmesh.syntax`` and
``webmesh.errors``: it is the floor below the state machine (``webmesh.mesh`` stores its objects),
and the mesh, api, service and reconcile layers build on it, never the reverse.
Whether RBAC is enforced at all (``--bootstrap.disable-rbac``, insecure mode) is the caller's
decision, not this package's.
"""
