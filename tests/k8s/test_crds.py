"""The CRDs in a real API server: it accepts them (structural schemas, RE2 patterns), stores the
examples, rejects malformed specs with 422 naming the field, applies the defaults render mirrors,
and serves printer columns, short names, and the status and scale subresources."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.kubeapi import KubeAPI, KubeError, Rest, resource_path
from webmesh_operator.render import mesh_with_defaults, node_with_defaults
from webmesh_operator.status import Member, MeshObservation, Workload, mesh_status

pytestmark = pytest.mark.k8s

ROOT = Path(__file__).resolve().parents[2]
API = "mesh.webmesh.io/v1alpha1"
NAMESPACE = "crd-tests"
PLURALS = {"Mesh": "meshes", "Node": "nodes"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def path(kind: str, name: str | None = None, sub: str = "") -> str:
    base = resource_path(API, PLURALS[kind], namespace=NAMESPACE, name=name)
    return f"{base}/{sub}" if sub else base


def resource(kind: str, name: str, spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": API, "kind": kind, "metadata": {"name": name}}
    if spec is not None:
        body["spec"] = spec
    return body


def create(api: Rest, body: dict[str, Any]) -> dict[str, Any]:
    """POST with strict field validation, as ``kubectl apply`` validates by default."""
    answer = api.request("POST", path(body["kind"]), body, query={"fieldValidation": "Strict"})
    assert isinstance(answer, dict)
    return answer


@pytest.fixture
def api(kube: KubeAPI, admin: Rest) -> Iterator[Rest]:
    """The admin in an empty test namespace; every Mesh and Node made there is deleted after."""
    kube.ensure_namespace(NAMESPACE)
    try:
        yield admin
    finally:
        for kind in PLURALS:
            for item in admin.get(path(kind))["items"]:
                admin.delete(path(kind, item["metadata"]["name"]))


def test_the_server_accepts_the_crds_and_serves_their_short_names(api: Rest) -> None:
    discovery = api.get(f"/apis/{API}")
    names = {item["name"]: item for item in discovery["resources"]}
    assert names["meshes"]["shortNames"] == ["wm"]
    assert names["meshes"]["categories"] == ["webmesh"]
    assert set(names["nodes"]["shortNames"]) == {"wmn", "wmnode"}
    assert {"meshes/status", "nodes/status", "nodes/scale"} <= set(names)


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_every_example_is_stored(api: Rest, example: str) -> None:
    documents = [d for d in yaml.safe_load_all((ROOT / "examples" / example).read_text()) if d]
    assert documents
    for document in documents:
        if document["kind"] == "Node":  # a Node group needs its Mesh
            mesh = document["spec"]["meshRef"]["name"]
            create(api, resource("Mesh", mesh, {}))
        stored = create(api, document)
        assert stored["spec"]["servers" if document["kind"] == "Mesh" else "replicas"] >= 1


MALFORMED = [
    ("Mesh", {"servers": 2}, "spec.servers"),
    ("Mesh", {"servers": -1}, "spec.servers"),
    ("Mesh", {"ipv4Network": "10.0.0.0"}, "spec.ipv4Network"),
    ("Mesh", {"ipv4Network": "10.0.0.0/31"}, "spec.ipv4Network"),
    ("Mesh", {"ipv4Network": "300.1.2.3/16"}, "spec.ipv4Network"),
    ("Mesh", {"meshDomain": "Bad_Domain!"}, "spec.meshDomain"),
    ("Mesh", {"security": {"mode": "tls"}}, "spec.security.mode"),
    ("Mesh", {"externalAccess": {"type": "ClusterIP"}}, "spec.externalAccess.type"),
    ("Mesh", {"defaultNetworkPolicy": "allow"}, "spec.defaultNetworkPolicy"),
    ("Mesh", {"logLevel": "trace"}, "spec.logLevel"),
    ("Mesh", {"imagePullPolicy": "Sometimes"}, "spec.imagePullPolicy"),
    ("Mesh", {"storage": {"size": "lots"}}, "spec.storage.size"),
    ("Mesh", {"image": ""}, "spec.image"),
    ("Mesh", {"meshDNS": {"enabled": "yes"}}, "spec.meshDNS.enabled"),
    ("Mesh", {"backup": {"url": "http://backups.example.com/x"}}, "spec.backup.url"),
    ("Mesh", {"backup": {"interval": "1d"}}, "spec.backup.interval"),
    ("Mesh", {"backup": {"retain": 0}}, "spec.backup.retain"),
    ("Mesh", {"backup": {"keySecret": {"name": "k"}}}, "spec.backup.keySecret.key"),
    ("Mesh", {"backup": {"s3": {"endpoint": "minio:9000"}}}, "spec.backup.s3.endpoint"),
    ("Mesh", {"restoreFrom": "gs://bucket/x"}, "spec.restoreFrom"),
    ("Mesh", None, "spec"),
    ("Node", {}, "spec.meshRef"),
    ("Node", {"meshRef": {"name": "Demo!"}}, "spec.meshRef.name"),
    ("Node", {"meshRef": {"name": "demo"}, "replicas": -1}, "spec.replicas"),
    ("Node", {"meshRef": {"name": "demo"}, "containers": [{"name": "app"}]}, "image"),
]


@pytest.mark.parametrize(("kind", "spec", "field"), MALFORMED)
def test_malformed_specs_are_rejected_naming_the_field(
    api: Rest, kind: str, spec: Any, field: str
) -> None:
    with pytest.raises(KubeError) as rejected:
        create(api, resource(kind, "bad", spec))
    assert rejected.value.status == 422, rejected.value
    assert field in rejected.value.message, rejected.value.message
    assert not api.exists(path(kind, "bad"))


def test_the_server_applies_the_defaults_render_applies(api: Rest) -> None:
    mesh = create(api, resource("Mesh", "defaults", {}))
    assert mesh["spec"] == mesh_with_defaults({"spec": {}})["spec"]
    assert mesh["spec"]["servers"] == 3
    assert mesh["spec"]["security"]["mode"] == "mtls"
    node = create(api, resource("Node", "defaults", {"meshRef": {"name": "defaults"}}))
    assert node["spec"] == node_with_defaults({"spec": {"meshRef": {"name": "defaults"}}})["spec"]


def test_partial_objects_get_their_nested_defaults(api: Rest) -> None:
    spec = {"servers": 5, "security": {}, "externalAccess": {"advertiseEndpoint": "mesh.example"}}
    mesh = create(api, resource("Mesh", "nested", copy.deepcopy(spec)))
    assert mesh["spec"] == mesh_with_defaults({"spec": spec})["spec"]


def test_a_given_backup_gets_its_nested_defaults(api: Rest) -> None:
    """``backup`` itself has no default (absent: no backups); its interval and retain do."""
    backup = {"url": "s3://backups/nested", "keySecret": {"name": "key", "key": "backup.key"}}
    mesh = create(api, resource("Mesh", "backups", {"backup": copy.deepcopy(backup)}))
    assert mesh["spec"] == mesh_with_defaults({"spec": {"backup": backup}})["spec"]
    assert (mesh["spec"]["backup"]["interval"], mesh["spec"]["backup"]["retain"]) == ("1h", 24)
    assert "backup" not in create(api, resource("Mesh", "nobackups", {}))["spec"]


def test_printer_columns_come_through_the_table_api(api: Rest) -> None:
    backup = {"url": "s3://backups/shown", "keySecret": {"name": "key", "key": "backup.key"}}
    create(api, resource("Mesh", "shown", {"servers": 1, "backup": backup}))
    status = {
        "phase": "Ready",
        "leader": "shown-0",
        "nodes": 4,
        "onlineNodes": 3,
        "joinAddress": "shown-headless.crd-tests.svc:8443",
        "meshDNSAddress": "10.96.0.53:53",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Serving"}],
    }
    api.merge_patch(path("Mesh", "shown", "status"), {"status": status})
    table = api.get(path("Mesh"), accept=TABLE)
    columns = [column["name"] for column in table["columnDefinitions"]]
    assert columns == [
        "Name",
        "Servers",
        "Phase",
        "Ready",
        "Leader",
        "Nodes",
        "Online",
        "Join",
        "MeshDNS",
        "Backup",
        "Age",
    ]
    (row,) = [r for r in table["rows"] if r["cells"][0] == "shown"]
    assert row["cells"][1:7] == [1, "Ready", "True", "shown-0", 4, 3]
    assert row["cells"][7:10] == [
        "shown-headless.crd-tests.svc:8443",
        "10.96.0.53:53",
        "s3://backups/shown",
    ]

    create(api, resource("Node", "group", {"meshRef": {"name": "shown"}, "replicas": 2}))
    nodes = api.get(path("Node"), accept=TABLE)
    assert [c["name"] for c in nodes["columnDefinitions"]] == [
        "Name",
        "Mesh",
        "Voter",
        "Replicas",
        "Ready",
        "Age",
    ]
    assert nodes["rows"][0]["cells"][1:4] == ["shown", False, 2]


def test_member_presence_is_stored_not_pruned(api: Rest) -> None:
    """Every field status.py writes for a member survives the API server's pruning."""
    laptop = Member(
        "laptop",
        ("172.16.0.9/32",),
        False,
        role="client",
        online=False,
        last_seen="2026-01-01T00:03:07Z",
        ephemeral=True,
    )
    server = Member("kept-0", ("172.16.0.1/32",), True, role="voter")
    seen = MeshObservation("kept-0", ("kept-0",), (server, laptop))
    mesh = create(api, resource("Mesh", "kept", {"servers": 1}))
    written = mesh_status(
        mesh,
        workload=Workload(1, 1, 1, True),
        api=seen,
        api_error=None,
        join_address="kept-headless.crd-tests.svc:8443",
        meshdns_address="10.96.0.53:53",
        previous=None,
        now="2026-01-01T00:05:00Z",
    )
    api.merge_patch(path("Mesh", "kept", "status"), {"status": written})
    stored = api.get(path("Mesh", "kept"))["status"]
    assert stored["members"] == written["members"]
    assert (stored["nodes"], stored["onlineNodes"]) == (2, 1)
    assert stored["members"][1]["lastSeen"] == "2026-01-01T00:03:07Z"
    assert stored["meshDNSAddress"] == "10.96.0.53:53"


def test_status_and_spec_are_written_separately(api: Rest) -> None:
    create(api, resource("Mesh", "split", {"servers": 3}))
    api.merge_patch(
        path("Mesh", "split", "status"), {"spec": {"servers": 5}, "status": {"phase": "Ready"}}
    )
    mesh = api.get(path("Mesh", "split"))
    assert (mesh["spec"]["servers"], mesh["status"]["phase"]) == (3, "Ready")
    generation = mesh["metadata"]["generation"]

    api.merge_patch(
        path("Mesh", "split"), {"spec": {"servers": 5}, "status": {"phase": "Degraded"}}
    )
    mesh = api.get(path("Mesh", "split"))
    assert (mesh["spec"]["servers"], mesh["status"]["phase"]) == (5, "Ready")
    assert mesh["metadata"]["generation"] == generation + 1


def test_a_node_group_scales_through_the_scale_subresource(api: Rest) -> None:
    create(api, resource("Node", "scaled", {"meshRef": {"name": "demo"}, "replicas": 1}))
    api.merge_patch(path("Node", "scaled", "status"), {"status": {"replicas": 1}})
    scale = api.get(path("Node", "scaled", "scale"))
    assert (scale["kind"], scale["spec"]["replicas"], scale["status"]["replicas"]) == (
        "Scale",
        1,
        1,
    )
    api.merge_patch(path("Node", "scaled", "scale"), {"spec": {"replicas": 4}})
    assert api.get(path("Node", "scaled"))["spec"]["replicas"] == 4
