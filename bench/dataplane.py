"""dataplane: webmesh's tunnel against the same wireguard-go configured by hand, and the bare LAN.

Three hosts of tests/support/netlab on one LAN (a bridge). alpha bootstraps with the quick start's
command line (it has endpoints, so it relays); beta and gamma join with the quick start's joiner
line (no endpoint), so beta reaches alpha directly and gamma through alpha. Beside ``webmesh0``
every host runs a second wireguard-go, configured by hand with ``wg set`` (``wg1``,
10.99.0.0/24) the way webmesh configures its own: alpha and beta peer directly, beta and gamma
through alpha. Same binary, same namespaces, same link, same run.

Paths: direct (beta to alpha) and relayed (beta to gamma via alpha: UDP between beta and gamma
to webmesh's WireGuard port is dropped, or the two joiners would punch a direct path of their
own, ``webmesh.service.paths``). Modes: ``mesh`` (the
webmesh0 addresses), ``hand`` (wg1) and ``bare`` (the LAN addresses; relayed: beta to gamma over
the LAN, no relay). Every round runs each mode once, the order rotating from round to round, so
a machine that speeds up or slows down in between touches every mode alike.

Every process runs in a session of its own, as in containers: with the kernel's autogroup
scheduling (``kernel.sched_autogroup_enabled``) CPU is shared between sessions first, so a
wireguard-go started from the shell that runs iperf3 gets another share of a busy machine than
one started by the node; that was the whole gap the issue measured (see bench/README.md).
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import BenchResult, Metric, median, need_root, percentile, progress, wait_for
from support.netlab import QUICKSTART_FLAGS, Host, Lab
from webmesh.wg import keys

ROUNDS = int(os.environ.get("WEBMESH_DATAPLANE_ROUNDS", "16"))  # of TCP, webmesh vs by hand
OTHER_ROUNDS = 2  # of the bare LAN's TCP, and of UDP and ping for every mode
SECONDS = int(os.environ.get("WEBMESH_DATAPLANE_SECONDS", "2"))
BOOTSTRAP = 2000  # resamples for the confidence interval of a median ratio
PINGS = 200  # per mode and path, 10 ms apart
UDP_PAYLOAD = 1300  # bytes: fits the tunnel's 1420 MTU with room for IPv4 + UDP headers
GOAL_RATIO = 0.97
HAND_NET = "10.99.0"
HAND_PORT = 51900
MODES = ("mesh", "hand", "bare")
PATHS = ("direct", "relayed")
JOINER = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=alpha:8443")
WEBMESH_PORT = 51820  # the quick start's WireGuard port (--wireguard.listen-port's default)


@dataclass
class Samples:
    """What one mode on one path measured, over every round."""

    tcp: list[float] = field(default_factory=list)  # Gbit/s received, forward
    tcp_reverse: list[float] = field(default_factory=list)
    udp: list[float] = field(default_factory=list)  # Gbit/s received
    udp_loss: list[float] = field(default_factory=list)  # % of datagrams
    cpu_per_gbit: list[float] = field(default_factory=list)  # CPU-seconds per Gbit, TCP, machine
    rtt: list[float] = field(default_factory=list)  # ms, every ping


@dataclass(frozen=True)
class Target:
    """Where a mode's traffic goes on one path: from ``client`` to ``address``."""

    client: Host
    server: Host
    address: str


def run() -> BenchResult:
    need_root("dataplane")
    result = BenchResult(
        name="dataplane",
        title="The tunnel: webmesh vs the same wireguard-go configured by hand vs the bare LAN",
        goal=f"webmesh / hand-configured >= {GOAL_RATIO:g} for TCP both ways",
        method=_method(),
    )
    with Lab() as lab:
        alpha, beta, gamma = (lab.add_host(name) for name in ("alpha", "beta", "gamma"))
        _block_direct_path(beta, gamma)
        _start_mesh(alpha, beta, gamma)
        _start_hand_tunnels(lab, alpha, beta, gamma)
        targets = _targets(alpha, beta, gamma)
        _check_mesh_endpoints(lab, beta, gamma)
        _check_relayed(alpha, beta, gamma)
        for host in (alpha, gamma):
            host.spawn("iperf3", "-s", name="iperf3")
        for host in (alpha, gamma):
            host.wait_port(5201)
        samples = {(mode, path): Samples() for mode in MODES for path in PATHS}
        for number in range(ROUNDS):
            progress(f"dataplane: TCP round {number + 1} of {ROUNDS}")
            for path in PATHS:
                tunnels = ("mesh", "hand") if number % 2 == 0 else ("hand", "mesh")
                for mode in tunnels + (("bare",) if number < OTHER_ROUNDS else ()):
                    _measure_tcp(targets[(mode, path)], samples[(mode, path)])
        for number in range(OTHER_ROUNDS):
            progress(f"dataplane: UDP and ping round {number + 1} of {OTHER_ROUNDS}")
            for path in PATHS:
                for mode in _rotated(MODES, number):
                    _measure_udp_and_ping(targets[(mode, path)], samples[(mode, path)])
        _check_relayed(alpha, beta, gamma)
        result.note(
            f"relayed path checked before and after the rounds: beta's WireGuard sends gamma's "
            f"address to alpha's peer only (UDP between beta and gamma to port {WEBMESH_PORT} "
            "is dropped, so their hole punch fails)"
        )
        result.note(f"engine: {_engine(alpha)}")
        _report(result, samples)
    return result


def _method() -> str:
    return (
        "tests/support/netlab: three network namespaces on one bridge, each host as a container "
        "would run it. alpha: `webmesh-node` with the quick start's bootstrap flags (endpoints, "
        "so it relays); beta and gamma: the quick start's joiner line (no endpoint). Beside "
        "webmesh0 each host runs a second `wireguard-go -f wg1` (own session, as the node's), "
        "configured by hand with `wg set` on 10.99.0.0/24: alpha-beta direct, beta-gamma "
        "through alpha (alpha forwards). Paths: direct = beta to alpha, relayed = beta to gamma "
        "(through alpha for both tunnels: UDP between beta and gamma to webmesh's WireGuard "
        "port is dropped, so webmesh's hole punch between them fails, checked on beta's device "
        "before and after the rounds; the bare LAN goes straight). Per round and path each "
        f"tunnel: iperf3 TCP {SECONDS} s forward (beta sends) and reverse (-R), webmesh and "
        f"the hand-configured tunnel back to back, their order alternating, {ROUNDS} rounds; "
        "the ratio is the median of the rounds' webmesh / hand-configured ratios (each pair "
        "measured within seconds of each other, so the machine's drifting speed cancels), the "
        f"throughputs are medians of the rounds. The bare LAN: {OTHER_ROUNDS} rounds. Then "
        f"{OTHER_ROUNDS} rounds of each mode, order rotating: iperf3 UDP {SECONDS} s at "
        f"unlimited rate ({UDP_PAYLOAD}-byte datagrams; the rate that arrived) and {PINGS} pings "
        "10 ms apart. CPU per Gbit: the whole machine's busy CPU time (user, system, softirq: both "
        "ends, iperf3 included) during the forward TCP run over the Gbits received. Every "
        "process (nodes, wireguard-go, iperf3 client and server) in a session of its own."
    )


# ------------------------------------------------------------------------------ set-up


def _start_mesh(alpha: Host, beta: Host, gamma: Host) -> None:
    alpha.node(*QUICKSTART_FLAGS, "--bootstrap.enabled")
    alpha.wait_port(8443)
    beta.node(*JOINER)
    gamma.node(*JOINER)
    for host in (alpha, beta, gamma):
        host.wait_mesh_ip()
    mesh = {h.name: h.mesh_ip() for h in (alpha, beta, gamma)}
    for source, target in ((beta, "alpha"), (beta, "gamma"), (gamma, "beta")):
        wait_for(lambda s=source, t=target: s.ping(mesh[t]), 30,  # type: ignore[misc]
                 f"{source.name} to ping {target} through webmesh\n{source.logs()}")  # fmt: skip


def _block_direct_path(beta: Host, gamma: Host) -> None:
    """Keep beta and gamma from reaching each other's WireGuard port, so that their webmesh
    traffic takes the relay, as the relayed path is meant to: on one LAN, two joiners would
    otherwise punch a direct path (``webmesh.service.paths``) and "relayed" would measure a
    direct tunnel. iperf3 over the bare LAN (another port) is not touched."""
    for host, other in ((beta, gamma), (gamma, beta)):
        table = ("inet", "wmbench_relay")
        host.exec("nft", "add", "table", *table)
        host.exec("nft", "add", "chain", *table, "out",
                  "{", "type", "filter", "hook", "output", "priority", "0", ";", "}")  # fmt: skip
        host.exec("nft", "add", "rule", *table, "out", "ip", "daddr", other.lan_ip,
                  "udp", "dport", str(WEBMESH_PORT), "drop")  # fmt: skip


def _check_relayed(alpha: Host, beta: Host, gamma: Host) -> None:
    """beta's webmesh device must carry gamma's address on alpha's peer only (no direct peer)."""
    relay = alpha.wg("public-key")
    address = f"{gamma.mesh_ip()}/32"
    carriers = [
        line.split()[0]
        for line in beta.wg("allowed-ips").splitlines()
        if address in line.split()[1:]
    ]
    if not relay or any(key != relay for key in carriers):
        raise RuntimeError(f"beta does not send gamma's traffic through the relay alone: "
                           f"{carriers} (relay {relay})\n{beta.wg('dump')}")  # fmt: skip


def _start_hand_tunnels(lab: Lab, alpha: Host, beta: Host, gamma: Host) -> None:
    """wg1 everywhere, peered as webmesh peers its nodes: alpha relays for beta and gamma."""
    hosts = (alpha, beta, gamma)
    for host in hosts:
        host.spawn("wireguard-go", "-f", "wg1", name="wireguard-go-wg1")
    private = {h.name: keys.generate_private_key() for h in hosts}
    public = {name: keys.public_key(key) for name, key in private.items()}
    address = {h.name: f"{HAND_NET}.{i + 1}" for i, h in enumerate(hosts)}
    for host in hosts:
        private_file = lab.dir / f"wg1-{host.name}.key"
        private_file.write_text(private[host.name] + "\n")
        if host is alpha:  # the relay: a /32 per peer, and it forwards
            peers = [(h, f"{address[h.name]}/32") for h in (beta, gamma)]
            host.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        else:  # an endpoint-less node: the relay carries the whole tunnel network
            peers = [(alpha, f"{HAND_NET}.0/24")]
        settings = ["private-key", str(private_file), "listen-port", str(HAND_PORT)]
        for peer, allowed in peers:
            # as webmesh: every side knows the relay's endpoint and keeps its NAT mapping open
            settings += ["peer", public[peer.name], "endpoint", f"{peer.lan_ip}:{HAND_PORT}"]
            settings += ["persistent-keepalive", "25"] if host is not alpha else []
            settings += ["allowed-ips", allowed]
        # in the mount namespace of the wireguard-go just spawned (its /run/wireguard), once
        # it has opened its socket
        wait_for(lambda h=host, a=settings: _wg_set(h, a), 10,  # type: ignore[misc]
                 f"`wg set wg1` on {host.name}")  # fmt: skip
        host.exec("ip", "addr", "add", f"{address[host.name]}/24", "dev", "wg1")
        host.exec("ip", "link", "set", "wg1", "up", "mtu", "1420")
    for source, target in ((beta, alpha), (beta, gamma), (gamma, beta)):
        wait_for(lambda s=source, t=target: s.ping(address[t.name]), 15,  # type: ignore[misc]
                 f"the hand-configured tunnel to carry {source.name} -> {target.name}")  # fmt: skip


def _wg_set(host: Host, settings: list[str]) -> bool:
    return host.in_container("wg", "set", "wg1", *settings, check=False).returncode == 0


def _targets(alpha: Host, beta: Host, gamma: Host) -> dict[tuple[str, str], Target]:
    hand = {"alpha": f"{HAND_NET}.1", "gamma": f"{HAND_NET}.3"}
    return {
        ("mesh", "direct"): Target(beta, alpha, alpha.mesh_ip()),
        ("hand", "direct"): Target(beta, alpha, hand["alpha"]),
        ("bare", "direct"): Target(beta, alpha, alpha.lan_ip),
        ("mesh", "relayed"): Target(beta, gamma, gamma.mesh_ip()),
        ("hand", "relayed"): Target(beta, gamma, hand["gamma"]),
        ("bare", "relayed"): Target(beta, gamma, gamma.lan_ip),
    }


def _check_mesh_endpoints(lab: Lab, *hosts: Host) -> None:
    """webmesh's peers must be reached over the LAN, never through the hand-made tunnel."""
    lan = lab.subnet + "."
    for host in hosts:
        endpoints = host.wg("endpoints").split()[1::2]
        if not endpoints or not all(e.startswith(lan) for e in endpoints):
            raise RuntimeError(f"{host.name}'s webmesh peers are not on the LAN: {endpoints}")


# ------------------------------------------------------------------------------ measuring


def _rotated(modes: tuple[str, ...], number: int) -> tuple[str, ...]:
    shift = number % len(modes)
    return modes[shift:] + modes[:shift]


def _measure_tcp(target: Target, samples: Samples) -> None:
    busy = _busy_seconds()
    forward = _iperf(target, "-t", str(SECONDS))
    gbit = _received_bits(forward) / 1e9
    samples.cpu_per_gbit.append((_busy_seconds() - busy) / gbit if gbit else float("nan"))
    samples.tcp.append(_received_bits(forward) / _duration(forward) / 1e9)
    reverse = _iperf(target, "-t", str(SECONDS), "-R")
    samples.tcp_reverse.append(_received_bits(reverse) / _duration(reverse) / 1e9)


def _measure_udp_and_ping(target: Target, samples: Samples) -> None:
    udp = _iperf(target, "-t", str(SECONDS), "-u", "-b", "0", "-l", str(UDP_PAYLOAD))
    rate, loss = _udp_received(udp)
    samples.udp.append(rate / 1e9)
    samples.udp_loss.append(loss)
    samples.rtt.extend(_pings(target))


def _in_session(host: Host, *argv: str, timeout: float) -> str:
    """Run a command in the host's namespace, in a session of its own (as the others are)."""
    done = subprocess.run(
        ["ip", "netns", "exec", host.netns, *argv],
        check=False, capture_output=True, text=True, timeout=timeout, start_new_session=True,
    )  # fmt: skip
    if done.returncode != 0:
        why = done.stderr.strip() or done.stdout[-500:]
        raise RuntimeError(f"{' '.join(argv)} on {host.name}: {why}")
    return done.stdout


def _iperf(target: Target, *args: str) -> dict[str, object]:
    """One iperf3 test; retried (twice, a second apart) when the server is still busy with the
    previous one, which iperf3 reports as an error instead of waiting."""
    for attempt in range(3):
        try:
            out = _in_session(
                target.client, "iperf3", "-c", target.address, "-J", *args, timeout=SECONDS + 30
            )
        except RuntimeError as exc:
            error = str(exc)
        else:
            report: dict[str, object] = json.loads(out)
            if "error" not in report:
                return report
            error = str(report["error"])
        if attempt < 2:
            time.sleep(1.0)
    raise RuntimeError(f"iperf3 to {target.address} failed: {error}")


def _end(report: dict[str, object]) -> dict[str, dict[str, float]]:
    end = report.get("end")
    if not isinstance(end, dict) or not end:
        raise RuntimeError(f"iperf3 reported no result: {report.get('error', report)}")
    return end


def _received_bits(report: dict[str, object]) -> float:
    return float(_end(report)["sum_received"]["bytes"]) * 8


def _duration(report: dict[str, object]) -> float:
    return float(_end(report)["sum_received"]["seconds"])


def _udp_received(report: dict[str, object]) -> tuple[float, float]:
    """(bits/s that arrived, % lost): iperf3 3.12 gives the sender's rate and the loss."""
    total = _end(report)["sum"]
    loss = float(total["lost_percent"])
    return float(total["bits_per_second"]) * (1 - loss / 100), loss


def _pings(target: Target) -> list[float]:
    out = _in_session(
        target.client, "ping", "-4", "-n", "-i", "0.01", "-c", str(PINGS), "-W", "1",
        target.address, timeout=PINGS * 0.01 + 30,
    )  # fmt: skip
    return [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]


def _busy_seconds() -> float:
    """CPU time of the whole machine that was not idle: user, nice, system, irq, softirq."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _engine(alpha: Host) -> str:
    """Which WireGuard the node picked, and why (its own log line)."""
    logs = alpha.logs()
    for line in logs.splitlines():
        if "kernel module unusable" in line or "started wireguard-go" in line:
            return line.strip()[-200:]
    return "kernel module (no wireguard-go started)"


# ------------------------------------------------------------------------------ reporting


def _report(result: BenchResult, samples: dict[tuple[str, str], Samples]) -> None:
    for path in PATHS:
        mesh, hand, bare = (samples[(mode, path)] for mode in MODES)
        for label, pick in (("TCP forward", "tcp"), ("TCP reverse", "tcp_reverse")):
            ratios = [m / h for m, h in zip(getattr(mesh, pick), getattr(hand, pick), strict=True)]
            result.add(
                Metric(f"{path}, {label}: webmesh / hand-configured", median(ratios), "x",
                       f">= {GOAL_RATIO:g}", lambda v: v >= GOAL_RATIO),
            )  # fmt: skip
            low, high = _median_interval(ratios)
            result.note(
                f"{path}, {label}: webmesh / hand-configured per round {_list(ratios)}; "
                f"median {median(ratios):.3f}, 95% bootstrap interval {low:.3f}-{high:.3f}"
            )
        for mode, s in zip(MODES, (mesh, hand, bare), strict=True):
            name = {"mesh": "webmesh", "hand": "hand-configured", "bare": "bare LAN"}[mode]
            result.add(
                Metric(f"{path}, {name}: TCP forward", median(s.tcp), "Gbit/s"),
                Metric(f"{path}, {name}: TCP reverse", median(s.tcp_reverse), "Gbit/s"),
                Metric(f"{path}, {name}: UDP received", median(s.udp), "Gbit/s"),
                Metric(f"{path}, {name}: ping p50", percentile(s.rtt, 50), "ms"),
                Metric(f"{path}, {name}: ping p99", percentile(s.rtt, 99), "ms"),
                Metric(f"{path}, {name}: CPU per Gbit (TCP forward, whole machine)",
                       median(s.cpu_per_gbit), "CPU-s/Gbit"),
            )  # fmt: skip
            result.note(
                f"{path}, {name}: TCP forward {_list(s.tcp)}, reverse {_list(s.tcp_reverse)}, "
                f"UDP {_list(s.udp)} Gbit/s (loss {_list(s.udp_loss)} %), "
                f"CPU {_list(s.cpu_per_gbit)} CPU-s/Gbit"
            )


def _median_interval(values: list[float]) -> tuple[float, float]:
    """A 95% bootstrap interval of the median (fixed seed: the same data, the same interval).

    One pair of runs on this VM differs by up to ±15% (its speed drifts), so a ratio's median
    over a few rounds moves by several percent from run to run; the interval says how much."""
    rng = random.Random(16)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(BOOTSTRAP)
    )
    return medians[int(BOOTSTRAP * 0.025)], medians[int(BOOTSTRAP * 0.975) - 1]


def _list(values: list[float]) -> str:
    return "/".join(f"{v:.3f}" for v in values)
