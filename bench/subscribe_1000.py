"""subscribe_1000: fan-out of one change to 1,000 ``Membership.SubscribePeers`` streams.

One server (a ``bench/fakenode.py`` process: the node's daemon with fake WireGuard, on loopback)
with 1,000 client nodes registered by ``Join`` (role client, no endpoint: each one's peer list is
the server, its relay). The benchmark process opens one stream per client (grpc.aio, a few
channels, many streams each), then a new node WITH an endpoint joins: every client must receive a
list that contains it. Per stream: time from the change to the yielded list.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time

from grpc import aio

from common import BenchResult, Metric, percentile, progress, summary
from loopback import FakeCluster, FakeNode
from webmesh.api.v1 import membership_pb2, membership_pb2_grpc

CLIENTS = 1000
CHANNELS = 8
ROUNDS = 3
JOIN_IN_FLIGHT = 16
GOAL_P99_MS = 1000.0
WAIT = 60.0


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class Stream:
    """One client's SubscribePeers stream; records when each awaited node first shows up."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.initial = asyncio.Event()
        self.seen: dict[str, float] = {}  # node id -> perf_counter when first listed
        self.messages = 0
        self.error = ""

    async def follow(self, stub: membership_pb2_grpc.MembershipStub) -> None:
        request = membership_pb2.SubscribePeersRequest(id=self.node_id)
        try:
            async for peer_list in stub.SubscribePeers(request):
                now = time.perf_counter()
                self.messages += 1
                for peer in peer_list.peers:
                    self.seen.setdefault(peer.id, now)
                self.initial.set()
        except aio.AioRpcError as exc:
            if exc.code().name != "CANCELLED":
                self.error = f"{exc.code().name}: {exc.details()}"
        except asyncio.CancelledError:
            pass


async def _register(server: FakeNode) -> None:
    async with aio.insecure_channel(server.api) as channel:
        stub = membership_pb2_grpc.MembershipStub(channel)
        todo = iter(range(CLIENTS))

        async def worker() -> None:
            for i in todo:
                await stub.Join(
                    membership_pb2.JoinRequest(id=f"client-{i}", public_key=_key()), timeout=30
                )

        await asyncio.gather(*(worker() for _ in range(JOIN_IN_FLIGHT)))


async def _scenario(result: BenchResult, server: FakeNode) -> None:
    progress(f"subscribe_1000: registering {CLIENTS} client nodes with Join")
    started = time.perf_counter()
    await _register(server)
    result.note(f"{CLIENTS} clients registered in {time.perf_counter() - started:.1f} s")
    channels = [
        aio.insecure_channel(server.api, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(CHANNELS)
    ]
    streams = [Stream(f"client-{i}") for i in range(CLIENTS)]
    tasks: list[asyncio.Task[None]] = []
    try:
        stubs = [membership_pb2_grpc.MembershipStub(c) for c in channels]
        progress(f"subscribe_1000: opening {CLIENTS} streams on {CHANNELS} channels")
        started = time.perf_counter()
        tasks = [asyncio.create_task(s.follow(stubs[i % CHANNELS])) for i, s in enumerate(streams)]
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(s.initial.wait() for s in streams))
        result.note(
            f"{CLIENTS} streams open, initial lists received in "
            f"{time.perf_counter() - started:.1f} s"
        )
        async with aio.insecure_channel(server.api) as control:
            stub = membership_pb2_grpc.MembershipStub(control)
            from_send: list[float] = []
            from_commit: list[float] = []
            replies: list[float] = []
            for round_ in range(ROUNDS):
                await asyncio.sleep(1.0)  # let the server settle
                await _one_round(result, server, stub, streams, round_,
                                 from_send, from_commit, replies)  # fmt: skip
        result.add(
            Metric("from commit: p50", percentile(from_commit, 50), "ms"),
            Metric("from commit: p99", percentile(from_commit, 99), "ms",
                   f"< {GOAL_P99_MS:g} ms", lambda v: v < GOAL_P99_MS),
            Metric("from commit: max", max(from_commit, default=float("nan")), "ms"),
            Metric("from sending the Join: p50", percentile(from_send, 50), "ms"),
            Metric("from sending the Join: p99", percentile(from_send, 99), "ms",
                   f"< {GOAL_P99_MS:g} ms", lambda v: v < GOAL_P99_MS),
            Metric("from sending the Join: max", max(from_send, default=float("nan")), "ms"),
        )  # fmt: skip
        result.note(f"all rounds, from commit: {summary(from_commit)} ms")
        result.note(f"all rounds, from sending the Join: {summary(from_send)} ms")
        result.note(
            f"the Join RPC itself (client view): {', '.join(f'{r:.0f}' for r in replies)} ms; "
            "its reply can come after the streams' updates: the server's event loop serves the "
            "woken streams before it resumes the Join"
        )
        errors = [s.error for s in streams if s.error]
        if errors:
            result.note(f"{len(errors)} streams failed, e.g. {errors[0]}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for channel in channels:
            await channel.close()


async def _one_round(
    result: BenchResult,
    server: FakeNode,
    stub: membership_pb2_grpc.MembershipStub,
    streams: list[Stream],
    round_: int,
    from_send: list[float],
    from_commit: list[float],
    replies: list[float],
) -> None:
    newcomer = f"newcomer-{round_}"
    progress(f"subscribe_1000: round {round_ + 1}: {newcomer} (with an endpoint) joins")
    sent_wall, sent = time.time(), time.perf_counter()
    await stub.Join(
        membership_pb2.JoinRequest(
            id=newcomer,
            public_key=_key(),
            wireguard_endpoints=[f"192.0.2.{round_ + 1}:51820"],
            as_observer=True,
            raft_key=_key(),
        ),
        timeout=30,
    )
    replied = time.perf_counter()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not all(newcomer in s.seen for s in streams):
        await asyncio.sleep(0.01)
    got = [s.seen[newcomer] for s in streams if newcomer in s.seen]
    # When the server applied it (its observer on the Raft thread, right after the state swap).
    committed_wall = server.request({"cmd": "applied_at", "id": newcomer}).get("at")
    if committed_wall is None:
        raise RuntimeError(f"the server never applied {newcomer}")
    committed = sent + (committed_wall - sent_wall)
    send_ms = [(t - sent) * 1000 for t in got]
    commit_ms = [(t - committed) * 1000 for t in got]
    from_send.extend(send_ms)
    from_commit.extend(commit_ms)
    replies.append((replied - sent) * 1000)
    result.note(
        f"round {round_ + 1}: {len(got)}/{len(streams)} streams got {newcomer}; Join RPC "
        f"{(replied - sent) * 1000:.1f} ms, applied on the server at "
        f"+{(committed - sent) * 1000:.1f} ms; from commit {summary(commit_ms)} ms"
    )
    if len(got) < len(streams):
        raise RuntimeError(f"only {len(got)} of {len(streams)} streams saw {newcomer}")


def run() -> BenchResult:
    result = BenchResult(
        name="subscribe_1000",
        title="One change fanned out to 1,000 SubscribePeers streams",
        goal=f"p99 < {GOAL_P99_MS:g} ms",
        method=(
            "One server: a `bench/fakenode.py` process (the `webmesh-node` daemon with fake "
            "WireGuard, on loopback, with an endpoint, bootstrap voter). "
            f"{CLIENTS} client nodes registered with `Join` (role client, no endpoint). The "
            f"benchmark process opens {CLIENTS} `SubscribePeers` streams (grpc.aio, "
            f"{CHANNELS} channels with their own connections, {CLIENTS // CHANNELS} streams "
            "each) and waits for every initial list. Then a new node WITH an endpoint joins "
            "(every endpointless client must get it as a direct peer) and each stream's receive "
            "time of the first list containing it is recorded (`perf_counter` in the client "
            "task). Reported from the commit (when the server applied the entry: an observer on "
            "its Raft thread records the wall clock right after the state swap; same host "
            "clock) and from sending the Join. "
            f"{ROUNDS} rounds, {ROUNDS * CLIENTS} samples. Server and client are two processes "
            "sharing 2 cores."
        ),
    )
    cluster = FakeCluster()
    try:
        server = cluster.start("server")
        asyncio.run(_scenario(result, server))
    finally:
        cluster.close()
    return result
