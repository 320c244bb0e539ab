"""A ``Node`` group -> its ConfigMap and StatefulSet of joining nodes with the app containers.

The node runs as a native sidecar (an init container with ``restartPolicy: Always``, on by
default since Kubernetes 1.29): the kubelet starts it, waits for its startup probe (the API port
answers once it has joined) and only then starts the app containers, which share its network
namespace and so reach the mesh through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmesh_operator.render import config, names, pod
from webmesh_operator.render.defaults import mesh_with_defaults, node_with_defaults
from webmesh_operator.render.names import Manifest

COMPONENT = "node-group"


def group_name(node: Mapping[str, Any]) -> str:
    """The StatefulSet's name, ``<mesh>-<node>``: its pod names are the nodes' mesh ids."""
    return f"{node['spec']['meshRef']['name']}-{node['metadata']['name']}"


def render_node_group(node: Mapping[str, Any], mesh: Mapping[str, Any]) -> list[Manifest]:
    """The manifests of one Node group of ``mesh`` (same namespace), in apply order."""
    node, mesh = node_with_defaults(node), mesh_with_defaults(mesh)
    name, namespace = group_name(node), node["metadata"]["namespace"]
    instance = node["metadata"]["name"]
    object_labels = names.labels(instance, COMPONENT, mesh["metadata"]["name"])
    config_map_name = f"{name}-config"
    configmap: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": names.metadata(config_map_name, namespace, object_labels),
        "data": {names.CONFIG_FILE: config.to_yaml(config.node_group_config(node, mesh))},
    }
    spec = node["spec"]
    voter = bool(spec["voter"])
    sidecar = pod.node_container(
        mesh, command=list(pod.JOIN_ENTRYPOINT), resources=spec.get("resources"), voter=voter
    )
    apps = [dict(container) for container in spec.get("containers") or []]
    init_containers = [pod.forwarding_init_container(mesh)]
    if apps:
        sidecar["restartPolicy"] = "Always"
        sidecar["startupProbe"] = {
            "tcpSocket": {"port": "grpc"},
            "periodSeconds": 2,
            "failureThreshold": 150,
        }
        init_containers.append(sidecar)
    else:  # a pod needs one container: without apps, the node is it
        apps = [sidecar]
    pod_spec: dict[str, Any] = {
        "initContainers": init_containers,
        "containers": apps,
        "volumes": pod.volumes(
            mesh,
            config_map=config_map_name,
            tls_secret=names.tls_secret_name(name),
            voter=voter,
        ),
        "terminationGracePeriodSeconds": 30,
        **pod.scheduling(spec),
    }
    statefulset = pod.statefulset(
        name=name,
        namespace=namespace,
        object_labels=object_labels,
        match_labels=names.selector(instance, COMPONENT),
        service_name=names.headless_service_name(mesh["metadata"]["name"]),
        replicas=spec["replicas"],
        checksum=config.checksum(configmap["data"]),
        pod_spec=pod_spec,
        claim=pod.data_claim(mesh, object_labels),
    )
    return [configmap, statefulset]
