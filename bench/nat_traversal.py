"""Through NAT: how soon two nodes behind two home routers reach each other directly, and what
the direct path is worth against the relay.

Each round builds a fresh lab (tests/support/netlab): a server on the "internet", two private
LANs behind router namespaces (nftables masquerade, Linux's default port-keeping mapping, and a
firewall that drops what comes in unasked), one node in each, joined with the quick start's
flags. Measured from the moment the second node's log says its Join was acknowledged to the
first ping reply from the other node that came over a direct path (TTL 64; over the relay it is
63), pinging every 20 ms, each ping waiting 0.2 s at most. Then iperf3 TCP through the tunnel,
node-b to node-c: over the direct path, and in a second lab whose office router draws a port per
connection (a symmetric NAT: the punch cannot work, the pair stays relayed), paired round by
round.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time

from common import BenchResult, Metric, median, need_root, percentile, progress, wait_for
from support.netlab import QUICKSTART_FLAGS, Host, Lab, Process

ROUNDS = int(os.environ.get("WEBMESH_NAT_ROUNDS", "5"))
TCP_ROUNDS = int(os.environ.get("WEBMESH_NAT_TCP_ROUNDS", "6"))
SECONDS = 2
JOIN = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap-node:8443")
GOAL_SECONDS = 5.0
PING_WAIT = 0.2  # seconds: a ping lost while the path changes must not add a whole second


def run() -> BenchResult:
    need_root("nat_traversal")
    result = BenchResult(
        name="nat_traversal",
        title="Two nodes behind two NATs: time to a direct path, and direct vs relayed TCP",
        goal=f"a direct ping < {GOAL_SECONDS:g} s after the second join",
        method=__doc__ or "",
    )
    times = []
    for number in range(ROUNDS):
        progress(f"nat_traversal: join round {number + 1} of {ROUNDS}")
        with Lab(f"10.{220 + number}.0") as lab:
            times.append(_time_to_direct(lab))
    result.note(f"join ack -> first direct ping reply, s: {', '.join(f'{t:.2f}' for t in times)}")
    goal = f"< {GOAL_SECONDS:g} s"
    result.add(
        Metric(
            "second join acknowledged to first direct ping: median",
            median(times),
            "s",
            goal,
            lambda v: v < GOAL_SECONDS,
        ),
        Metric("second join acknowledged to first direct ping: max", max(times), "s"),
    )
    _throughput(result)
    return result


def _nodes(lab: Lab, *, symmetric: bool) -> tuple[Host, Host]:
    server = lab.add_host("bootstrap-node")
    home, office = lab.add_nat("192.168.71"), lab.add_nat("192.168.72", symmetric=symmetric)
    b, c = lab.add_host("node-b", behind=home), lab.add_host("node-c", behind=office)
    server.node(*QUICKSTART_FLAGS, "--bootstrap.enabled")
    server.wait_port(8443)
    _joined(b.node(*JOIN))
    return b, c


def _joined(node: Process) -> float:
    wait_for(lambda: "joined the mesh" in node.log.read_text(errors="replace"), 30, "a join")
    return time.monotonic()


def _time_to_direct(lab: Lab) -> float:
    b, c = _nodes(lab, symmetric=False)
    joined_at = _joined(c.node(*JOIN))
    c_ip = c.wait_mesh_ip()
    wait_for(lambda: b.ping_ttl(c_ip, wait=PING_WAIT) == 64, 30, "a direct ping", interval=0.02)
    return time.monotonic() - joined_at


def _throughput(result: BenchResult) -> None:
    with Lab("10.230.0") as direct_lab, Lab("10.231.0") as relayed_lab:
        pairs = {
            "direct": _iperf_pair(direct_lab, symmetric=False, ttl=64),
            "relayed": _iperf_pair(relayed_lab, symmetric=True, ttl=63),
        }
        gbits: dict[str, list[float]] = {path: [] for path in pairs}
        for number in range(TCP_ROUNDS):
            progress(f"nat_traversal: TCP round {number + 1} of {TCP_ROUNDS}")
            order = ("direct", "relayed") if number % 2 == 0 else ("relayed", "direct")
            for path in order:
                gbits[path].append(_iperf(*pairs[path]))
    for path, values in gbits.items():
        result.note(f"TCP {path}, Gbit/s: {', '.join(f'{v:.3f}' for v in values)}")
        result.add(Metric(f"TCP node-b -> node-c, {path}: median", median(values), "Gbit/s"))
    ratios = [d / r for d, r in zip(gbits["direct"], gbits["relayed"], strict=True) if r]
    result.add(Metric("TCP direct / relayed, paired: median", statistics.median(ratios), "x"))
    result.note(f"direct / relayed per round: p10 {percentile(ratios, 10):.2f}")


def _iperf_pair(lab: Lab, *, symmetric: bool, ttl: int) -> tuple[Host, str]:
    b, c = _nodes(lab, symmetric=symmetric)
    _joined(c.node(*JOIN))
    c_ip = c.wait_mesh_ip()
    wait_for(
        lambda: b.ping_ttl(c_ip, wait=PING_WAIT) == ttl, 30, f"a ping with TTL {ttl}", interval=0.05
    )
    c.spawn("iperf3", "-s", name="iperf3")
    c.wait_port(5201)
    return b, c_ip


def _iperf(client: Host, address: str) -> float:
    for _ in range(3):
        done = subprocess.run(
            ["ip", "netns", "exec", client.netns, "iperf3", "-c", address, "-J",
             "-t", str(SECONDS)],
            check=False, capture_output=True, text=True, timeout=SECONDS + 30,
            start_new_session=True,
        )  # fmt: skip
        report = json.loads(done.stdout or "{}")
        if "error" not in report and "end" in report:
            return float(report["end"]["sum_received"]["bits_per_second"]) / 1e9
        time.sleep(1.0)
    raise RuntimeError(f"iperf3 to {address} failed: {done.stderr or done.stdout[-300:]}")
