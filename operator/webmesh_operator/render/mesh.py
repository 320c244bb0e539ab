"""A ``Mesh`` -> its ConfigMap, Services, PodDisruptionBudget and StatefulSet of servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmesh_operator.render import config, names, pod
from webmesh_operator.render.defaults import mesh_with_defaults
from webmesh_operator.render.endpoints import SERVICE_TYPES
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


def _api_port() -> dict[str, Any]:
    return {"name": "grpc", "port": names.API_PORT, "targetPort": "grpc", "protocol": "TCP"}


def _wireguard_port() -> dict[str, Any]:
    return {
        "name": "wireguard",
        "port": names.WIREGUARD_PORT,
        "targetPort": "wireguard",
        "protocol": "UDP",
    }


def endpoints_config_map(mesh: Mapping[str, Any], endpoints: Mapping[str, str]) -> Manifest:
    """Each server's external WireGuard endpoint (``<pod>: host:port``), read by its entrypoint.

    Always rendered (empty when no endpoint is known), so the pods' optional volume has one
    source and pruning never has to guess.
    """
    name, namespace, object_labels = _ids(mesh)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": names.metadata(names.endpoints_config_map_name(name), namespace, object_labels),
        "data": dict(sorted(endpoints.items())),
    }


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
                _api_port(),
                _wireguard_port(),
                {
                    "name": "metrics",
                    "port": names.METRICS_PORT,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                },
            ],
        },
    }


def meshdns_service(mesh: Mapping[str, Any]) -> Manifest | None:
    """MeshDNS of the servers (``spec.meshDNS.enabled``), for the cluster: a ClusterIP Service on
    53/UDP and 53/TCP that cluster DNS forwards the mesh domain to (CoreDNS's ``forward`` takes
    an address, so the operator publishes ``<clusterIP>:53`` as ``status.meshDNSAddress``).
    Ready servers only: a server is Ready once its Raft replica caught up, so it answers from a
    current copy of the mesh."""
    if not mesh["spec"]["meshDNS"]["enabled"]:
        return None
    name, namespace, object_labels = _ids(mesh)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": names.metadata(names.meshdns_service_name(name), namespace, object_labels),
        "spec": {
            "type": "ClusterIP",
            "publishNotReadyAddresses": False,
            "selector": names.selector(name, COMPONENT),
            "ports": [
                {
                    "name": port_name,
                    "port": names.MESHDNS_PORT,
                    "targetPort": port_name,
                    "protocol": protocol,
                }
                for protocol, port_name in pod.MESHDNS_PORT_NAMES.items()
            ],
        },
    }


def _external_metadata(mesh: Mapping[str, Any], service_name: str) -> dict[str, Any]:
    _, namespace, object_labels = _ids(mesh)
    meta = names.metadata(service_name, namespace, object_labels)
    annotations = mesh["spec"]["externalAccess"].get("serviceAnnotations")
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _external_spec(access_type: str, selector: dict[str, str], port: dict[str, Any]) -> Manifest:
    """A LoadBalancer keeps the client's address and sends only to a node running the pod
    (``Local``); a NodePort forwards from any node (``Cluster``), so one advertised node address
    reaches every server wherever it runs (WireGuard copes with the source NAT)."""
    policy = "Local" if access_type == "LoadBalancer" else "Cluster"
    return {
        "type": access_type,
        "externalTrafficPolicy": policy,
        "selector": selector,
        "ports": [port],
    }


def external_service(mesh: Mapping[str, Any]) -> Manifest | None:
    """The gRPC API for workstations and other clusters (LoadBalancer or NodePort), if any: any
    server answers a Join, so one Service spans them all. WireGuard has per-server Services."""
    access_type = mesh["spec"]["externalAccess"]["type"]
    if access_type not in SERVICE_TYPES:
        return None
    name = mesh["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _external_metadata(mesh, names.external_service_name(name)),
        "spec": _external_spec(access_type, names.selector(name, COMPONENT), _api_port()),
    }


def server_services(mesh: Mapping[str, Any]) -> list[Manifest]:
    """One WireGuard Service per server (LoadBalancer or NodePort): each server has its own key,
    so each needs its own external address (see :mod:`webmesh_operator.render.endpoints`)."""
    access_type = mesh["spec"]["externalAccess"]["type"]
    if access_type not in SERVICE_TYPES:
        return []
    name = mesh["metadata"]["name"]
    services = []
    for ordinal in range(mesh["spec"]["servers"]):
        selector = {
            **names.selector(name, COMPONENT),
            names.POD_NAME_LABEL: names.server_pod_name(name, ordinal),
        }
        service_name = names.server_service_name(name, ordinal)
        spec = _external_spec(access_type, selector, _wireguard_port())
        # A server becomes Ready only once its Raft replica caught up, over WireGuard: its
        # WireGuard port must be reachable before that, or a restarted server (a new pod IP)
        # waits for peers that cannot reach it.
        spec["publishNotReadyAddresses"] = True
        services.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _external_metadata(mesh, service_name),
                "spec": spec,
            }
        )
    return services


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
        server=True,
        voter=True,
    )
    pod_spec: dict[str, Any] = {
        "initContainers": [pod.forwarding_init_container(mesh)],
        "containers": [container],
        "volumes": pod.volumes(
            mesh,
            config_map=names.server_config_map_name(name),
            tls_secret=names.tls_secret_name(name),
            endpoints_config_map=names.endpoints_config_map_name(name),
            voter=True,
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


def render_mesh(
    mesh: Mapping[str, Any], endpoints: Mapping[str, str] | None = None
) -> list[Manifest]:
    """Every manifest of one Mesh, in apply order; ``metadata.namespace`` must be set.

    ``endpoints`` are the servers' external WireGuard endpoints (``<pod>: host:port``, from
    :func:`webmesh_operator.render.endpoints.server_endpoints`); the pod template's checksum
    covers them, so a new address rolls the servers. Secrets (the CA and per-pod certificates,
    the admin wmctl config) are not rendered here: they hold generated keys, so the handler
    creates them once and keeps them.
    """
    mesh = mesh_with_defaults(mesh)
    configmap = config_map(mesh)
    endpoints_map = endpoints_config_map(mesh, endpoints or {})
    manifests = [configmap, endpoints_map, headless_service(mesh)]
    meshdns = meshdns_service(mesh)
    if meshdns is not None:
        manifests.append(meshdns)
    external = external_service(mesh)
    if external is not None:
        manifests += [external, *server_services(mesh)]
    budget = pod_disruption_budget(mesh)
    if budget is not None:
        manifests.append(budget)
    manifests.append(statefulset(mesh, pod_checksum(configmap, endpoints_map)))
    return manifests


def pod_checksum(configmap: Manifest, endpoints_map: Manifest) -> str:
    """The servers' pod-template checksum: the config file and every server's endpoint."""
    data = dict(configmap["data"])
    data.update({f"endpoints/{pod}": value for pod, value in endpoints_map["data"].items()})
    return config.checksum(data)
