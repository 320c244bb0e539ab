"""The typed gRPC client of a mesh: what wmctl, a joining node, a forwarding follower and the
operator use to talk to servers (innernet moved its client out of its CLI for the same reason).

- ``mesh_client``: ``MeshClient`` (one server's API, errors turned into one-line domain errors
  that name the server and the fix), ``ClientOptions``;
- ``join``: joining a mesh through the first server that answers, with failover;
- ``security``: TLS, client certificates, Basic/LDAP credentials (``ClientSecurity``);
- ``status``: the one table between domain errors and gRPC status codes (servers use it too);
- ``convert_admin``: RBAC/ACL/route objects to and from their messages;
- ``config``: the wmctl config file's model (clusters, users, contexts), pure;
- ``pki``: the mesh CA and node/user certificates (``wmctl pki``, the operator's Secrets);
- ``grpcenv``: gRPC's process environment, set before grpc is imported;
- ``wire``: the messages and names a client program needs, in one place (the operator's door).

Sits beside raft, wg and authn, above the state machine (it reads ``mesh.objects.Kind``) and the
policy; it imports the generated messages of ``webmesh.api.v1`` (the wire contract, a declared
exception to the layers). This ``__init__`` imports nothing: ``grpcenv`` must load before grpc.
"""
