"""Shared pieces of the benchmarks: result records, statistics, paths, machine facts.

Benchmarks measure and report; they never assert a goal. A benchmark that cannot run raises
(``bench/run.py`` records the error and exits non-zero); a goal that is missed is only reported.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
BIN = Path(sys.executable).parent  # the venv that runs the benchmarks has the console scripts

T = TypeVar("T")

for _path in (REPO / "node", REPO / "tests", BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@dataclass
class Metric:
    """One reported figure. ``goal`` is a predicate over the value, described by ``goal_text``."""

    name: str
    value: float
    unit: str
    goal_text: str = ""
    goal: Callable[[float], bool] | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return ""
        if math.isnan(self.value):
            return "n/a"
        return "pass" if self.goal(self.value) else "MISS"

    def formatted(self) -> str:
        return fmt(self.value, self.unit)


@dataclass
class BenchResult:
    name: str
    title: str
    goal: str
    method: str
    metrics: list[Metric] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    foreign_cpu: float = 0.0  # % of one core used by other processes while it ran

    def add(self, *metrics: Metric) -> None:
        self.metrics.extend(metrics)

    def note(self, line: str) -> None:
        self.details.append(line)
        progress(f"  {line}")

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        verdicts = [m.verdict for m in self.metrics if m.verdict]
        if not verdicts:
            return ""
        return "MISS" if "MISS" in verdicts else "pass"


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "ms":
        text = f"{value:.3f}" if value < 1 else f"{value:.1f}" if value < 100 else f"{value:.0f}"
    elif unit in ("µs", "us"):
        text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
    elif unit == "%":
        text = f"{value:.2f}"
    elif unit in ("x", "Gbit/s"):
        text = f"{value:.3f}"
    elif unit == "CPU-s/Gbit":
        text = f"{value:.2f}"
    elif unit == "s":
        text = f"{value:.3f}" if value < 10 else f"{value:.1f}"
    elif float(value).is_integer():
        text = f"{int(value)}"
    else:
        text = f"{value:.1f}"
    return f"{text} {unit}".strip()


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not samples:
        return math.nan
    data = sorted(samples)
    if len(data) == 1:
        return data[0]
    rank = (len(data) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else math.nan


def summary(samples: Sequence[float]) -> str:
    """'n=…, min …, p50 …, p90 …, p99 …, max …' for a details line (values in ms)."""
    if not samples:
        return "n=0"
    return (
        f"n={len(samples)}, min {min(samples):.3f}, p50 {percentile(samples, 50):.3f}, "
        f"p90 {percentile(samples, 90):.3f}, p99 {percentile(samples, 99):.3f}, "
        f"max {max(samples):.3f}"
    )


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine_info() -> dict[str, str]:
    info = {
        "date (UTC)": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": _mem_total(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": _os_name(),
        "kernel": platform.release(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": _commit(),
        "kernel.sched_autogroup_enabled": _read("/proc/sys/kernel/sched_autogroup_enabled"),
    }
    with contextlib.suppress(Exception):
        versions = [f"{pkg} {metadata.version(pkg)}" for pkg in ("grpcio", "pysyncobj", "protobuf")]
        info["packages"] = ", ".join(versions)
    return info


def _commit() -> str:
    """The tree measured: HEAD, and whether it had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=False, timeout=10)  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short=12", "HEAD")
    if not head:
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes" if git("status", "--porcelain") else "")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "absent"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) // 1024} MB"
    return "unknown"


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


# ------------------------------------------------------------------------------ processes


def read_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict (empty when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def rss_mb(pid: int) -> float:
    raw = read_status(pid).get("VmRSS", "")
    return int(raw.split()[0]) / 1024 if raw else math.nan


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its own threads; not its children), in seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    fields = stat.rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Direct children of a process (from /proc/PID/task/*/children)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(x) for x in (task / "children").read_text().split())
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` in seconds."""
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


def need_root(what: str) -> None:
    from support.netlab import can_run  # noqa: PLC0415  # tests/ is on sys.path only from here

    reason = can_run()
    if reason:
        raise RuntimeError(f"{what} cannot run: {reason}")


# ------------------------------------------------------------------------------ node logs


def log_events(path: Path) -> list[tuple[float, str]]:
    """(wall time in s, message) of every JSON log line (``--global.log-format=json``)."""
    events: list[tuple[float, str]] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return events
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
            whole, _, ms = str(entry["ts"]).rstrip("Z").partition(".")
            wall = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000
        except (ValueError, KeyError):
            continue
        events.append((wall, str(entry.get("msg", ""))))
    return events


def first_event(path: Path, prefix: str = "") -> float | None:
    """Wall time of the first JSON log line whose message starts with ``prefix``."""
    for wall, message in log_events(path):
        if message.startswith(prefix):
            return wall
    return None


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.01) -> T:
    """Poll ``condition`` until truthy (return it) or raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
