"""The reconcilers against the in-memory cluster (``k8s.MemoryCluster``) and a fake mesh API."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from webmesh_operator import k8s, meshapi, reconcile, secrets
from webmesh_operator.status import Member, MeshObservation

EXAMPLES = Path(__file__).parents[3] / "examples"
NAMESPACE = "team-a"
NOW = datetime.datetime(2026, 11, 26, 8, 0, tzinfo=datetime.UTC)
SEEN = "2026-11-26T07:59:00Z"  # an offline member's lastSeen


class FakeMeshApi:
    """Answers with ``observation`` (or raises ``error``); records ensure_voters calls."""

    def __init__(self, observation: MeshObservation | None = None) -> None:
        self.observation = observation
        self.error: meshapi.MeshApiError | None = None
        self.voters_added: list[tuple[str, list[str]]] = []
        self.credentials_seen: list[meshapi.Credentials | None] = []

    async def observe(
        self, address: str, credentials: meshapi.Credentials | None
    ) -> MeshObservation:
        self.credentials_seen.append(credentials)
        if self.error is not None or self.observation is None:
            raise self.error or meshapi.MeshApiError(f"{address}: connection refused")
        return self.observation

    async def ensure_voters(
        self, address: str, credentials: meshapi.Credentials | None, node_ids: Sequence[str]
    ) -> None:
        if self.error is not None:
            raise self.error
        self.voters_added.append((address, list(node_ids)))


def example(name: str) -> dict[str, Any]:
    resource: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    resource["metadata"].update(namespace=NAMESPACE, generation=1)
    return resource


def context(cluster: k8s.MemoryCluster, api: FakeMeshApi | None = None) -> reconcile.Context:
    return reconcile.Context(cluster=cluster, mesh_api=api or FakeMeshApi(), clock=lambda: NOW)


def stored(cluster: k8s.MemoryCluster, resource: dict[str, Any]) -> dict[str, Any]:
    found = cluster.find(resource["kind"], NAMESPACE, resource["metadata"]["name"])
    assert found is not None
    return copy.deepcopy(found)


def condition(resource: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions = {c["type"]: c for c in resource["status"]["conditions"]}
    return conditions[kind]


def children(cluster: k8s.MemoryCluster) -> set[str]:
    skip = {"Mesh", "Node", "Lease"}
    return {f"{kind}/{name}" for (kind, _, name) in cluster.objects if kind not in skip}


def without_versions(cluster: k8s.MemoryCluster) -> dict[Any, Any]:
    snapshot = copy.deepcopy(cluster.objects)
    for obj in snapshot.values():
        obj["metadata"].pop("resourceVersion", None)
    return snapshot


@pytest.fixture
def cluster() -> k8s.MemoryCluster:
    return k8s.MemoryCluster()


# --- Mesh ---------------------------------------------------------------------------------------


async def test_mesh_reconcile_applies_every_child_owned_by_the_mesh(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh-ha.yaml"))
    await reconcile.reconcile_mesh(context(cluster), mesh)
    made = children(cluster)
    expected = {
        "ConfigMap/prod-config",
        "Service/prod-headless",
        "Service/prod-meshdns",
        "ConfigMap/prod-endpoints",
        "Service/prod-external",
        *(f"Service/prod-external-{ordinal}" for ordinal in range(5)),
        "PodDisruptionBudget/prod",
        "StatefulSet/prod",
    }
    assert expected <= made
    for name in secrets.mesh_secret_names(reconcile.defaults.mesh_with_defaults(mesh)):
        assert f"Secret/{name}" in made
    for (kind, _, name), obj in cluster.objects.items():
        if kind == "Mesh":
            continue
        (reference,) = obj["metadata"]["ownerReferences"]
        assert reference["uid"] == mesh["metadata"]["uid"], f"{kind}/{name}"
        assert reference["controller"] is True and reference["blockOwnerDeletion"] is True
    assert all(verb != "delete" for verb, _, _ in cluster.calls)


async def test_mesh_reconcile_publishes_a_progressing_status(cluster: k8s.MemoryCluster) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    await reconcile.reconcile_mesh(context(cluster), mesh)
    after = stored(cluster, mesh)
    assert condition(after, "Progressing")["status"] == "True"
    assert condition(after, "Ready")["status"] == "False"
    assert after["status"]["joinAddress"] == f"demo-headless.{NAMESPACE}.svc:8443"
    assert after["status"]["adminConfigSecretName"] == "demo-admin"


async def test_second_reconcile_changes_nothing_and_keeps_generated_keys(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    first = without_versions(cluster)
    await reconcile.reconcile_mesh(ctx, stored(cluster, mesh))
    assert without_versions(cluster) == first
    patches = [call for call in cluster.calls if call[0] == "patch_status"]
    assert len(patches) == 1, "an unchanged status is not written again"


async def test_scaling_down_to_one_server_prunes_the_pdb_and_the_external_service(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh-ha.yaml"))
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    secrets_before = cluster.names("Secret")
    changed = stored(cluster, mesh)
    changed["spec"]["servers"] = 1
    changed["spec"]["externalAccess"] = {"type": "None"}
    await reconcile.reconcile_mesh(ctx, changed)
    assert "PodDisruptionBudget/prod" not in children(cluster)
    assert not {name for name in children(cluster) if name.startswith("Service/prod-external")}
    assert "Service/prod-headless" in children(cluster)
    assert set(secrets_before) <= set(cluster.names("Secret")), "Secrets are never pruned"
    statefulset = cluster.find("StatefulSet", NAMESPACE, "prod")
    assert statefulset is not None and statefulset["spec"]["replicas"] == 1


async def test_meshdns_service_address_is_published_and_goes_with_meshdns(
    cluster: k8s.MemoryCluster,
) -> None:
    """On: the Service, and its cluster IP in the status (what cluster DNS forwards to), kept
    across reconciles; off: the Service is pruned and the status field removed."""
    resource = example("mesh.yaml")
    resource["spec"] = {"meshDNS": {"enabled": True}}
    mesh = cluster.put(resource)
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    service = cluster.find("Service", NAMESPACE, "demo-meshdns")
    assert service is not None
    address = f"{service['spec']['clusterIP']}:53"
    assert stored(cluster, mesh)["status"]["meshDNSAddress"] == address
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    await reconcile.reconcile_mesh(ctx, stored(cluster, mesh))
    assert stored(cluster, mesh)["status"]["meshDNSAddress"] == address, "the address is kept"

    changed = stored(cluster, mesh)
    changed["spec"]["meshDNS"] = {"enabled": False}
    await reconcile.reconcile_mesh(ctx, changed)
    assert cluster.find("Service", NAMESPACE, "demo-meshdns") is None
    assert "meshDNSAddress" not in stored(cluster, mesh)["status"]


async def test_meshdns_address_waits_for_the_service(cluster: k8s.MemoryCluster) -> None:
    resource = example("mesh.yaml")
    resource["spec"] = {"meshDNS": {"enabled": True}}
    mesh = reconcile.defaults.mesh_with_defaults(resource)
    assert await reconcile.meshdns_address(cluster, mesh) == ""
    cluster.put(
        {
            "kind": "Service",
            "metadata": {"name": "demo-meshdns", "namespace": NAMESPACE},
            "spec": {"clusterIP": "fd00:96::35"},
        }
    )
    assert await reconcile.meshdns_address(cluster, mesh) == "[fd00:96::35]:53"
    mesh["spec"]["meshDNS"]["enabled"] = False
    calls = len(cluster.calls)
    assert await reconcile.meshdns_address(cluster, mesh) == ""
    assert cluster.calls[calls:] == [], "nothing is read while MeshDNS is off"


async def test_prune_spares_objects_of_other_owners(cluster: k8s.MemoryCluster) -> None:
    mesh = cluster.put(example("mesh-ha.yaml"))
    await reconcile.reconcile_mesh(context(cluster), mesh)
    pdb = cluster.find("PodDisruptionBudget", NAMESPACE, "prod")
    assert pdb is not None
    pdb["metadata"]["ownerReferences"] = [{"uid": "someone-else"}]
    changed = stored(cluster, mesh)
    changed["spec"]["servers"] = 1
    await reconcile.reconcile_mesh(context(cluster), changed)
    assert cluster.find("PodDisruptionBudget", NAMESPACE, "prod") is not None


async def test_invalid_mesh_is_degraded_and_rejected_without_applying(
    cluster: k8s.MemoryCluster,
) -> None:
    resource = example("mesh.yaml")
    resource["spec"]["ipv4Network"] = "10.0.0.1/16"
    mesh = cluster.put(resource)
    with pytest.raises(reconcile.InvalidSpec, match="host bits"):
        await reconcile.reconcile_mesh(context(cluster), mesh)
    degraded = condition(stored(cluster, mesh), "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == "InvalidSpec"
    assert "spec.ipv4Network" in degraded["message"]
    assert not [call for call in cluster.calls if call[0] == "apply"]


async def test_a_refused_child_degrades_the_mesh_and_retries_slowly(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    refusal = k8s.ApiError("PATCH", 422, "spec.replicas: Invalid value")
    cluster.failures[("apply", "StatefulSet")] = refusal
    with pytest.raises(reconcile.RetryLater) as retry:
        await reconcile.reconcile_mesh(context(cluster), mesh)
    assert retry.value.delay == reconcile.SLOW_RETRY_DELAY
    degraded = condition(stored(cluster, mesh), "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == reconcile.API_REFUSED
    assert f"StatefulSet {NAMESPACE}/demo" in degraded["message"]
    assert "Invalid value" in degraded["message"]


async def test_a_transient_api_failure_retries_with_backoff_and_no_degraded_status(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    cluster.failures[("apply", "ConfigMap")] = k8s.ApiError("PATCH", 503, "unavailable")
    with pytest.raises(reconcile.RetryLater) as retry:
        await reconcile.reconcile_mesh(context(cluster), mesh)
    assert retry.value.delay is None
    assert "status" not in stored(cluster, mesh)


async def test_delete_mesh_removes_every_child_including_secrets(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh-ha.yaml"))
    await reconcile.reconcile_mesh(context(cluster), mesh)
    stranger = {"kind": "ConfigMap", "metadata": {"name": "keep-me", "namespace": NAMESPACE}}
    cluster.put(stranger)
    await reconcile.delete_mesh(context(cluster), stored(cluster, mesh))
    assert children(cluster) == {"ConfigMap/keep-me"}


async def test_status_timer_publishes_ready_from_the_mesh_api(cluster: k8s.MemoryCluster) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    servers = ("demo-0", "demo-1", "demo-2")
    members = tuple(
        Member(node_id, (f"172.16.0.{i + 1}",), True, role="voter")
        for i, node_id in enumerate(servers)
    )
    api = FakeMeshApi(MeshObservation(leader="demo-0", voters=servers, members=members))
    ctx = context(cluster, api)
    await reconcile.reconcile_mesh(ctx, mesh)
    statefulset = cluster.find("StatefulSet", NAMESPACE, "demo")
    assert statefulset is not None
    statefulset["status"] = {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3}
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    after = stored(cluster, mesh)
    assert condition(after, "Ready")["status"] == "True", after["status"]
    assert after["status"]["phase"] == "Ready"
    assert after["status"]["leader"] == "demo-0"
    assert after["status"]["nodes"] == 3


async def test_status_timer_writes_presence_once_while_nothing_changes(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    servers = ("demo-0", "demo-1", "demo-2")
    members = (
        *(Member(n, (f"172.16.0.{i + 1}",), True, role="voter") for i, n in enumerate(servers)),
        Member("laptop", ("172.16.0.9",), False, role="client", online=False, last_seen=SEEN),
    )
    api = FakeMeshApi(MeshObservation(leader="demo-0", voters=servers, members=members))
    ctx = context(cluster, api)
    await reconcile.reconcile_mesh(ctx, mesh)
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    status = stored(cluster, mesh)["status"]
    assert (status["nodes"], status["onlineNodes"]) == (4, 3)
    assert status["members"][-1]["lastSeen"] == SEEN
    writes = [call for call in cluster.calls if call[0] == "patch_status"]
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    again = [call for call in cluster.calls if call[0] == "patch_status"]
    assert again == writes, "the same presence is not written again"


async def test_an_insecure_mesh_is_observed_in_plaintext(cluster: k8s.MemoryCluster) -> None:
    resource = example("mesh.yaml")
    resource["spec"] = {"servers": 1, "security": {"mode": "insecure"}}
    mesh = cluster.put(resource)
    members = (Member("demo-0", ("172.16.0.1",), True, role="voter"),)
    api = FakeMeshApi(MeshObservation(leader="demo-0", voters=("demo-0",), members=members))
    ctx = context(cluster, api)
    await reconcile.reconcile_mesh(ctx, mesh)
    statefulset = cluster.find("StatefulSet", NAMESPACE, "demo")
    assert statefulset is not None
    statefulset["status"] = {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    assert api.credentials_seen and api.credentials_seen[-1] is None
    assert condition(stored(cluster, mesh), "Ready")["status"] == "True"


async def test_an_mtls_mesh_is_observed_with_the_admin_certificate(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    api = FakeMeshApi()
    ctx = context(cluster, api)
    await reconcile.reconcile_mesh(ctx, mesh)
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    seen = api.credentials_seen[-1]
    assert seen is not None and b"BEGIN CERTIFICATE" in seen.cert_pem


async def test_status_timer_says_why_the_mesh_api_is_not_ready(cluster: k8s.MemoryCluster) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    statefulset = cluster.find("StatefulSet", NAMESPACE, "demo")
    assert statefulset is not None
    statefulset["status"] = {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3}
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    ready = condition(stored(cluster, mesh), "Ready")
    assert ready["status"] == "False"
    assert "connection refused" in ready["message"]


def node_port_mesh(servers: int = 3) -> dict[str, Any]:
    resource = example("mesh.yaml")
    resource["spec"] = {
        "servers": servers,
        "externalAccess": {"type": "NodePort", "advertiseEndpoint": "192.0.2.10"},
    }
    return resource


def endpoints_data(cluster: k8s.MemoryCluster, mesh: str = "demo") -> dict[str, str]:
    configmap = cluster.find("ConfigMap", NAMESPACE, f"{mesh}-endpoints")
    assert configmap is not None
    return dict(configmap["data"])


def pod_checksum(cluster: k8s.MemoryCluster, mesh: str = "demo") -> str:
    statefulset = cluster.find("StatefulSet", NAMESPACE, mesh)
    assert statefulset is not None
    annotations = statefulset["spec"]["template"]["metadata"]["annotations"]
    return str(annotations["mesh.webmesh.io/config-checksum"])


async def test_the_first_reconcile_gives_each_server_its_node_port(
    cluster: k8s.MemoryCluster,
) -> None:
    mesh = cluster.put(node_port_mesh())
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    ports = {}
    for ordinal in range(3):
        service = cluster.find("Service", NAMESPACE, f"demo-external-{ordinal}")
        assert service is not None
        assert (
            service["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == f"demo-{ordinal}"
        )
        (port,) = service["spec"]["ports"]
        ports[f"demo-{ordinal}"] = f"192.0.2.10:{port['nodePort']}"
    assert endpoints_data(cluster) == ports
    assert len(set(ports.values())) == 3
    statefulsets = [call for call in cluster.calls if call[:2] == ("apply", "StatefulSet")]
    assert len(statefulsets) == 1, "the StatefulSet is written once, with the endpoints"
    shared = cluster.find("Service", NAMESPACE, "demo-external")
    assert shared is not None
    (grpc,) = shared["spec"]["ports"]
    join = stored(cluster, mesh)["status"]["joinAddress"]
    assert join == f"192.0.2.10:{grpc['nodePort']}"

    checksum = pod_checksum(cluster)
    await reconcile.reconcile_mesh(ctx, stored(cluster, mesh))
    assert endpoints_data(cluster) == ports, "allocated node ports are kept"
    assert pod_checksum(cluster) == checksum


async def test_a_load_balancer_address_that_arrives_later_rolls_the_servers(
    cluster: k8s.MemoryCluster,
) -> None:
    """The timer notices the new address (no spec change announces it) and reconciles."""
    mesh = cluster.put(example("mesh-ha.yaml"))
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    assert endpoints_data(cluster, "prod") == {}
    before = pod_checksum(cluster, "prod")
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    assert pod_checksum(cluster, "prod") == before, "nothing new: nothing rolls"

    service = cluster.find("Service", NAMESPACE, "prod-external-1")
    assert service is not None
    service["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.21"}]}}
    applies = len([call for call in cluster.calls if call[0] == "apply"])
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    assert endpoints_data(cluster, "prod") == {"prod-1": "203.0.113.21:51820"}
    assert pod_checksum(cluster, "prod") != before
    assert len([call for call in cluster.calls if call[0] == "apply"]) > applies

    calls = len(cluster.calls)
    await reconcile.refresh_mesh_status(ctx, stored(cluster, mesh))
    assert not [call for call in cluster.calls[calls:] if call[0] == "apply"], "settled"


async def test_external_join_address(cluster: k8s.MemoryCluster) -> None:
    mesh = reconcile.defaults.mesh_with_defaults(example("mesh-ha.yaml"))
    assert await reconcile.external_join_address(cluster, mesh) == "prod-headless.team-a.svc:8443"
    service = {
        "kind": "Service",
        "metadata": {"name": "prod-external", "namespace": NAMESPACE},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}},
    }
    cluster.put(service)
    assert await reconcile.external_join_address(cluster, mesh) == "203.0.113.7:8443"


# --- Node groups --------------------------------------------------------------------------------


async def test_node_without_its_mesh_waits_with_mesh_not_found(
    cluster: k8s.MemoryCluster,
) -> None:
    node = cluster.put(example("node-group-with-app.yaml"))
    with pytest.raises(reconcile.RetryLater) as retry:
        await reconcile.reconcile_node(context(cluster), node)
    assert retry.value.delay == reconcile.MESH_WAIT_DELAY
    progressing = condition(stored(cluster, node), "Progressing")
    assert progressing["reason"] == "MeshNotFound"
    assert "demo" in progressing["message"]
    assert not [call for call in cluster.calls if call[0] == "apply"]


async def test_node_group_is_applied_owned_by_the_node(cluster: k8s.MemoryCluster) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    node = cluster.put(example("node-group-with-app.yaml"))
    await reconcile.reconcile_node(ctx, node)
    statefulset = cluster.find("StatefulSet", NAMESPACE, "demo-web")
    assert statefulset is not None
    assert statefulset["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    assert cluster.find("ConfigMap", NAMESPACE, "demo-web-config") is not None
    assert condition(stored(cluster, node), "Ready")["status"] == "False"


async def test_voter_node_group_is_added_as_voters(cluster: k8s.MemoryCluster) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    api = FakeMeshApi()
    ctx = context(cluster, api)
    await reconcile.reconcile_mesh(ctx, mesh)
    resource = example("node-group-with-app.yaml")
    resource["spec"]["voter"] = True
    node = cluster.put(resource)
    await reconcile.reconcile_node(ctx, node)
    assert api.voters_added == [
        (f"demo-headless.{NAMESPACE}.svc:8443", ["demo-web-0", "demo-web-1"])
    ]
    api.error = meshapi.MeshApiError("connection refused")
    with pytest.raises(reconcile.RetryLater):
        await reconcile.reconcile_node(ctx, stored(cluster, node))
    assert condition(stored(cluster, node), "Progressing")["reason"] == "MeshApiUnavailable"


async def test_delete_node_group_leaves_the_mesh_alone(cluster: k8s.MemoryCluster) -> None:
    mesh = cluster.put(example("mesh.yaml"))
    ctx = context(cluster)
    await reconcile.reconcile_mesh(ctx, mesh)
    mesh_children = children(cluster)
    node = cluster.put(example("node-group-with-app.yaml"))
    await reconcile.reconcile_node(ctx, node)
    assert children(cluster) > mesh_children
    await reconcile.delete_node(ctx, stored(cluster, node))
    assert children(cluster) == mesh_children


async def test_invalid_spec_keeps_the_last_observed_fields(cluster: k8s.MemoryCluster) -> None:
    resource = example("mesh.yaml")
    resource["status"] = {"leader": "demo-0", "nodes": 3, "phase": "Ready"}
    resource["spec"]["ipv4Network"] = "10.0.0.0/31"
    mesh = cluster.put(resource)
    with pytest.raises(reconcile.InvalidSpec):
        await reconcile.reconcile_mesh(context(cluster), mesh)
    after = stored(cluster, mesh)["status"]
    assert (after["leader"], after["nodes"], after["phase"]) == ("demo-0", 3, "Degraded")
