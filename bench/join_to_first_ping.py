"""join_to_first_ping: from starting a joining ``webmesh-node`` to its first ping of the mesh.

Real nodes in network namespaces (tests/support/netlab), real wireguard-go. The quick start's
joiner command line; a raw-socket pinger (``bench/pinger.py``) already running in the joiner's
namespace probes the bootstrap node's mesh address every 2 ms.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

from common import (
    BENCH,
    BIN,
    BenchResult,
    Metric,
    first_event,
    median,
    need_root,
    progress,
    wait_for,
)
from support.netlab import Host, Lab

JOINERS = 8
GOAL_S = 1.0
JSON_LOGS = "--global.log-format=json"
BOOTSTRAP = (
    "--global.insecure",
    "--global.no-ipv6",
    "--global.detect-endpoints",
    "--global.detect-private-endpoints",
    "--bootstrap.enabled",
)
JOINER = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap-node:8443")
# Log lines of the joiner, in start-up order: (label, message prefix).
STAGES = (
    ("first log line (interpreter + imports + settings)", "new node identity"),
    ("Join answered", "joined the mesh"),
    ("interface up (wireguard-go + UAPI + addresses)", "interface up"),
    ("node ready (raft replica + API)", "node ready"),
)


class Pinger:
    """``bench/pinger.py`` in a host's namespace, probing one or more targets every 2 ms."""

    def __init__(self, host: Host, *targets: str, timeout: float = 30.0) -> None:
        self.popen = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, sys.executable, str(BENCH / "pinger.py"),
             ",".join(targets), "0.002", str(timeout)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.targets = targets
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        wait_for(lambda: "ready" in self.lines, 10, "the pinger to start")

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.strip())

    def first_reply(self, timeout: float) -> tuple[float, float]:
        """(receipt, send) monotonic times of the first echo reply (of the only target)."""
        return self.first_replies(timeout)[self.targets[0]]

    def first_replies(self, timeout: float) -> dict[str, tuple[float, float]]:
        """Target -> (receipt, send) monotonic times of its first echo reply, once all answered."""
        wait_for(
            lambda: (
                any(x.startswith("timeout") for x in self.lines)
                or sum(x.startswith("reply") for x in self.lines) == len(self.targets)
            ),
            timeout,
            "the first ping replies",
        )
        silent = [x for x in self.lines if x.startswith("timeout")]
        if silent:
            raise TimeoutError(f"no ping reply from {silent[0].partition(' ')[2]}")
        replies = {}
        for line in self.lines:
            if line.startswith("reply"):
                _, received, sent, _, target = line.split()
                replies[target] = (float(received), float(sent))
        return replies

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(5)


def import_time() -> float:
    """Wall seconds of ``python -c 'import webmesh.daemon.main'`` (warm page cache), median of 3."""
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(BIN / "python"), "-c", "import webmesh.daemon.main"], check=True)
        samples.append(time.perf_counter() - started)
    return median(samples)


def bare_python() -> float:
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(BIN / "python"), "-c", "pass"], check=True)
        samples.append(time.perf_counter() - started)
    return median(samples)


def run() -> BenchResult:
    need_root("join_to_first_ping")
    result = BenchResult(
        name="join_to_first_ping",
        title="Start of a joining webmesh-node to its first ping of the bootstrap node",
        goal=f"< {GOAL_S:g} s",
        method=(
            "tests/support/netlab: each host a network namespace on a bridge, nodes started as "
            "in the quick start (tests/netns/test_quickstart.py): bootstrap with detected "
            "endpoints, joiner with `--global.insecure --global.no-ipv6 "
            "--mesh.join-address=bootstrap-node:8443` (plus `--global.log-format=json` to read "
            "stage times), real wireguard-go. Before the joiner starts, `bench/pinger.py` runs "
            "in its namespace and sends an ICMP echo to the bootstrap's mesh address every "
            "2 ms over a raw socket (no process per probe). t0 = just before `Popen` of the "
            "joiner (`ip netns exec … unshare … webmesh-node`); the figure is the monotonic "
            "time of the first echo reply minus t0. Stage times come from the joiner's JSON "
            f"log (ms resolution). {JOINERS} joiners, one after another, each stopped after "
            "its measurement (the mesh grows: stopped nodes stay members)."
        ),
    )
    imports, bare = import_time(), bare_python()
    result.note(
        f"for reference: `python -c pass` {bare * 1000:.0f} ms, `python -c 'import "
        f"webmesh.daemon.main'` {imports * 1000:.0f} ms (median of 3, warm cache)"
    )
    totals: list[float] = []
    stages: dict[str, list[float]] = {label: [] for label, _ in STAGES}
    with Lab() as lab:
        boot = lab.add_host("bootstrap-node")
        boot.node(*BOOTSTRAP, JSON_LOGS)
        boot.wait_port(8443)
        boot_ip = boot.wait_mesh_ip()
        progress(f"join_to_first_ping: bootstrap up at {boot_ip}")
        for i in range(JOINERS):
            host = lab.add_host(f"joiner-{i}")
            pinger = Pinger(host, boot_ip)
            try:
                t0_wall, t0 = time.time(), time.monotonic()
                process = host.node(*JOINER, JSON_LOGS)
                received, sent = pinger.first_reply(30)
                total = received - t0
                totals.append(total)
                wait_for(lambda p=process: first_event(p.log, "node ready"), 30,  # type: ignore[misc]
                         f"joiner-{i} ready\n{host.logs()}")  # fmt: skip
                marks = []
                for label, prefix in STAGES:
                    wall = first_event(process.log, prefix)
                    if wall is not None:
                        stages[label].append(wall - t0_wall)
                        marks.append(f"{prefix} +{(wall - t0_wall) * 1000:.0f}")
                result.note(
                    f"joiner-{i}: first ping reply +{total * 1000:.0f} ms (the answered echo "
                    f"was sent at +{(sent - t0) * 1000:.0f} ms); log: {', '.join(marks)} ms"
                )
            finally:
                pinger.close()
                with contextlib.suppress(Exception):
                    host.processes[-1].stop()
    result.add(
        Metric("start to first ping: median", median(totals), "s", f"< {GOAL_S:g} s",
               lambda v: v < GOAL_S),
        Metric("start to first ping: max", max(totals), "s", f"< {GOAL_S:g} s",
               lambda v: v < GOAL_S),
    )  # fmt: skip
    for label, _ in STAGES:
        result.add(Metric(f"stage, median: {label}", median(stages[label]), "s"))
    result.add(Metric("reference: python + import webmesh.daemon.main", imports, "s"))
    return result
