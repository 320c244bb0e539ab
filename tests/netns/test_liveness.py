"""Liveness on the real data plane: offline nodes, relays that fail over, removed nodes that
stop, ephemeral workstations. Each node runs as a container would (see support.netlab)."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from support.netlab import Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

BASE = ("--global.insecure", "--global.no-ipv6")
ENDPOINTS = ("--global.detect-endpoints", "--global.detect-private-endpoints")
FAILOVER_LIMIT = 10.0  # seconds, from the relay's SIGKILL to every pair pinging again


def nodes(host: Host) -> dict[str, dict[str, object]]:
    out = host.wmctl("--insecure", "get", "nodes", "-o", "json", check=False)
    return {n["id"]: n for n in json.loads(out.stdout)} if out.returncode == 0 else {}


def relay_of(host: Host, node_id: str) -> str:
    out = host.wmctl("--insecure", "get", "peers", node_id, "-o", "json", check=False)
    if out.returncode != 0:
        return ""
    peers = json.loads(out.stdout).get("peers", [])
    return next((p["id"] for p in peers if p.get("relay")), "")


def test_killing_the_relay_moves_it_and_every_pair_pings_again_within_10s() -> None:
    """3 voters with endpoints, 2 nodes without: SIGKILL the relay (the bootstrap node)."""
    with Lab() as lab:
        hosts = [lab.add_host(f"node-{i}") for i in range(5)]
        hosts[0].node(*BASE, *ENDPOINTS, "--bootstrap.enabled")
        hosts[0].wait_port(8443)
        for host in hosts[1:3]:
            host.node(*BASE, *ENDPOINTS, "--mesh.join-address=node-0:8443", "--mesh.join-as-voter")
        for host in hosts[3:]:  # not observed: they reach each other only through the relay
            host.node(*BASE, "--mesh.join-address=node-0:8443",
                      "--global.no-remote-endpoint-detection")  # fmt: skip
        ips = {h.name: h.wait_mesh_ip() for h in hosts}
        behind = hosts[3:]
        for src, dst in itertools.permutations(hosts, 2):
            eventually(lambda s=src, d=dst: s.ping(ips[d.name]), timeout=30,
                       what=lambda s=src, d=dst: f"{s.name} -> {d.name}\n{lab.logs()}")  # fmt: skip
        assert relay_of(hosts[1], "node-3") == "node-0"

        hosts[0].processes[0].kill()  # SIGKILL: no goodbye
        killed = time.monotonic()
        alive = hosts[1:]
        for src, dst in itertools.permutations(alive, 2):
            if src not in behind:
                continue
            left = FAILOVER_LIMIT - (time.monotonic() - killed)
            eventually(lambda s=src, d=dst: s.ping(ips[d.name]), timeout=max(left, 0.1),
                       what=lambda s=src, d=dst: f"{s.name} -> {d.name} after the relay died "
                       f"({time.monotonic() - killed:.1f} s)\n{lab.logs()}")  # fmt: skip
        took = time.monotonic() - killed
        print(f"relay failover: every endpoint-less node pings every live node {took:.1f} s "
              "after the SIGKILL")  # fmt: skip
        assert relay_of(hosts[1], "node-3") in {"node-1", "node-2"}
        eventually(lambda: nodes(hosts[1]).get("node-0", {}).get("online") is None,
                   timeout=FAILOVER_LIMIT, what="node-0 shown offline")  # fmt: skip
        assert "lastSeen" in nodes(hosts[1])["node-0"]


def test_wmctl_leave_makes_the_node_exit_with_a_clear_message() -> None:
    with Lab() as lab:
        server, member = lab.add_host("server"), lab.add_host("member")
        server.node(*BASE, *ENDPOINTS, "--bootstrap.enabled")
        server.wait_port(8443)
        process = member.node(*BASE, *ENDPOINTS, "--mesh.join-address=server:8443")
        member.wait_mesh_ip()
        eventually(lambda: "member" in nodes(server), timeout=20, what="member joined")
        server.wmctl("--insecure", "leave", "member")
        code = process.popen.wait(30)  # cut off first, it asks the join address after 10 s
        assert code == 3, process.tail()
        assert "this node was removed from the mesh" in process.tail(), process.tail()
        assert member.mesh_ip() == ""  # its interface is gone
        again = member.node(*BASE, *ENDPOINTS, "--mesh.join-address=server:8443")
        assert again.popen.wait(20) != 0
        assert "rejoin-after-removal" in again.tail(), again.tail()


def test_with_rejoin_after_removal_a_removed_node_joins_again_by_itself() -> None:
    with Lab() as lab:
        server, member = lab.add_host("server"), lab.add_host("member")
        server.node(*BASE, *ENDPOINTS, "--bootstrap.enabled")
        server.wait_port(8443)
        process = member.node(*BASE, *ENDPOINTS, "--mesh.join-address=server:8443",
                              "--mesh.rejoin-after-removal")  # fmt: skip
        member.wait_mesh_ip()
        eventually(lambda: "member" in nodes(server), timeout=20, what="member joined")
        server.wmctl("--insecure", "leave", "member")
        eventually(lambda: "joining again" in process.tail(), timeout=30, what=process.tail)
        eventually(lambda: nodes(server).get("member", {}).get("online") is True, timeout=30,
                   what=lambda: f"member back\n{process.tail()}")  # fmt: skip
        assert process.alive()
        ip = member.wait_mesh_ip()
        eventually(
            lambda: server.ping(ip), timeout=20, what=lambda: f"server -> member\n{lab.logs()}"
        )


def test_an_ephemeral_workstation_that_vanishes_is_removed_after_its_grace() -> None:
    with Lab() as lab:
        server, laptop = lab.add_host("server"), lab.add_host("laptop")
        server.node(*BASE, *ENDPOINTS, "--bootstrap.enabled", "--mesh.ephemeral-grace=5s")
        server.wait_port(8443)
        connect = laptop.spawn("wmctl", "connect", "--insecure", "--no-ipv6", "--ephemeral",
                               f"--join-server={server.lan_ip}:8443", name="connect")  # fmt: skip
        laptop_ip = laptop.wait_mesh_ip()
        eventually(lambda: server.ping(laptop_ip), timeout=20, what=connect.tail)
        eventually(lambda: nodes(server).get("laptop", {}).get("online") is True, timeout=10,
                   what="laptop online")  # fmt: skip
        connect.kill()  # no Leave: the machine just vanished
        gone_at = time.monotonic()
        eventually(lambda: "laptop" not in nodes(server), timeout=20,
                   what=lambda: f"laptop purged\n{server.logs()}")  # fmt: skip
        # not before its grace, counted from when the server last saw it (its pass before the
        # kill, at most a second earlier)
        assert time.monotonic() - gone_at >= 4
