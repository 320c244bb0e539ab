"""The images, the static manifest and the operator on a real Kubernetes node (../shared/kube-node).

The session starts the node (containerd, kubelet, kube-proxy, cluster DNS, a default
StorageClass), builds the images (`make images`), imports them and stops the node at the end.
Needs root, buildah and ../shared/kube-node; in CI a missing piece fails the run, elsewhere the
tier skips loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from support import tiers

ROOT = Path(__file__).resolve().parents[2]
KUBE_NODE = ROOT.parent / "shared" / "kube-node" / "kube-node.sh"
IMAGE_TAG = "0.1.0"  # the chart's, the CRDs' and render/defaults' default image tag
IMAGES = ("webmesh-node", "webmesh-operator")


def missing() -> str:
    if os.geteuid() != 0:
        return "the Kubernetes node needs root"
    if not KUBE_NODE.exists():
        return f"{KUBE_NODE} is not there"
    if shutil.which("buildah") is None:
        return "buildah is not installed (Debian: apt-get install buildah)"
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e_items = [item for item in items if "tests/e2e" in str(item.path)]
    tiers.require(e2e_items, missing(), what="end-to-end tests")


def run(*cmd: str, timeout: float = 600) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def cluster() -> Iterator[k8s_client.ApiClient]:
    """A running node with both images imported; an API client as cluster admin."""
    run("make", "-C", str(ROOT), "images", f"IMAGE_TAG={IMAGE_TAG}", timeout=900)
    run(str(KUBE_NODE), "up", timeout=600)
    try:
        for image in IMAGES:
            run(str(KUBE_NODE), "image", "import", str(ROOT / f"dist/{image}-{IMAGE_TAG}.tar"))
        api = k8s_config.new_client_from_config(config_file="/tmp/kube-node/kubeconfig")
        try:
            yield api
        finally:
            api.close()
    finally:
        run(str(KUBE_NODE), "down", timeout=300)
