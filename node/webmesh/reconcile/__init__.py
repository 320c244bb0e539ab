"""Level-triggered reconciliation of the local WireGuard interface with the mesh state.

The desired configuration is a pure function of the latest peers (``desired``); the loop
(``loop``) recomputes it from the newest snapshot on every wake-up, so a lost or coalesced wake-up
does no harm. May import webmesh.wg and webmesh.mesh; nothing about Raft or gRPC.
"""
