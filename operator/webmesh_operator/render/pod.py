"""The pod pieces shared by servers and node groups: the node container, its volumes, the init
container that turns on IP forwarding, and the server entrypoint that picks bootstrap or join.

How pod 0 differs from the other servers: all servers share one ConfigMap and one pod template,
and the node id is the pod name (``$POD_NAME``, also ``MESH_NODE_ID``). The entrypoint is a small
POSIX shell snippet that reads the StatefulSet ordinal from the pod name's suffix. Pod 0 starts
with ``--bootstrap.enabled`` (a no-op when it already has Raft state) unless its store is empty
*and* the headless Service already resolves (it lists ready servers only): then a mesh exists
and pod 0, having lost its data, rejoins like every other server with ``--mesh.join-address``.

Each server's external WireGuard endpoint differs too (its own load balancer or node port): the
operator writes ``<pod>: host:port`` into the ``<mesh>-endpoints`` ConfigMap, mounted (optional)
at ``/etc/webmesh/endpoints``, and the entrypoint exports the pod's entry, when there is one, as
``GLOBAL_PRIMARY_ENDPOINT`` (the environment overrides the file). It is read once, at start: the
pod-template checksum covers the endpoints, so a new address restarts the servers one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmesh_operator.render import backup, names

SERVER_ENTRYPOINT = f"""\
set -eu
config={names.CONFIG_PATH}
endpoint_file="{names.ENDPOINTS_DIR}/$POD_NAME"
if [ -s "$endpoint_file" ]; then
  GLOBAL_PRIMARY_ENDPOINT=$(cat "$endpoint_file")
  export GLOBAL_PRIMARY_ENDPOINT
fi
if [ "${{POD_NAME##*-}}" = "0" ]; then
  if [ -n "$(ls -A {names.STORE_DIR} 2>/dev/null)" ] || \\
     ! getent hosts "$WEBMESH_HEADLESS_HOST" >/dev/null 2>&1; then
    exec webmesh-node --config "$config" --bootstrap.enabled
  fi
fi
exec webmesh-node --config "$config" --mesh.join-address="$WEBMESH_JOIN_ADDRESS"
"""

JOIN_ENTRYPOINT = ["webmesh-node", "--config", names.CONFIG_PATH]


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def env(mesh: Mapping[str, Any], *, mtls: bool) -> list[dict[str, Any]]:
    """The node container's environment: identity, join target and per-pod certificate paths.

    Settings given here override the config file; ``$(POD_NAME)`` is expanded by the kubelet.
    """
    mesh_name, namespace = mesh["metadata"]["name"], mesh["metadata"]["namespace"]
    items = [
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        {"name": "MESH_NODE_ID", "value": "$(POD_NAME)"},
        {"name": "WEBMESH_JOIN_ADDRESS", "value": names.join_address(mesh_name, namespace)},
        {
            "name": "WEBMESH_HEADLESS_HOST",
            "value": f"{names.headless_service_name(mesh_name)}.{namespace}.svc",
        },
    ]
    if mtls:
        cert, key = f"{names.TLS_DIR}/$(POD_NAME).crt", f"{names.TLS_DIR}/$(POD_NAME).key"
        items += [
            {"name": "GLOBAL_TLS_CERT_FILE", "value": cert},
            {"name": "GLOBAL_TLS_KEY_FILE", "value": key},
            {"name": "AUTH_MTLS_CERT_FILE", "value": cert},
            {"name": "AUTH_MTLS_KEY_FILE", "value": key},
        ]
    return items


MESHDNS_PORT_NAMES = {"UDP": "dns-udp", "TCP": "dns-tcp"}


def ports(*, host_network: bool = False, meshdns: bool = False) -> list[dict[str, Any]]:
    api = {"name": "grpc", "containerPort": names.API_PORT, "protocol": "TCP"}
    wireguard = {"name": "wireguard", "containerPort": names.WIREGUARD_PORT, "protocol": "UDP"}
    metrics = {"name": "metrics", "containerPort": names.METRICS_PORT, "protocol": "TCP"}
    if host_network:
        api["hostPort"] = names.API_PORT
        wireguard["hostPort"] = names.WIREGUARD_PORT
    items = [api, wireguard, metrics]
    if meshdns:
        items += [
            {"name": name, "containerPort": names.MESHDNS_PORT, "protocol": protocol}
            for protocol, name in MESHDNS_PORT_NAMES.items()
        ]
    return items


def capabilities(*, meshdns: bool = False) -> list[str]:
    """``NET_ADMIN`` (the WireGuard interface, its addresses and routes); with MeshDNS also
    ``NET_BIND_SERVICE`` (port 53). The node runs as root, and container runtimes grant root
    ``NET_BIND_SERVICE`` by default; it is listed anyway, so the pod says what it needs and still
    works where a policy drops the defaults."""
    return ["NET_ADMIN", "NET_BIND_SERVICE"] if meshdns else ["NET_ADMIN"]


def node_container(
    mesh: Mapping[str, Any],
    *,
    command: list[str],
    resources: Mapping[str, Any] | None,
    host_network: bool = False,
    server: bool = False,
    voter: bool = False,
) -> dict[str, Any]:
    """The webmesh-node container: NET_ADMIN, /dev/net/tun, its config, data and TLS; servers
    also their external endpoints, and the MeshDNS ports when ``spec.meshDNS`` is on; voters
    (servers and voter Node groups: any may lead) also the backup key, store and credentials."""
    spec = mesh["spec"]
    meshdns = server and bool(spec["meshDNS"]["enabled"])
    mtls = spec["security"]["mode"] == "mtls"
    mounts = [
        {"name": "config", "mountPath": names.CONFIG_DIR, "readOnly": True},
        {"name": "data", "mountPath": names.DATA_DIR},
        {"name": "run-wireguard", "mountPath": "/run/wireguard"},
        {"name": "dev-net-tun", "mountPath": "/dev/net/tun"},
    ]
    if mtls:
        mounts.append({"name": "tls", "mountPath": names.TLS_DIR, "readOnly": True})
    if server:
        mounts.append({"name": "endpoints", "mountPath": names.ENDPOINTS_DIR, "readOnly": True})
    if voter:
        mounts += backup.mounts(spec)
    container: dict[str, Any] = {
        "name": "webmesh-node",
        "image": spec["image"],
        "imagePullPolicy": spec["imagePullPolicy"],
        "command": command,
        "env": env(mesh, mtls=mtls) + (backup.env(spec) if voter else []),
        "ports": ports(host_network=host_network, meshdns=meshdns),
        "readinessProbe": {
            "tcpSocket": {"port": "grpc"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "securityContext": {
            "capabilities": {"add": capabilities(meshdns=meshdns)},
            "allowPrivilegeEscalation": False,
        },
        "volumeMounts": mounts,
    }
    if resources:
        container["resources"] = dict(resources)
    return container


def forwarding_init_container(mesh: Mapping[str, Any]) -> dict[str, Any]:
    """Turns on IP forwarding in the pod's network namespace (the node routes for relays).

    ``net.ipv4.ip_forward`` is not a "safe" sysctl, so ``securityContext.sysctls`` would need the
    kubelet's ``--allowed-unsafe-sysctls``; a privileged init container that exits at once is the
    portable way. Written through /proc, so the image needs no procps.
    """
    spec = mesh["spec"]
    script = "echo 1 > /proc/sys/net/ipv4/ip_forward"
    if spec["ipv6"]:
        script += " && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"
    return {
        "name": "ip-forwarding",
        "image": spec["image"],
        "imagePullPolicy": spec["imagePullPolicy"],
        "command": ["sh", "-c", script],
        "securityContext": {"privileged": True},
    }


def volumes(
    mesh: Mapping[str, Any],
    *,
    config_map: str,
    tls_secret: str,
    endpoints_config_map: str | None = None,
    voter: bool = False,
) -> list[dict[str, Any]]:
    """The pod's volumes, except ``data`` (a volumeClaimTemplate of the StatefulSet); servers
    also mount their endpoints ConfigMap (optional: a pod must start even before the operator
    has written it), and voters the backup key and store (see :func:`node_container`)."""
    items: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": config_map}},
        {"name": "run-wireguard", "emptyDir": {}},
        {"name": "dev-net-tun", "hostPath": {"path": "/dev/net/tun", "type": "CharDevice"}},
    ]
    if mesh["spec"]["security"]["mode"] == "mtls":
        items.append({"name": "tls", "secret": {"secretName": tls_secret, "defaultMode": 0o400}})
    if endpoints_config_map:
        source = {"name": endpoints_config_map, "optional": True}
        items.append({"name": "endpoints", "configMap": source})
    if voter:
        items += backup.volumes(mesh["spec"])
    return items


def scheduling(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The pod-spec fields of ``spec.scheduling``, only those given."""
    given = spec.get("scheduling") or {}
    return {
        key: given[key]
        for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName")
        if given.get(key)
    }


def data_claim(mesh: Mapping[str, Any], object_labels: dict[str, str]) -> dict[str, Any]:
    """The volumeClaimTemplate of /var/lib/webmesh."""
    storage = mesh["spec"]["storage"]
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage["size"]}},
    }
    if storage.get("storageClassName"):
        claim["storageClassName"] = storage["storageClassName"]
    return {"metadata": {"name": "data", "labels": dict(object_labels)}, "spec": claim}


def statefulset(
    *,
    name: str,
    namespace: str,
    object_labels: dict[str, str],
    match_labels: dict[str, str],
    service_name: str,
    replicas: int,
    checksum: str,
    pod_spec: dict[str, Any],
    claim: dict[str, Any],
) -> dict[str, Any]:
    """A StatefulSet whose pod template carries the config checksum (a change rolls the pods).

    PVCs are deleted with the StatefulSet (so deleting the resource cleans up) but kept when it
    scales down (a server that comes back keeps its Raft state).
    """
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": names.metadata(name, namespace, object_labels),
        "spec": {
            "serviceName": service_name,
            "replicas": replicas,
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": match_labels},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {
                    "labels": dict(object_labels),
                    "annotations": {names.CONFIG_CHECKSUM_ANNOTATION: checksum},
                },
                "spec": pod_spec,
            },
            "volumeClaimTemplates": [claim],
        },
    }
