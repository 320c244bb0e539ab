"""Render the Helm chart with its defaults into one static manifest: dist/webmesh.yaml.

    scripts/manifests.py            write dist/webmesh.yaml
    scripts/manifests.py --check    fail if dist/webmesh.yaml is not what the chart renders

`kubectl apply -f dist/webmesh.yaml` installs what `helm install webmesh charts/webmesh
--namespace webmesh-system --create-namespace` would (cert-manager ships the same pair): the
namespace, the CRDs, the operator's ServiceAccount, ClusterRole and binding, and its Deployment.
Rendered by the Helm SDK the tests use (tests/support/chart.py), so it is Helm's own output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.chart import render_chart  # noqa: E402

OUT = ROOT / "dist" / "webmesh.yaml"
NAMESPACE = "webmesh-system"
HEADER = (
    "# webmesh: the operator and its CRDs, rendered from charts/webmesh with its default values\n"
    "# (`make manifests`; do not edit). Install: kubectl apply -f dist/webmesh.yaml\n"
    "# (server-side: kubectl apply --server-side -f dist/webmesh.yaml). Then: kubectl apply -f\n"
    "# examples/mesh.yaml. The images must be reachable by the cluster (`make images`).\n"
)


def manifest() -> str:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    documents = [namespace, *render_chart(namespace=NAMESPACE, release="webmesh")]
    body = yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)
    return HEADER + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; change nothing")
    args = parser.parse_args()
    wanted = manifest()
    if args.check:
        if not OUT.exists() or OUT.read_text() != wanted:
            sys.exit(f"{OUT.relative_to(ROOT)} is stale: run `make manifests` and commit")
        return
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(wanted)


if __name__ == "__main__":
    main()
