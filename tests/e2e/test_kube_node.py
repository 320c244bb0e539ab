"""End to end on a real node: the static manifest installs the operator, a Mesh of three mTLS
servers becomes Ready, its pods reach each other over WireGuard, a Node group's application
container reaches another pod's mesh address, the leader's pod comes back from deletion with its
identity and nobody lost, and deleting the resources removes what they owned.

One test, in steps: each step needs the previous one, and every wait is bounded; a failure names
its step and prints the namespace's pods, events and container logs. The times it measures
(operator installed, Mesh Ready after apply, Node group Ready, leader pod deleted to Ready again)
are printed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes import dynamic
from kubernetes.stream import stream

from support.wait import eventually

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "mesh.webmesh.io", "v1alpha1"
SYSTEM_NS = "webmesh-system"
NS = "webmesh-e2e"
MESH = "demo"
APP_IMAGE = "localhost/debian-python:bookworm"  # present on the node (no registry is reachable)
APP_PORT = 18080  # not 8080, 8443, 9443: the node in the same pod serves those


def apply_static_manifest(api: k8s_client.ApiClient) -> None:
    """`kubectl apply --server-side -f dist/webmesh.yaml`, with the Python client."""
    dyn = dynamic.DynamicClient(api)
    for obj in yaml.safe_load_all((ROOT / "dist" / "webmesh.yaml").read_text()):
        if not obj:
            continue
        resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        dyn.server_side_apply(
            resource,
            body=obj,
            name=obj["metadata"]["name"],
            namespace=obj["metadata"].get("namespace"),
            field_manager="webmesh-e2e",
            force_conflicts=True,
        )


def diagnose(api: k8s_client.ApiClient, namespace: str) -> str:
    """Pods, events and the last lines of every container's log: what a failure needs."""
    core = k8s_client.CoreV1Api(api)
    lines = []
    try:
        for pod in core.list_namespaced_pod(namespace).items:
            statuses = [
                f"{c.name}:{'ready' if c.ready else 'not ready'}:{c.state}"
                for c in pod.status.container_statuses or []
            ]
            lines.append(f"pod {pod.metadata.name} {pod.status.phase} {statuses}")
            for container in pod.spec.containers:
                try:
                    log = core.read_namespaced_pod_log(
                        pod.metadata.name, namespace, container=container.name, tail_lines=15
                    )
                except k8s_client.ApiException as exc:
                    log = f"(no log: {exc.reason})"
                lines.append(f"--- {pod.metadata.name}/{container.name}\n{log}")
        for event in core.list_namespaced_event(namespace).items[-30:]:
            lines.append(f"event {event.involved_object.name}: {event.reason}: {event.message}")
    except Exception as exc:  # the diagnosis must not hide the failure it explains
        lines.append(f"(diagnosis failed: {exc!r})")
    return "\n".join(lines)


def exec_in(
    api: k8s_client.ApiClient, pod: str, container: str, command: list[str], timeout: float = 30
) -> tuple[int, str]:
    """Run ``command`` in a container (like kubectl exec); its exit code and output."""
    core = k8s_client.CoreV1Api(api)
    session = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        NS,
        container=container,
        command=command,
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    output = []
    deadline = time.monotonic() + timeout
    while session.is_open() and time.monotonic() < deadline:
        session.update(timeout=1)
        if session.peek_stdout():
            output.append(session.read_stdout())
        if session.peek_stderr():
            output.append(session.read_stderr())
    code = session.returncode
    session.close()
    # websocket-client's close() leaves the socket open once the server has closed the stream
    # (the command ended): shut it down, or it leaks (a ResourceWarning).
    if session.sock is not None:
        session.sock.shutdown()
    return (code if code is not None else -1), "".join(output)


def mesh_ipv4(api: k8s_client.ApiClient, pod: str, container: str = "webmesh-node") -> str:
    """The pod's mesh address (every container of a pod shares its network namespace)."""
    code, out = exec_in(api, pod, container, ["ip", "-4", "-o", "addr", "show", "webmesh0"])
    assert code == 0, out
    return out.split("inet ")[1].split("/")[0]


def custom(api: k8s_client.ApiClient) -> k8s_client.CustomObjectsApi:
    return k8s_client.CustomObjectsApi(api)


def condition(obj: dict[str, Any], kind: str) -> bool:
    found = [c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind]
    return bool(found) and found[0]["status"] == "True"


def node_group(replicas: int) -> dict[str, Any]:
    """A Node group whose application container serves HTTP on the pod's mesh address."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Node",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {
            "meshRef": {"name": MESH},
            "replicas": replicas,
            "voter": False,
            "containers": [
                {
                    "name": "app",
                    "image": APP_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-m", "http.server", str(APP_PORT)],
                }
            ],
        },
    }


def step(text: str) -> None:
    print(f"e2e [{time.strftime('%H:%M:%S')}] {text}", flush=True)


@pytest.mark.timeout(1500)  # the session fixture builds the images and starts the node first
def test_operator_mesh_node_group_and_cleanup_on_a_real_node(
    cluster: k8s_client.ApiClient,
) -> None:
    api = cluster
    apps = k8s_client.AppsV1Api(api)
    core = k8s_client.CoreV1Api(api)
    times: dict[str, float] = {}

    # 1. the operator, from the static manifest, runs in the cluster
    step("1. the operator, from the static manifest, runs in the cluster")
    started = time.monotonic()
    apply_static_manifest(api)
    eventually(
        lambda: (
            (apps.read_namespaced_deployment("webmesh", SYSTEM_NS).status.ready_replicas or 0) >= 1
        ),
        timeout=180,
        interval=1,
        what=lambda: f"step 1: operator Deployment ready\n{diagnose(api, SYSTEM_NS)}",
    )
    times["operator installed (static manifest) to Deployment ready"] = time.monotonic() - started

    # 2. examples/mesh.yaml (3 servers, mTLS) becomes Ready with a leader and 3 nodes
    step("2. examples/mesh.yaml (3 servers, mTLS) becomes Ready with a leader and 3 nodes")
    core.create_namespace({"metadata": {"name": NS}})
    mesh = yaml.safe_load((ROOT / "examples" / "mesh.yaml").read_text())
    mesh["metadata"]["namespace"] = NS
    started = time.monotonic()
    custom(api).create_namespaced_custom_object(GROUP, VERSION, NS, "meshes", mesh)

    def mesh_ready() -> dict[str, Any] | None:
        obj = custom(api).get_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH)
        return obj if condition(obj, "Ready") and obj["status"].get("nodes") == 3 else None

    ready = eventually(
        mesh_ready,
        timeout=300,
        interval=1,
        what=lambda: f"step 2: Mesh {MESH} Ready with 3 nodes\n{diagnose(api, NS)}",
    )
    times["Mesh applied to Ready (3 servers, mTLS)"] = time.monotonic() - started
    assert ready["status"]["leader"].startswith(f"{MESH}-")

    # 3. server pods reach each other over WireGuard
    step("3. server pods reach each other over WireGuard")
    addresses = {pod: mesh_ipv4(api, pod) for pod in (f"{MESH}-0", f"{MESH}-1", f"{MESH}-2")}
    for source, target in ((f"{MESH}-0", f"{MESH}-2"), (f"{MESH}-2", f"{MESH}-1")):
        code, out = exec_in(
            api, source, "webmesh-node", ["ping", "-c", "1", "-W", "2", addresses[target]]
        )
        assert code == 0, f"step 3: {source} -> {target} ({addresses[target]}): {out}"

    # 4. a Node group joins; its application container reaches another pod's mesh address
    step("4. a Node group joins; its application container reaches another pod's mesh address")
    started = time.monotonic()
    custom(api).create_namespaced_custom_object(GROUP, VERSION, NS, "nodes", node_group(2))

    def group_ready() -> dict[str, Any] | None:
        obj = custom(api).get_namespaced_custom_object(GROUP, VERSION, NS, "nodes", "app")
        members = obj.get("status", {}).get("members") or []
        return (
            obj if obj.get("status", {}).get("readyReplicas") == 2 and len(members) == 2 else None
        )

    eventually(
        group_ready,
        timeout=240,
        interval=1,
        what=lambda: f"step 4: Node group app Ready with 2 members\n{diagnose(api, NS)}",
    )
    times["Node group applied to Ready (2 members)"] = time.monotonic() - started
    target = mesh_ipv4(api, f"{MESH}-app-1", container="app")
    fetch = (
        f"import urllib.request; urllib.request.urlopen('http://{target}:{APP_PORT}/', timeout=5)"
    )

    def app_reaches_other_pod() -> bool:
        code, _ = exec_in(api, f"{MESH}-app-0", "app", ["python3", "-c", fetch])
        return code == 0

    eventually(
        app_reaches_other_pod,
        timeout=60,
        interval=1,
        what=lambda: f"step 4: app-0's app -> http://{target}:{APP_PORT}\n{diagnose(api, NS)}",
    )

    # 5. the leader's pod is deleted: a leader is elected, the pod returns on its PVC with its
    #    identity (the same mesh address), and no member is lost
    step("5. the leader's pod is deleted and comes back; no member is lost")
    leader = custom(api).get_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH)["status"][
        "leader"
    ]
    before = {"uid": core.read_namespaced_pod(leader, NS).metadata.uid, "ip": addresses[leader]}
    started = time.monotonic()
    core.delete_namespaced_pod(leader, NS)

    def back_with_everyone() -> bool:
        # Ready means its Raft replica caught up: the probe's port opens only after that.
        pod = core.read_namespaced_pod(leader, NS)
        ready = any(c.ready for c in pod.status.container_statuses or [])
        if pod.metadata.uid == before["uid"] or not ready:
            return False
        obj = custom(api).get_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH)
        return condition(obj, "Ready") and obj["status"].get("nodes") == 5

    eventually(
        back_with_everyone,
        timeout=240,
        interval=1,
        what=lambda: f"step 5: {leader} back, Mesh Ready with 5 nodes\n{diagnose(api, NS)}",
    )
    times["leader pod deleted to Mesh Ready again (5 members)"] = time.monotonic() - started
    assert mesh_ipv4(api, leader) == before["ip"], "the pod came back with another identity"
    code, out = exec_in(
        api, f"{MESH}-1", "webmesh-node", ["ping", "-c", "1", "-W", "2", before["ip"]]
    )
    assert code == 0, f"step 5: {MESH}-1 -> {leader} ({before['ip']}) after the restart: {out}"

    # 6. deleting the resources removes everything they owned (garbage collection is real here)
    step(
        "6. deleting the resources removes everything they owned (garbage collection is real here)"
    )
    custom(api).delete_namespaced_custom_object(GROUP, VERSION, NS, "nodes", "app")
    custom(api).delete_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH)

    def owned_gone() -> bool:
        sets = apps.list_namespaced_stateful_set(NS).items
        secrets = [
            s for s in core.list_namespaced_secret(NS).items if s.metadata.name.startswith(MESH)
        ]
        services = core.list_namespaced_service(NS).items
        return not sets and not secrets and not services

    eventually(
        owned_gone,
        timeout=180,
        interval=1,
        what=lambda: f"step 6: children of the deleted Mesh and Node group\n{diagnose(api, NS)}",
    )
    for name, seconds in times.items():
        print(f"e2e time: {name}: {seconds:.1f} s")
