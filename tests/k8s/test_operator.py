"""The whole operator, as a process, against a real API server, with exactly the chart's RBAC.

Three namespaces, one operator process each (``--namespace``): ``op-demo`` (an mTLS Mesh whose
API is unreachable: children, Node groups, config roll-outs, server-side apply, invalid specs,
MeshDNS's Service, backups' Secrets and volumes, deletion), ``op-solo`` (an insecure one-server
Mesh whose server ``solo-0`` is a REAL webmesh node on loopback, with the fake WireGuard driver:
status becomes Ready and lists every member with its presence, a client-role process outside
the "cluster" included) and ``op-election`` (two operators with leader election). There are no
controllers: the tests patch StatefulSets' status. Every operator runs as one ServiceAccount
bound to the chart's RBAC; test_rbac.py (next, on the same process) reads what they did from the
API server's audit log.

The tests of this module build on each other (one Mesh goes through its life); they run in order.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.kubeapi import KubeAPI, KubeError, Process, Rest, free_port, resource_path
from support.wait import eventually
from webmesh.daemon import settings

pytestmark = pytest.mark.k8s

T = TypeVar("T")
API = "mesh.webmesh.io/v1alpha1"
MANAGER = "webmesh-operator"
CHECKSUM = "mesh.webmesh.io/config-checksum"
DEMO, SOLO, ELECTION = "op-demo", "op-solo", "op-election"
OPERATOR = Path(sys.executable).parent / "webmesh-operator"
WAIT = 30.0
NODE_ADDRESS = "192.0.2.10"  # TEST-NET-1: the "cluster node" the NodePort mesh advertises

# Real nodes on loopback: `--wireguard.backend=fake` keeps WireGuard and links in memory.
NODE = Path(sys.executable).parent / "webmesh-node"


# --- helpers ------------------------------------------------------------------------------------


def mesh_path(namespace: str, name: str | None = None, kind: str = "meshes") -> str:
    return resource_path(API, kind, namespace=namespace, name=name)


def core(namespace: str, plural: str, name: str) -> str:
    return resource_path("v1", plural, namespace=namespace, name=name)


def apps(namespace: str, name: str) -> str:
    return resource_path("apps/v1", "statefulsets", namespace=namespace, name=name)


def pdb(namespace: str, name: str) -> str:
    return resource_path("policy/v1", "poddisruptionbudgets", namespace=namespace, name=name)


def get_or_none(api: Rest, path: str) -> Any:
    try:
        return api.get(path)
    except KubeError as error:
        if error.status == 404:
            return None
        raise


def wait_for(
    condition: Callable[[], T],
    what: str | Callable[[], str],
    *processes: Process,
    timeout: float = WAIT,
) -> T:
    """``eventually``, failing with the processes' log tails (at once if one of them exited)."""
    exited: list[Process] = []

    def check() -> T | bool:
        exited.extend(p for p in processes if not p.alive())
        return bool(exited) or condition()

    def describe() -> str:
        text = what() if callable(what) else what
        return "\n".join([text, *(process.log_tail() for process in processes)])

    value = eventually(check, timeout=timeout, interval=0.25, what=describe)
    if exited:
        raise AssertionError(f"{exited[0].name} exited while waiting for {describe()}")
    return value  # type: ignore[return-value]


def condition(resource: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions = (resource.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def decoded(secret: dict[str, Any]) -> dict[str, bytes]:
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


def assert_owned_by(child: dict[str, Any], owner: dict[str, Any]) -> None:
    refs = child["metadata"].get("ownerReferences") or []
    wanted = (owner["apiVersion"], owner["kind"], owner["metadata"]["name"])
    matching = [r for r in refs if (r["apiVersion"], r["kind"], r["name"]) == wanted]
    assert matching, f"{child['kind']} {child['metadata']['name']} not owned by {wanted}: {refs}"
    assert matching[0]["uid"] == owner["metadata"]["uid"]


def certificate(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def assert_issued_pair(
    data: dict[str, bytes], cert_key: str, key_key: str, ca: x509.Certificate
) -> None:
    """``cert_key`` is signed by ``ca`` and matches the private key ``key_key``."""
    cert = certificate(data[cert_key])
    cert.verify_directly_issued_by(ca)
    key = serialization.load_pem_private_key(data[key_key], password=None)
    assert cert.public_key() == key.public_key(), f"{cert_key} does not match {key_key}"


def sts_ready_status(statefulset: dict[str, Any], replicas: int) -> dict[str, Any]:
    """What the StatefulSet controller would write once every replica is up to date and ready."""
    return {
        "status": {
            "observedGeneration": statefulset["metadata"]["generation"],
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "currentRevision": f"{statefulset['metadata']['name']}-1",
            "updateRevision": f"{statefulset['metadata']['name']}-1",
        }
    }


def port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=0.5):
        return True
    return False


# --- fixtures -----------------------------------------------------------------------------------


@contextlib.contextmanager
def operator(
    kube: KubeAPI,
    kubeconfig: Path,
    namespace: str,
    *,
    mesh_api: str,
    extra: list[str] | None = None,
    tag: str = "",
) -> Iterator[Process]:
    kube.ensure_namespace(namespace)
    argv = [
        str(OPERATOR),
        "--namespace", namespace,
        "--status-interval", "1",
        "--mesh-api-address", mesh_api,
        "--log-format", "text",
        *(extra if extra is not None else ["--no-leader-election"]),
    ]  # fmt: skip
    name = f"operator-{namespace}{tag}"
    process = Process.start(
        name, argv, kube.root / f"{name}.log", env={"KUBECONFIG": str(kubeconfig)}
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def demo_operator(kube: KubeAPI, operator_account: Any) -> Iterator[Process]:
    """The operator of ``op-demo``; the mesh API there is a closed port (no servers run)."""
    closed = f"127.0.0.1:{free_port()}"
    with operator(kube, operator_account.kubeconfig, DEMO, mesh_api=closed) as process:
        yield process


def node_argv(node_id: str, data_dir: Path, *, join: str = "") -> tuple[list[str], str]:
    """A loopback node's flags and its API address."""
    api, wg_port = f"127.0.0.1:{free_port()}", free_port()
    argv = [
        "--global.insecure",
        "--global.no-ipv6",
        f"--mesh.node-id={node_id}",
        f"--raft.listen-address=127.0.0.1:{free_port()}",
        f"--services.api.listen-address={api}",
        "--services.metrics.disabled",
        "--wireguard.backend=fake",
        f"--raft.data-dir={data_dir}",
        f"--wireguard.listen-port={wg_port}",
        f"--global.primary-endpoint=127.0.0.1:{wg_port}",
        f"--mesh.join-address={join}" if join else "--bootstrap.enabled",
    ]
    return argv, api


@contextlib.contextmanager
def mesh_node(kube: KubeAPI, node_id: str, *, join: str = "") -> Iterator[tuple[Process, str]]:
    argv, api = node_argv(node_id, kube.root / "nodes" / node_id, join=join)
    process = Process.start(node_id, [str(NODE), *argv], kube.root / f"{node_id}.log")
    try:
        wait_for(lambda: port_open(api), f"node {node_id} serving its API on {api}", process)
        yield process, api
    finally:
        process.stop()


@pytest.fixture(scope="module")
def solo(kube: KubeAPI, operator_account: Any) -> Iterator[tuple[Process, Process, str]]:
    """A real node ``solo-0`` (bootstrapped) and the operator of ``op-solo`` that reads it."""
    with (
        mesh_node(kube, "solo-0") as (node, api),
        operator(kube, operator_account.kubeconfig, SOLO, mesh_api=api) as process,
    ):
        yield process, node, api


@pytest.fixture
def api(admin: Rest) -> Rest:
    return admin


# --- demo: children, Node groups, roll-outs, SSA, invalid specs, deletion -----------------------


def create_demo(api: Rest) -> dict[str, Any]:
    body = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "demo"},
        "spec": {
            "servers": 3,
            "externalAccess": {"type": "NodePort", "advertiseEndpoint": NODE_ADDRESS},
        },
    }
    created = api.create(mesh_path(DEMO), body)
    assert isinstance(created, dict)
    return created


def test_a_mesh_gets_its_secrets_config_services_budget_and_statefulset(
    api: Rest, demo_operator: Process
) -> None:
    mesh = create_demo(api)
    statefulset = wait_for(
        lambda: get_or_none(api, apps(DEMO, "demo")), "StatefulSet demo", demo_operator
    )
    template = statefulset["spec"]["template"]["metadata"]
    assert template["annotations"][CHECKSUM]
    assert statefulset["spec"]["replicas"] == 3

    children = {
        "ConfigMap demo-config": core(DEMO, "configmaps", "demo-config"),
        "Service demo-headless": core(DEMO, "services", "demo-headless"),
        "Service demo-external": core(DEMO, "services", "demo-external"),
        **{
            f"Service demo-external-{i}": core(DEMO, "services", f"demo-external-{i}")
            for i in range(3)
        },
        "ConfigMap demo-endpoints": core(DEMO, "configmaps", "demo-endpoints"),
        "PodDisruptionBudget demo": pdb(DEMO, "demo"),
        **{f"Secret demo-{s}": core(DEMO, "secrets", f"demo-{s}") for s in ("ca", "tls", "admin")},
    }
    found = {
        what: wait_for(lambda p=path: get_or_none(api, p), what, demo_operator)
        for what, path in children.items()
    }
    for child in [statefulset, *found.values()]:
        assert_owned_by(child, mesh)
    assert "webmesh.yaml" in found["ConfigMap demo-config"]["data"]
    assert found["Service demo-headless"]["spec"]["clusterIP"] == "None"
    assert found["Service demo-external"]["spec"]["type"] == "NodePort"


def node_port(service: dict[str, Any], name: str) -> int:
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == name]
    return int(port["nodePort"])


def test_each_server_advertises_its_own_node_port(api: Rest, demo_operator: Process) -> None:
    """From the first reconcile: the API server allocates the ports when the operator applies
    the per-server Services, and the operator writes them into <mesh>-endpoints."""
    wanted = {}
    for ordinal in range(3):
        service = api.get(core(DEMO, "services", f"demo-external-{ordinal}"))
        assert service["spec"]["type"] == "NodePort"
        assert service["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == (
            f"demo-{ordinal}"
        )
        wanted[f"demo-{ordinal}"] = f"{NODE_ADDRESS}:{node_port(service, 'wireguard')}"
    assert len(set(wanted.values())) == 3
    endpoints = wait_for(
        lambda: (get_or_none(api, core(DEMO, "configmaps", "demo-endpoints")) or {}).get("data"),
        "ConfigMap demo-endpoints with data",
        demo_operator,
    )
    assert endpoints == wanted
    shared = api.get(core(DEMO, "services", "demo-external"))
    join = f"{NODE_ADDRESS}:{node_port(shared, 'grpc')}"
    wait_for(
        lambda: (api.get(mesh_path(DEMO, "demo")).get("status") or {}).get("joinAddress") == join,
        f"Mesh demo's joinAddress {join}",
        demo_operator,
    )


def test_server_certificates_chain_to_the_mesh_ca(api: Rest, demo_operator: Process) -> None:
    tls = decoded(api.get(core(DEMO, "secrets", "demo-tls")))
    ca = certificate(tls["ca.crt"])
    ca_secret = decoded(api.get(core(DEMO, "secrets", "demo-ca")))
    assert tls["ca.crt"] in ca_secret.values(), (
        f"demo-ca has no copy of ca.crt: {sorted(ca_secret)}"
    )
    for index in range(3):
        assert_issued_pair(tls, f"demo-{index}.crt", f"demo-{index}.key", ca)

    admin = decoded(api.get(core(DEMO, "secrets", "demo-admin")))
    assert {"config.yaml", "ca.crt", "tls.crt", "tls.key"} <= set(admin)
    assert admin["ca.crt"] == tls["ca.crt"]
    assert_issued_pair(admin, "tls.crt", "tls.key", ca)
    assert yaml.safe_load(admin["config.yaml"])


def test_the_mesh_status_names_its_secrets_and_join_address(
    api: Rest, demo_operator: Process
) -> None:
    def published() -> dict[str, Any] | None:
        status = api.get(mesh_path(DEMO, "demo")).get("status") or {}
        return status if status.get("caSecretName") and status.get("conditions") else None

    status = wait_for(published, "Mesh demo's status", demo_operator)
    assert (status["caSecretName"], status["adminConfigSecretName"]) == ("demo-ca", "demo-admin")
    assert status["joinAddress"]
    assert status["phase"] in ("Pending", "Progressing", "Degraded")  # no server answers
    assert {c["type"] for c in status["conditions"]} >= {"Ready", "Progressing", "Degraded"}


def test_a_node_group_gets_its_statefulset_config_and_certificates(
    api: Rest, demo_operator: Process
) -> None:
    body = {
        "apiVersion": API,
        "kind": "Node",
        "metadata": {"name": "web"},
        "spec": {"meshRef": {"name": "demo"}, "replicas": 2},
    }
    node = api.create(mesh_path(DEMO, kind="nodes"), body)
    statefulset = wait_for(
        lambda: get_or_none(api, apps(DEMO, "demo-web")), "StatefulSet demo-web", demo_operator
    )
    config = wait_for(
        lambda: get_or_none(api, core(DEMO, "configmaps", "demo-web-config")),
        "ConfigMap demo-web-config",
        demo_operator,
    )
    secret = wait_for(
        lambda: get_or_none(api, core(DEMO, "secrets", "demo-web-tls")),
        "Secret demo-web-tls",
        demo_operator,
    )
    for child in (statefulset, config, secret):
        assert_owned_by(child, node)
    tls = decoded(secret)
    mesh_ca = decoded(api.get(core(DEMO, "secrets", "demo-tls")))["ca.crt"]
    assert tls["ca.crt"] == mesh_ca
    for index in range(2):
        assert_issued_pair(
            tls, f"demo-web-{index}.crt", f"demo-web-{index}.key", certificate(mesh_ca)
        )

    api.merge_patch(apps(DEMO, "demo-web") + "/status", sts_ready_status(statefulset, 2))

    def counted() -> bool:
        status = api.get(mesh_path(DEMO, "web", kind="nodes")).get("status") or {}
        return (status.get("replicas"), status.get("readyReplicas")) == (2, 2)

    wait_for(counted, "Node web's status: replicas 2, readyReplicas 2", demo_operator)


def checksum(api: Rest) -> str:
    statefulset = api.get(apps(DEMO, "demo"))
    return str(statefulset["spec"]["template"]["metadata"]["annotations"][CHECKSUM])


def config_text(api: Rest) -> str:
    return str(api.get(core(DEMO, "configmaps", "demo-config"))["data"]["webmesh.yaml"])


def change_log_level(api: Rest, process: Process, level: str) -> tuple[str, str]:
    """Patch the Mesh's logLevel; wait until the ConfigMap and the checksum follow."""
    before = (config_text(api), checksum(api))
    api.merge_patch(mesh_path(DEMO, "demo"), {"spec": {"logLevel": level}})
    after = wait_for(
        lambda: (config_text(api), checksum(api)) if checksum(api) != before[1] else None,
        f"a new config checksum after logLevel={level}",
        process,
    )
    assert after[0] != before[0]
    return after


def test_changing_the_spec_rolls_the_config(api: Rest, demo_operator: Process) -> None:
    text, _ = change_log_level(api, demo_operator, "debug")
    assert "debug" in text.lower()


def test_server_side_apply_keeps_fields_of_other_managers(
    api: Rest, demo_operator: Process
) -> None:
    extra = {"labels": {"example.com/team": "net"}, "annotations": {"example.com/note": "kept"}}
    for api_version, kind, path in (
        ("apps/v1", "StatefulSet", apps(DEMO, "demo")),
        ("v1", "ConfigMap", core(DEMO, "configmaps", "demo-config")),
    ):
        body = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": path.rsplit("/", 1)[1], "namespace": DEMO, **extra},
        }
        api.apply(path, body, manager="someone-else", force=False)

    change_log_level(api, demo_operator, "warning")

    for path in (apps(DEMO, "demo"), core(DEMO, "configmaps", "demo-config")):
        metadata = api.get(path)["metadata"]
        assert metadata["labels"]["example.com/team"] == "net", path
        assert metadata["annotations"]["example.com/note"] == "kept", path
        managers = {(m["manager"], m["operation"]) for m in metadata["managedFields"]}
        assert {(MANAGER, "Apply"), ("someone-else", "Apply")} <= managers, managers


def test_an_invalid_spec_is_rejected_or_degraded(api: Rest, demo_operator: Process) -> None:
    bad_schema = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "two"},
        "spec": {"servers": 2},
    }
    with pytest.raises(KubeError) as rejected:
        api.create(mesh_path(DEMO), bad_schema)
    assert rejected.value.status == 422

    host_bits = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "hostbits"},
        "spec": {"servers": 1, "ipv4Network": "10.1.2.3/16"},
    }
    api.create(mesh_path(DEMO), host_bits)
    try:
        degraded = wait_for(
            lambda: (
                condition(api.get(mesh_path(DEMO, "hostbits")), "Degraded").get("status") == "True"
                and api.get(mesh_path(DEMO, "hostbits"))
            ),
            "Mesh hostbits: Degraded=True",
            demo_operator,
        )
        message = condition(degraded, "Degraded").get("message", "")
        assert "10.1.2.3/16" in message or "ipv4Network" in message, message
        assert degraded["status"]["phase"] == "Degraded"
        assert condition(degraded, "Ready").get("status") != "True"
        assert get_or_none(api, apps(DEMO, "hostbits")) is None
    finally:
        api.delete(mesh_path(DEMO, "hostbits"))
        wait_for(
            lambda: get_or_none(api, mesh_path(DEMO, "hostbits")) is None,
            "Mesh hostbits deleted",
            demo_operator,
        )


def test_load_balancer_addresses_reach_the_servers(api: Rest, demo_operator: Process) -> None:
    """The shared load balancer's address is the join address; each server's own load balancer
    address, arriving after the Mesh was reconciled, becomes its endpoint and rolls the pods."""
    body = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "lb"},
        "spec": {"servers": 3, "externalAccess": {"type": "LoadBalancer"}},
    }
    api.create(mesh_path(DEMO), body)
    try:
        for name in ("lb-external", *(f"lb-external-{i}" for i in range(3))):
            service = wait_for(
                lambda n=name: get_or_none(api, core(DEMO, "services", n)),
                f"Service {name}",
                demo_operator,
            )
            assert service["spec"]["type"] == "LoadBalancer"
        statefulset = wait_for(
            lambda: get_or_none(api, apps(DEMO, "lb")), "StatefulSet lb", demo_operator
        )
        before = statefulset["spec"]["template"]["metadata"]["annotations"][CHECKSUM]
        set_ingress(api, "lb-external", "203.0.113.10")
        for ordinal in range(3):
            set_ingress(api, f"lb-external-{ordinal}", f"203.0.113.{11 + ordinal}")

        def join_address() -> str:
            return str((api.get(mesh_path(DEMO, "lb")).get("status") or {}).get("joinAddress"))

        wait_for(
            lambda: join_address() == "203.0.113.10:8443",
            lambda: f"Mesh lb's joinAddress 203.0.113.10:8443, now {join_address()}",
            demo_operator,
        )
        wanted = {f"lb-{i}": f"203.0.113.{11 + i}:51820" for i in range(3)}

        def endpoints() -> dict[str, str]:
            found = get_or_none(api, core(DEMO, "configmaps", "lb-endpoints")) or {}
            return dict(found.get("data") or {})

        wait_for(
            lambda: endpoints() == wanted,
            lambda: f"ConfigMap lb-endpoints {wanted}, now {endpoints()}",
            demo_operator,
        )
        after = api.get(apps(DEMO, "lb"))["spec"]["template"]["metadata"]["annotations"][CHECKSUM]
        assert after != before, "the servers roll to read their new endpoints"
    finally:
        api.delete(mesh_path(DEMO, "lb"))
        wait_for(
            lambda: get_or_none(api, mesh_path(DEMO, "lb")) is None,
            "Mesh lb deleted",
            demo_operator,
        )


def test_meshdns_gets_a_cluster_service_and_its_address_in_the_status(
    tmp_path: Path, api: Rest, demo_operator: Process
) -> None:
    """spec.meshDNS: the servers' config carries services.meshdns.* (loaded by the node's own
    settings loader), the StatefulSet names the DNS ports, the ClusterIP Service <mesh>-meshdns
    sends 53/UDP and 53/TCP to them, and status.meshDNSAddress is its cluster IP: what cluster
    DNS forwards the mesh domain to. Turning it off removes the Service and the address."""
    body = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "dns"},
        "spec": {"servers": 1, "meshDomain": "dns.webmesh.internal", "meshDNS": {"enabled": True}},
    }
    mesh = api.create(mesh_path(DEMO), body)
    try:
        service = wait_for(
            lambda: get_or_none(api, core(DEMO, "services", "dns-meshdns")),
            "Service dns-meshdns",
            demo_operator,
        )
        assert_owned_by(service, mesh)
        spec = service["spec"]
        assert spec["type"] == "ClusterIP"
        assert spec["clusterIP"] not in ("", "None")
        assert not spec.get("publishNotReadyAddresses"), "ready servers only"
        ports = [(p["name"], p["port"], p["protocol"], p["targetPort"]) for p in spec["ports"]]
        assert ports == [("dns-udp", 53, "UDP", "dns-udp"), ("dns-tcp", 53, "TCP", "dns-tcp")]

        statefulset = wait_for(
            lambda: get_or_none(api, apps(DEMO, "dns")), "StatefulSet dns", demo_operator
        )
        assert spec["selector"] == statefulset["spec"]["selector"]["matchLabels"]
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        named = {p["name"]: (p["containerPort"], p["protocol"]) for p in container["ports"]}
        assert (named["dns-udp"], named["dns-tcp"]) == ((53, "UDP"), (53, "TCP"))
        assert "NET_BIND_SERVICE" in container["securityContext"]["capabilities"]["add"]

        text = api.get(core(DEMO, "configmaps", "dns-config"))["data"]["webmesh.yaml"]
        config_file = tmp_path / "webmesh.yaml"
        config_file.write_text(text)
        loaded = settings.load_settings(["--config", str(config_file)], {}, hostname="dns-0")
        meshdns = loaded.services.meshdns
        assert (meshdns.enabled, meshdns.listen_port) == (True, 53)
        assert meshdns.listen_addresses == ("0.0.0.0", "::")
        assert not meshdns.no_forward
        assert loaded.bootstrap.mesh_domain == "dns.webmesh.internal"

        address = f"{spec['clusterIP']}:53"

        def published() -> str:
            return str((api.get(mesh_path(DEMO, "dns")).get("status") or {}).get("meshDNSAddress"))

        wait_for(
            lambda: published() == address,
            lambda: f"Mesh dns's meshDNSAddress {address}, now {published()}",
            demo_operator,
        )

        api.merge_patch(mesh_path(DEMO, "dns"), {"spec": {"meshDNS": {"enabled": False}}})
        wait_for(
            lambda: get_or_none(api, core(DEMO, "services", "dns-meshdns")) is None,
            "Service dns-meshdns pruned",
            demo_operator,
        )
        wait_for(
            lambda: published() == "None",
            lambda: f"Mesh dns's meshDNSAddress removed, now {published()}",
            demo_operator,
        )
        config = api.get(core(DEMO, "configmaps", "dns-config"))["data"]["webmesh.yaml"]
        assert "meshdns" not in config
    finally:
        api.delete(mesh_path(DEMO, "dns"))
        wait_for(
            lambda: get_or_none(api, mesh_path(DEMO, "dns")) is None,
            "Mesh dns deleted",
            demo_operator,
        )


def backup_pod(api: Rest, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod spec of StatefulSet ``name`` and its webmesh-node container, as stored."""
    pod_spec = api.get(apps(DEMO, name))["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    return pod_spec, container


def loaded_config(api: Rest, tmp_path: Path, name: str, *extra: str) -> settings.Settings:
    config_file = tmp_path / f"{name}.yaml"
    config_file.write_text(
        api.get(core(DEMO, "configmaps", f"{name}-config"))["data"]["webmesh.yaml"]
    )
    return settings.load_settings(["--config", str(config_file), *extra], {}, hostname=f"{name}-0")


def test_backups_reach_every_server_with_their_secrets_by_reference(
    tmp_path: Path, api: Rest, demo_operator: Process
) -> None:
    """spec.backup to S3: the servers' config has backup.* (loaded by the node's own settings
    loader, restore-from in bootstrap.* for pod 0), the key Secret is a read-only file at
    backup.key-file, the credentials are secretKeyRef env vars; the operator reads neither Secret
    (none exists here). Switching to a directory mounts its volume and drops the credentials;
    a directory without a volume is refused in the status, and the servers keep the last spec."""
    key = {"name": "bk-backup-key", "key": "backup.key"}
    s3 = {"endpoint": "http://minio.minio.svc:9000", "credentialsSecret": {"name": "bk-s3"}}
    body = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "bk"},
        "spec": {
            "servers": 3,
            "backup": {"url": "s3://backups/bk", "interval": "15m", "keySecret": key, "s3": s3},
            "restoreFrom": "s3://backups/bk",
        },
    }
    mesh = api.create(mesh_path(DEMO), body)
    try:
        statefulset = wait_for(
            lambda: get_or_none(api, apps(DEMO, "bk")), "StatefulSet bk", demo_operator
        )
        assert_owned_by(statefulset, mesh)
        pod_spec, container = backup_pod(api, "bk")
        volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
        assert volumes["backup-key"]["secret"]["secretName"] == "bk-backup-key"
        assert volumes["backup-key"]["secret"]["items"] == [
            {"key": "backup.key", "path": "backup.key"}
        ]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["backup-key"]["readOnly"] is True
        refs = {
            item["name"]: item["valueFrom"]["secretKeyRef"]
            for item in container["env"]
            if item["name"].startswith("AWS_")
        }
        assert {
            name: (ref["name"], ref["key"], ref.get("optional")) for name, ref in refs.items()
        } == {
            "AWS_ACCESS_KEY_ID": ("bk-s3", "AWS_ACCESS_KEY_ID", False),
            "AWS_SECRET_ACCESS_KEY": ("bk-s3", "AWS_SECRET_ACCESS_KEY", False),
            "AWS_SESSION_TOKEN": ("bk-s3", "AWS_SESSION_TOKEN", True),
        }
        loaded = loaded_config(api, tmp_path, "bk", "--bootstrap.enabled")
        assert (loaded.backup.url, loaded.backup.interval, loaded.backup.retain) == (
            "s3://backups/bk",
            900,
            24,
        )
        assert loaded.backup.key_file == f"{mounts['backup-key']['mountPath']}/backup.key"
        assert loaded.backup.s3_endpoint == "http://minio.minio.svc:9000"
        assert loaded.bootstrap.restore_from == "s3://backups/bk"
        loaded_config(api, tmp_path, "bk", "--mesh.join-address=bk-headless.op-demo.svc:8443")

        directory = {
            "url": "/backups",
            "s3": None,
            "volume": {"persistentVolumeClaim": {"claimName": "bk-backups"}},
        }
        api.merge_patch(mesh_path(DEMO, "bk"), {"spec": {"backup": directory, "restoreFrom": None}})

        def mounted() -> dict[str, Any]:
            _, node = backup_pod(api, "bk")
            return {m["name"]: m for m in node["volumeMounts"]}

        wait_for(
            lambda: "backups" in mounted(),
            lambda: f"StatefulSet bk mounting its backup volume, now {sorted(mounted())}",
            demo_operator,
        )
        pod_spec, container = backup_pod(api, "bk")
        assert mounted()["backups"]["mountPath"] == "/backups"
        volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
        assert volumes["backups"]["persistentVolumeClaim"] == {"claimName": "bk-backups"}
        assert not [item for item in container["env"] if item["name"].startswith("AWS_")]
        assert loaded_config(api, tmp_path, "bk").bootstrap.restore_from == ""

        api.merge_patch(mesh_path(DEMO, "bk"), {"spec": {"backup": {"volume": None}}})
        degraded = wait_for(
            lambda: (
                condition(api.get(mesh_path(DEMO, "bk")), "Degraded").get("reason") == "InvalidSpec"
                and api.get(mesh_path(DEMO, "bk"))
            ),
            "Mesh bk: Degraded/InvalidSpec",
            demo_operator,
        )
        message = condition(degraded, "Degraded")["message"]
        assert (
            "spec.backup.url /backups is a directory, so spec.backup.volume is required" in message
        )
        assert "backups" in mounted(), "the servers keep the last valid spec"
    finally:
        api.delete(mesh_path(DEMO, "bk"))
        wait_for(
            lambda: get_or_none(api, mesh_path(DEMO, "bk")) is None,
            "Mesh bk deleted",
            demo_operator,
        )


def test_a_backup_without_its_key_is_refused_in_the_status(
    api: Rest, demo_operator: Process
) -> None:
    body = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "nokey"},
        "spec": {"servers": 1, "backup": {"url": "s3://backups/nokey"}},
    }
    api.create(mesh_path(DEMO), body)
    try:
        degraded = wait_for(
            lambda: (
                condition(api.get(mesh_path(DEMO, "nokey")), "Degraded").get("status") == "True"
                and api.get(mesh_path(DEMO, "nokey"))
            ),
            "Mesh nokey: Degraded=True",
            demo_operator,
        )
        assert degraded["status"]["phase"] == "Degraded"
        message = condition(degraded, "Degraded")["message"]
        assert "spec.backup.keySecret is required with spec.backup.url" in message, message
        assert get_or_none(api, apps(DEMO, "nokey")) is None
    finally:
        api.delete(mesh_path(DEMO, "nokey"))
        wait_for(
            lambda: get_or_none(api, mesh_path(DEMO, "nokey")) is None,
            "Mesh nokey deleted",
            demo_operator,
        )


def set_ingress(api: Rest, service: str, ip: str) -> None:
    """What a cloud controller does once the load balancer exists."""
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
    api.merge_patch(core(DEMO, "services", service) + "/status", ingress)


def test_deleting_resources_removes_their_children(api: Rest, demo_operator: Process) -> None:
    api.delete(mesh_path(DEMO, "web", kind="nodes"))
    group_children = [
        apps(DEMO, "demo-web"),
        core(DEMO, "configmaps", "demo-web-config"),
        core(DEMO, "secrets", "demo-web-tls"),
        mesh_path(DEMO, "web", kind="nodes"),
    ]
    for path in group_children:
        wait_for(lambda p=path: get_or_none(api, p) is None, f"{path} deleted", demo_operator)

    api.delete(mesh_path(DEMO, "demo"))
    mesh_children = [
        apps(DEMO, "demo"),
        core(DEMO, "configmaps", "demo-config"),
        core(DEMO, "services", "demo-headless"),
        core(DEMO, "services", "demo-external"),
        *(core(DEMO, "services", f"demo-external-{i}") for i in range(3)),
        core(DEMO, "configmaps", "demo-endpoints"),
        pdb(DEMO, "demo"),
        *(core(DEMO, "secrets", f"demo-{s}") for s in ("ca", "tls", "admin")),
        mesh_path(DEMO, "demo"),
    ]
    for path in mesh_children:
        wait_for(lambda p=path: get_or_none(api, p) is None, f"{path} deleted", demo_operator)


# --- solo: a real node behind the mesh API; status becomes Ready --------------------------------


def kubectl() -> str | None:
    """kubectl from KUBEBUILDER_ASSETS (envtest's layout) or PATH, if there is one."""
    assets = os.environ.get("KUBEBUILDER_ASSETS", "")
    candidate = Path(assets) / "kubectl" if assets else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    return shutil.which("kubectl")


def test_a_mesh_becomes_ready_when_its_server_answers(
    kube: KubeAPI, api: Rest, solo: tuple[Process, Process, str]
) -> None:
    process, node, _ = solo
    body = {
        "apiVersion": API,
        "kind": "Mesh",
        "metadata": {"name": "solo"},
        "spec": {"servers": 1, "security": {"mode": "insecure"}},
    }
    api.create(mesh_path(SOLO), body)
    statefulset = wait_for(
        lambda: get_or_none(api, apps(SOLO, "solo")), "StatefulSet solo", process, node
    )
    assert get_or_none(api, pdb(SOLO, "solo")) is None  # one server: no budget to keep
    api.merge_patch(apps(SOLO, "solo") + "/status", sts_ready_status(statefulset, 1))

    def ready() -> dict[str, Any] | None:
        mesh = api.get(mesh_path(SOLO, "solo"))
        return mesh if condition(mesh, "Ready").get("status") == "True" else None

    def now() -> str:
        status = api.get(mesh_path(SOLO, "solo")).get("status")
        return f"Mesh solo: Ready=True; its status now: {status}"

    mesh = wait_for(ready, now, process, node)
    status = mesh["status"]
    assert status["phase"] == "Ready"
    assert status["leader"] == "solo-0"
    assert status["voters"] == ["solo-0"]
    assert status["nodes"] >= 1
    assert status["observedGeneration"] == mesh["metadata"]["generation"]
    assert condition(mesh, "Degraded").get("status") != "True"
    # What users type; the condition checked above is what it reads (kubectl is optional here).
    if (binary := kubectl()) is not None:
        waited = subprocess.run(
            [binary, "--kubeconfig", str(kube.admin_kubeconfig), "-n", SOLO, "wait",
             "--for=condition=Ready", "mesh/solo", "--timeout=10s"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert waited.returncode == 0, waited.stderr
        assert "condition met" in waited.stdout


def test_a_node_group_lists_its_members_from_the_mesh(
    kube: KubeAPI, api: Rest, solo: tuple[Process, Process, str]
) -> None:
    process, node, solo_api = solo
    body = {
        "apiVersion": API,
        "kind": "Node",
        "metadata": {"name": "app"},
        "spec": {"meshRef": {"name": "solo"}, "replicas": 1},
    }
    api.create(mesh_path(SOLO, kind="nodes"), body)
    with mesh_node(kube, "solo-app-0", join=solo_api) as (member, _):
        statefulset = wait_for(
            lambda: get_or_none(api, apps(SOLO, "solo-app")), "StatefulSet solo-app", process
        )
        api.merge_patch(apps(SOLO, "solo-app") + "/status", sts_ready_status(statefulset, 1))

        def members() -> list[dict[str, Any]]:
            status = api.get(mesh_path(SOLO, "app", kind="nodes")).get("status") or {}
            if (status.get("replicas"), status.get("readyReplicas")) != (1, 1):
                return []
            listed = status.get("members") or []
            return [m for m in listed if m["nodeId"] == "solo-app-0" and m.get("online")]

        def now() -> str:
            status = api.get(mesh_path(SOLO, "app", kind="nodes")).get("status")
            return f"Node app: ready 1/1, member solo-app-0 online; its status now: {status}"

        (found,) = wait_for(members, now, process, member, node)
        assert found["addresses"], found
        assert (found["role"], found["voter"]) == ("observer", False), found
        assert "lastSeen" not in found, found


# A client-role machine, as `wmctl connect` registers one (without its WireGuard side, which needs
# root): it joins with no Raft key and holds its SubscribePeers stream open until it is stopped.
CLIENT = """
import asyncio, sys
from webmesh.client.mesh_client import MeshClient
from webmesh.client.wire import membership_pb2
from webmesh.wg import keys

async def main(server: str, node_id: str) -> None:
    async with MeshClient(server) as client:
        key = keys.public_key(keys.generate_private_key())
        await client.join(membership_pb2.JoinRequest(id=node_id, public_key=key))
        async for peers in client.subscribe_peers(node_id):
            print("peers", len(peers.peers), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_the_mesh_status_says_who_is_online_outside_the_cluster_too(
    kube: KubeAPI, api: Rest, solo: tuple[Process, Process, str]
) -> None:
    process, node, solo_api = solo
    argv = [sys.executable, "-c", CLIENT, solo_api, "solo-laptop"]

    def laptop(online: bool) -> Callable[[], tuple[dict[str, Any], dict[str, Any]] | None]:
        def check() -> tuple[dict[str, Any], dict[str, Any]] | None:
            status = api.get(mesh_path(SOLO, "solo")).get("status") or {}
            found = [m for m in status.get("members") or [] if m["nodeId"] == "solo-laptop"]
            return (status, found[0]) if found and found[0].get("online") is online else None

        return check

    def now() -> str:
        status = api.get(mesh_path(SOLO, "solo")).get("status") or {}
        return f"Mesh solo: solo-laptop's presence; its members now: {status.get('members')}"

    client = Process.start("solo-laptop", argv, kube.root / "solo-laptop.log")
    try:
        # Joined and streaming. (When the leader counts a stream is the node's business, tested
        # there: a node it never saw goes offline too, last seen when that leader took over.)
        wait_for(lambda: "peers" in client.log_tail(), "solo-laptop's peer stream", client)
        status, online = wait_for(laptop(True), now, process, node, client)
    finally:
        client.stop()
    assert (online["role"], online["voter"]) == ("client", False), online
    assert online["addresses"] and "lastSeen" not in online, online
    assert status["onlineNodes"] == sum(m["online"] for m in status["members"]) >= 2

    status, offline = wait_for(laptop(False), now, process, node)
    seen = datetime.datetime.fromisoformat(offline["lastSeen"])
    assert abs(datetime.datetime.now(datetime.UTC) - seen) < datetime.timedelta(minutes=1)
    assert status["nodes"] == len(status["members"])
    assert status["onlineNodes"] == sum(m["online"] for m in status["members"])


# --- leader election ----------------------------------------------------------------------------


def lease_holder(api: Rest) -> str:
    path = resource_path(
        "coordination.k8s.io/v1", "leases", namespace=ELECTION, name="webmesh-operator"
    )
    lease = get_or_none(api, path)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def test_one_elected_operator_reconciles_and_another_takes_over(
    kube: KubeAPI, api: Rest, operator_account: Any
) -> None:
    flags = [
        "--leader-election",
        "--leader-election-namespace", ELECTION,
        "--lease-name", "webmesh-operator",
        "--lease-duration", "4",
    ]  # fmt: skip
    closed = f"127.0.0.1:{free_port()}"
    kubeconfig = operator_account.kubeconfig
    with operator(kube, kubeconfig, ELECTION, mesh_api=closed, extra=flags, tag="-a") as first:
        holder = wait_for(lambda: lease_holder(api), "a Lease holder", first)
        with operator(kube, kubeconfig, ELECTION, mesh_api=closed, extra=flags, tag="-b") as second:
            mesh = {
                "apiVersion": API,
                "kind": "Mesh",
                "metadata": {"name": "one"},
                "spec": {"servers": 1},
            }
            api.create(mesh_path(ELECTION), mesh)
            wait_for(
                lambda: get_or_none(api, apps(ELECTION, "one")), "StatefulSet one", first, second
            )
            assert lease_holder(api) == holder, (
                "the second operator took the Lease from a live leader"
            )

            first.kill()
            new_holder = wait_for(
                lambda: (h := lease_holder(api)) != holder and h,
                "a new Lease holder",
                second,
            )
            assert new_holder
            mesh["metadata"]["name"] = "two"
            api.create(mesh_path(ELECTION), mesh)
            wait_for(lambda: get_or_none(api, apps(ELECTION, "two")), "StatefulSet two", second)
            for name in ("one", "two"):
                api.delete(mesh_path(ELECTION, name))
            for name in ("one", "two"):
                wait_for(
                    lambda n=name: get_or_none(api, mesh_path(ELECTION, n)) is None,
                    f"Mesh {name} deleted",
                    second,
                )
