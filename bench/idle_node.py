"""idle_node: memory and CPU of an idle node in a 2-node mesh (real processes, network namespaces).

The quick start's two nodes (bootstrap with endpoints; joiner). Once both are ready and ping each
other, and after a settling pause, each ``webmesh-node`` process and its ``wireguard-go`` child
are sampled once a second for ~20 s: ``VmRSS`` from /proc/PID/status and utime+stime from
/proc/PID/stat (CPU % of one core = CPU seconds / wall seconds).
"""

from __future__ import annotations

import subprocess
import time

from common import (
    BIN,
    BenchResult,
    Metric,
    children,
    comm,
    cpu_seconds,
    first_event,
    median,
    need_root,
    progress,
    read_status,
    rss_mb,
    wait_for,
)
from support.netlab import Host, Lab

SETTLE_S = 5.0
WINDOW_S = 20.0
GOAL_RSS_MB = 60.0
GOAL_CPU = 1.0
BOOTSTRAP = (
    "--global.insecure",
    "--global.no-ipv6",
    "--global.detect-endpoints",
    "--global.detect-private-endpoints",
    "--bootstrap.enabled",
    "--global.log-format=json",
)
JOINER = (
    "--global.insecure",
    "--global.no-ipv6",
    "--mesh.join-address=bootstrap-node:8443",
    "--global.log-format=json",
)


# Resident memory added by each import, in the order the node pulls them in (one fresh interpreter).
# pyroute2 as the node imports it (webmesh.wg.pyroute: rtnetlink and WireGuard only); no YAML
# parser or LDAP client, which the node loads only with --config or --plugins.ldap.*.
IMPORT_BREAKDOWN = """
import importlib, re
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
prev = rss()
parts = [f"interpreter {prev:.1f}"]
for name in ("asyncio", "grpc", "google.protobuf.descriptor_pool",
             "cryptography.hazmat.primitives.asymmetric.x25519", "cryptography.fernet",
             "pysyncobj", "prometheus_client", "webmesh.wg.pyroute", "grpc_health.v1.health",
             "grpc_reflection.v1alpha.reflection", "webmesh.daemon.node", "webmesh.daemon.main"):
    importlib.import_module(name)
    now = rss()
    parts.append(f"{name} +{now - prev:.1f}")
    prev = now
print(f"{'; '.join(parts)}; total {prev:.1f} MB")
"""


def import_breakdown() -> str:
    out = subprocess.run(
        [str(BIN / "python"), "-c", IMPORT_BREAKDOWN], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def smaps(pid: int) -> dict[str, float]:
    """Pss, private and shared-file resident memory (MB) from /proc/PID/smaps_rollup."""
    out: dict[str, float] = {}
    try:
        lines = open(f"/proc/{pid}/smaps_rollup").read().splitlines()  # noqa: SIM115
    except OSError:
        return out
    for line in lines:
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            out[key] = int(value.split()[0]) / 1024
    return out


def wireguard_go(pid: int) -> int:
    found = [c for c in children(pid) if comm(c) == "wireguard-go"]
    if not found:
        raise RuntimeError(f"no wireguard-go child of {pid}")
    return found[0]


def sample(pids: dict[str, int], window: float) -> dict[str, dict[str, float]]:
    """Per process: CPU % over the window, RSS median/max (MB), threads at the end."""
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    rss: dict[str, list[float]] = {name: [] for name in pids}
    started = time.monotonic()
    while time.monotonic() - started < window:
        for name, pid in pids.items():
            rss[name].append(rss_mb(pid))
        time.sleep(1.0)
    wall = time.monotonic() - started
    out = {}
    for name, pid in pids.items():
        used = cpu_seconds(pid) - cpu0[name]
        status = read_status(pid)
        mem = smaps(pid)
        out[name] = {
            "cpu": used / wall * 100,
            "cpu_s": used,
            "rss": median(rss[name]),
            "rss_max": max(rss[name]),
            "hwm": int(status.get("VmHWM", "0 kB").split()[0]) / 1024,
            "threads": float(status.get("Threads", "0")),
            "wall": wall,
            "pss": mem.get("Pss", 0.0),
            "private": mem.get("Private_Clean", 0.0) + mem.get("Private_Dirty", 0.0),
            "shared_file": mem.get("Shared_Clean", 0.0),
        }
    return out


def run() -> BenchResult:
    need_root("idle_node")
    result = BenchResult(
        name="idle_node",
        title="Idle node in a 2-node mesh: RSS and CPU",
        goal=f"< {GOAL_RSS_MB:g} MB RSS, < {GOAL_CPU:g} % CPU",
        method=(
            "tests/support/netlab, the quick start's two nodes (bootstrap with detected "
            "endpoints, joiner; defaults otherwise, so metrics are served; JSON logs). After "
            f"both are ready and ping each other, {SETTLE_S:g} s of settling, then "
            f"{WINDOW_S:g} s of sampling once a second: `VmRSS` (/proc/PID/status; median over "
            "the window, max and VmHWM in the details) and utime+stime (/proc/PID/stat) of the "
            "`webmesh-node` process (all its threads, not its children) and, separately, of "
            "its `wireguard-go` child. CPU % is of one core (100 % = one core busy)."
        ),
    )
    with Lab() as lab:
        boot, joiner = lab.add_host("bootstrap-node"), lab.add_host("node-b")
        boot.node(*BOOTSTRAP)
        boot.wait_port(8443)
        joiner.node(*JOINER)
        for host in (boot, joiner):
            wait_for(lambda h=host: first_event(h.processes[-1].log, "node ready"), 60,  # type: ignore[misc]
                     f"{host.name} ready\n{host.logs()}")  # fmt: skip
        boot_ip, joiner_ip = boot.wait_mesh_ip(), joiner.wait_mesh_ip()
        wait_for(lambda: joiner.ping(boot_ip), 20, "joiner -> bootstrap ping", interval=0.2)
        wait_for(lambda: boot.ping(joiner_ip), 20, "bootstrap -> joiner ping", interval=0.2)
        progress(f"idle_node: settling {SETTLE_S:g} s, then sampling {WINDOW_S:g} s")
        time.sleep(SETTLE_S)
        pids = _pids(boot, joiner)
        stats = sample(pids, WINDOW_S)
    for name, s in stats.items():
        is_node = "wireguard-go" not in name
        result.add(
            Metric(f"{name}: RSS", s["rss"], "MB",
                   f"< {GOAL_RSS_MB:g} MB" if is_node else "",
                   (lambda v: v < GOAL_RSS_MB) if is_node else None),
            Metric(f"{name}: CPU", s["cpu"], "%", f"< {GOAL_CPU:g} %" if is_node else "",
                   (lambda v: v < GOAL_CPU) if is_node else None),
        )  # fmt: skip
        result.note(
            f"{name}: CPU {s['cpu_s']:.3f} s over {s['wall']:.1f} s = {s['cpu']:.2f} %; RSS "
            f"median {s['rss']:.1f} MB, max {s['rss_max']:.1f} MB, VmHWM {s['hwm']:.1f} MB; "
            f"{s['threads']:.0f} threads; at the end PSS {s['pss']:.1f} MB, private "
            f"{s['private']:.1f} MB, shared clean (library pages shared with other processes) "
            f"{s['shared_file']:.1f} MB"
        )
    result.note(f"VmRSS added by each import (MB, fresh interpreter): {import_breakdown()}")
    return result


def _pids(boot: Host, joiner: Host) -> dict[str, int]:
    boot_pid, joiner_pid = boot.processes[-1].popen.pid, joiner.processes[-1].popen.pid
    return {
        "webmesh-node, bootstrap (leader, voter)": boot_pid,
        "webmesh-node, joiner (observer)": joiner_pid,
        "wireguard-go of the bootstrap": wireguard_go(boot_pid),
        "wireguard-go of the joiner": wireguard_go(joiner_pid),
    }
