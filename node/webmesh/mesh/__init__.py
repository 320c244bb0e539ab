"""The pure domain core: mesh model, replicated commands, the state machine, IPAM and peer graph.

Stdlib only. Must not import any I/O library (grpc, pysyncobj, pyroute2, asyncio, sockets) nor any
other webmesh package: everything else is built on top of this.
"""
