"""The operator's pods, run for real: the rendered command lines, environment and volumes.

A small "kubelet" takes the server StatefulSet and a Node group's StatefulSet exactly as
``webmesh_operator.render`` produces them and starts each pod in a netlab host: ``$(VAR)``
references and ``fieldRef`` values are expanded as the kubelet does, the ConfigMaps
(``webmesh.yaml``; ``<mesh>-endpoints``, where pod 0 gets an endpoint of its own, an extra address
of its host, which the mesh must then list as its primary endpoint) and every Secret volume
(rendered by ``webmesh_operator.secrets``: with mTLS the per-pod certificates) are bind-mounted at
their mount paths, init containers run to completion first, and the headless Service is an
/etc/hosts line that lists the *ready* servers only (a pod is ready when its readiness probe, the
gRPC port, answers). wmctl uses the admin Secret's ``config.yaml`` as a user would. What is not
emulated: images (the venv's ``webmesh-node`` stands in for the node image's) and PVCs (the host's
data dir is the pod's ``/var/lib/webmesh``, kept across a restart as a PVC is).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.netlab import BIN, Host, Lab, Process
from support.wait import eventually
from webmesh_operator import secrets as operator_secrets
from webmesh_operator.render import render_mesh, render_node_group

pytestmark = pytest.mark.netns

NAMESPACE = "wm-pods"
MESH = "demo"
HEADLESS = f"{MESH}-headless.{NAMESPACE}.svc"
NODE_CONTAINER = "webmesh-node"
EVERYONE = {"demo-0", "demo-1", "demo-app-0"}
PROVIDED_BY_NETLAB = {"/run/wireguard", "/var/lib/webmesh"}  # its run dir and data dir
ENDPOINT_HOST = 200  # pod 0's extra LAN address (<lab subnet>.200): its advertised endpoint


def mesh_resource(mode: str) -> dict[str, Any]:
    """A mesh of three servers (only two are started: enough for a voter join)."""
    return {
        "apiVersion": "mesh.webmesh.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": MESH, "namespace": NAMESPACE},
        "spec": {"servers": 3, "ipv6": False, "security": {"mode": mode}},
    }


def node_resource() -> dict[str, Any]:
    return {
        "apiVersion": "mesh.webmesh.io/v1alpha1",
        "kind": "Node",
        "metadata": {"name": "app", "namespace": NAMESPACE},
        "spec": {"meshRef": {"name": MESH}, "replicas": 1},
    }


# ---- the cluster's objects ------------------------------------------------------------------


def secret_data(mesh: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, dict[str, bytes]]:
    """The Secrets the operator makes for the mesh and the Node group, decoded, by name."""
    now = datetime.datetime.now(datetime.UTC)
    found: dict[str, dict[str, bytes]] = {}
    for secret in operator_secrets.render_mesh_secrets(mesh, {}, now=now):
        found[secret["metadata"]["name"]] = decode_secret(secret)
    for secret in operator_secrets.render_node_group_secrets(node, mesh, found, now=now):
        found[secret["metadata"]["name"]] = decode_secret(secret)
    return found


def decode_secret(secret: Mapping[str, Any]) -> dict[str, bytes]:
    data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    data.update({key: value.encode() for key, value in (secret.get("stringData") or {}).items()})
    return data


def index(manifests: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


# ---- the kubelet ----------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion: known names are replaced, ``$$`` is ``$``, unknown
    references stay as written."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def container_env(container: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str]:
    """The container's environment, in order (a value may refer to the variables before it)."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
            continue
        path = item["valueFrom"]["fieldRef"]["fieldPath"]
        assert path in fields, f"the test kubelet does not know fieldRef {path}"
        env[item["name"]] = fields[path]
    return env


@dataclass
class PodSpec:
    """One pod of a StatefulSet, as the kubelet would start it."""

    name: str
    command: list[str]
    env: dict[str, str]
    mounts: list[tuple[Path, str]]
    init: list[list[str]] = field(default_factory=list)


def node_container(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    """The webmesh-node container: the pod's only container, or a native sidecar."""
    for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]:
        if container["name"] == NODE_CONTAINER:
            return dict(container)
    raise AssertionError(f"no {NODE_CONTAINER} container in {pod_spec}")


def write_volume(directory: Path, data: Mapping[str, bytes], source: Mapping[str, Any]) -> Path:
    """A ConfigMap or Secret volume's files (all keys, or the ``items`` asked for)."""
    directory.mkdir(parents=True)
    wanted = source.get("items") or [{"key": key, "path": key} for key in data]
    for item in wanted:
        target = directory / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[item["key"]])
        target.chmod(item.get("mode", source.get("defaultMode", 0o644)))
    return directory


def volume_source(
    volume: Mapping[str, Any],
    objects: Mapping[tuple[str, str], Mapping[str, Any]],
    secret_files: Mapping[str, Mapping[str, bytes]],
    directory: Path,
) -> Path:
    """Where a volume's content is on this machine (a hostPath is its own path)."""
    if "configMap" in volume:
        source = volume["configMap"]
        config_map = objects.get(("ConfigMap", source["name"]))
        assert config_map or source.get("optional"), f"no ConfigMap {source['name']}"
        data = {key: text.encode() for key, text in (config_map or {}).get("data", {}).items()}
        return write_volume(directory, data, source)
    if "secret" in volume:
        name = volume["secret"]["secretName"]
        assert name in secret_files, f"no Secret {name} for volume {volume['name']}"
        return write_volume(directory, secret_files[name], volume["secret"])
    if "hostPath" in volume:
        return Path(volume["hostPath"]["path"])
    if "emptyDir" in volume:
        directory.mkdir(parents=True)
        return directory
    raise AssertionError(f"the test kubelet cannot mount volume {volume}")


def pod_mounts(
    pod_spec: Mapping[str, Any],
    container: Mapping[str, Any],
    objects: Mapping[tuple[str, str], Mapping[str, Any]],
    secret_files: Mapping[str, Mapping[str, bytes]],
    directory: Path,
) -> list[tuple[Path, str]]:
    """Bind mounts for every volumeMount, except those netlab gives every host."""
    volumes = {volume["name"]: volume for volume in pod_spec.get("volumes", [])}
    mounts: list[tuple[Path, str]] = []
    for mount in container.get("volumeMounts", []):
        target = mount["mountPath"]
        if target in PROVIDED_BY_NETLAB:
            continue  # the emptyDir /run/wireguard and the PVC /var/lib/webmesh
        volume = volumes[mount["name"]]
        source = volume_source(volume, objects, secret_files, directory / mount["name"])
        if str(source) == target:
            continue  # a hostPath of the same path (/dev/net/tun): already there
        if mount.get("subPath"):
            source = source / mount["subPath"]
        mounts.append((source, target))
    return mounts


def pod_from_statefulset(
    statefulset: Mapping[str, Any],
    ordinal: int,
    objects: Mapping[tuple[str, str], Mapping[str, Any]],
    secret_files: Mapping[str, Mapping[str, bytes]],
    directory: Path,
) -> PodSpec:
    name = f"{statefulset['metadata']['name']}-{ordinal}"
    pod_spec = statefulset["spec"]["template"]["spec"]
    fields = {"metadata.name": name, "metadata.namespace": NAMESPACE}
    container = node_container(pod_spec)
    env = container_env(container, fields)
    command = [expand(word, env) for word in [*container["command"], *container.get("args", [])]]
    init = [
        [*c["command"], *c.get("args", [])]
        for c in pod_spec.get("initContainers", [])
        if c.get("restartPolicy") != "Always"
    ]
    mounts = pod_mounts(pod_spec, container, objects, secret_files, directory / name)
    return PodSpec(name, command, env, mounts, init)


def start_pod(host: Host, pod: PodSpec) -> Process:
    """Run the init containers to completion, then the node container."""
    for number, command in enumerate(pod.init):
        init = host.spawn(*command, name=f"init-{number}")
        assert init.popen.wait(20) == 0, f"init container {command} failed:\n{init.tail()}"
    return host.spawn(*pod.command, name="node", env=pod.env, mounts=pod.mounts)


class Headless:
    """The headless Service's DNS: /etc/hosts lines naming the ready servers only."""

    def __init__(self, lab: Lab) -> None:
        self.hosts_file = lab.hosts_file
        self.ready: list[Host] = []

    def set_ready(self, host: Host, ready: bool) -> None:
        self.ready = [h for h in self.ready if h is not host] + ([host] if ready else [])
        current = self.hosts_file.read_text().splitlines(keepends=True)
        lab_lines = "".join(line for line in current if HEADLESS not in line)
        service_lines = "".join(f"{h.lan_ip} {HEADLESS}\n" for h in self.ready)
        with self.hosts_file.open("r+") as out:  # in place: the file is bind-mounted
            out.write(lab_lines + service_lines)
            out.truncate()


# ---- the scenario ---------------------------------------------------------------------------


def client_flags(secret_files: Mapping[str, Mapping[str, bytes]], directory: Path) -> list[str]:
    """wmctl's flags for the admin: the Secret ``<mesh>-admin`` extracted into a directory, as a
    user would (its ``config.yaml`` names the other keys relative to itself)."""
    directory.mkdir(parents=True)
    for key, value in secret_files[f"{MESH}-admin"].items():
        (directory / key).write_bytes(value)
        (directory / key).chmod(0o600)
    return ["--config", str(directory / "config.yaml")]


@dataclass
class Admin:
    """wmctl as the mesh admin, run inside a pod (its /etc/hosts names the pods)."""

    flags: list[str]

    def json(self, host: Host, *args: str) -> Any:
        server = f"--server={host.name}:8443"
        command = [str(BIN / "wmctl"), server, *self.flags, *args, "-o", "json"]
        out = host.in_container(*command, check=False)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def node_ids(self, host: Host) -> set[str]:
        listed = self.json(host, "get", "nodes")
        return {n["id"] for n in listed} if listed else set()

    def voters(self, host: Host) -> list[str]:
        return list((self.json(host, "status") or {}).get("raft", {}).get("voters", []))


def start_ready(host: Host, pod: PodSpec, headless: Headless) -> Process:
    process = start_pod(host, pod)
    host.wait_port(8443, timeout=60)  # the readiness probe: tcpSocket grpc
    headless.set_ready(host, True)
    return process


def pings(source: Host, target: Host, lab: Lab) -> None:
    address = target.wait_mesh_ip()
    eventually(
        lambda: source.ping(address),
        timeout=30,
        what=lambda: f"{source.name} -> {target.name} ({address})\n{lab.logs()}",
    )


def add_address(host: Host, address: str) -> None:
    """A second address on the host's LAN interface (as a node port or a load balancer would
    give a server an address of its own that its interfaces do not otherwise announce)."""
    listed = host.exec("ip", "-o", "-4", "addr", "show").stdout.splitlines()
    device = next(line.split()[1] for line in listed if f" {host.lan_ip}/" in line)
    host.exec("ip", "addr", "add", f"{address}/24", "dev", device)


def primary_endpoints(admin: Admin, host: Host) -> dict[str, str]:
    return {n["id"]: n.get("primaryEndpoint", "") for n in admin.json(host, "get", "nodes") or []}


@pytest.mark.parametrize("mode", ["insecure", "mtls"])
def test_rendered_pods_bootstrap_join_ping_and_resume(tmp_path: Path, mode: str) -> None:
    mesh = mesh_resource(mode)
    secret_files = secret_data(mesh, node_resource())
    admin = Admin(client_flags(secret_files, tmp_path / "admin"))

    with Lab() as lab:
        # What the operator computes for an externally reachable server: pod 0's own endpoint
        # (an extra address of its host), in <mesh>-endpoints; pod 1 has none (it detects).
        endpoint = f"{lab.subnet}.{ENDPOINT_HOST}:51820"
        mesh_objects = index(render_mesh(mesh, {"demo-0": endpoint}))
        group_objects = index(render_node_group(node_resource(), mesh))
        objects = {**mesh_objects, **group_objects}
        servers = mesh_objects[("StatefulSet", MESH)]
        group = group_objects[("StatefulSet", "demo-app")]
        pods = [pod_from_statefulset(servers, i, objects, secret_files, tmp_path) for i in (0, 1)]
        app = pod_from_statefulset(group, 0, objects, secret_files, tmp_path)
        assert pods[0].env["MESH_NODE_ID"] == "demo-0"
        assert pods[0].command[:2] == ["sh", "-c"]
        if mode == "mtls":
            assert pods[1].env["GLOBAL_TLS_CERT_FILE"] == "/etc/webmesh/tls/demo-1.crt"

        headless = Headless(lab)
        hosts = [lab.add_host(pod.name) for pod in (*pods, app)]
        add_address(hosts[0], endpoint.rsplit(":", 1)[0])
        first = start_ready(hosts[0], pods[0], headless)
        assert "mesh bootstrapped" in first.tail(200), first.tail()
        start_ready(hosts[1], pods[1], headless)
        pings(hosts[0], hosts[1], lab)
        pings(hosts[1], hosts[0], lab)
        eventually(
            lambda: len(admin.voters(hosts[1])) == 2,
            timeout=30,
            what=lambda: f"demo-1 a voter\n{lab.logs()}",
        )
        advertised = primary_endpoints(admin, hosts[1])
        assert advertised["demo-0"] == endpoint, advertised
        assert advertised["demo-1"] not in ("", endpoint), advertised

        start_pod(hosts[2], app)
        pings(hosts[2], hosts[0], lab)
        pings(hosts[1], hosts[2], lab)
        eventually(
            lambda: admin.node_ids(hosts[0]) == EVERYONE,
            timeout=20,
            what=lambda: f"every node listed\n{lab.logs()}",
        )

        if mode == "mtls":  # the API refuses a client without a certificate from the mesh CA
            assert Admin(["--insecure"]).json(hosts[0], "get", "nodes") is None
        restart_keeps_the_mesh(lab, hosts, pods[0], headless, admin)
        assert primary_endpoints(admin, hosts[1])["demo-0"] == endpoint


def restart_keeps_the_mesh(
    lab: Lab, hosts: list[Host], pod: PodSpec, headless: Headless, admin: Admin
) -> None:
    """Pod 0 comes back on its data (a PVC): it resumes, it does not bootstrap a second mesh."""
    server, other = hosts[0], hosts[1]
    address = server.wait_mesh_ip()
    headless.set_ready(server, False)
    assert server.processes[-1].stop(timeout=20) is not None
    again = start_ready(server, pod, headless)
    eventually(
        lambda: "resuming from the data dir" in again.tail(200),
        timeout=30,
        what=lambda: f"pod 0 resumes\n{again.tail()}",
    )
    assert "mesh bootstrapped" not in again.tail(500)
    assert server.wait_mesh_ip() == address
    pings(other, server, lab)
    eventually(
        lambda: admin.node_ids(server) == EVERYONE,
        timeout=30,
        what=lambda: f"the restarted pod 0 sees the whole mesh\n{lab.logs()}",
    )
