"""A ``Mesh`` -> its ConfigMap, Services, PodDisruptionBudget and StatefulSet of servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmesh_operator.render import config, names, pod
from webmesh_operator.render.defaults import mesh_with_defaults
from webmesh_operator.render.names import Manifest

COMPONENT = "server"


def _ids(mesh: Mapping[str, Any]) -> tuple[str, str, dict[str, str]]:
    name, namespace = mesh["metadata"]["name"], mesh["metadata"]["namespace"]
    return name, namespace, names.labels(name, COMPONENT, name)


def config_map(mesh: Mapping[str, Any]) -> Manifest:
    """The servers' webmesh-node config file."""
    name, namespace, object_labels = _ids(mesh)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": names.metadata(names.server_config_map_name(name), namespace, object_labels),
        "data": {names.CONFIG_FILE: config.to_yaml(config.server_config(mesh))},
    }


def _service_ports() -> list[dict[str, Any]]:
    return [
        {"name": "grpc", "port": names.API_PORT, "targetPort": "grpc", "protocol": "TCP"},
        {
            "name": "wireguard",
            "port": names.WIREGUARD_PORT,
            "targetPort": "wireguard",
            "protocol": "UDP",
        },
    ]


def headless_service(mesh: Mapping[str, Any]) -> Manifest:
    """The StatefulSet's governing Service; it resolves to the *ready* servers, the join target."""
    name, namespace, object_labels = _ids(mesh)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": names.metadata(names.headless_service_name(name), namespace, object_labels),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": False,
            "selector": names.selector(name, COMPONENT),
            "ports": [
                *_service_ports(),
                {
                    "name": "metrics",
                    "port": names.METRICS_PORT,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                },
            ],
        },
    }


def external_service(mesh: Mapping[str, Any]) -> Manifest | None:
    """The Service for workstations and other clusters (LoadBalancer or NodePort), if any."""
    access = mesh["spec"]["externalAccess"]
    if access["type"] not in ("LoadBalancer", "NodePort"):
        return None
    name, namespace, object_labels = _ids(mesh)
    meta = names.metadata(names.external_service_name(name), namespace, object_labels)
    if access.get("serviceAnnotations"):
        meta["annotations"] = dict(access["serviceAnnotations"])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": access["type"],
            "externalTrafficPolicy": "Local",
            "selector": names.selector(name, COMPONENT),
            "ports": _service_ports(),
        },
    }


def pod_disruption_budget(mesh: Mapping[str, Any]) -> Manifest | None:
    """Keep a Raft quorum through voluntary disruptions; none for one server (it would block
    every node drain, and a single server has no quorum to keep)."""
    servers = mesh["spec"]["servers"]
    if servers < 2:
        return None
    name, namespace, object_labels = _ids(mesh)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": names.metadata(name, namespace, object_labels),
        "spec": {
            "maxUnavailable": (servers - 1) // 2,
            "selector": {"matchLabels": names.selector(name, COMPONENT)},
        },
    }


def statefulset(mesh: Mapping[str, Any], config_checksum: str) -> Manifest:
    """The servers: pod 0 bootstraps, the others join as voters (see :mod:`.pod`)."""
    name, namespace, object_labels = _ids(mesh)
    spec = mesh["spec"]
    host_network = spec["externalAccess"]["type"] == "HostNetwork"
    container = pod.node_container(
        mesh,
        command=["sh", "-c", pod.SERVER_ENTRYPOINT],
        resources=spec.get("resources"),
        host_network=host_network,
        raft_secret=True,
    )
    pod_spec: dict[str, Any] = {
        "initContainers": [pod.forwarding_init_container(mesh)],
        "containers": [container],
        "volumes": pod.volumes(
            mesh,
            config_map=names.server_config_map_name(name),
            tls_secret=names.tls_secret_name(name),
            raft_secret=names.raft_secret_name(name),
        ),
        "terminationGracePeriodSeconds": 30,
        **pod.scheduling(spec),
    }
    if host_network:
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return pod.statefulset(
        name=name,
        namespace=namespace,
        object_labels=object_labels,
        match_labels=names.selector(name, COMPONENT),
        service_name=names.headless_service_name(name),
        replicas=spec["servers"],
        checksum=config_checksum,
        pod_spec=pod_spec,
        claim=pod.data_claim(mesh, object_labels),
    )


def render_mesh(mesh: Mapping[str, Any]) -> list[Manifest]:
    """Every manifest of one Mesh, in apply order; ``metadata.namespace`` must be set.

    Secrets (the CA and per-pod certificates, the admin wmctl config) are not rendered here: they
    hold generated keys, so the handler creates them once and keeps them.
    """
    mesh = mesh_with_defaults(mesh)
    configmap = config_map(mesh)
    manifests = [configmap, headless_service(mesh)]
    for optional in (external_service(mesh), pod_disruption_budget(mesh)):
        if optional is not None:
            manifests.append(optional)
    manifests.append(statefulset(mesh, config.checksum(configmap["data"])))
    return manifests
