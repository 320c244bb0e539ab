"""pysyncobj must not break socket.inet_ntop for the rest of the process (pyroute2 needs it)."""

from __future__ import annotations

import socket


def test_importing_the_raft_store_keeps_inet_ntop_working() -> None:
    import webmesh.raft.syncobj  # noqa: F401, PLC0415 (the import is what is tested)

    assert socket.inet_ntop(socket.AF_INET6, bytes(15) + b"\x01") == "::1"
