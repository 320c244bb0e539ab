"""kube_node_e2e: what a Kubernetes user waits for, on a real node (whole system, wall clock).

Runs `make e2e`'s tests (tests/e2e) on ../shared/kube-node and collects the times and sizes they
measure: the images built, the operator installed, examples/mesh.yaml applied to Ready, a Node
group joined, a workstation joined from outside through NodePorts, the leader's pod deleted to
Ready again, a new image rolled through every pod, the operator uninstalled, the chart installed
through the Helm SDK. One run: each figure is a single wall-clock time, not a distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from common import BIN, REPO, BenchResult, Metric, need_root, progress

GOALS = {  # figure name -> (goal text, predicate): what a user would call quick enough
    "Mesh applied to Ready (3 servers, mTLS)": ("< 60 s", lambda s: s < 60),
    "leader pod deleted to Mesh Ready again (6 members)": ("< 30 s", lambda s: s < 30),
    "wmctl connect from outside (NodePort) to a pod pinged": ("< 15 s", lambda s: s < 15),
}


def run() -> BenchResult:
    need_root("kube_node_e2e")
    result = BenchResult(
        name="kube_node_e2e",
        title="A real Kubernetes node: install, Mesh Ready, failover, rollout (whole system)",
        goal="; ".join(f"{name}: {goal}" for name, (goal, _) in GOALS.items()),
        method=(
            "`pytest tests/e2e` (what `make e2e` runs) on ../shared/kube-node (containerd, "
            "kubelet, kube-proxy, cluster DNS; 2 cores shared with the control plane), the times "
            "taken by the tests themselves from the action to the condition they wait for, "
            "polled once a second (so each is up to 1 s late); the operator refreshes a Mesh's "
            "status every 2 s until it is Ready, which bounds how soon Ready can be seen. One "
            "run: each figure is a single wall-clock time. Image sizes are the OCI archives' "
            "(compressed layers)."
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        figures_file = Path(tmp) / "figures.json"
        env = {**os.environ, "WEBMESH_E2E_TIMES": str(figures_file)}
        progress("running tests/e2e (about 10 minutes)")
        done = subprocess.run(
            [
                str(BIN / "python"),
                "-m",
                "pytest",
                "-n",
                "0",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/e2e",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=3000,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tests/e2e failed:\n{done.stdout[-4000:]}")
        figures = json.loads(figures_file.read_text())
    for name, figure in figures.items():
        goal_text, goal = GOALS.get(name, ("", None))
        result.add(Metric(name, figure["value"], figure["unit"], goal_text, goal))
    return result
