"""render.endpoints: each server's external WireGuard endpoint from the spec and its Service, and
the join address of outside machines."""

from __future__ import annotations

from typing import Any

import pytest

from webmesh_operator.render import endpoints, mesh_with_defaults

NAMESPACE = "ns"


def mesh(access: dict[str, Any], servers: int = 3) -> dict[str, Any]:
    resource = {
        "kind": "Mesh",
        "metadata": {"name": "demo", "namespace": NAMESPACE},
        "spec": {"servers": servers, "externalAccess": access},
    }
    return mesh_with_defaults(resource)


def load_balancer(*ingress: dict[str, str]) -> dict[str, Any]:
    service: dict[str, Any] = {"spec": {"type": "LoadBalancer", "ports": []}}
    service["status"] = {"loadBalancer": {"ingress": list(ingress)} if ingress else {}}
    return service


def node_port(wireguard: int | None = None, grpc: int | None = None) -> dict[str, Any]:
    ports = []
    for name, number in (("wireguard", wireguard), ("grpc", grpc)):
        port: dict[str, Any] = {"name": name, "port": 1}
        if number:
            port["nodePort"] = number
        ports.append(port)
    return {"spec": {"type": "NodePort", "ports": ports}, "status": {"loadBalancer": {}}}


def test_load_balancer_addresses_as_they_arrive() -> None:
    services = {
        "demo-external-0": load_balancer({"ip": "203.0.113.1"}),
        "demo-external-1": load_balancer({"hostname": "lb-1.example.com"}),
        "demo-external-2": load_balancer(),  # no address yet
    }
    assert endpoints.server_endpoints(mesh({"type": "LoadBalancer"}), services) == {
        "demo-0": "203.0.113.1:51820",
        "demo-1": "lb-1.example.com:51820",
    }
    assert endpoints.server_endpoints(mesh({"type": "LoadBalancer"}), {}) == {}


def test_an_ipv6_load_balancer_address_is_bracketed() -> None:
    services = {"demo-external-0": load_balancer({"ip": "2001:db8::1"})}
    found = endpoints.server_endpoints(mesh({"type": "LoadBalancer"}, servers=1), services)
    assert found == {"demo-0": "[2001:db8::1]:51820"}


def test_a_per_server_host_wins_over_the_load_balancer() -> None:
    access = {"type": "LoadBalancer", "advertiseEndpoint": "wg-{ordinal}.example.com:4500"}
    services = {"demo-external-0": load_balancer({"ip": "203.0.113.1"})}
    assert endpoints.server_endpoints(mesh(access, servers=2), services) == {
        "demo-0": "wg-0.example.com:4500",
        "demo-1": "wg-1.example.com:4500",
    }


def test_node_ports_on_the_advertised_host() -> None:
    access = {"type": "NodePort", "advertiseEndpoint": "192.0.2.10:9999"}  # the port is ignored
    services = {
        "demo-external-0": node_port(wireguard=31000),
        "demo-external-1": node_port(wireguard=31001),
        "demo-external-2": node_port(),  # not allocated (yet)
    }
    assert endpoints.server_endpoints(mesh(access), services) == {
        "demo-0": "192.0.2.10:31000",
        "demo-1": "192.0.2.10:31001",
    }


def test_node_ports_on_a_host_per_server() -> None:
    access = {"type": "NodePort", "advertiseEndpoint": "{pod}.nodes.example.com"}
    services = {f"demo-external-{i}": node_port(wireguard=31000 + i) for i in range(3)}
    found = endpoints.server_endpoints(mesh(access), services)
    assert found["demo-2"] == "demo-2.nodes.example.com:31002"


@pytest.mark.parametrize("access_type", ["HostNetwork", "None"])
def test_advertised_hosts_per_server_without_services(access_type: str) -> None:
    access = {"type": access_type, "advertiseEndpoint": "wg-{ordinal}.example.com"}
    assert endpoints.server_endpoints(mesh(access), {}) == {
        f"demo-{i}": f"wg-{i}.example.com:51820" for i in range(3)
    }
    ipv6 = {"type": access_type, "advertiseEndpoint": "[2001:db8::7]:4500"}
    assert endpoints.server_endpoints(mesh(ipv6, servers=1), {}) == {"demo-0": "[2001:db8::7]:4500"}


@pytest.mark.parametrize("access_type", ["HostNetwork", "None"])
def test_no_advertised_host_leaves_detection_to_the_servers(access_type: str) -> None:
    assert endpoints.server_endpoints(mesh({"type": access_type}), {}) == {}


@pytest.mark.parametrize(
    ("access", "shared", "expected"),
    [
        ({"type": "LoadBalancer"}, load_balancer({"ip": "203.0.113.7"}), "203.0.113.7:8443"),
        ({"type": "LoadBalancer"}, load_balancer(), "demo-headless.ns.svc:8443"),
        ({"type": "LoadBalancer"}, None, "demo-headless.ns.svc:8443"),
        (
            {"type": "NodePort", "advertiseEndpoint": "192.0.2.10"},
            node_port(grpc=30443),
            "192.0.2.10:30443",
        ),
        (
            {"type": "NodePort", "advertiseEndpoint": "192.0.2.10"},
            None,
            "demo-headless.ns.svc:8443",
        ),
        ({"type": "HostNetwork", "advertiseEndpoint": "wg-{ordinal}.x"}, None, "wg-0.x:8443"),
        ({"type": "HostNetwork"}, None, "demo-headless.ns.svc:8443"),
        ({"type": "None"}, None, "demo-headless.ns.svc:8443"),
    ],
)
def test_join_address(access: dict[str, Any], shared: dict[str, Any] | None, expected: str) -> None:
    assert endpoints.join_address(mesh(access), shared) == expected


@pytest.mark.parametrize(
    ("endpoint", "host", "port"),
    [
        ("wg.example.com", "wg.example.com", ""),
        ("wg.example.com:51820", "wg.example.com", "51820"),
        ("[fd00::1]:7", "[fd00::1]", "7"),
        ("[fd00::1]", "[fd00::1]", ""),
    ],
)
def test_split_endpoint(endpoint: str, host: str, port: str) -> None:
    assert endpoints.split_endpoint(endpoint) == (host, port)
