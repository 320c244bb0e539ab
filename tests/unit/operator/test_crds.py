"""The CRDs in crds/: their shape, that every example validates, that bad specs are rejected,
and that render's Python defaults mirror the schemas' defaults."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import openapi
from webmesh_operator import status
from webmesh_operator.render import defaults

ROOT = Path(__file__).resolve().parents[3]
CRDS = {"Mesh": "mesh.webmesh.io_meshes.yaml", "Node": "mesh.webmesh.io_nodes.yaml"}
EXAMPLES = {
    "mesh.yaml": "Mesh",
    "mesh-ha.yaml": "Mesh",
    "node-group-with-app.yaml": "Node",
}


def crd(kind: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "crds" / CRDS[kind]).read_text())
    assert isinstance(data, dict)
    return data


def schema(kind: str) -> dict[str, Any]:
    (version,) = crd(kind)["spec"]["versions"]
    result = version["schema"]["openAPIV3Schema"]
    assert isinstance(result, dict)
    return result


def spec_errors(kind: str, spec: Any) -> list[str]:
    return openapi.validate(schema(kind)["properties"]["spec"], spec, "spec")


@pytest.mark.parametrize("kind", CRDS)
def test_crd_shape(kind: str) -> None:
    document = crd(kind)
    assert document["apiVersion"] == "apiextensions.k8s.io/v1"
    assert document["kind"] == "CustomResourceDefinition"
    spec = document["spec"]
    assert spec["group"] == "mesh.webmesh.io"
    assert document["metadata"]["name"] == f"{spec['names']['plural']}.mesh.webmesh.io"
    assert spec["names"]["kind"] == kind
    assert spec["names"]["shortNames"]
    assert "node" not in spec["names"]["shortNames"]  # that is the core Node's
    assert spec["scope"] == "Namespaced"
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"]["status"] == {}
    assert {column["name"] for column in version["additionalPrinterColumns"]} >= {"Age"}


@pytest.mark.parametrize("kind", CRDS)
def test_schema_is_structural(kind: str) -> None:
    assert openapi.structural_problems(schema(kind)) == []


@pytest.mark.parametrize(("name", "kind"), EXAMPLES.items())
def test_example_validates(name: str, kind: str) -> None:
    resource = yaml.safe_load((ROOT / "examples" / name).read_text())
    assert resource["apiVersion"] == "mesh.webmesh.io/v1alpha1"
    assert resource["kind"] == kind
    assert spec_errors(kind, resource["spec"]) == []
    assert (
        spec_errors(
            kind, openapi.apply_defaults(schema(kind)["properties"]["spec"], resource["spec"])
        )
        == []
    )


def test_status_examples_validate() -> None:
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "QuorumReached",
        "message": "3/3 servers ready",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 2,
    }
    mesh_status = {
        "phase": "Ready",
        "conditions": [condition],
        "observedGeneration": 2,
        "leader": "demo-0",
        "voters": ["demo-0", "demo-1", "demo-2"],
        "nodes": 5,
        "onlineNodes": 4,
        "members": [
            {
                "nodeId": "laptop",
                "addresses": ["172.16.0.9/32"],
                "role": "client",
                "voter": False,
                "online": False,
                "lastSeen": "2026-01-01T00:03:07Z",
                "ephemeral": True,
            }
        ],
        "joinAddress": "203.0.113.7:8443",
        "meshDNSAddress": "10.96.0.53:53",
        "caSecretName": "demo-ca",
        "adminConfigSecretName": "demo-admin",
    }
    node_status = {
        "replicas": 2,
        "readyReplicas": 1,
        "members": [
            {
                "nodeId": "demo-web-0",
                "addresses": ["172.16.0.4/32"],
                "role": "observer",
                "voter": False,
                "online": True,
            }
        ],
        "conditions": [condition],
        "observedGeneration": 1,
    }
    assert openapi.validate(schema("Mesh")["properties"]["status"], mesh_status) == []
    assert openapi.validate(schema("Node")["properties"]["status"], node_status) == []
    bad = {**mesh_status, "phase": "Happy"}
    assert openapi.validate(schema("Mesh")["properties"]["status"], bad)


def test_the_schemas_declare_every_field_status_writes() -> None:
    """An undeclared field would be pruned by the API server without a word."""
    gone = status.Member(
        "demo-web-0",
        ("172.16.0.9",),
        False,
        role="client",
        online=False,
        last_seen="2026-01-01T00:03:07Z",
        ephemeral=True,
    )
    seen = status.MeshObservation("demo-0", ("demo-0",), (gone,))
    done = status.Workload(1, 1, 1, True)
    common: dict[str, Any] = {"workload": done, "api": seen, "api_error": None, "previous": None}
    mesh = defaults.mesh_with_defaults({"metadata": {"name": "demo"}, "spec": {"servers": 1}})
    node = defaults.node_with_defaults(
        {"metadata": {"name": "web"}, "spec": {"meshRef": {"name": "demo"}, "replicas": 1}}
    )
    written = {
        "Mesh": status.mesh_status(
            mesh,
            join_address="j:1",
            meshdns_address="10.96.0.53:53",
            now="2026-01-01T00:00:00Z",
            **common,
        ),
        "Node": status.node_group_status(node, now="2026-01-01T00:00:00Z", **common),
    }
    for kind, value in written.items():
        assert value["members"][0]["lastSeen"]
        assert openapi.validate(schema(kind)["properties"]["status"], value) == [], kind


BAD_MESH_SPECS = [
    ({"servers": 2}, "spec.servers"),
    ({"servers": "3"}, "spec.servers"),
    ({"servers": True}, "spec.servers"),
    ({"ipv4Network": "10.0.0.0/31"}, "spec.ipv4Network"),
    ({"ipv4Network": "10.0.0.300/16"}, "spec.ipv4Network"),
    ({"ipv4Network": "fd00::/48"}, "spec.ipv4Network"),
    ({"ipv6": "yes"}, "spec.ipv6"),
    ({"meshDomain": "Bad Domain"}, "spec.meshDomain"),
    ({"defaultNetworkPolicy": "allow"}, "spec.defaultNetworkPolicy"),
    ({"security": {"mode": "tls"}}, "spec.security.mode"),
    ({"security": {"mode": "mtls", "extra": 1}}, "spec.security.extra"),
    ({"storage": {"size": "lots"}}, "spec.storage.size"),
    ({"externalAccess": {"type": "Ingress"}}, "spec.externalAccess.type"),
    ({"externalAccess": {"advertiseEndpoint": "host name:1"}}, "spec.externalAccess"),
    ({"scheduling": {"nodeSelector": {"zone": 1}}}, "spec.scheduling.nodeSelector.zone"),
    ({"image": ""}, "spec.image"),
    ({"replicas": 3}, "spec.replicas"),
    ({"meshDNS": {"enabled": "yes"}}, "spec.meshDNS.enabled"),
    ({"meshDNS": {"forward": 1}}, "spec.meshDNS.forward"),
    ({"meshDNS": True}, "spec.meshDNS"),
    ({"backup": {"url": "http://backups.example.com"}}, "spec.backup.url"),
    ({"backup": {"url": "backups"}}, "spec.backup.url"),
    ({"backup": {"url": "s3://"}}, "spec.backup.url"),
    ({"backup": {"interval": "1d"}}, "spec.backup.interval"),
    ({"backup": {"interval": ""}}, "spec.backup.interval"),
    ({"backup": {"retain": 0}}, "spec.backup.retain"),
    ({"backup": {"keySecret": {"name": "k"}}}, "missing 'key'"),
    ({"backup": {"keySecret": {"name": "K_ey", "key": "k"}}}, "spec.backup.keySecret.name"),
    ({"backup": {"s3": {"endpoint": "minio:9000"}}}, "spec.backup.s3.endpoint"),
    ({"backup": {"s3": {"credentialsSecret": {}}}}, "missing 'name'"),
    ({"backup": {"s3": {"accessKey": "AKIA..."}}}, "spec.backup.s3.accessKey"),
    ({"restoreFrom": "gs://bucket/x"}, "spec.restoreFrom"),
]

BAD_NODE_SPECS = [
    ({}, "missing 'meshRef'"),
    ({"meshRef": {}}, "missing 'name'"),
    ({"meshRef": {"name": "Demo_Mesh"}}, "spec.meshRef.name"),
    ({"meshRef": {"name": "demo"}, "replicas": -1}, "spec.replicas"),
    ({"meshRef": {"name": "demo"}, "voter": "no"}, "spec.voter"),
    ({"meshRef": {"name": "demo"}, "containers": [{"name": "app"}]}, "missing 'image'"),
    ({"meshRef": {"name": "demo"}, "containers": {"name": "app"}}, "spec.containers"),
]


@pytest.mark.parametrize(("spec", "where"), BAD_MESH_SPECS)
def test_bad_mesh_spec_is_rejected(spec: dict[str, Any], where: str) -> None:
    errors = spec_errors("Mesh", spec)
    assert any(where in error for error in errors), errors


@pytest.mark.parametrize(("spec", "where"), BAD_NODE_SPECS)
def test_bad_node_spec_is_rejected(spec: dict[str, Any], where: str) -> None:
    errors = spec_errors("Node", spec)
    assert any(where in error for error in errors), errors


def test_app_containers_keep_their_fields() -> None:
    spec = {
        "meshRef": {"name": "demo"},
        "containers": [{"name": "app", "image": "busybox", "args": ["sleep", "1d"]}],
    }
    assert spec_errors("Node", spec) == []


@pytest.mark.parametrize(
    ("kind", "python_defaults"),
    [
        ("Mesh", lambda: defaults.mesh_with_defaults({"spec": {}})["spec"]),
        ("Node", lambda: defaults.node_with_defaults({"spec": {}})["spec"]),
    ],
)
def test_python_defaults_mirror_the_crd(kind: str, python_defaults: Any) -> None:
    assert python_defaults() == openapi.apply_defaults(schema(kind)["properties"]["spec"], {})


def test_python_defaults_of_a_given_backup_mirror_the_crd() -> None:
    """``backup`` has no default (absent: no backups); its fields do, once it is given."""
    given = {"backup": {"url": "s3://b", "keySecret": {"name": "k", "key": "backup.key"}}}
    crd_defaults = openapi.apply_defaults(schema("Mesh")["properties"]["spec"], given)
    assert defaults.mesh_with_defaults({"spec": given})["spec"] == crd_defaults
    assert crd_defaults["backup"]["interval"] == "1h"


def test_a_full_backup_spec_validates() -> None:
    spec = {
        "backup": {
            "url": "s3://backups/demo",
            "interval": "1h30m",
            "retain": 48,
            "keySecret": {"name": "demo-backup-key", "key": "backup.key"},
            "s3": {
                "endpoint": "http://minio.minio.svc:9000",
                "region": "eu-west-1",
                "credentialsSecret": {"name": "demo-s3"},
            },
            "volume": {"persistentVolumeClaim": {"claimName": "backups"}},
        },
        "restoreFrom": "file:///backups/demo/latest.wmbackup",
    }
    assert spec_errors("Mesh", spec) == []


def test_defaults_keep_given_values_and_do_not_mutate() -> None:
    mesh = {"metadata": {"name": "m"}, "spec": {"servers": 5, "security": {"mode": "insecure"}}}
    before = copy.deepcopy(mesh)
    spec = defaults.mesh_with_defaults(mesh)["spec"]
    assert (spec["servers"], spec["security"], spec["storage"]) == (
        5,
        {"mode": "insecure"},
        {"size": "1Gi"},
    )
    assert mesh == before
