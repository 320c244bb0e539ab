"""A server that comes back on another underlay address is found again by every replica.

A pod rescheduled with a new IP is the common case. A resumed node brings its interface up with
the peers that lead to Raft (node.json) and greets them (``webmesh.wg.hello``); once its replica
has put every other peer on the interface, it greets those too. The real-node e2e lost its Node
group pods when the servers rolled twice in a row: no server had sent them a single packet since
its restart (``wg show``: no handshake, 0 bytes), so they kept sending to the old pod IPs.

Here something else also reaches the observer (with one voter, it reconnects within seconds even
without the second greeting), so the test checks both: the greeting, and that the observer is
back, its replica naming the new address.
"""

from __future__ import annotations

import json

import pytest

from support.netlab import QUICKSTART_FLAGS, Host, Lab, run
from support.wait import eventually

pytestmark = pytest.mark.netns

BOOTSTRAP = (*QUICKSTART_FLAGS, "--bootstrap.enabled")
# a Node group pod: it detects its own address, as the server does
JOIN = (*QUICKSTART_FLAGS, "--mesh.join-address=server:8443")


def readdress(host: Host, new_ip: str) -> None:
    """Move the host's LAN address, as a rescheduled pod gets another IP."""
    links = json.loads(run("ip", "-n", host.netns, "-j", "-4", "addr", "show").stdout)
    device = next(
        link["ifname"]
        for link in links
        if any(a.get("local") == host.lan_ip for a in link.get("addr_info", []))
    )
    run("ip", "-n", host.netns, "addr", "del", f"{host.lan_ip}/24", "dev", device)
    run("ip", "-n", host.netns, "addr", "add", f"{new_ip}/24", "dev", device)
    host.lan_ip = new_ip


def server_endpoints_seen_by(observer: Host) -> list[str]:
    listed = json.loads(observer.wmctl("--insecure", "get", "nodes", "-o", "json").stdout)
    server = next(n for n in listed if n["id"] == "server")
    return list(server.get("wireguardEndpoints") or [])


def test_an_observer_reaches_a_server_back_on_a_new_address() -> None:
    with Lab() as lab:
        server = lab.add_host("server")
        observer = lab.add_host("observer")
        first = server.node(*BOOTSTRAP)
        server.wait_port(8443)
        observer.node(*JOIN)
        server_ip, observer_ip = server.wait_mesh_ip(), observer.wait_mesh_ip()
        eventually(lambda: observer.ping(server_ip), timeout=20, what="observer -> server")
        observer.wait_port(8443)
        old_ip = server.lan_ip

        first.kill()  # the node and its wireguard-go: a pod deleted
        readdress(server, f"{lab.subnet}.77")
        second = server.node(*BOOTSTRAP)  # resumes from its data dir, detects the new address
        server.wait_port(8443)
        second.wait_line("greeted the replica's peers so they learn this endpoint")
        greeted = [line for line in second.tail(200).splitlines() if "replica's peers" in line]
        assert "addresses=1 sent=1" in greeted[-1], greeted  # the observer, not only the voters

        eventually(
            lambda: observer.ping(server_ip, wait=2),
            timeout=40,
            interval=1,
            what=lambda: f"observer -> server back on {server.lan_ip}\n{lab.logs()}",
        )
        endpoints = eventually(
            lambda: (seen := server_endpoints_seen_by(observer)) and server.lan_ip in seen[0]
            and seen,
            timeout=30,
            interval=1,
            what=lambda: f"the observer's replica names the server's new address\n{lab.logs()}",
        )  # fmt: skip
        assert not any(old_ip + ":" in e for e in endpoints), endpoints
        eventually(lambda: server.ping(observer_ip), timeout=10, what="server -> observer")
