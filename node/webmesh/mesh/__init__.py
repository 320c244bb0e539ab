"""The pure domain core: mesh model, replicated commands, the state machine, IPAM and peer graph.

Stdlib only. Must not import any I/O library (grpc, pysyncobj, pyroute2, asyncio, sockets). Of
webmesh it imports only the floors below it: ``webmesh.authz`` (the policy objects the state
stores), ``webmesh.syntax`` and ``webmesh.errors``. Everything above builds on this; nothing below
(authz, raft, wg, authn) imports it.
"""
