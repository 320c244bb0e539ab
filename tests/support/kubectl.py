"""What the end-to-end tests do with the cluster, as kubectl would: apply and delete manifests,
exec in containers, read conditions, and explain a failure (pods, events, container logs)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import dynamic
from kubernetes.stream import stream

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "mesh.webmesh.io", "v1alpha1"
STATIC_MANIFEST = ROOT / "dist" / "webmesh.yaml"
KUBE_NODE = ROOT.parent / "shared" / "kube-node" / "kube-node.sh"
KUBECONFIG = "/tmp/kube-node/kubeconfig"
TIMES_ENV = "WEBMESH_E2E_TIMES"  # a JSON file the measured times are added to (bench/)


def run(*cmd: str, timeout: float = 600) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def record(name: str, value: float, unit: str = "s") -> None:
    """Print a measured figure, and add it to $WEBMESH_E2E_TIMES when set (bench/kube_node_e2e)."""
    print(f"e2e figure: {name}: {value:.1f} {unit}", flush=True)
    path = os.environ.get(TIMES_ENV)
    if not path:
        return
    figures = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    figures[name] = {"value": value, "unit": unit}
    Path(path).write_text(json.dumps(figures, indent=1))


def build_images(tag: str, images: str = "node operator") -> None:
    """`make images` for ``tag``; the time and the archives' sizes are figures of the run."""
    started = time.monotonic()
    run("make", "-C", str(ROOT), "images", f"IMAGE_TAG={tag}", f"IMAGES={images}", timeout=900)
    record(f"make images ({images})", time.monotonic() - started)
    for name in images.split():
        size = (ROOT / f"dist/webmesh-{name}-{tag}.tar").stat().st_size
        record(f"image webmesh-{name} (OCI archive, compressed layers)", size / 1e6, "MB")


def import_image(name: str, tag: str) -> None:
    run(str(KUBE_NODE), "image", "import", str(ROOT / f"dist/{name}-{tag}.tar"))


def manifest_objects(path: Path) -> list[dict[str, Any]]:
    return [obj for obj in yaml.safe_load_all(path.read_text()) if obj]


def apply_objects(api: k8s_client.ApiClient, objects: Iterable[dict[str, Any]]) -> None:
    """`kubectl apply --server-side -f`, with the Python client."""
    dyn = dynamic.DynamicClient(api)
    for obj in objects:
        resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        dyn.server_side_apply(
            resource,
            body=obj,
            name=obj["metadata"]["name"],
            namespace=obj["metadata"].get("namespace"),
            field_manager="webmesh-e2e",
            force_conflicts=True,
        )


def delete_objects(api: k8s_client.ApiClient, objects: Iterable[dict[str, Any]]) -> None:
    """`kubectl delete -f` in reverse order (the Deployment before its RBAC, the namespace and
    the CRDs last); what is already gone is fine."""
    dyn = dynamic.DynamicClient(api)
    for obj in reversed(list(objects)):
        resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        with contextlib.suppress(k8s_client.ApiException, dynamic.exceptions.NotFoundError):
            dyn.delete(
                resource,
                name=obj["metadata"]["name"],
                namespace=obj["metadata"].get("namespace"),
                body={"propagationPolicy": "Foreground"},
            )


def exists(api: k8s_client.ApiClient, obj: dict[str, Any]) -> bool:
    dyn = dynamic.DynamicClient(api)
    try:
        resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    except dynamic.exceptions.ResourceNotFoundError:
        return False  # its kind is gone: a CRD's objects with it
    try:
        dyn.get(resource, name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))
    except dynamic.exceptions.NotFoundError:
        return False
    return True


def diagnose(api: k8s_client.ApiClient, namespace: str) -> str:
    """Pods, events and the last lines of every container's log: what a failure needs."""
    core = k8s_client.CoreV1Api(api)
    lines = []
    try:
        for pod in core.list_namespaced_pod(namespace).items:
            statuses = [
                f"{c.name}:{'ready' if c.ready else 'not ready'}:{c.image}:{c.state}"
                for c in [
                    *(pod.status.init_container_statuses or []),
                    *(pod.status.container_statuses or []),
                ]
            ]
            lines.append(f"pod {pod.metadata.name} {pod.status.phase} {statuses}")
            # init containers too: a Node group's webmesh-node is a native sidecar (an init
            # container that keeps running), and its log is what a mesh failure needs
            for container in [*(pod.spec.init_containers or []), *pod.spec.containers]:
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
    api: k8s_client.ApiClient,
    namespace: str,
    pod: str,
    container: str,
    command: list[str],
    timeout: float = 30,
) -> tuple[int, str]:
    """Run ``command`` in a container (like kubectl exec); its exit code and output."""
    core = k8s_client.CoreV1Api(api)
    session = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
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


def mesh_ipv4(
    api: k8s_client.ApiClient, namespace: str, pod: str, container: str = "webmesh-node"
) -> str:
    """The pod's mesh address (every container of a pod shares its network namespace)."""
    code, out = exec_in(
        api, namespace, pod, container, ["ip", "-4", "-o", "addr", "show", "webmesh0"]
    )
    assert code == 0, out
    return out.split("inet ")[1].split("/")[0]


def custom(api: k8s_client.ApiClient) -> k8s_client.CustomObjectsApi:
    return k8s_client.CustomObjectsApi(api)


def get_mesh(api: k8s_client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = custom(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "meshes", name
    )
    return obj


def condition(obj: dict[str, Any], kind: str) -> bool:
    found = [c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind]
    return bool(found) and found[0]["status"] == "True"


def rolled_out(sts: k8s_client.V1StatefulSet) -> bool:
    """Every replica ready and on the StatefulSet's latest revision (what `kubectl rollout
    status` waits for)."""
    status, want = sts.status, sts.spec.replicas
    return bool(
        (status.observed_generation or 0) >= sts.metadata.generation
        and (status.ready_replicas or 0) == want
        and (status.updated_replicas or 0) == want
        and status.current_revision == status.update_revision
    )


def step(text: str) -> None:
    print(f"e2e [{time.strftime('%H:%M:%S')}] {text}", flush=True)
