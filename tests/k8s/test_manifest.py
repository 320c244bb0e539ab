"""dist/webmesh.yaml (`make manifests`) against the real API server: every object is accepted.

Server-side apply with ``dryRun=All``: the API server validates each object completely
(schemas, defaults, RBAC objects, the Deployment's pod template) without storing it, so this run
does not disturb the operator tests that share the server. The namespace is created for real
(dry-run objects need it to exist).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from support import kubeapi

ROOT = Path(__file__).resolve().parents[2]
PLURALS = {
    "Namespace": "namespaces",
    "CustomResourceDefinition": "customresourcedefinitions",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "ServiceAccount": "serviceaccounts",
    "Deployment": "deployments",
    "ConfigMap": "configmaps",
}


def documents() -> list[dict[str, Any]]:
    text = (ROOT / "dist" / "webmesh.yaml").read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def test_every_object_of_the_static_manifest_is_accepted(
    kube: kubeapi.KubeAPI, admin: kubeapi.Rest
) -> None:
    objects = documents()
    kinds = [o["kind"] for o in objects]
    assert kinds.count("CustomResourceDefinition") == 2
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
    } <= set(kinds)
    namespace = next(o for o in objects if o["kind"] == "Namespace")["metadata"]["name"]
    kube.ensure_namespace(namespace)
    for obj in objects:
        if obj["kind"] == "Namespace":
            continue
        meta = obj["metadata"]
        path = kubeapi.resource_path(
            obj["apiVersion"],
            PLURALS[obj["kind"]],
            namespace=meta.get("namespace"),
            name=meta["name"],
        )
        query = {"fieldManager": "webmesh-test", "force": "true", "dryRun": "All"}
        answer = admin.request(
            "PATCH", path, obj, query=query, content_type="application/apply-patch+yaml"
        )
        assert answer["kind"] == obj["kind"], answer
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith("webmesh-operator:0.1.0")
