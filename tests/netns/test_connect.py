"""``wmctl connect`` from a workstation: the seed's third command, on the real data plane."""

from __future__ import annotations

import json
import signal

import pytest

from support.netlab import Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

SERVER = (
    "--global.insecure",
    "--global.no-ipv6",
    "--global.detect-endpoints",
    "--global.detect-private-endpoints",
)


def node_ids(host: Host) -> set[str]:
    out = host.wmctl("--insecure", "get", "nodes", "-o", "json", check=False)
    return {n["id"] for n in json.loads(out.stdout)} if out.returncode == 0 else set()


def test_connect_pings_both_ways_and_leaves_on_sigint() -> None:
    with Lab() as lab:
        server, laptop = lab.add_host("server"), lab.add_host("laptop")
        server.node(*SERVER, "--bootstrap.enabled")
        server.wait_port(8443)
        connect = laptop.spawn(
            "wmctl",
            "connect",
            "--insecure",
            "--no-ipv6",
            f"--join-server={server.lan_ip}:8443",
            name="connect",
        )
        laptop_ip, server_ip = laptop.wait_mesh_ip(), server.wait_mesh_ip()
        eventually(lambda: laptop.ping(server_ip), timeout=20, what=connect.tail)
        eventually(lambda: server.ping(laptop_ip), timeout=10, what="server -> laptop")
        assert node_ids(server) == {"server", "laptop"}
        assert "connected:" in connect.tail()

        connect.popen.send_signal(signal.SIGINT)
        assert connect.popen.wait(20) == 0, connect.tail()
        assert laptop.mesh_ip() == ""  # the interface is gone
        eventually(
            lambda: node_ids(server) == {"server"}, timeout=10, what="the mesh forgets the laptop"
        )


def test_connect_moves_to_another_server_and_keeps_its_peers_current() -> None:
    with Lab() as lab:
        voters = [lab.add_host(f"voter-{i}") for i in range(3)]
        voters[0].node(*SERVER, "--bootstrap.enabled")
        voters[0].wait_port(8443)
        for host in voters[1:]:
            host.node(*SERVER, "--mesh.join-address=voter-0:8443", "--mesh.join-as-voter")
            host.wait_port(8443)
        laptop = lab.add_host("laptop")
        connect = laptop.spawn(
            "wmctl",
            "connect",
            "--insecure",
            "--no-ipv6",
            "--json",
            f"--join-server={voters[0].lan_ip}:8443",
            name="connect",
        )
        laptop.wait_mesh_ip()
        eventually(lambda: len(laptop.wg_peers()) == 3, timeout=20, what=connect.tail)
        # its stream is up, so it has learnt the other servers (it asks before streaming)
        eventually(lambda: '"event": "peers"' in connect.tail(50), timeout=20, what=connect.tail)

        voters[0].processes[-1].kill()  # the server the laptop streams from
        late = lab.add_host("late")
        late.node(*SERVER, "--mesh.join-address=voter-1:8443")
        late_ip = late.wait_mesh_ip()
        late_key = eventually(lambda: late.wg("public-key"), timeout=10, what="late's key")
        eventually(
            lambda: late_key in laptop.wg_peers(),
            timeout=30,
            what=lambda: f"the laptop learns about late\n{connect.tail()}",
        )
        eventually(lambda: laptop.ping(late_ip), timeout=15, what="laptop -> late")
        assert '"event": "server-lost"' in connect.tail(50)
