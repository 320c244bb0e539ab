"""dashboard_state: the web view's document at 1,000 nodes, its size and what it costs to make.

In-process and pure: ``webmesh.mesh.view.build`` + ``encode`` on a state built with
``from_snapshot``, no server and no network. What one publish costs the node (the publisher
builds at most twice a second, and every 5 s while someone watches); every stream then shares
the bytes. Run alone: ``python bench/dashboard_state.py``.
"""

from __future__ import annotations

import base64
import gc
import ipaddress
import os
import time

from common import BenchResult, Metric, percentile, progress, summary
from webmesh.mesh import commands, view
from webmesh.mesh import state as mesh_state
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.state import MeshState

NODES = 1_000
SERVERS = 100  # nodes with an endpoint
PUNCH = 40  # nodes without one, seen from outside (hole punching)
OFFLINE_EVERY = 20
REPS = 50
NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="fd00:1:2::/48", domain="webmesh.internal")
NOW = 1_800_000_000.0


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _node(index: int) -> Node:
    address = ipaddress.IPv4Address("172.16.0.1") + index
    server = index < SERVERS
    return Node(
        id=f"node-{index:04d}",
        public_key=_key(),
        ipv4=f"{address}/32",
        ipv6=f"fd00:1:2:{index:x}::/64",
        endpoints=(f"203.0.{index // 256}.{index % 256}:51820",) if server else (),
        role=NodeRole.VOTER if index < 3 else NodeRole.OBSERVER,
        api_address=f"{address}:8443" if server else "",
        joined_at=NOW - 86_400 + index,
        observed_endpoint=f"198.51.{index // 256}.{index % 256}:4{index:04d}"
        if SERVERS <= index < SERVERS + PUNCH
        else "",
        routes=(f"10.{index}.0.0/16",) if index < 10 else (),
    )


def build_state() -> MeshState:
    nodes = [_node(i) for i in range(NODES)]
    snapshot = {
        "v": mesh_state.SNAPSHOT_VERSION,
        "index": NODES + 1,
        "networks": NETWORKS.to_dict(),
        "nodes": [n.to_dict() for n in nodes],
    }
    state = mesh_state.from_snapshot(snapshot)
    offline = {n.id: NOW - 3_600 for n in nodes[::OFFLINE_EVERY] if n.id != state.relay_id}
    state = mesh_state.apply(state, commands.SetPresence(offline=offline)).state
    punch = sorted(state.punch_nodes)
    for a, b in zip(punch[::2], punch[1::2], strict=False):  # half the pairs decided
        state = mesh_state.apply(state, commands.SetPath(a, b, "direct")).state
    return state


def run() -> BenchResult:
    result = BenchResult(
        name="dashboard_state",
        title="The web view's document at 1,000 nodes (build + encode)",
        goal="< 100 ms, < 1 MB",
        method=(
            f"Pure, in the benchmark process. A `MeshState` of {NODES:,} nodes ({SERVERS} with "
            f"an endpoint, {PUNCH} punch nodes, the rest without; 1 in {OFFLINE_EVERY} offline) "
            "from `from_snapshot`; a handshake time for every node. One repetition = "
            "`view.build(...)` + `view.encode(...)`, timed with `perf_counter`, "
            f"{REPS} repetitions."
        ),
    )
    progress("dashboard_state: building the state")
    state = build_state()
    handshakes = {n.public_key: NOW - 30.0 for n in state.nodes.values()}

    def once() -> bytes:
        document = view.build(
            state, served_by="node-0000", leader="node-0000", handshakes=handshakes, at=NOW
        )
        return view.encode(document)

    encoded = once()
    gc.collect()
    samples = []
    for _ in range(REPS):
        started = time.perf_counter()
        once()
        samples.append((time.perf_counter() - started) * 1e3)
    result.add(
        Metric("build + encode: p50", percentile(samples, 50), "ms", "< 100 ms",
               lambda v: v < 100),
        Metric("document size", len(encoded) / 1e3, "KB", "< 1000 KB", lambda v: v < 1000),
    )  # fmt: skip
    edges = view.graph(state)[0]
    result.note(f"build + encode: {summary(samples)} ms; {len(edges)} edges (complete: no)")
    return result


if __name__ == "__main__":
    outcome = run()
    for metric in outcome.metrics:
        print(f"{metric.name}: {metric.formatted()} {metric.verdict}")
