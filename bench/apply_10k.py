"""apply_10k: the per-change cost of the pure core in a 10,000-node mesh.

One change = ``apply(state, PutNode(new node))`` + ``changed_node_ids`` + ``peer_changes`` for
one existing node + ``incremental_plan`` for its interface: everything a replica does for its own
WireGuard device when a node joins, short of talking to the device. Measured with
``time.perf_counter_ns`` around each repetition, on a state built with ``from_snapshot``.
"""

from __future__ import annotations

import base64
import gc
import ipaddress
import os
import time
from collections.abc import Callable

from common import BenchResult, Metric, percentile, progress, summary
from webmesh.mesh import commands
from webmesh.mesh import state as mesh_state
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.peers import Peer, peer_changes, peers_of
from webmesh.mesh.state import MeshState
from webmesh.reconcile.desired import LocalInterface, incremental_plan

NODES = 10_000
WITH_ENDPOINT_EVERY = 10  # 1 node in 10 has an endpoint (1,000 of 10,000), the others none
REPS = 2_000
FULL_REPS = 200
NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="", domain="webmesh.internal")
GOAL_MS = 1.0


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _address(index: int) -> str:
    return f"{ipaddress.IPv4Address(int(ipaddress.IPv4Address('172.16.0.1')) + index)}/32"


def _node(index: int, *, endpoint: bool, node_id: str = "") -> Node:
    return Node(
        id=node_id or f"node-{index:05d}",
        public_key=_key(),
        ipv4=_address(index),
        endpoints=(f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}:51820",)
        if endpoint
        else (),
        role=NodeRole.OBSERVER,
        api_address=f"{_address(index)[:-3]}:8443",
        raft_address=f"{_address(index)[:-3]}:9443",
        joined_at=1_700_000_000.0 + index,
    )


def build_state() -> MeshState:
    nodes = [_node(i, endpoint=i % WITH_ENDPOINT_EVERY == 0) for i in range(NODES)]
    snapshot = {
        "v": mesh_state.SNAPSHOT_VERSION,
        "index": NODES + 1,
        "networks": NETWORKS.to_dict(),
        "nodes": [n.to_dict() for n in nodes],
    }
    return mesh_state.from_snapshot(snapshot)


def local_interface(node: Node) -> LocalInterface:
    return LocalInterface(
        name="webmesh0",
        private_key=_key(),
        listen_port=51820,
        mtu=1420,
        addresses=(node.ipv4.replace("/32", "/12"),),
        networks=(NETWORKS.ipv4,),
        has_endpoint=bool(node.endpoints),
    )


def one_change(
    state: MeshState, new: Node, local_id: str, iface: LocalInterface, current: dict[str, Peer]
) -> int:
    """Everything one replica does for its own device when ``new`` is put. Returns plan size."""
    transition = mesh_state.apply(state, commands.PutNode(new))
    changed = mesh_state.changed_node_ids(transition.effects)
    assert changed is not None and transition.result.ok, transition.result
    delta = peer_changes(state, transition.state, local_id, changed)
    assert delta is not None, "the fast path must apply to an ordinary join"
    plan = incremental_plan(iface, current, delta)
    return len(plan.add) + len(plan.update) + len(plan.remove)


def _time_ns(fn: Callable[[], object], reps: int) -> list[float]:
    """Run ``fn`` ``reps`` times; return each duration in ms (GC left on, as in the node)."""
    samples = []
    for _ in range(reps):
        started = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def run() -> BenchResult:
    result = BenchResult(
        name="apply_10k",
        title="Apply one PutNode + one node's incremental peer plan, 10,000-node mesh",
        goal=f"< {GOAL_MS:g} ms",
        method=(
            f"Pure, in the benchmark process. A `MeshState` of {NODES:,} nodes built with "
            f"`from_snapshot` (1 in {WITH_ENDPOINT_EVERY} with an endpoint, the rest without; "
            "the oldest node with an endpoint is the relay). One repetition = `apply(PutNode(new "
            "node))` + `changed_node_ids` + `peer_changes(before, after, local, changed)` + "
            "`incremental_plan(local iface, current peers, delta)`, timed with "
            f"`perf_counter_ns`, {REPS:,} repetitions per case (each on the same base state, a "
            "different new node each time; GC enabled). Four cases: local node with/without an "
            "endpoint x new node with/without one. For contrast: `apply` alone and the full "
            f"recompute `peers_of(after, local)` ({FULL_REPS} repetitions)."
        ),
    )
    progress(f"apply_10k: building a {NODES:,}-node state")
    started = time.perf_counter()
    state = build_state()
    result.note(
        f"state built in {time.perf_counter() - started:.2f} s: {len(state.nodes):,} nodes, "
        f"relay {state.relay_id}"
    )
    locals_ = {
        "local with endpoint": "node-00050",  # i % 10 == 0: has an endpoint (not the relay)
        "local without endpoint": "node-00051",
    }
    counter = iter(range(NODES, NODES * 10))
    gc.collect()
    for local_label, local_id in locals_.items():
        local = state.nodes[local_id]
        iface = local_interface(local)
        current = {p.node_id: p for p in peers_of(state, local_id)}
        for new_endpoint in (True, False):
            new_label = "new with endpoint" if new_endpoint else "new without endpoint"
            sizes: list[int] = []

            def change(
                local_id: str = local_id,
                iface: LocalInterface = iface,
                current: dict[str, Peer] = current,
                new_endpoint: bool = new_endpoint,
                sizes: list[int] = sizes,
            ) -> None:
                index = next(counter)
                new = _node(index, endpoint=new_endpoint, node_id=f"new-{index}")
                sizes.append(one_change(state, new, local_id, iface, current))

            _time_ns(change, 50)  # warm-up
            sizes.clear()
            samples = _time_ns(change, REPS)
            label = f"{local_label}, {new_label}"
            result.add(
                Metric(f"{label}: p50", percentile(samples, 50), "ms", f"< {GOAL_MS:g} ms",
                       lambda v: v < GOAL_MS),
                Metric(f"{label}: p99", percentile(samples, 99), "ms"),
            )  # fmt: skip
            result.note(
                f"{label}: {summary(samples)} ms; plan changes per rep: {sorted(set(sizes))} "
                "(note: this includes building the new Node record)"
            )
    _contrast(result, state)
    return result


def _contrast(result: BenchResult, state: MeshState) -> None:
    indexes = iter(range(NODES * 20, NODES * 30))
    apply_only = _time_ns(
        lambda: mesh_state.apply(
            state, commands.PutNode(_node(next(indexes), endpoint=True, node_id="x"))
        ),
        REPS,
    )
    result.add(Metric("apply(PutNode) alone: p50", percentile(apply_only, 50), "ms"))
    result.note(f"apply(PutNode) alone: {summary(apply_only)} ms")
    # What apply no longer pays: a whole copy of the two 10k-entry maps (a C dict copy, the
    # fastest there is), against the persistent maps' change (one bucket and the bucket tuple).
    plain_nodes, plain_owners = dict(state.nodes.items()), dict(state.address_owners.items())
    whole = _time_ns(lambda: (plain_nodes.copy(), plain_owners.copy()), 500)
    extra = _node(NODES * 50, endpoint=True, node_id="y")
    persistent = _time_ns(
        lambda: (
            state.nodes.changed(put={extra.id: extra}),
            state.address_owners.changed(put=dict.fromkeys(extra.addresses(), extra.id)),
        ),
        500,
    )
    result.note(
        "inside apply: copying the two 10k-entry maps as dicts (what apply did before the "
        f"persistent maps) p50 {percentile(whole, 50):.3f} ms; the persistent maps' change "
        f"p50 {percentile(persistent, 50):.3f} ms"
    )
    node_only = _time_ns(lambda: _node(next(indexes), endpoint=True), REPS)
    result.note(f"building the new Node record alone (part of every rep): {summary(node_only)} ms")
    after = mesh_state.apply(state, commands.PutNode(_node(NODES * 40, endpoint=True))).state
    for label, local_id in (("with", "node-00050"), ("without", "node-00051")):
        full = _time_ns(lambda local_id=local_id: peers_of(after, local_id), FULL_REPS)
        peers = len(peers_of(after, local_id))
        result.add(
            Metric(f"full peers_of, local {label} endpoint: p50", percentile(full, 50), "ms")
        )
        result.note(
            f"full recompute peers_of (local {label} endpoint, {peers:,} peers): {summary(full)} ms"
        )
