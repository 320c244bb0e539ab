"""The quick start exactly as a new user runs it: bootstrap, join, ping over WireGuard."""

from __future__ import annotations

import json
import os
import signal

import pytest

from support.netlab import Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

BOOTSTRAP = (
    "--global.insecure",
    "--global.no-ipv6",
    "--global.detect-endpoints",
    "--global.detect-private-endpoints",
    "--bootstrap.enabled",
)


def test_quick_start_bootstrap_join_ping() -> None:
    with Lab() as lab:
        boot = lab.add_host("bootstrap-node")
        joiner = lab.add_host("node-b")
        boot.node(*BOOTSTRAP)
        boot.wait_port(8443)
        joiner.node(
            "--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap-node:8443"
        )
        boot_ip, joiner_ip = boot.wait_mesh_ip(), joiner.wait_mesh_ip()
        eventually(
            lambda: joiner.ping(boot_ip),
            timeout=20,
            what=lambda: f"joiner -> {boot_ip}\n{lab.logs()}",
        )
        eventually(lambda: boot.ping(joiner_ip), timeout=10, what=f"bootstrap -> {joiner_ip}")

        listed = json.loads(boot.wmctl("--insecure", "get", "nodes", "-o", "json").stdout)
        assert {n["id"] for n in listed} == {"bootstrap-node", "node-b"}
        assert {n["privateIpv4"] for n in listed} == {f"{boot_ip}/32", f"{joiner_ip}/32"}
        # the joiner keeps a replica: it answers reads with the same view
        joiner.wait_port(8443)
        replica = json.loads(joiner.wmctl("--insecure", "get", "nodes", "-o", "json").stdout)
        assert [n["id"] for n in replica] == [n["id"] for n in listed]

        metrics = boot.exec("python3", "-c", FETCH_METRICS).stdout
        assert "webmesh_mesh_nodes 2.0" in metrics
        assert 'webmesh_raft_state{state="leader"} 1.0' in metrics
        assert "webmesh_wireguard_peers 1.0" in metrics
        assert (
            'webmesh_grpc_requests_total{code="OK",method="/webmesh.v1.Membership/Join"}' in metrics
        )


def test_join_to_an_address_where_nothing_listens_fails_clearly() -> None:
    with Lab() as lab:
        lonely = lab.add_host("lonely")
        process = lonely.node(
            "--global.insecure", "--mesh.join-address=10.213.0.77:8443", "--mesh.max-join-retries=1"
        )
        assert process.popen.wait(30) == 1
        last = process.tail(3)
        assert "could not join the mesh after 2 attempts" in last
        assert "10.213.0.77:8443" in last
        assert lonely.mesh_ip() == ""  # nothing was brought up


FETCH_METRICS = (
    "import urllib.request;"
    "print(urllib.request.urlopen('http://127.0.0.1:8080/metrics', timeout=5).read().decode())"
)


def test_a_killed_node_restarts_on_its_data_and_adopts_its_interface() -> None:
    """SIGKILL only the node process: wireguard-go survives; the restarted node adopts it and
    comes back with the same id, key and address."""
    with Lab() as lab:
        boot = lab.add_host("bootstrap-node")
        joiner = lab.add_host("node-b")
        boot.node(*BOOTSTRAP)
        boot.wait_port(8443)
        join = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap-node:8443")
        first = joiner.node(*join)
        boot_ip, joiner_ip = boot.wait_mesh_ip(), joiner.wait_mesh_ip()
        eventually(lambda: joiner.ping(boot_ip), timeout=20, what=f"joiner -> {boot_ip}")
        key = joiner.wg("public-key")
        os.kill(first.popen.pid, signal.SIGKILL)  # the node only, not its process group
        first.popen.wait(10)
        joiner.node(*join)
        joiner.wait_port(8443)
        assert joiner.wait_mesh_ip() == joiner_ip
        assert joiner.wg("public-key") == key
        eventually(
            lambda: boot.ping(joiner_ip),
            timeout=20,
            what=lambda: f"bootstrap -> {joiner_ip}\n{lab.logs()}",
        )
        assert "adopting the wireguard-go" in joiner.logs()
