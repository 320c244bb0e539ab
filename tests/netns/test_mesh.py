"""Real meshes in network namespaces: every pair pings, leaving, and the data plane outliving
the control plane. Each node runs as a container would (see support.netlab)."""

from __future__ import annotations

import itertools
import json

import pytest

from support.netlab import Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

INSECURE = ("--global.insecure",)
ENDPOINTS = ("--global.detect-endpoints", "--global.detect-private-endpoints")


def start_mesh(lab: Lab, count: int, *, ipv6: bool, with_endpoints: int) -> list[Host]:
    """A bootstrap node and ``count - 1`` joiners; the first ``with_endpoints`` have endpoints."""
    family = () if ipv6 else ("--global.no-ipv6",)
    hosts = [lab.add_host(f"node-{i}") for i in range(count)]
    hosts[0].node(*INSECURE, *family, *ENDPOINTS, "--bootstrap.enabled")
    hosts[0].wait_port(8443)
    for i, host in enumerate(hosts[1:], start=1):
        extra = ENDPOINTS if i < with_endpoints else ()
        host.node(*INSECURE, *family, *extra, "--mesh.join-address=node-0:8443")
    return hosts


def assert_all_pairs_ping(lab: Lab, hosts: list[Host], version: int) -> None:
    addresses = {h.name: h.wait_mesh_ip(version=version) for h in hosts}
    for src, dst in itertools.permutations(hosts, 2):
        target = addresses[dst.name]
        eventually(
            lambda s=src, t=target: s.ping(t),
            timeout=20,
            what=lambda s=src, d=dst, t=target: f"{s.name} -> {d.name} ({t})\n{lab.logs()}",
        )


def node_ids(host: Host, server: str = "127.0.0.1:8443") -> set[str]:
    out = host.wmctl("--insecure", "--server", server, "get", "nodes", "-o", "json", check=False)
    return {n["id"] for n in json.loads(out.stdout)} if out.returncode == 0 else set()


def test_five_nodes_every_pair_pings_over_ipv4() -> None:
    """Three nodes with endpoints peer directly; the two without reach each other via the relay."""
    with Lab() as lab:
        hosts = start_mesh(lab, 5, ipv6=False, with_endpoints=3)
        assert_all_pairs_ping(lab, hosts, version=4)
        assert hosts[1].mesh_ip(version=6) == ""  # --global.no-ipv6 means no IPv6 at all


def test_five_nodes_every_pair_pings_over_ipv6() -> None:
    with Lab() as lab:
        hosts = start_mesh(lab, 5, ipv6=True, with_endpoints=3)
        assert_all_pairs_ping(lab, hosts, version=6)
        assert_all_pairs_ping(lab, hosts, version=4)


def test_a_node_that_leaves_disappears_from_every_peer() -> None:
    with Lab() as lab:
        hosts = start_mesh(lab, 4, ipv6=False, with_endpoints=4)
        assert_all_pairs_ping(lab, hosts, version=4)
        leaver = hosts[3]
        key = leaver.wg("public-key")
        assert key and all(key in h.wg_peers() for h in hosts[:3])
        # an administrator removes it through a follower: forwarded to the leader
        hosts[1].wmctl("--insecure", "leave", leaver.name)
        for host in hosts[:3]:
            eventually(
                lambda h=host: key not in h.wg_peers(),
                timeout=5,
                what=f"{leaver.name}'s key gone from {host.name}",
            )
            eventually(
                lambda h=host: leaver.name not in node_ids(h),
                timeout=5,
                what=f"{leaver.name} gone from {host.name}'s replica",
            )
        assert not leaver.ping(hosts[0].mesh_ip())


def test_the_data_plane_outlives_every_server() -> None:
    """Kill the only server: tunnels keep passing traffic; the nodes resume when it returns."""
    with Lab() as lab:
        hosts = start_mesh(lab, 3, ipv6=False, with_endpoints=3)
        assert_all_pairs_ping(lab, hosts, version=4)
        server = hosts[0].processes[0]
        server.kill()  # SIGKILL: no goodbye, no cleanup
        a, b = hosts[1], hosts[2]
        b_ip = b.mesh_ip()
        for _ in range(3):
            assert a.ping(b_ip), f"tunnel a -> b broke without the server\n{lab.logs()}"
        hosts[0].node(*INSECURE, "--global.no-ipv6", *ENDPOINTS, "--bootstrap.enabled")
        hosts[0].wait_port(8443)
        newcomer = lab.add_host("node-new")
        newcomer.node(*INSECURE, "--global.no-ipv6", "--mesh.join-address=node-0:8443")
        for host in (hosts[0], a, b):
            eventually(
                lambda h=host: "node-new" in node_ids(h),
                timeout=20,
                what=lambda h=host: f"node-new in {h.name}'s replica\n{lab.logs()}",
            )
        new_ip = newcomer.wait_mesh_ip()
        eventually(lambda: a.ping(new_ip), timeout=15, what=lambda: f"a -> node-new\n{lab.logs()}")
