"""Use cases of the mesh (join, leave, bootstrap, reads) over the consensus store and the state.

Knows nothing of gRPC or of WireGuard devices: the API layer converts and forwards, the reconciler
drives the data plane. May import webmesh.mesh, webmesh.authz and webmesh.raft's interface.
"""
