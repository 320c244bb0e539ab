"""raft_commit: latency and throughput of mesh mutations through the API, 3 voters on loopback.

Three ``bench/fakenode.py`` processes (real Raft over TCP loopback, real gRPC, fake WireGuard),
one grpc.aio client in the benchmark process. A mutation is a ``Membership.Join`` of a new
synthetic node (unique id and key, an observer without endpoint), sent to the leader or to a
follower (which forwards it). For reference, raw ``SyncObjStore.propose(PutNode)`` is measured
inside the leader's process (no gRPC, no service lock).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import time
from dataclasses import dataclass

import grpc
from grpc import aio

from common import BenchResult, Metric, cpu_seconds, percentile, progress, summary
from loopback import FakeCluster, FakeNode
from webmesh.api.v1 import membership_pb2, membership_pb2_grpc

WARMUP = 30
SEQUENTIAL = 300
CONCURRENT = 1000
CONCURRENT_FOLLOWER = 600
IN_FLIGHT = 32
RAW_SEQUENTIAL = 500
RAW_CONCURRENT = 2000
GOAL_P50_MS = 5.0
GOAL_RATE = 1000.0
OFFERED_SECONDS = 5.0  # how long the open-loop phase offers GOAL_RATE Joins per second
GOAL_P99_MS = 50.0  # at GOAL_RATE offered

_ids = itertools.count()


class CpuMeter:
    """CPU used by the node processes and by this (client) process over a phase, in % of a core."""

    def __init__(self, nodes: list[FakeNode]) -> None:
        self.nodes = nodes
        self.wall = time.monotonic()
        self.before = [cpu_seconds(n.popen.pid) for n in nodes]
        self.client = time.process_time()

    def report(self) -> str:
        wall = time.monotonic() - self.wall
        used = [cpu_seconds(n.popen.pid) - b for n, b in zip(self.nodes, self.before, strict=True)]
        parts = [
            f"{n.node_id} {u / wall * 100:.0f}%" for n, u in zip(self.nodes, used, strict=True)
        ]
        parts.append(f"client {(time.process_time() - self.client) / wall * 100:.0f}%")
        total = (sum(used) + time.process_time() - self.client) / wall * 100
        return f"CPU over the phase (100% = one core): {', '.join(parts)}, total {total:.0f}%"


def join_request(tag: str) -> membership_pb2.JoinRequest:
    return membership_pb2.JoinRequest(
        id=f"join-{tag}-{next(_ids)}",
        public_key=base64.b64encode(os.urandom(32)).decode(),
        as_observer=True,
        raft_key=base64.b64encode(os.urandom(32)).decode(),
    )


async def joins(address: str, count: int, in_flight: int, tag: str) -> tuple[list[float], float]:
    """``count`` Joins with ``in_flight`` outstanding; (latencies in ms, wall seconds)."""
    latencies: list[float] = []
    async with aio.insecure_channel(address) as channel:
        stub = membership_pb2_grpc.MembershipStub(channel)
        await channel.channel_ready()
        todo = iter(range(count))

        async def worker() -> None:
            for _ in todo:
                request = join_request(tag)
                started = time.perf_counter()
                await stub.Join(request, timeout=30)
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return latencies, time.perf_counter() - started


async def offered_joins(address: str, rate: float, seconds: float, tag: str) -> OpenLoop:
    """Open loop: a Join starts every ``1/rate`` s whatever the answers (as clients arriving
    on their own do); each one's latency counts from its scheduled start, so a server that
    falls behind shows it as latency, not as a lower offered rate."""
    latencies: list[float] = []
    failures = 0
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    async with aio.insecure_channel(address) as channel:
        stub = membership_pb2_grpc.MembershipStub(channel)
        await channel.channel_ready()

        async def one(due: float) -> None:
            nonlocal failures
            try:
                await stub.Join(join_request(tag), timeout=30)
            except aio.AioRpcError as exc:
                failures += 1
                error = f"{exc.code().name}: {exc.details()}"[:160]
                errors[error] = errors.get(error, 0) + 1
                return
            latencies.append((loop.time() - due) * 1000)

        start = loop.time() + 0.05
        count = round(rate * seconds)
        tasks = []
        for i in range(count):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        wall = loop.time() - start
    return OpenLoop(latencies, failures, len(latencies) / wall if wall > 0 else 0.0, errors)


@dataclass(frozen=True)
class OpenLoop:
    latencies: list[float]
    failures: int
    rate: float  # completed / wall time, from the first start to the last answer
    errors: dict[str, int]  # "CODE: details" -> how many


SYNC_MODES = ("always", "batch", "off")  # measured on fresh clusters, after the main run


def run() -> BenchResult:
    result = BenchResult(
        name="raft_commit",
        title="Whole Join RPCs through the API: 3 voters, loopback, fake WireGuard",
        goal=f"p50 < {GOAL_P50_MS:g} ms, >= {GOAL_RATE:,.0f} Joins/s",
        method=(
            "Three `webmesh` nodes, each a process of its own (`bench/fakenode.py`: the "
            "`NodeDaemon` of `webmesh-node` with `FakeDriver`/`FakeLinks`, as in "
            "tests/integration/node), all voters, Raft and gRPC on 127.0.0.1, journal on disk. "
            "The benchmark process is the client (grpc.aio, one channel per target). A mutation "
            "= `Membership.Join` of a new node (unique id, random key, observer, no endpoint); "
            "latency = client-side time of the RPC. Sequential: one in flight "
            f"({SEQUENTIAL} each to the leader and to a follower, which forwards it). "
            f"Throughput: {IN_FLIGHT} in flight ({CONCURRENT} to the leader, "
            f"{CONCURRENT_FOLLOWER} via a follower), Joins/s = completed / wall time. "
            f"The goal itself, open loop: a Join starts every {1000 / GOAL_RATE:g} ms for "
            f"{OFFERED_SECONDS:g} s through the leader whatever the answers, latency from its "
            "scheduled start (a leader that falls behind shows it as latency). "
            "Reference: raw `SyncObjStore.propose(PutNode)` inside the leader's process, "
            f"{RAW_SEQUENTIAL} sequential and {RAW_CONCURRENT} with {IN_FLIGHT} in flight. "
            "The voters advertise no endpoint, so the synthetic nodes peer with nobody and the "
            "fake driver does no work: its `apply` is O(peers) (~9 ms at 3,000 peers), which "
            "would measure the test double instead of webmesh. The mesh grows by every "
            "mutation (about 10,000 nodes at the end). 4 processes share 2 cores. The main run "
            "uses --raft.sync=always (the default: fsync before every acknowledgement, group "
            "commit); then each sync mode gets a fresh cluster, the leader's Join throughput "
            "phase and the open-loop phase."
        ),
    )
    cluster = FakeCluster()
    try:
        progress("raft_commit: starting 3 voters")
        n1, n2, n3 = _voters(cluster, "always")
        leader = _wait_leader(cluster)
        follower = next(n for n in (n1, n2, n3) if n is not leader)
        result.note(f"leader {leader.node_id}, follower used {follower.node_id}")
        nodes = [n1, n2, n3]
        asyncio.run(_api_phases(result, leader, follower, nodes))
        asyncio.run(_offered_phase(result, leader, nodes, "main run, --raft.sync=always"))
        _raw_phases(result, leader, nodes)
        converged = _converged(nodes)
        truncations = cluster.count_in_logs("truncating")
        criticals = cluster.count_in_logs('"level": "critical"')
        result.note(
            f"pysyncobj 'truncating already-applied log entries' lines in the logs: "
            f"{truncations}; CRITICAL lines: {criticals}"
        )
        result.note(
            "replicas at the end (nodes/applied index): "
            + ", ".join(f"{n} {s['nodes']}/{s['index']}" for n, s in converged.items())
            + (" (identical)" if len({(s["nodes"], s["index"]) for s in converged.values()}) == 1
               else " (DIFFERENT after 10 s)")
        )  # fmt: skip
    finally:
        cluster.close()
    for mode in SYNC_MODES:
        _sync_mode_phase(result, mode)
    return result


def _voters(cluster: FakeCluster, sync: str) -> tuple[FakeNode, FakeNode, FakeNode]:
    extra = (f"--raft.sync={sync}",)
    n1 = cluster.start("v1", endpoint=False, extra=extra)
    n2 = cluster.start("v2", join=n1, voter=True, endpoint=False, extra=extra)
    n3 = cluster.start("v3", join=n1, voter=True, endpoint=False, extra=extra)
    return n1, n2, n3


def _sync_mode_phase(result: BenchResult, mode: str) -> None:
    """What each --raft.sync mode costs: a fresh cluster, Join throughput through the leader."""
    cluster = FakeCluster()
    try:
        progress(f"raft_commit: --raft.sync={mode}: 3 fresh voters, {CONCURRENT} Joins")
        nodes = list(_voters(cluster, mode))
        leader = _wait_leader(cluster)

        async def measure() -> tuple[list[float], float]:
            await joins(leader.api, WARMUP, 1, "warm")
            measured = await joins(leader.api, CONCURRENT, IN_FLIGHT, f"sync{mode}")
            await _offered_phase(result, leader, nodes, f"fresh voters, --raft.sync={mode}")
            return measured

        latencies, wall = asyncio.run(measure())
        rate = len(latencies) / wall
        result.add(
            Metric(f"Join throughput, leader, {IN_FLIGHT} in flight, --raft.sync={mode}", rate,
                   "Joins/s"),
            Metric(f"Join latency under load, leader, --raft.sync={mode}: p99",
                   percentile(latencies, 99), "ms"),
        )  # fmt: skip
        result.note(
            f"--raft.sync={mode}: {len(latencies)} Joins in {wall:.2f} s = {rate:.0f}/s; "
            f"latency {summary(latencies)} ms ({len(nodes)} fresh voters)"
        )
    finally:
        cluster.close()


def _converged(nodes: list[FakeNode], timeout: float = 10.0) -> dict[str, dict[str, int]]:
    """Each replica's (nodes, index) once they agree, or as they are after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        states = {n.node_id: n.request({"cmd": "status"}) for n in nodes}
        if len({(s["nodes"], s["index"]) for s in states.values()}) == 1:
            return states
        if time.monotonic() >= deadline:
            return states
        time.sleep(0.2)


def _wait_leader(cluster: FakeCluster, timeout: float = 20.0) -> FakeNode:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader = cluster.leader()
        if leader is not None:
            return leader
        time.sleep(0.1)
    raise RuntimeError("no single raft leader among the 3 voters")


async def _api_phases(
    result: BenchResult, leader: FakeNode, follower: FakeNode, nodes: list[FakeNode]
) -> None:
    await joins(leader.api, WARMUP, 1, "warm")
    await joins(follower.api, WARMUP, 1, "warmf")
    for label, target in (("leader", leader), ("via follower", follower)):
        progress(f"raft_commit: {SEQUENTIAL} sequential Joins, {label}")
        latencies, _ = await joins(target.api, SEQUENTIAL, 1, f"seq{label[:3]}")
        result.add(
            Metric(f"Join latency, {label}: p50", percentile(latencies, 50), "ms",
                   f"< {GOAL_P50_MS:g} ms", lambda v: v < GOAL_P50_MS),
            Metric(f"Join latency, {label}: p99", percentile(latencies, 99), "ms"),
        )  # fmt: skip
        result.note(f"sequential Join, {label}: {summary(latencies)} ms")
    for label, target, count in (
        ("leader", leader, CONCURRENT),
        ("via follower", follower, CONCURRENT_FOLLOWER),
    ):
        progress(f"raft_commit: {count} Joins, {IN_FLIGHT} in flight, {label}")
        meter = CpuMeter(nodes)
        entries_before = leader.request({"cmd": "status"})["commit"]
        try:
            latencies, wall = await joins(target.api, count, IN_FLIGHT, f"con{label[:3]}")
        except aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            result.note(f"concurrent Join, {label}: deadline exceeded: {exc.details()}")
            continue
        rate = len(latencies) / wall
        result.add(
            Metric(f"Join throughput, {label}, {IN_FLIGHT} in flight", rate, "Joins/s",
                   f">= {GOAL_RATE:,.0f}/s", lambda v: v >= GOAL_RATE),
            Metric(f"Join latency under load, {label}: p50", percentile(latencies, 50), "ms"),
        )  # fmt: skip
        entries = leader.request({"cmd": "status"})["commit"] - entries_before
        result.note(
            f"{IN_FLIGHT} in flight, {label}: {len(latencies)} Joins in {wall:.2f} s = "
            f"{rate:.0f}/s; latency {summary(latencies)} ms; {meter.report()}; "
            f"{entries} Raft entries ({len(latencies) / max(entries, 1):.1f} Joins per entry)"
        )


async def _offered_phase(
    result: BenchResult, leader: FakeNode, nodes: list[FakeNode], label: str
) -> None:
    """The goal itself: Joins arrive at GOAL_RATE per second (open loop) through the leader."""
    progress(f"raft_commit: Joins offered at {GOAL_RATE:,.0f}/s for {OFFERED_SECONDS:g} s, {label}")
    meter = CpuMeter(nodes)
    run = await offered_joins(leader.api, GOAL_RATE, OFFERED_SECONDS, f"open{label[-3:]}")
    offered = round(GOAL_RATE * OFFERED_SECONDS)
    result.add(
        Metric(f"Join at {GOAL_RATE:,.0f}/s offered, leader, {label}: p99",
               percentile(run.latencies, 99) if run.latencies else float("inf"), "ms",
               f"< {GOAL_P99_MS:g} ms, all answered",
               lambda v: v < GOAL_P99_MS and run.failures == 0 and len(run.latencies) == offered),
        Metric(f"Join at {GOAL_RATE:,.0f}/s offered, leader, {label}: p50",
               percentile(run.latencies, 50) if run.latencies else float("inf"), "ms"),
    )  # fmt: skip
    result.note(
        f"{GOAL_RATE:,.0f}/s offered for {OFFERED_SECONDS:g} s (open loop), leader, {label}: "
        f"{len(run.latencies)} of {offered} answered, {run.failures} failed"
        f"{f' {run.errors}' if run.errors else ''}, "
        f"{run.rate:.0f}/s completed; latency {summary(run.latencies)} ms; {meter.report()}"
    )


# The contrast figure, named so that nobody quotes it as what a client gets: no gRPC, no Join.
RAW = "in-process, raw store.propose(PutNode) inside the leader (no gRPC, no Join logic)"


def _raw_phases(result: BenchResult, leader: FakeNode, nodes: list[FakeNode]) -> None:
    for label, count, in_flight, offset in (
        ("sequential", RAW_SEQUENTIAL, 1, 0),
        (f"{IN_FLIGHT} in flight", RAW_CONCURRENT, IN_FLIGHT, RAW_SEQUENTIAL),
    ):
        progress(f"raft_commit: raw store.propose(PutNode), {count}, {label}")
        meter = CpuMeter(nodes)
        answer = leader.request(
            {"cmd": "propose", "n": count, "concurrency": in_flight, "tag": f"r{in_flight}",
             "offset": offset},
            timeout=300,
        )  # fmt: skip
        latencies = answer["latencies_ms"]
        rate = len(latencies) / answer["elapsed_s"]
        if answer["error_count"]:
            result.note(f"raw propose {label}: {answer['error_count']} errors: {answer['errors']}")
        if in_flight == 1:
            result.add(
                Metric(f"{RAW}: latency p50", percentile(latencies, 50), "ms"),
                Metric(f"{RAW}: latency p99", percentile(latencies, 99), "ms"),
            )
        else:
            result.add(Metric(f"{RAW}: throughput, {label}", rate, "commits/s"))
        result.note(
            f"raw propose {label}: {len(latencies)} in {answer['elapsed_s']:.2f} s = "
            f"{rate:.0f}/s; latency {summary(latencies)} ms; {meter.report()}"
        )
