"""jepsen_faults: acknowledged writes under kills, pauses and partitions (whole system).

Runs tests/netns/test_faults.py (3 voters in network namespaces with wireguard-go; joins and
leaves through random servers; a nemesis that kills one voter, the leader or two voters, pauses
one, partitions one; then the checker) for ``WEBMESH_FAULT_SECONDS`` (600 with ``make
jepsen``), and reports what the run did. The verdict is the checker's: every acknowledged write
kept, no acknowledged leave undone, identical servers, no address owned twice, no CRITICAL or
Traceback in the logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from common import BIN, REPO, BenchResult, Metric, need_root, progress


def run() -> BenchResult:
    need_root("jepsen_faults")
    seconds = float(os.environ.get("WEBMESH_FAULT_SECONDS", "600"))
    result = BenchResult(
        name="jepsen_faults",
        title=f"Joins and leaves under faults for {seconds:g} s (3 voters, netns, wireguard-go)",
        goal="the checker passes: nothing acknowledged is lost or undone",
        method=(
            "`pytest tests/netns/test_faults.py` with WEBMESH_FAULT_SECONDS: 6 client workers "
            "send Join (new ids) and Leave (of acknowledged joins) to random servers over gRPC "
            "(3 s timeout); a nemesis applies one fault every ~2 s, in turn: SIGKILL one voter "
            "(restarted 3 s later on its data), SIGKILL the leader, SIGKILL two voters, SIGSTOP "
            "one for 3 s, iptables partition of one for 4 s. A call that fails is indeterminate. "
            "After healing, the checker waits (90 s at most) for the servers to agree."
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        env = {
            **os.environ,
            "WEBMESH_FAULT_SECONDS": str(seconds),
            "WEBMESH_FAULT_REPORT": str(report),
        }
        progress(f"running tests/netns/test_faults.py for {seconds:g} s of faults")
        done = subprocess.run(
            [str(BIN / "python"), "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider",
             "tests/netns/test_faults.py"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=seconds + 600, check=False,
        )  # fmt: skip
        passed = done.returncode == 0
        if not passed:
            result.note(f"checker failed:\n{done.stdout[-3000:]}")
        facts = json.loads(report.read_text()) if report.exists() else {}
    result.add(Metric("checker", 1.0 if passed else 0.0, "", "passes", lambda v: v == 1.0))
    for name in ("acknowledged joins", "acknowledged leaves", "indeterminate"):
        if name in facts:
            result.add(Metric(name, float(facts[name]), ""))
    faults = facts.get("faults", [])
    result.add(Metric("faults injected", float(len(faults)), ""))
    kinds: dict[str, int] = {}
    for fault in faults:
        kind = fault.split(" voter")[0].split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    result.note("faults by kind: " + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())))
    return result
