"""validate: the rules the CRD schemas cannot express, one sentence per problem."""

from __future__ import annotations

from typing import Any

import pytest

from webmesh_operator import validate
from webmesh_operator.render import mesh_with_defaults, node_with_defaults, render_node_group


def mesh(name: str = "demo", **spec: Any) -> dict[str, Any]:
    return mesh_with_defaults({"metadata": {"name": name, "namespace": "ns"}, "spec": spec})


def node(name: str = "web", mesh_name: str = "demo", **spec: Any) -> dict[str, Any]:
    return node_with_defaults(
        {
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"meshRef": {"name": mesh_name}, **spec},
        }
    )


def test_defaults_are_valid() -> None:
    assert validate.mesh_problems(mesh()) == []
    assert validate.node_problems(node()) == []


def test_host_bits_suggest_the_network() -> None:
    problems = validate.mesh_problems(mesh(ipv4Network="10.1.2.3/16"))
    assert problems == ["spec.ipv4Network 10.1.2.3/16 has host bits set; did you mean 10.1.0.0/16?"]


@pytest.mark.parametrize(
    ("network", "fragment"),
    [("10.0.0.0/31", "too small"), ("10.0.0.0/32", "too small"), ("10.0.0.300/8", "not an IPv4")],
)
def test_bad_networks(network: str, fragment: str) -> None:
    problems = validate.mesh_problems(mesh(ipv4Network=network))
    assert len(problems) == 1
    assert fragment in problems[0]
    assert problems[0].startswith("spec.ipv4Network")


def test_a_30_is_enough() -> None:
    assert validate.mesh_problems(mesh(ipv4Network="10.0.0.4/30")) == []


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("mesh.example.com", True),
        ("mesh.example.com:51820", True),
        ("[fd00::1]:51820", True),
        ("wg-{ordinal}.example.com:51820", True),
        ("{pod}.example.com", True),
        ("mesh.example.com:0", False),
        ("mesh.example.com:65536", False),
        ("[fd00::1]:99999", False),
        ("[nonsense]:1", False),
        ("wg-{index}.example.com", False),
    ],
)
def test_advertise_endpoint(endpoint: str, ok: bool) -> None:
    spec = {"type": "HostNetwork", "advertiseEndpoint": endpoint}
    problems = validate.mesh_problems(mesh(servers=1, externalAccess=spec))
    assert (problems == []) is ok, problems
    assert all("spec.externalAccess.advertiseEndpoint" in p for p in problems)


@pytest.mark.parametrize("access_type", ["LoadBalancer", "HostNetwork", "None"])
def test_one_address_for_several_servers_is_refused(access_type: str) -> None:
    """Each server has its own WireGuard key: one shared address reaches only one of them."""
    fixed = {"type": access_type, "advertiseEndpoint": "mesh.example.com:51820"}
    (problem,) = validate.mesh_problems(mesh(servers=3, externalAccess=fixed))
    assert "{ordinal}" in problem and "3 servers" in problem
    templated = {"type": access_type, "advertiseEndpoint": "wg-{ordinal}.example.com"}
    assert validate.mesh_problems(mesh(servers=3, externalAccess=templated)) == []


def test_node_port_needs_the_advertised_node_address() -> None:
    (problem,) = validate.mesh_problems(mesh(externalAccess={"type": "NodePort"}))
    assert problem.startswith(
        "spec.externalAccess.advertiseEndpoint is required with type NodePort"
    )
    one_host = {"type": "NodePort", "advertiseEndpoint": "192.0.2.10"}  # a node port per server
    assert validate.mesh_problems(mesh(servers=3, externalAccess=one_host)) == []


def test_host_network_without_endpoint_is_allowed() -> None:
    assert validate.mesh_problems(mesh(externalAccess={"type": "HostNetwork"})) == []
    assert validate.mesh_problems(mesh(externalAccess={"type": "LoadBalancer"})) == []


@pytest.mark.parametrize(
    ("access_type", "ok"),
    [("None", True), ("LoadBalancer", True), ("NodePort", True), ("HostNetwork", False)],
)
def test_meshdns_needs_the_servers_own_pod_network(access_type: str, ok: bool) -> None:
    """With host networking, port 53 of every host address would answer (and collide with a
    host's own resolver)."""
    access = {"type": access_type, "advertiseEndpoint": "wg-{ordinal}.example.com"}
    problems = validate.mesh_problems(mesh(externalAccess=access, meshDNS={"enabled": True}))
    if ok:
        assert problems == []
    else:
        (problem,) = problems
        assert problem.startswith("spec.meshDNS.enabled cannot be used with")
        assert "HostNetwork" in problem
    off = mesh(externalAccess=access, meshDNS={"enabled": False})
    assert validate.mesh_problems(off) == []


@pytest.mark.parametrize("size", ["0", "0Gi", "0.0Mi"])
def test_storage_must_not_be_empty(size: str) -> None:
    problems = validate.mesh_problems(mesh(storage={"size": size}))
    assert problems == [f"spec.storage.size {size} must be more than zero: it holds the Raft log"]


def test_mesh_names() -> None:
    assert any("start with a letter" in p for p in validate.mesh_problems(mesh("1mesh")))
    assert any("not a DNS label" in p for p in validate.mesh_problems(mesh("my.mesh")))
    assert validate.mesh_problems(mesh("m" * 52)) == []
    assert any("at most 52" in p for p in validate.mesh_problems(mesh("m" * 53)))


def test_node_group_names_and_replicas() -> None:
    assert validate.node_problems(node("n" * 47, replicas=1000)) == []  # demo-<47>-999: 56
    long = validate.node_problems(node("n" * 48))
    assert len(long) == 1
    assert "metadata.name" in long[0]
    assert "at most 52" in long[0]
    assert any("not a DNS label" in p for p in validate.node_problems(node("web.app")))


def test_app_containers_must_not_collide_with_the_node() -> None:
    containers = [
        {"name": "webmesh-node", "image": "x"},
        {"name": "app", "image": "x", "ports": [{"containerPort": 8443}]},
        {"name": "app", "image": "x", "ports": [{"containerPort": 51820, "protocol": "UDP"}]},
        {"name": "ok", "image": "x", "ports": [{"containerPort": 51820}]},  # TCP: free
        {
            "name": "ip-forwarding",
            "image": "x",
            "volumeMounts": [{"name": "cache", "mountPath": "/c"}],
        },
    ]
    problems = validate.node_problems(node(containers=containers))
    assert problems == [
        "spec.containers[0].name 'webmesh-node' is taken by the pod's own webmesh-node container",
        "spec.containers[1].ports[0].containerPort 8443/TCP is the mesh node's; the app shares "
        "the node's network namespace, so pick another port",
        "spec.containers[2].name 'app' is used by an earlier container",
        "spec.containers[2].ports[0].containerPort 51820/UDP is the mesh node's; the app shares "
        "the node's network namespace, so pick another port",
        "spec.containers[4].name 'ip-forwarding' is taken by the pod's own ip-forwarding container",
        "spec.containers[4].volumeMounts[0].name 'cache' is not a volume of the pod "
        "(it has config, data, dev-net-tun, run-wireguard, tls)",
    ]


def test_valid_app_mounts_name_real_pod_volumes() -> None:
    """The volumes validate allows are the ones the renderer really gives the pod."""
    group = node(containers=[{"name": "app", "image": "x"}])
    group_mesh = mesh()
    statefulset = render_node_group(group, group_mesh)[-1]
    template = statefulset["spec"]["template"]["spec"]
    rendered = {v["name"] for v in template["volumes"]}
    rendered |= {c["metadata"]["name"] for c in statefulset["spec"]["volumeClaimTemplates"]}
    assert rendered == validate.POD_VOLUMES
    names = {c["name"] for c in template["initContainers"]}
    assert names == {validate.NODE_CONTAINER, validate.FORWARDING_CONTAINER}
