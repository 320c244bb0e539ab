"""A webmesh node in a process of its own, on loopback, with the in-memory WireGuard driver.

    python bench/fakenode.py NODE_ID -- <webmesh-node settings...>

The same ``NodeDaemon`` that ``webmesh-node`` runs, built as the loopback integration tests build
it (``FakeDriver``/``FakeLinks``: no interface, no root), so that several nodes and the benchmark
client each get their own interpreter (their own GIL) as real nodes would. Logs (JSON) go to
stderr. Control is line-based JSON: one request per stdin line, one reply per stdout line:

- ``{"cmd": "status"}`` -> ``{"leader": bool, "nodes": int, "index": int, "commit": int}``
  (``index``: commands applied to the state; ``commit``: the Raft log's commit index)
- ``{"cmd": "propose", "n": N, "concurrency": C, "tag": "x", "offset": K}``: N raw
  ``store.propose(PutNode(new node))`` calls on this node's store, C in flight; replies with every
  latency (ms), the wall time and the errors. Node ids are ``raw-TAG-i``; addresses are taken from
  the top of 172.16.0.0/12 downwards (``offset`` onwards), away from what IPAM hands out.
- ``{"cmd": "propose_at", "rate": R, "seconds": S, "tag": "x", "offset": K}``: the same proposals
  in an open loop, one every ``1/R`` s for ``S`` s whatever the answers; each latency counts from
  its scheduled start (as ``bench/raft_commit.offered_joins`` counts a Join's).
- ``{"cmd": "applied_at", "id": X}`` -> ``{"at": wall seconds or null}``: when this replica applied
  the entry that added node X, recorded by an observer on the Raft thread right after the state
  swap (independent of how busy the event loop is).
- ``{"cmd": "stop"}``: shut down and exit.

On start it prints ``{"event": "ready"}`` once the daemon has started.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "node"))

from child import raise_nofile_limit, reply, requests
from webmesh import logs
from webmesh.daemon.node import NodeDaemon
from webmesh.daemon.settings import load_settings
from webmesh.mesh import commands
from webmesh.mesh.model import Node, NodeRole
from webmesh.mesh.state import Effect, MeshState, NodeAdded
from webmesh.raft.store import ConsensusStore
from webmesh.wg.fake import FakeDriver, FakeLinks

TOP = int(ipaddress.IPv4Address("172.31.255.254"))


def raw_node(tag: str, index: int) -> Node:
    return Node(
        id=f"raw-{tag}-{index}",
        public_key=base64.b64encode(os.urandom(32)).decode(),
        ipv4=f"{ipaddress.IPv4Address(TOP - index)}/32",
        role=NodeRole.OBSERVER,
        joined_at=time.time(),
    )


async def propose_many(daemon: NodeDaemon, request: dict[str, Any]) -> dict[str, Any]:
    store = daemon.store
    assert store is not None
    n, concurrency = int(request["n"]), int(request["concurrency"])
    tag, offset = str(request["tag"]), int(request.get("offset", 0))
    entries = [commands.encode(commands.PutNode(raw_node(tag, offset + i))) for i in range(n)]
    pending = iter(entries)
    outcome = _Outcome()

    async def worker() -> None:
        for entry in pending:
            await outcome.propose(store, entry, time.perf_counter())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcome.reply(time.perf_counter() - started)


async def propose_at(daemon: NodeDaemon, request: dict[str, Any]) -> dict[str, Any]:
    """Raw proposals in an open loop: one every ``1/rate`` s, latency from its scheduled start."""
    store = daemon.store
    assert store is not None
    rate, seconds = float(request["rate"]), float(request["seconds"])
    tag, offset = str(request["tag"]), int(request.get("offset", 0))
    count = round(rate * seconds)
    entries = [commands.encode(commands.PutNode(raw_node(tag, offset + i))) for i in range(count)]
    outcome = _Outcome()
    start = time.perf_counter() + 0.05
    tasks = []
    for i, entry in enumerate(entries):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(outcome.propose(store, entry, due)))
    await asyncio.gather(*tasks)
    return outcome.reply(time.perf_counter() - start)


class _Outcome:
    """Latencies and errors of raw proposals, and the reply that reports them."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []

    async def propose(self, store: ConsensusStore, entry: bytes, since: float) -> None:
        try:
            raw = await store.propose(entry, timeout=10.0)
            commands.Result.decode(raw).raise_for_error()
        except Exception as exc:
            self.errors.append(repr(exc))
            return
        self.latencies.append((time.perf_counter() - since) * 1000)

    def reply(self, elapsed: float) -> dict[str, Any]:
        return {"latencies_ms": self.latencies, "elapsed_s": elapsed, "errors": self.errors[:5],
                "error_count": len(self.errors)}  # fmt: skip


async def serve(node_id: str, argv: list[str]) -> None:
    settings = load_settings(argv, environ={}, hostname=node_id)
    logs.configure(settings.global_.log_level, "json")
    driver = FakeDriver()
    daemon = NodeDaemon(settings, driver=driver, links=FakeLinks(driver=driver))
    applied: dict[str, float] = {}

    def record(state: MeshState, effects: tuple[Effect, ...]) -> None:  # on the Raft thread
        now = time.time()
        for effect in effects:
            if isinstance(effect, NodeAdded):
                applied.setdefault(effect.node.id, now)

    daemon.machine.subscribe(record)
    try:
        await daemon.start()
        reply({"event": "ready"})
        async for request in requests():
            cmd = request.get("cmd")
            if cmd == "status":
                state = daemon.machine.state
                store = daemon.store
                leader = store is not None and store.is_leader()
                commit = store.status().commit_index if store is not None else 0
                reply(
                    {
                        "leader": leader,
                        "nodes": len(state.nodes),
                        "index": state.index,
                        "commit": commit,
                    }
                )
            elif cmd == "applied_at":
                reply({"at": applied.get(str(request["id"]))})
            elif cmd == "propose":
                reply(await propose_many(daemon, request))
            elif cmd == "propose_at":
                reply(await propose_at(daemon, request))
            else:
                reply({"error": f"unknown command {cmd!r}"})
    finally:
        await daemon.shutdown()


def main() -> None:
    node_id, sep, *argv = sys.argv[1:]
    assert sep == "--", "usage: fakenode.py NODE_ID -- SETTINGS..."
    raise_nofile_limit()
    profile = os.environ.get("WEBMESH_BENCH_PROFILE")  # a file: cProfile of the event loop
    if not profile:
        asyncio.run(serve(node_id, argv))
        return
    import cProfile  # noqa: PLC0415  # only when asked

    statement = "asyncio.run(serve(node_id, argv))"
    cProfile.runctx(statement, globals(), locals(), f"{profile}.{node_id}")


if __name__ == "__main__":
    main()
