"""subscribe_1000: fan-out of one change to 1,000 real subscribers, plaintext and over TLS.

One server (a ``bench/fakenode.py`` process: the node's daemon with fake WireGuard, on loopback)
with 1,000 client nodes registered by ``Join`` (role client, no endpoint: each one's peer list is
the server, its relay). 1,000 separate subscribers then open one ``Membership.SubscribePeers``
stream each, every one on a grpc.aio channel of its own (its own TCP connection), spread over 4
subscriber processes (``bench/subscribers.py``, 250 each). A new node WITH an endpoint joins:
every subscriber must receive a list that contains it. Per stream: time from the change to the
received list, on CLOCK_MONOTONIC (shared by every process of the machine).

Two variants, each with a server of its own:

- plaintext: 1,000 TCP connections, no TLS (``--global.insecure``);
- TLS: the server serves its API with mTLS (``--global.mtls``, RBAC on) and each subscriber
  channel is a TLS session of its own (its own handshake) with a client certificate of its own
  from the mesh CA, whose CN is the client node it subscribes as (the mTLS authenticator lets a
  node certificate speak only for its own node id). The benchmark registers the clients and the
  newcomers as the bootstrap admin (a user certificate).

Also per variant: the server's RSS growth and idle CPU per subscriber, and its CPU per fan-out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from common import BENCH, BenchResult, Metric, cpu_seconds, percentile, progress, rss_mb, summary
from loopback import FakeCluster, FakeNode
from webmesh.api.v1 import membership_pb2, membership_pb2_grpc
from webmesh.client import pki

CLIENTS = int(os.environ.get("WEBMESH_BENCH_SUBSCRIBERS", "1000"))  # smaller while developing
PROCESSES = 4
ROUNDS = 3
JOIN_IN_FLIGHT = 16
GOAL_P99_MS = 1000.0
WAIT = 60.0  # for one round's fan-out, one RPC, one control reply
OPEN_WAIT = 180.0  # for every stream's initial list (1,000 TLS handshakes on 2 cores)
SETTLE = 3.0  # after the streams open: presence marks the clients online (one write)
IDLE_WINDOW = 10.0  # quiet seconds over which the server's idle CPU is measured
ROUND_GAP = 5.0  # before each round: the previous newcomer, never connected, goes offline (4 s)
SUBSCRIBERS = BENCH / "subscribers.py"
NOFILE_MARGIN = 256  # descriptors the server needs besides one per subscriber


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _n(count: int) -> str:
    return f"{count:,}"


@dataclass
class Variant:
    name: str  # "plaintext" or "TLS"
    tls: bool

    @property
    def label(self) -> str:
        what = "TLS sessions" if self.tls else "connections"
        return f"{self.name}, {_n(CLIENTS)} {what}"


@dataclass
class Figures:
    """What one variant measured."""

    from_commit: list[float] = field(default_factory=list)
    from_send: list[float] = field(default_factory=list)
    round_cpu_ms: list[float] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    idle_without_pct: float = 0.0  # % of a core
    idle_with_pct: float = 0.0


class Pki:
    """A mesh CA and the certificates of one TLS run: server, admin (a user), every client."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_cert, self.ca_key = pki.make_ca(name="bench-ca", days=2)
        (self.dir / pki.CA_CERT).write_bytes(pki.cert_pem(self.ca_cert))
        self.issue("server", "node", sans=("127.0.0.1",))
        self.issue("admin", "user")
        for i in range(CLIENTS):
            self.issue(f"client-{i}", "node")

    def issue(self, name: str, kind: pki.CertKind, sans: tuple[str, ...] = ()) -> None:
        cert, key = pki.make_leaf(self.ca_cert, self.ca_key, name, kind=kind, sans=sans, days=1)
        key_file = self.dir / f"{name}.key"
        key_file.touch(mode=0o600)
        key_file.write_bytes(pki.key_pem(key))
        (self.dir / f"{name}.crt").write_bytes(pki.cert_pem(cert))

    def server_flags(self) -> tuple[str, ...]:
        ca = self.dir / pki.CA_CERT
        return (
            "--global.insecure=false",  # FakeCluster passes --global.insecure; the last one wins
            f"--global.tls-cert-file={self.dir / 'server.crt'}",
            f"--global.tls-key-file={self.dir / 'server.key'}",
            f"--global.tls-ca-file={ca}",
            "--global.mtls",
            f"--tls.ca-file={ca}",
        )

    def credentials(self, name: str) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=(self.dir / pki.CA_CERT).read_bytes(),
            private_key=(self.dir / f"{name}.key").read_bytes(),
            certificate_chain=(self.dir / f"{name}.crt").read_bytes(),
        )


class SubscriberProcess:
    """A ``bench/subscribers.py`` process: line-based JSON on its stdin and stdout."""

    def __init__(self, target: str, first: int, count: int, pki_dir: Path | None, log: Path):
        self.first, self.count, self.log = first, count, log
        argv = [sys.executable, str(SUBSCRIBERS), target, str(first), str(count),
                f"--timeout={OPEN_WAIT:g}"]  # fmt: skip
        if pki_dir is not None:
            argv.append(f"--pki={pki_dir}")
        with log.open("w") as err:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True
            )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    @property
    def name(self) -> str:
        return f"subscribers client-{self.first}..client-{self.first + self.count - 1}"

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line)

    def read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            state = "running" if self.popen.poll() is None else f"exited {self.popen.returncode}"
            raise RuntimeError(
                f"{self.name} ({state}): no answer within {timeout:g}s\n{self.tail()}"
            ) from None
        return dict(json.loads(line))

    def send(self, payload: dict[str, Any]) -> None:
        assert self.popen.stdin is not None
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.popen.returncode})\n{self.tail()}")
        self.popen.stdin.write(json.dumps(payload) + "\n")
        self.popen.stdin.flush()

    def tail(self, lines: int = 10) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(Exception):
                self.send({"cmd": "stop"})
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.send_signal(signal.SIGKILL)
                self.popen.wait(5)


def _channel(target: str, keys: Pki | None) -> aio.Channel:
    if keys is None:
        return aio.insecure_channel(target)
    return aio.secure_channel(target, keys.credentials("admin"))


def _open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def _nofile_soft_limit(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return 1 << 62 if soft == "unlimited" else int(soft)
    return -1


async def _register(stub: membership_pb2_grpc.MembershipStub) -> None:
    todo = iter(range(CLIENTS))

    async def worker() -> None:
        for i in todo:
            await stub.Join(
                membership_pb2.JoinRequest(id=f"client-{i}", public_key=_key()), timeout=30
            )

    await asyncio.gather(*(worker() for _ in range(JOIN_IN_FLIGHT)))


async def _idle_cpu_pct(pid: int) -> float:
    """The process's CPU over IDLE_WINDOW quiet seconds, in % of one core."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(IDLE_WINDOW)
    return (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100


def _index(server: FakeNode) -> int:
    return int(server.request({"cmd": "status"}, timeout=WAIT)["index"])


async def _scenario(
    result: BenchResult, variant: Variant, server: FakeNode, keys: Pki | None, logs: Path
) -> Figures:
    figures = Figures()
    pid = server.popen.pid
    tag = variant.label
    limit = _nofile_soft_limit(pid)
    if 0 <= limit < CLIENTS + NOFILE_MARGIN:
        raise RuntimeError(
            f"the server may open only {limit} files (RLIMIT_NOFILE), {CLIENTS} subscribers need "
            f"about {CLIENTS + NOFILE_MARGIN}: raise the hard limit (ulimit -Hn)"
        )
    async with _channel(server.api, keys) as control:
        stub = membership_pb2_grpc.MembershipStub(control)
        progress(f"subscribe_1000: {tag}: registering {CLIENTS} client nodes with Join")
        cpu0, started = cpu_seconds(pid), time.monotonic()
        await _register(stub)
        elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu0
        result.note(
            f"{tag}: {CLIENTS} clients registered in {elapsed:.1f} s "
            f"({JOIN_IN_FLIGHT} Joins in flight, no stream open): server CPU "
            f"{cpu * 1000 / CLIENTS:.1f} ms per Join"
        )
        figures.idle_without_pct, figures.rss_before_mb, fds_before = await _quiet_window(
            result, server, tag, "without streams"
        )
        procs: list[SubscriberProcess] = []
        try:
            procs = await _open_streams(result, tag, server, keys, logs)
            figures.idle_with_pct, figures.rss_after_mb, fds_after = await _quiet_window(
                result, server, tag, "with streams"
            )
            result.note(
                f"{tag}: server before the streams: RSS {figures.rss_before_mb:.1f} MB, "
                f"{fds_before} open files, idle CPU {figures.idle_without_pct:.2f}% of a core; "
                f"with {CLIENTS} streams open: RSS {figures.rss_after_mb:.1f} MB, "
                f"{fds_after} open files, idle CPU {figures.idle_with_pct:.2f}% of a core "
                f"(each over {IDLE_WINDOW:g} s); subscriber processes: RSS "
                f"{sum(rss_mb(p.popen.pid) for p in procs):.0f} MB in all"
            )
            if fds_after - fds_before < CLIENTS:
                raise RuntimeError(
                    f"{tag}: the server holds only {fds_after - fds_before} more files with "
                    f"the streams open: the {CLIENTS} subscribers do not have a connection each"
                )
            for round_ in range(ROUNDS):
                await asyncio.sleep(ROUND_GAP)
                await _one_round(result, tag, server, stub, procs, round_, figures)
        finally:
            for proc in procs:
                proc.stop()
    return figures


async def _quiet_window(
    result: BenchResult, server: FakeNode, tag: str, streams: str
) -> tuple[float, float, int]:
    """After SETTLE s, the server's idle CPU (% of a core over IDLE_WINDOW s), then its RSS (MB)
    and open files; noted when the mesh state changed meanwhile (the window was not quiet)."""
    await asyncio.sleep(SETTLE)
    pid = server.popen.pid
    index0 = _index(server)
    idle = await _idle_cpu_pct(pid)
    rss, fds = rss_mb(pid), _open_fds(pid)
    if _index(server) != index0:
        result.note(f"{tag}: the state changed during the idle window {streams}")
    return idle, rss, fds


async def _open_streams(
    result: BenchResult, tag: str, server: FakeNode, keys: Pki | None, logs: Path
) -> list[SubscriberProcess]:
    what = "a TLS session (own client certificate)" if keys else "a TCP connection"
    progress(
        f"subscribe_1000: {tag}: opening {CLIENTS} streams, each on {what} of its own, "
        f"in {PROCESSES} processes"
    )
    procs: list[SubscriberProcess] = []
    started = time.monotonic()
    try:
        share, extra = divmod(CLIENTS, PROCESSES)
        first = 0
        for i in range(PROCESSES):
            count = share + (1 if i < extra else 0)
            procs.append(
                SubscriberProcess(
                    server.api, first, count, keys.dir if keys else None, logs / f"subs-{i}.log"
                )
            )
            first += count
        events = await asyncio.gather(*(asyncio.to_thread(p.read, OPEN_WAIT + 30) for p in procs))
    except BaseException:
        for proc in procs:
            proc.stop()
        raise
    for proc, event in zip(procs, events, strict=True):
        if event.get("event") != "ready":
            for other in procs:
                other.stop()
            raise RuntimeError(f"{tag}: {proc.name} could not subscribe: {event.get('error')}")
    slowest = max(float(e["seconds"]) for e in events)
    result.note(
        f"{tag}: {CLIENTS} streams open, initial lists received in "
        f"{time.monotonic() - started:.1f} s (slowest subscriber process {slowest:.1f} s)"
    )
    return procs


async def _one_round(
    result: BenchResult,
    tag: str,
    server: FakeNode,
    stub: membership_pb2_grpc.MembershipStub,
    procs: list[SubscriberProcess],
    round_: int,
    figures: Figures,
) -> None:
    newcomer = f"newcomer-{round_}"
    progress(f"subscribe_1000: {tag}: round {round_ + 1}: {newcomer} (with an endpoint) joins")
    pid = server.popen.pid
    index0 = _index(server)
    subs_cpu0 = sum(cpu_seconds(p.popen.pid) for p in procs)
    cpu0 = cpu_seconds(pid)
    sent_wall, sent = time.time(), time.monotonic()
    await stub.Join(
        membership_pb2.JoinRequest(
            id=newcomer,
            public_key=_key(),
            wireguard_endpoints=[f"192.0.2.{round_ + 1}:51820"],
            as_observer=True,
            raft_key=_key(),
        ),
        timeout=WAIT,
    )
    replied = time.monotonic()
    for proc in procs:
        proc.send({"cmd": "seen", "id": newcomer, "timeout": WAIT})
    answers = await asyncio.gather(*(asyncio.to_thread(p.read, WAIT + 10) for p in procs))
    cpu_ms = (cpu_seconds(pid) - cpu0) * 1000
    subs_cpu_ms = (sum(cpu_seconds(p.popen.pid) for p in procs) - subs_cpu0) * 1000
    extra_writes = _index(server) - index0 - 1
    got = [float(t) for answer in answers for t in answer.get("times", [])]
    errors = [e for answer in answers for e in answer.get("errors", [])]
    # When the server applied it (its observer on the Raft thread, right after the state swap).
    committed_wall = server.request({"cmd": "applied_at", "id": newcomer}, timeout=WAIT).get("at")
    if committed_wall is None:
        raise RuntimeError(f"{tag}: the server never applied {newcomer}")
    committed = sent + (committed_wall - sent_wall)  # wall-clock offset onto CLOCK_MONOTONIC
    send_ms = [(t - sent) * 1000 for t in got]
    commit_ms = [(t - committed) * 1000 for t in got]
    figures.from_send.extend(send_ms)
    figures.from_commit.extend(commit_ms)
    figures.round_cpu_ms.append(cpu_ms)
    result.note(
        f"{tag}: round {round_ + 1}: {len(got)}/{CLIENTS} streams got {newcomer}; Join RPC "
        f"{(replied - sent) * 1000:.1f} ms, applied on the server at "
        f"+{(committed - sent) * 1000:.1f} ms; from commit {summary(commit_ms)} ms; server CPU "
        f"{cpu_ms:.0f} ms, subscriber processes' CPU {subs_cpu_ms:.0f} ms"
        + (f"; {extra_writes} other writes applied meanwhile" if extra_writes else "")
    )
    if len(got) < CLIENTS:
        detail = f" (e.g. {errors[0]})" if errors else ""
        raise RuntimeError(f"{tag}: only {len(got)} of {CLIENTS} streams saw {newcomer}{detail}")


def _report(result: BenchResult, variant: Variant, figures: Figures) -> None:
    tag = variant.label
    goal = f"< {GOAL_P99_MS:g} ms"
    rss_kb = (figures.rss_after_mb - figures.rss_before_mb) * 1024 / CLIENTS
    idle_per_sub = (figures.idle_with_pct - figures.idle_without_pct) / 100 / CLIENTS * 1e6
    fanout_ms = sum(figures.round_cpu_ms) / len(figures.round_cpu_ms)
    result.add(
        Metric(f"{tag}: from commit: p50", percentile(figures.from_commit, 50), "ms"),
        Metric(f"{tag}: from commit: p99", percentile(figures.from_commit, 99), "ms",
               goal, lambda v: v < GOAL_P99_MS),
        Metric(f"{tag}: from commit: max", max(figures.from_commit, default=float("nan")), "ms"),
        Metric(f"{tag}: from sending the Join: p50", percentile(figures.from_send, 50), "ms"),
        Metric(f"{tag}: from sending the Join: p99", percentile(figures.from_send, 99), "ms",
               goal, lambda v: v < GOAL_P99_MS),
        Metric(f"{tag}: from sending the Join: max", max(figures.from_send, default=float("nan")),
               "ms"),
        Metric(f"{tag}: server RSS per subscriber (growth with all streams open / {_n(CLIENTS)})",
               rss_kb, "KB"),
        Metric(f"{tag}: server CPU while idle, all streams open", figures.idle_with_pct, "%"),
        Metric(f"{tag}: server CPU while idle, no stream open", figures.idle_without_pct, "%"),
        Metric(f"{tag}: server CPU per subscriber while idle (growth / {_n(CLIENTS)}), "
               "µs of CPU per second", idle_per_sub, "µs"),
        Metric(f"{tag}: server CPU per change (Join + fan-out), mean of {ROUNDS} rounds",
               fanout_ms, "ms"),
        Metric(f"{tag}: server CPU per change per subscriber", fanout_ms * 1000 / CLIENTS, "µs"),
    )  # fmt: skip
    result.note(f"{tag}: all rounds, from commit: {summary(figures.from_commit)} ms")
    result.note(f"{tag}: all rounds, from sending the Join: {summary(figures.from_send)} ms")


def _run_variant(result: BenchResult, variant: Variant) -> None:
    cluster = FakeCluster(prefix="wmbench-sub-")
    try:
        keys: Pki | None = None
        if variant.tls:
            started = time.monotonic()
            keys = Pki(cluster.dir / "pki")
            result.note(
                f"{variant.label}: CA and {CLIENTS + 2} certificates (ECDSA P-256) made in "
                f"{time.monotonic() - started:.1f} s"
            )
        server = cluster.start("server", extra=keys.server_flags() if keys else ())
        figures = asyncio.run(_scenario(result, variant, server, keys, cluster.dir))
        _report(result, variant, figures)
    finally:
        cluster.close()


def run() -> BenchResult:
    per_process = f"{CLIENTS // PROCESSES}" if CLIENTS % PROCESSES == 0 else "about equal shares"
    result = BenchResult(
        name="subscribe_1000",
        title=(
            f"One change fanned out to {_n(CLIENTS)} SubscribePeers subscribers, each on its own "
            f"connection ({PROCESSES} processes), plaintext and with {_n(CLIENTS)} TLS sessions"
        ),
        goal=f"p99 < {GOAL_P99_MS:g} ms",
        method=(
            "One server: a `bench/fakenode.py` process (the `webmesh-node` daemon with fake "
            "WireGuard, on loopback, with an endpoint, bootstrap voter); a fresh one per variant. "
            f"{_n(CLIENTS)} client nodes registered with `Join` (role client, no endpoint). Then "
            f"{_n(CLIENTS)} separate subscribers, one `SubscribePeers` stream each, every one on "
            "a grpc.aio channel of its own with `grpc.use_local_subchannel_pool` (its own TCP "
            f"connection), spread over {PROCESSES} subscriber processes (`bench/subscribers.py`, "
            f"{per_process} each); the benchmark waits for every initial list. Variant "
            "*plaintext*: no TLS (`--global.insecure`). Variant *TLS*: the server serves its API "
            "with mTLS (`--global.mtls`, RBAC on) and every subscriber channel does a TLS "
            "handshake of its own (a TLS session per subscriber) with a client certificate of "
            "its own (ECDSA P-256, CN = the client node it subscribes as, made for the run from a "
            "fresh mesh CA); the benchmark itself calls as the bootstrap admin (a user "
            "certificate). Then, per round, a new node WITH an endpoint joins (every endpointless "
            "client must get it as a direct peer) and each stream's receive time of the first "
            "list containing it is recorded with `time.monotonic()` in its subscriber process "
            "(CLOCK_MONOTONIC, the same clock in every process). Reported from the commit (when "
            "the server applied the entry: an observer on its Raft thread records the wall clock "
            "right after the state swap; same host clock) and from sending the Join. "
            f"{ROUNDS} rounds, {ROUNDS * CLIENTS} samples per variant, {ROUND_GAP:g} s apart. "
            "Server cost: RSS growth from before the streams open to all streams open "
            f"({SETTLE:g} s after the last initial list), divided by {_n(CLIENTS)}; the server's "
            f"CPU (utime + stime) over {IDLE_WINDOW:g} quiet seconds without and with the "
            f"streams open (per subscriber: the growth / {_n(CLIENTS)}); the server's CPU from "
            "just before sending the Join until every subscriber reported the change (the Join's "
            "own Raft write and reply included; /proc ticks of 10 ms). The server, the "
            f"{PROCESSES} subscriber processes and the benchmark share one "
            f"{os.cpu_count()}-core machine."
        ),
    )
    for variant in (Variant("plaintext", tls=False), Variant("TLS", tls=True)):
        _run_variant(result, variant)
    return result
