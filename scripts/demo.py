"""`make demo`: a 3-node webmesh on this machine, each node in its own network namespace.

Runs the quick start as a user would (one bootstrap node, two joiners), prints `wmctl get nodes`
and a ping across the mesh, then removes everything. Needs root, wireguard-go and iproute2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.netlab import Lab, can_run
from support.wait import eventually

BOOTSTRAP = (
    "--global.insecure",
    "--global.no-ipv6",
    "--global.detect-endpoints",
    "--global.detect-private-endpoints",
    "--bootstrap.enabled",
)
JOIN = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap-node:8443")


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main() -> int:
    reason = can_run()
    if reason:
        print(f"demo: cannot run: {reason}", file=sys.stderr)
        return 1
    with Lab() as lab:
        boot = lab.add_host("bootstrap-node")
        step("bootstrap-node: webmesh-node " + " ".join(BOOTSTRAP))
        boot.node(*BOOTSTRAP)
        boot.wait_port(8443)
        joiners = [lab.add_host(name) for name in ("node-b", "node-c")]
        for host in joiners:
            step(f"{host.name}: webmesh-node " + " ".join(JOIN))
            host.node(*JOIN)
        started = time.monotonic()
        addresses = {h.name: h.wait_mesh_ip() for h in (boot, *joiners)}
        last = joiners[-1]
        target = addresses["node-b"]
        eventually(
            lambda: last.ping(target), timeout=30, what=f"{last.name} -> node-b\n{last.logs()}"
        )
        print(f"mesh up and pinging in {time.monotonic() - started:.1f} s")
        step("wmctl get nodes (on bootstrap-node)")
        print(boot.wmctl("--insecure", "get", "nodes").stdout, end="")
        step(f"ping from {last.name} to node-b ({target}), relayed by bootstrap-node")
        print(last.exec("ping", "-c", "3", "-i", "0.2", target).stdout, end="")
        step("cleaning up")
    print("done: every namespace, interface and process is gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
