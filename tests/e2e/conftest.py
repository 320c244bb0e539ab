"""The images, the static manifest, the chart and the operator on a real Kubernetes node
(../shared/kube-node).

The session builds the images (`make images`), starts the node (containerd, kubelet, kube-proxy,
cluster DNS, a default StorageClass), imports them and stops the node at the end. Needs root,
buildah and ../shared/kube-node; in CI a missing piece fails the run, elsewhere the tier skips
loudly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from support import tiers
from support.kubectl import KUBE_NODE, KUBECONFIG, build_images, import_image, run

IMAGE_TAG = "0.1.0"  # the chart's, the CRDs' and render/defaults' default image tag
IMAGES = ("webmesh-node", "webmesh-operator")
# No registry is reachable: the node's Debian 12 + Python 3.11 base image stands in for the
# public python:3.11-slim-bookworm that examples/node-group-with-app.yaml runs (same Debian, same
# Python), so the example runs here as written.
BASE_IMAGE = "localhost/debian-python:bookworm"
APP_IMAGE = "docker.io/library/python:3.11-slim-bookworm"


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


@pytest.fixture(scope="session")
def cluster() -> Iterator[k8s_client.ApiClient]:
    """A running node with both images imported; an API client as cluster admin."""
    build_images(IMAGE_TAG)
    run(str(KUBE_NODE), "up", timeout=600)
    try:
        for image in IMAGES:
            import_image(image, IMAGE_TAG)
        run(str(KUBE_NODE), "image", "tag", BASE_IMAGE, APP_IMAGE)
        api = k8s_config.new_client_from_config(config_file=KUBECONFIG)
        try:
            yield api
        finally:
            api.close()
    finally:
        run(str(KUBE_NODE), "down", timeout=300)
