"""Run the webmesh benchmarks and write their results as markdown.

    .venv/bin/python bench/run.py --out bench/results.md [--only NAME,...]
    .venv/bin/python bench/run.py --out bench/results-kube-node.md --only kube_node_e2e
    .venv/bin/python bench/run.py --out bench/results-jepsen.md --only jepsen_faults

Goals are reported, never asserted: the exit code is 0 when every selected benchmark ran (whether
or not it met its goal) and 1 when one could not run. The network benchmarks need root,
``wireguard-go`` and network namespaces (like ``make test-netns``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, BenchResult, machine_info, progress

# In the order they run: the pure and loopback ones first, the network ones last.
BENCHMARKS = (
    "apply_10k",
    "raft_commit",
    "join_cpu_budget",
    "subscribe_1000",
    "dashboard_state",
    "join_to_first_ping",
    "propagation_10_nodes",
    "idle_node",
    "dataplane",
    "nat_traversal",
)
# Run only when named (--only): minutes long, and it needs ../shared/kube-node and buildah.
OPT_IN = ("kube_node_e2e", "jepsen_faults")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "bench" / "results.md"))
    known = BENCHMARKS + OPT_IN
    parser.add_argument("--only", default="", help=f"comma-separated subset of {known}")
    args = parser.parse_args(argv)
    selected = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in selected if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    info = machine_info()
    progress(
        f"machine: {info['cores']} cores, {info['python']}, load {info['load average at start']}"
    )
    results: list[BenchResult] = []
    started = time.monotonic()
    for name in selected:
        progress(f"=== {name}")
        results.append(run_one(name))
        last = results[-1]
        progress(
            f"=== {name}: {last.verdict or 'done'} in {last.seconds:.1f} s; other processes "
            f"used {last.foreign_cpu:.0f}% of a core meanwhile"
        )
        for metric in last.metrics:
            verdict = f"  [{metric.verdict}]" if metric.verdict else ""
            progress(f"    {metric.name}: {metric.formatted()}{verdict}")
    total = time.monotonic() - started
    info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out = Path(args.out)
    partial = selected != list(BENCHMARKS) and not set(selected) <= set(OPT_IN)
    out.write_text(render(results, info, total, partial=partial))
    progress(f"results written to {out} ({total:.0f} s in all)")
    failed = [r.name for r in results if r.error]
    if failed:
        progress(f"could not run: {', '.join(failed)}")
        return 1
    return 0


def busy_seconds() -> float:
    """CPU seconds spent by processes on the whole machine (user + nice + system, all cores).

    Interrupt and softirq time is left out: loopback and bridge traffic that the benchmark itself
    causes is processed there and charged to no process.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and of every child it has reaped (nodes, pingers, tools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_one(name: str) -> BenchResult:
    started = time.monotonic()
    busy0, own0 = busy_seconds(), own_seconds()
    try:
        module = importlib.import_module(name)
        result: BenchResult = module.run()
    except Exception as exc:
        traceback.print_exc()
        result = BenchResult(name=name, title=name, goal="", method="", error=repr(exc))
    result.seconds = time.monotonic() - started
    foreign = (busy_seconds() - busy0) - (own_seconds() - own0)
    result.foreign_cpu = max(0.0, foreign / result.seconds * 100)
    return result


def render(results: list[BenchResult], info: dict[str, str], total: float, partial: bool) -> str:
    lines = [
        "# webmesh benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`). Goals are reported, never asserted. "
        + ("This run covered a subset (`--only`). " if partial else "")
        + f"Whole run: {total:.0f} s.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in info.items()),
        "",
        "## Summary",
        "",
        "Noise: the CPU that processes other than the benchmark's own used while it ran "
        "(100% = one of the cores busy all the time) is given with each benchmark; figures "
        "taken while it is high are pessimistic.",
        "",
        "| benchmark | figure | value | goal | verdict |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        if result.error:
            lines.append(
                f"| {result.name} | could not run | `{result.error}` | {result.goal} | ERROR |"
            )
            continue
        for metric in result.metrics:
            if metric.goal is not None:
                lines.append(
                    f"| {result.name} | {metric.name} | {metric.formatted()} | "
                    f"{metric.goal_text} | {metric.verdict} |"
                )
    for result in results:
        lines += ["", f"## {result.name}: {result.title}", ""]
        lines.append(f"Goal: {result.goal}. Verdict: **{result.verdict or 'n/a'}**. "
                     f"Took {result.seconds:.0f} s; other processes on the machine used "
                     f"{result.foreign_cpu:.0f}% of a core meanwhile.")  # fmt: skip
        lines += ["", f"How: {result.method}", ""]
        if result.error:
            lines += [f"**Could not run:** `{result.error}`", ""]
        if result.metrics:
            lines += ["| figure | value | goal | verdict |", "|---|---|---|---|"]
            for m in result.metrics:
                lines.append(f"| {m.name} | {m.formatted()} | {m.goal_text} | {m.verdict} |")
            lines.append("")
        if result.details:
            lines += ["Details:", ""]
            lines += [f"- {line}" for line in result.details]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
