"""The consensus store: the only package that imports pysyncobj.

It replicates opaque byte entries through Raft and drives a ``StateMachine``; it knows nothing of
the mesh model. Callers use the ``ConsensusStore`` protocol in ``webmesh.raft.store``, so the Raft
library can be replaced without touching them. Must not import grpc, pyroute2 or other webmesh
packages except ``webmesh.errors``.

Modules: ``store`` (the protocol), ``syncobj`` (``SyncObjStore``, the pysyncobj adapter and the
asyncio bridge), ``consumer`` (the one replicated entry point; JSON snapshots), ``config``
(``SyncObjConf`` and timings), ``codec`` (pysyncobj's messages in our schema, ``v1/wire.proto``:
no pickle on the wire), ``credentials`` (each replica's key, the roster of admitted keys),
``handshake`` (the fixed-size mutual authentication), ``channel`` (one authenticated, framed,
bounded, encrypted connection),
``transport`` (pysyncobj's transport on channels; admission and refusals), ``snapshot`` (our
snapshot files), ``appends`` (Raft's append rule: no truncation of matching entries),
``durability`` (fsynced journal and the barrier: acknowledged means on disk), ``status`` and
``failures`` (pure mappings to ``RaftStatus`` and domain errors).
"""

import _socket as _c_socket
import socket as _socket

# pysyncobj 0.3.17 (pysyncobj/win_inet_pton.py) replaces ``socket.inet_ntop`` for the whole
# process with a Windows-only function that raises on Linux, which breaks every other user of it
# (pyroute2 decoding IPv6 addresses, among others). Import it here and put the C function back
# (taken from ``_socket``, so it is the real one even if pysyncobj was imported before us).
import pysyncobj.tcp_connection  # noqa: F401  (applies the patch, which we then undo)

_socket.inet_ntop = _c_socket.inet_ntop
