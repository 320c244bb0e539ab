"""The consensus store: the only package that imports pysyncobj.

It replicates opaque byte entries through Raft and drives a ``StateMachine``; it knows nothing of
the mesh model. Callers use the ``ConsensusStore`` protocol in ``webmesh.raft.store``, so the Raft
library can be replaced without touching them. Must not import grpc, pyroute2 or other webmesh
packages except ``webmesh.mesh.errors``.
"""

import socket as _socket

# pysyncobj 0.3.17 (pysyncobj/win_inet_pton.py) replaces ``socket.inet_ntop`` for the whole
# process with a Windows-only function that raises on Linux, which breaks every other user of it
# (pyroute2 decoding IPv6 addresses, among others). Import it once here, where every import of
# pysyncobj goes through, and put the real function back.
_inet_ntop = _socket.inet_ntop
import pysyncobj.tcp_connection  # noqa: E402,F401  (triggers the patch, then we undo it)

_socket.inet_ntop = _inet_ntop
