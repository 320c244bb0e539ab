"""Exit nodes on the real data plane: an "internet" namespace only the exit node reaches.

Every host has its own default route (the lab's black-hole gateway, as a host's router). The
opted-in node reaches the internet address through the exit node, source-NATed to the exit
node's address; the other node's routes never change; turning the exit node off, and then
stopping the opted-in node, put its routes and rules back exactly.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from support.netlab import Host, Lab, run
from support.wait import eventually

pytestmark = pytest.mark.netns

BASE = ("--global.insecure", "--global.no-ipv6")
ENDPOINTS = ("--global.detect-endpoints", "--global.detect-private-endpoints")
INTERNET_IP = "203.0.113.10"  # TEST-NET-3, on the internet namespace only
UPLINK = ("198.51.100.1", "198.51.100.2")  # the exit node's side, the internet's side
# A TCP server on the internet address that answers each connection with the caller's address.
ECHO_SERVER = f"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("{INTERNET_IP}", 8080)); s.listen()
while True:
    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
"""
ASK = f"""
import socket, sys
c = socket.create_connection(("{INTERNET_IP}", 8080), timeout=2); print(c.recv(64).decode())
"""


@contextlib.contextmanager
def internet_behind(lab: Lab, exit_host: Host) -> Iterator[None]:
    """A namespace with ``INTERNET_IP``, linked to ``exit_host`` only, which routes to it by
    default; the internet has no route back to the mesh or the LAN (replies need SNAT)."""
    netns, outside, inside = f"{lab.tag}inet", f"{lab.tag}x0", f"{lab.tag}x1"
    run("ip", "netns", "add", netns)
    server = None
    try:
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        run("ip", "link", "set", outside, "netns", exit_host.netns)
        run("ip", "link", "set", inside, "netns", netns)
        exit_host.exec("ip", "addr", "add", f"{UPLINK[0]}/24", "dev", outside)
        exit_host.exec("ip", "link", "set", outside, "up")
        exit_host.exec("ip", "route", "replace", "default", "via", UPLINK[1], "dev", outside)
        for cmd in (("addr", "add", f"{UPLINK[1]}/24", "dev", inside),
                    ("link", "set", inside, "up"), ("link", "set", "lo", "up"),
                    ("addr", "add", f"{INTERNET_IP}/32", "dev", "lo")):  # fmt: skip
            run("ip", "-n", netns, *cmd)
        server = subprocess.Popen(("ip", "netns", "exec", netns, "python3", "-c", ECHO_SERVER))
        yield
    finally:
        if server is not None:
            server.kill()
            server.wait(5)
        run("ip", "netns", "del", netns, check=False)


def routing(host: Host) -> str:
    """Every rule and every route of every table but the mesh interface's own."""
    rules = host.exec("ip", "-4", "rule").stdout
    routes = host.exec("ip", "-4", "route", "show", "table", "all").stdout
    kept = [line for line in routes.splitlines() if "webmesh0" not in line]
    return rules + "\n".join(sorted(kept))


def caller_seen_by_internet(host: Host) -> str:
    """The source address the internet sees for ``host`` ('' when it cannot connect)."""
    out = host.exec("python3", "-c", ASK, check=False, timeout=10)
    return out.stdout.strip() if out.returncode == 0 else ""


def test_only_the_opted_in_node_goes_out_through_the_exit_node_and_everything_is_undone() -> None:
    with Lab(nameserver="192.0.2.53") as lab:
        gateway, user, other = (lab.add_host(n) for n in ("gateway", "user", "other"))
        with internet_behind(lab, gateway):
            exit_flags = (*BASE, *ENDPOINTS, "--bootstrap.enabled")
            server = gateway.node(*exit_flags, "--wireguard.exit-node")
            gateway.wait_port(8443)
            user_before, other_before = routing(user), routing(other)
            assert caller_seen_by_internet(user) == ""  # no way there before
            member = user.node(*BASE, "--mesh.join-address=gateway:8443",
                               "--wireguard.use-exit-node=gateway")  # fmt: skip
            other.node(*BASE, "--mesh.join-address=gateway:8443")
            user.wait_mesh_ip()
            other_ip = other.wait_mesh_ip()

            eventually(
                lambda: caller_seen_by_internet(user) == UPLINK[0],
                timeout=30,
                what=lambda: f"user -> internet via gateway, SNAT\n{lab.logs()}",
            )
            rules = user.exec("ip", "-4", "rule").stdout
            assert "suppress_prefixlength 0" in rules and "lookup 30573" in rules
            assert "default via 10.213.0.254" in user.exec("ip", "route", "show", "default").stdout
            assert (
                "default dev webmesh0" in user.exec("ip", "route", "show", "table", "30573").stdout
            )
            assert routing(other) == other_before  # a default route in the mesh changes nothing
            assert caller_seen_by_internet(other) == ""
            assert user.ping(other_ip) and user.ping(gateway.lan_ip)  # mesh and underlay work

            server.stop()  # turn the exit node off: the gateway comes back without the flag
            gateway.node(*exit_flags)
            eventually(
                lambda: routing(user) == user_before,
                timeout=30,
                what=lambda: f"user's routes back\n{routing(user)}\n{lab.logs()}",
            )
            assert caller_seen_by_internet(user) == ""
            assert "masquerade" not in gateway.exec("nft", "list", "ruleset").stdout
            assert routing(other) == other_before
            member.stop()
            assert routing(user) == user_before
