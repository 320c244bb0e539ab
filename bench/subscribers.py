"""Many ``Membership.SubscribePeers`` subscribers in one process, each on a connection of its own.

    python bench/subscribers.py TARGET FIRST COUNT [--pki DIR] [--timeout SECONDS]

Subscribes as the client nodes ``client-FIRST`` .. ``client-(FIRST+COUNT-1)``: one grpc.aio
channel per subscriber with ``grpc.use_local_subchannel_pool`` (a subchannel, so a TCP connection,
of its own: channels never share one) and one stream on it. With ``--pki DIR`` every channel is a
TLS channel of its own (its own handshake: no session cache) with the client certificate
``DIR/client-N.crt`` + ``.key``, verified against ``DIR/ca.crt``; without it, plaintext.

Line-based JSON on stdout (events and replies) and stdin (requests), like ``bench/fakenode.py``:

- on start it opens every stream and prints ``{"event": "ready", "streams": N, "seconds": S}``
  once each stream has received its initial peer list (``{"event": "failed", "error": ...}``
  when one fails or ``--timeout`` passes first);
- ``{"cmd": "seen", "id": X, "timeout": S}`` -> ``{"times": [...], "missing": K, "errors": [...]}``:
  waits (at most S seconds) until every stream has received a peer list that lists node X, then
  gives each stream's receive time of the first such list: ``time.monotonic()`` (CLOCK_MONOTONIC,
  the same clock in every process of the machine), taken as the message arrives;
- ``{"cmd": "stop"}``: close every stream and channel, and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import sys
import time
from pathlib import Path

import grpc
from grpc import aio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "node"))

from child import raise_nofile_limit, reply, requests
from webmesh.api.v1 import membership_pb2, membership_pb2_grpc

OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


class Tracker:
    """How many streams have listed each node so far; wakes whoever waits for all of them."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.counts: collections.Counter[str] = collections.Counter()
        self.waiters: dict[str, asyncio.Event] = {}
        self.initial = 0
        self.all_initial = asyncio.Event()
        self.failed = asyncio.Event()

    def saw(self, node_id: str) -> None:
        self.counts[node_id] += 1
        if self.counts[node_id] >= self.total and node_id in self.waiters:
            self.waiters[node_id].set()

    def got_initial(self) -> None:
        self.initial += 1
        if self.initial >= self.total:
            self.all_initial.set()

    async def all_saw(self, node_id: str, timeout: float) -> None:
        if self.counts[node_id] >= self.total:
            return
        event = self.waiters.setdefault(node_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()


class Subscriber:
    """One client node's channel (its own connection) and SubscribePeers stream."""

    def __init__(self, node_id: str, target: str, pki: Path | None, tracker: Tracker) -> None:
        self.node_id = node_id
        self.tracker = tracker
        self.seen: dict[str, float] = {}  # node id -> monotonic time of the first list with it
        self.error = ""
        if pki is None:
            self.channel = aio.insecure_channel(target, options=OPTIONS)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=(pki / "ca.crt").read_bytes(),
                private_key=(pki / f"{node_id}.key").read_bytes(),
                certificate_chain=(pki / f"{node_id}.crt").read_bytes(),
            )
            self.channel = aio.secure_channel(target, credentials, options=OPTIONS)

    async def follow(self) -> None:
        stub = membership_pb2_grpc.MembershipStub(self.channel)
        request = membership_pb2.SubscribePeersRequest(id=self.node_id)
        first = True
        try:
            async for peer_list in stub.SubscribePeers(request):
                now = time.monotonic()
                for peer in peer_list.peers:
                    if peer.id not in self.seen:
                        self.seen[peer.id] = now
                        self.tracker.saw(peer.id)
                if first:
                    first = False
                    self.tracker.got_initial()
            self.error = "the stream ended"
        except aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = f"{exc.code().name}: {exc.details()}"
        except asyncio.CancelledError:
            return
        if self.error:
            self.tracker.failed.set()


async def open_all(subscribers: list[Subscriber], tracker: Tracker, timeout: float) -> str:
    """Wait for every initial list; '' when all came, else why not."""
    started = time.monotonic()
    done = asyncio.create_task(tracker.all_initial.wait())
    failed = asyncio.create_task(tracker.failed.wait())
    try:
        await asyncio.wait({done, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        done.cancel()
        failed.cancel()
    errors = [f"{s.node_id}: {s.error}" for s in subscribers if s.error]
    if errors:
        return f"{len(errors)} streams failed, e.g. {errors[0]}"
    if not tracker.all_initial.is_set():
        return (
            f"only {tracker.initial} of {len(subscribers)} streams got their initial list "
            f"within {timeout:g}s ({time.monotonic() - started:.1f}s)"
        )
    return ""


async def serve(args: argparse.Namespace) -> None:
    ids = [f"client-{i}" for i in range(args.first, args.first + args.count)]
    tracker = Tracker(len(ids))
    pki = Path(args.pki) if args.pki else None
    started = time.monotonic()
    subscribers = [Subscriber(node_id, args.target, pki, tracker) for node_id in ids]
    tasks = [asyncio.create_task(s.follow()) for s in subscribers]
    try:
        problem = await open_all(subscribers, tracker, args.timeout)
        if problem:
            reply({"event": "failed", "error": problem})
            return
        reply({"event": "ready", "streams": len(ids), "seconds": time.monotonic() - started})
        async for request in requests():
            cmd = request.get("cmd")
            if cmd == "seen":
                node_id = str(request["id"])
                await tracker.all_saw(node_id, float(request.get("timeout", 60.0)))
                times = [s.seen[node_id] for s in subscribers if node_id in s.seen]
                errors = [f"{s.node_id}: {s.error}" for s in subscribers if s.error]
                reply({"times": times, "missing": len(ids) - len(times), "errors": errors[:5]})
            else:
                reply({"error": f"unknown command {cmd!r}"})
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(s.channel.close() for s in subscribers), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="HOST:PORT of the server's API")
    parser.add_argument("first", type=int, help="the first client number (client-FIRST)")
    parser.add_argument("count", type=int, help="how many subscribers")
    parser.add_argument("--pki", default="", help="directory of ca.crt and client-N.crt/.key")
    parser.add_argument("--timeout", type=float, default=120.0, help="for the initial lists")
    args = parser.parse_args()
    raise_nofile_limit()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
