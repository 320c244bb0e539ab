"""The Helm chart charts/webmesh, rendered and linted by Helm's own Go code (helm-python-sdk).

What an install would create: the CRDs (generated from crds/, kept on uninstall), the operator
Deployment, its ServiceAccount and exactly the RBAC in permissions.py; values are checked by the
chart's schema, so typos fail; an optional Mesh passes the Mesh CRD's schema.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from support import openapi
from support.chart import (
    CHART_DIR,
    by_kind,
    crd_generator,
    lint,
    one,
    render_chart,
    render_notes,
    validate_values,
)
from webmesh_operator import permissions

ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = "webmesh-system"
KEEP = {"helm.sh/resource-policy": "keep"}


def operator_args(manifests: list[dict[str, Any]]) -> list[str]:
    (container,) = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert isinstance(args, list)
    return args


def source_crds() -> dict[str, dict[str, Any]]:
    """The canonical CRDs in crds/, by name."""
    documents = [yaml.safe_load(path.read_text()) for path in sorted((ROOT / "crds").glob("*"))]
    return {document["metadata"]["name"]: document for document in documents}


def test_chart_metadata() -> None:
    metadata = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert metadata["apiVersion"] == "v2"
    assert metadata["name"] == "webmesh"
    assert (metadata["version"], metadata["appVersion"]) == ("0.1.0", "0.1.0")
    assert metadata["kubeVersion"] == ">=1.29.0-0"


@pytest.mark.parametrize("values", [None, {"mesh": {"create": True}}], ids=["default", "mesh"])
def test_helm_lint_strict_passes(values: dict[str, Any] | None) -> None:
    report = lint(values)
    assert report["errors"] == []
    # Strict lint fails on warnings (severity 2) and errors (3); infos (e.g. "icon is
    # recommended") are fine.
    assert [message for message in report["messages"] if message["severity"] >= 2] == []


def test_helm_lint_catches_bad_values() -> None:
    report = lint({"operator": {"replicas": -1}})
    assert report["errors"] or any(message["severity"] >= 2 for message in report["messages"])


def test_default_values_validate() -> None:
    validate_values({})
    with helm_python.Chart.load(CHART_DIR) as chart:
        chart.validate_schema(chart.values)


BAD_VALUES = [
    ({"operator": {"replica": 2}}, "'replica' not allowed"),
    ({"operatr": {}}, "'operatr' not allowed"),
    ({"operator": {"leaderElection": {"enable": True}}}, "'enable' not allowed"),
    ({"operator": {"replicas": "2"}}, "/operator/replicas"),
    ({"operator": {"replicas": -1}}, "/operator/replicas"),
    ({"operator": {"imagePullPolicy": "Sometimes"}}, "/operator/imagePullPolicy"),
    ({"operator": {"watchNamespaces": "default"}}, "/operator/watchNamespaces"),
    ({"operator": {"watchNamespaces": ["Not_A_Namespace"]}}, "/operator/watchNamespaces/0"),
    ({"operator": {"logFormat": "xml"}}, "/operator/logFormat"),
    ({"operator": {"statusInterval": 0}}, "/operator/statusInterval"),
    ({"serviceAccount": {"create": "yes"}}, "/serviceAccount/create"),
    ({"rbac": {"create": True, "extra": 1}}, "'extra' not allowed"),
    ({"mesh": {"create": True, "name": "Demo"}}, "/mesh/name"),
]


@pytest.mark.parametrize(("values", "where"), BAD_VALUES)
def test_bad_values_are_rejected(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=where):
        validate_values(values)
    with pytest.raises(helm_python.HelmValuesError, match=where):
        render_chart(values)


def documented_keys() -> dict[str, bool]:
    """Dotted path of every key in values.yaml → whether a comment line sits right above it."""
    result: dict[str, bool] = {}
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in (CHART_DIR / "values.yaml").read_text().splitlines():
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if match:
            indent, key = len(match.group(1)), match.group(2)
            stack = [(level, name) for level, name in stack if level < indent] + [(indent, key)]
            result[".".join(name for _, name in stack)] = previous.lstrip().startswith("#")
        if line.strip():
            previous = line
    return result


def schema_keys(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted path of every value the schema names, down through closed objects only."""
    keys: list[str] = []
    for key, child in schema.get("properties", {}).items():
        keys.append(prefix + key)
        if child.get("additionalProperties") is False:
            keys += schema_keys(child, f"{prefix}{key}.")
    return keys


def test_every_value_is_documented() -> None:
    """Each value the schema names is in values.yaml with a comment right above it."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        schema = chart.schema
    assert schema is not None
    documented = documented_keys()
    names = [key for key in schema_keys(schema) if key != "global"]
    assert [key for key in names if not documented.get(key)] == []


def test_schema_closes_every_object_of_the_defaults() -> None:
    """Every object in values.yaml that has named keys is closed in the schema."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        schema = chart.schema
        defaults = chart.values
    assert schema is not None

    def check(node: dict[str, Any], value: dict[str, Any], path: str) -> None:
        assert node.get("additionalProperties") is False, f"{path or '<root>'} is open"
        assert set(value) <= set(node["properties"]), path
        for key, item in value.items():
            child = node["properties"][key]
            if isinstance(item, dict) and "properties" in child:
                check(child, item, f"{path}.{key}")

    check(schema, defaults, "")


def test_crds_come_first_and_equal_the_source_plus_keep() -> None:
    manifests = render_chart()
    crds = by_kind(manifests, "CustomResourceDefinition")
    assert manifests[: len(crds)] == crds
    sources = source_crds()
    assert sorted(crd["metadata"]["name"] for crd in crds) == sorted(sources)
    for crd in crds:
        expected = copy.deepcopy(sources[crd["metadata"]["name"]])
        expected["metadata"]["annotations"] = KEEP
        assert crd == expected


def test_chart_crds_are_generated_and_fresh() -> None:
    """The default test run catches a forgotten `make generate-crds` (as verify-generate does)."""
    generator = crd_generator()
    assert generator.stale_files(generator.chart_crds()) == []


def test_crd_generator_refuses_existing_annotations() -> None:
    generator = crd_generator()
    text = "apiVersion: v1\nkind: X\nmetadata:\n  name: x\n  annotations: {a: b}\n"
    with pytest.raises(ValueError, match="annotations"):
        generator.with_keep_annotation(text)


def test_cluster_role_is_exactly_the_operator_permissions() -> None:
    role = one(render_chart(), "ClusterRole")
    assert role["rules"] == permissions.as_policy_rules()


def test_binding_grants_the_role_to_the_service_account() -> None:
    manifests = render_chart(namespace="mesh-ops", release="wm")
    account = one(manifests, "ServiceAccount")
    role = one(manifests, "ClusterRole")
    binding = one(manifests, "ClusterRoleBinding")
    assert account["metadata"]["namespace"] == "mesh-ops"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "mesh-ops"}
    ]
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_default_objects() -> None:
    manifests = render_chart()
    kinds = sorted(manifest["kind"] for manifest in manifests)
    assert kinds == sorted(
        ["CustomResourceDefinition"] * 2
        + ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "ServiceAccount"]
    )
    names = {
        m["metadata"]["name"]
        for m in manifests
        if m["kind"] not in {"CustomResourceDefinition", "ConfigMap"}
    }
    assert names == {"webmesh"}  # release "webmesh" contains the chart name: no "webmesh-webmesh"
    assert one(manifests, "ConfigMap")["metadata"]["name"] == "webmesh-grafana-dashboard"


def test_deployment_runs_the_operator_hardened() -> None:
    deployment = one(render_chart(), "Deployment")
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert deployment["spec"]["replicas"] == 1
    selector = deployment["spec"]["selector"]["matchLabels"]
    template = deployment["spec"]["template"]
    assert selector.items() <= template["metadata"]["labels"].items()
    assert selector["app.kubernetes.io/component"] == "operator"
    pod = template["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "webmesh-operator:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    assert {
        item["name"]: item["valueFrom"]["fieldRef"]["fieldPath"] for item in container["env"]
    } == {
        "POD_NAME": "metadata.name",
        "POD_NAMESPACE": "metadata.namespace",
    }
    assert container["resources"]["requests"]


def test_default_args() -> None:
    assert operator_args(render_chart()) == [
        "--health-address=0.0.0.0:8081",
        "--log-level=info",
        "--log-format=json",
        "--leader-election",
        f"--leader-election-namespace={NAMESPACE}",
        "--lease-name=webmesh",
    ]


def test_watch_namespaces_render_namespace_flags() -> None:
    args = operator_args(render_chart({"operator": {"watchNamespaces": ["team-a", "team-b"]}}))
    assert [arg for arg in args if arg.startswith("--namespace")] == [
        "--namespace=team-a",
        "--namespace=team-b",
    ]


def test_optional_flags() -> None:
    values = {
        "operator": {
            "statusInterval": 30,
            "meshApiAddress": "{name}-headless.{namespace}:8443",
            "logLevel": "debug",
            "logFormat": "text",
        }
    }
    args = operator_args(render_chart(values))
    assert "--status-interval=30" in args
    assert "--mesh-api-address={name}-headless.{namespace}:8443" in args
    assert {"--log-level=debug", "--log-format=text"} <= set(args)


def test_leader_election_off_with_one_replica() -> None:
    args = operator_args(render_chart({"operator": {"leaderElection": {"enabled": False}}}))
    assert "--no-leader-election" in args
    assert not any(arg.startswith(("--leader-election", "--lease-name")) for arg in args)


def test_two_replicas_turn_leader_election_on() -> None:
    values = {"operator": {"replicas": 2, "leaderElection": {"enabled": False}}}
    manifests = render_chart(values, namespace="ops", release="prod")
    assert one(manifests, "Deployment")["spec"]["replicas"] == 2
    args = operator_args(manifests)
    assert "--leader-election" in args
    assert "--leader-election-namespace=ops" in args
    assert "--lease-name=prod-webmesh" in args
    assert "--no-leader-election" not in args


def test_no_mesh_by_default() -> None:
    assert by_kind(render_chart(), "Mesh") == []


MESH_SCHEMA = source_crds()["meshes.mesh.webmesh.io"]["spec"]["versions"][0]["schema"][
    "openAPIV3Schema"
]


def mesh_errors(mesh: dict[str, Any]) -> list[str]:
    """What the API server would refuse in the Mesh's spec, before and after its defaults."""
    spec_schema = MESH_SCHEMA["properties"]["spec"]
    defaulted = openapi.apply_defaults(spec_schema, mesh["spec"])
    errors: list[str] = openapi.validate(spec_schema, mesh["spec"], "spec")
    return errors + openapi.validate(spec_schema, defaulted, "spec")


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"servers": 1, "security": {"mode": "insecure"}},
        {"servers": 5, "ipv6": True},
        {
            "backup": {
                "url": "s3://mesh-backups/demo",
                "keySecret": {"name": "demo-backup-key", "key": "backup.key"},
                "s3": {
                    "endpoint": "http://minio.minio.svc:9000",
                    "credentialsSecret": {"name": "demo-backup-s3"},
                },
            },
            "restoreFrom": "s3://mesh-backups/demo",
        },
    ],
    ids=["empty", "insecure", "five", "backup"],
)
def test_mesh_create_renders_a_valid_mesh(spec: dict[str, Any]) -> None:
    values = {"mesh": {"create": True, "spec": spec}}
    mesh = one(render_chart(values, namespace="meshes"), "Mesh")
    assert mesh["apiVersion"] == "mesh.webmesh.io/v1alpha1"
    assert (mesh["metadata"]["name"], mesh["metadata"]["namespace"]) == ("demo", "meshes")
    assert mesh["spec"] == spec
    assert mesh_errors(mesh) == []


def test_mesh_name_and_namespace() -> None:
    values = {"mesh": {"create": True, "name": "corp", "namespace": "net"}}
    mesh = one(render_chart(values), "Mesh")
    assert (mesh["metadata"]["name"], mesh["metadata"]["namespace"]) == ("corp", "net")


def test_bad_mesh_spec_fails_the_crd_schema() -> None:
    mesh = one(render_chart({"mesh": {"create": True, "spec": {"servers": 2}}}), "Mesh")
    assert any("spec.servers" in error for error in mesh_errors(mesh))


def test_existing_service_account() -> None:
    values = {"serviceAccount": {"create": False, "name": "my-operator"}}
    manifests = render_chart(values)
    assert by_kind(manifests, "ServiceAccount") == []
    assert one(manifests, "ClusterRoleBinding")["subjects"][0]["name"] == "my-operator"
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "my-operator"


def test_existing_service_account_needs_a_name() -> None:
    with pytest.raises(helm_python.HelmRenderError, match=r"serviceAccount\.name is required"):
        render_chart({"serviceAccount": {"create": False}})


def test_rbac_can_be_left_out() -> None:
    manifests = render_chart({"rbac": {"create": False}})
    assert by_kind(manifests, "ClusterRole") == by_kind(manifests, "ClusterRoleBinding") == []


def test_pass_through_objects() -> None:
    values = {
        "operator": {
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            "podAnnotations": {"example.com/a": "b"},
            "podLabels": {"team": "net"},
            "imagePullSecrets": [{"name": "regcred"}],
            "priorityClassName": "system-cluster-critical",
        }
    }
    template = one(render_chart(values), "Deployment")["spec"]["template"]
    pod = template["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert template["metadata"]["annotations"] == {"example.com/a": "b"}
    assert template["metadata"]["labels"]["team"] == "net"


def test_notes_say_what_to_do_next() -> None:
    notes = render_notes()
    assert "kubectl -n default apply -f examples/mesh.yaml" in notes
    assert "kubectl -n default wait --for=condition=Ready mesh/demo" in notes
    assert "secret demo-admin" in notes
    created = render_notes({"mesh": {"create": True, "name": "corp"}})
    assert f"kubectl -n {NAMESPACE} wait --for=condition=Ready mesh/corp" in created
    assert "examples/mesh.yaml" not in created
