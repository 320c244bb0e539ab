"""Each server's external WireGuard endpoint, and the address outside machines join through.

Every server has its own WireGuard key, so each needs its own external address: one shared
load balancer in front of three servers would deliver a workstation's handshakes for all three
to whichever pod it picks. With ``LoadBalancer`` or ``NodePort`` access every server gets a
Service of its own (``<mesh>-external-<ordinal>``, WireGuard only); the operator reads those
Services back and computes ``<pod>: host:port`` (the ``<mesh>-endpoints`` ConfigMap, which the
server entrypoint turns into ``GLOBAL_PRIMARY_ENDPOINT``):

- ``LoadBalancer``: the Service's ``status.loadBalancer.ingress[0]`` (ip or hostname), port 51820;
  no entry until the load balancer has an address.
- ``NodePort``: the host of ``advertiseEndpoint`` (required: a cluster node reachable from
  outside) and the Service's allocated ``nodePort``; no entry until it is allocated.
- ``HostNetwork`` and ``None``: ``advertiseEndpoint`` when given, else no entry (the node detects
  its own addresses; with host networking, the host's).

``advertiseEndpoint``'s host may name each server: ``{ordinal}`` and ``{pod}`` are replaced
(``wg-{ordinal}.example.com``). A given host wins over a load balancer's address; its port (default
51820) is used except with ``NodePort``, where the port is the allocated one.

Pure: no I/O; the Services are passed in as the API server returned them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webmesh_operator.render import names

PLACEHOLDERS = ("{ordinal}", "{pod}")
SERVICE_TYPES = ("LoadBalancer", "NodePort")  # access types with Services of their own
WIREGUARD_PORT_NAME = "wireguard"
API_PORT_NAME = "grpc"


def templated(endpoint: str) -> bool:
    """Whether ``endpoint`` names each server (so every server gets a different host)."""
    return any(placeholder in endpoint for placeholder in PLACEHOLDERS)


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """``host[:port]`` -> (host, port or ""); an IPv6 host keeps its brackets."""
    if endpoint.startswith("["):
        host, _, rest = endpoint.partition("]")
        return f"{host}]", rest.removeprefix(":")
    if ":" in endpoint:
        host, _, port = endpoint.rpartition(":")
        return host, port
    return endpoint, ""


def expand(host: str, *, mesh: str, ordinal: int) -> str:
    """``host`` with ``{ordinal}`` and ``{pod}`` replaced for one server."""
    pod = names.server_pod_name(mesh, ordinal)
    return host.replace("{ordinal}", str(ordinal)).replace("{pod}", pod)


def join_host_port(host: str, port: int | str) -> str:
    """``host:port``, bracketing a bare IPv6 address."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def server_endpoints(
    mesh: Mapping[str, Any], services: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, str]:
    """``<pod>: host:port`` for every server whose external endpoint is known.

    ``mesh`` has its defaults applied; ``services`` maps per-server Service names
    (:func:`names.server_service_name`) to the objects read back (None or absent: not there yet).
    """
    name, spec = mesh["metadata"]["name"], mesh["spec"]
    endpoints = {}
    for ordinal in range(spec["servers"]):
        service = services.get(names.server_service_name(name, ordinal))
        endpoint = _server_endpoint(spec["externalAccess"], name, ordinal, service)
        if endpoint:
            endpoints[names.server_pod_name(name, ordinal)] = endpoint
    return endpoints


def _server_endpoint(
    access: Mapping[str, Any], mesh: str, ordinal: int, service: Mapping[str, Any] | None
) -> str | None:
    advertised = access.get("advertiseEndpoint") or ""
    host, port = split_endpoint(advertised) if advertised else ("", "")
    host = expand(host, mesh=mesh, ordinal=ordinal) if host else ""
    if access["type"] == "NodePort":
        node_port = service_node_port(service, WIREGUARD_PORT_NAME)
        return join_host_port(host, node_port) if host and node_port else None
    if not host and access["type"] == "LoadBalancer":
        host = ingress_host(service) or ""
        port = ""  # the Service listens on the WireGuard port
    return join_host_port(host, port or names.WIREGUARD_PORT) if host else None


def ingress_host(service: Mapping[str, Any] | None) -> str | None:
    """A load balancer's first address (ip, else hostname), None until it has one."""
    status = (service or {}).get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return None
    return ingress[0].get("ip") or ingress[0].get("hostname") or None


def service_node_port(service: Mapping[str, Any] | None, port_name: str) -> int | None:
    """The node port the API server allocated for the Service's port ``port_name``."""
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        if port.get("name") == port_name and port.get("nodePort"):
            return int(port["nodePort"])
    return None


def cluster_ip_address(service: Mapping[str, Any] | None, port: int) -> str:
    """``<clusterIP>:port`` of a Service ("" before the API server allocated its address, and
    for a headless one); an IPv6 address in brackets."""
    cluster_ip = str(((service or {}).get("spec") or {}).get("clusterIP") or "")
    if not cluster_ip or cluster_ip == "None":
        return ""
    return join_host_port(cluster_ip, port)


def join_address(mesh: Mapping[str, Any], shared_service: Mapping[str, Any] | None) -> str:
    """Where outside machines join (gRPC): the shared ``<mesh>-external`` Service's load balancer
    address, or the advertised host with its node port; with other access types the advertised
    host (server 0's, when templated) and the API port; else the in-cluster join address.
    """
    name, namespace = mesh["metadata"]["name"], mesh["metadata"]["namespace"]
    access = mesh["spec"]["externalAccess"]
    advertised = access.get("advertiseEndpoint") or ""
    host = expand(split_endpoint(advertised)[0], mesh=name, ordinal=0) if advertised else ""
    if access["type"] == "LoadBalancer":
        host = ingress_host(shared_service) or ""
        return join_host_port(host, names.API_PORT) if host else names.join_address(name, namespace)
    if access["type"] == "NodePort":
        node_port = service_node_port(shared_service, API_PORT_NAME)
        if host and node_port:
            return join_host_port(host, node_port)
        return names.join_address(name, namespace)
    return join_host_port(host, names.API_PORT) if host else names.join_address(name, namespace)
