"""Two meshes peered (issue 18), with real processes, WireGuard and nftables in namespaces.

Mesh A (10.10.0.0/16: a-1, a-2) and mesh B (10.20.0.0/16: b-1, b-2, b-3) each get a peering
object from their own administrator, a-1 and b-1 being the gateways. A takes all of B's network
but B exports only b-2: a-2 reaches b-2, never b-3 nor b-1 itself. A peering that would accept
this mesh's own addresses is refused, saying why. Deleting the peerings stops the traffic and
takes the routes off every node. A network ACL of mesh A decides which of its nodes reach B.
"""

from __future__ import annotations

import json

import pytest

from support.netlab import QUICKSTART_FLAGS, Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

FLAGS = QUICKSTART_FLAGS
NET_A, NET_B = "10.10.0.0/16", "10.20.0.0/16"


def public_key(host: Host) -> str:
    out = host.wmctl("--insecure", "get", "nodes", "-o", "json")
    return next(n["publicKey"] for n in json.loads(out.stdout) if n["id"] == host.name)


def routes(host: Host) -> str:
    return host.exec("ip", "route", "show", "dev", "webmesh0", check=False).stdout


def start_mesh(lab: Lab, names: list[str], network: str) -> list[Host]:
    hosts = [lab.add_host(name) for name in names]
    hosts[0].node(*FLAGS, "--bootstrap.enabled", f"--bootstrap.ipv4-network={network}")
    hosts[0].wait_port(8443)
    for host in hosts[1:]:
        host.node(*FLAGS, f"--mesh.join-address={names[0]}:8443")
    for host in hosts:
        host.wait_mesh_ip()
    return hosts


def put_peering(gateway: Host, name: str, remote: Host, export: str, accept: str) -> None:
    gateway.wmctl(
        "--insecure", "put", "peerings", name, "--gateway", gateway.name,
        "--remote-public-key", public_key(remote), "--remote-endpoint", f"{remote.name}:51820",
        "--export", export, "--accept", accept,
    )  # fmt: skip


def test_two_peered_meshes_reach_what_is_exported_and_nothing_after_deletion() -> None:
    with Lab() as lab:
        a1, a2 = start_mesh(lab, ["a-1", "a-2"], NET_A)
        b1, b2, b3 = start_mesh(lab, ["b-1", "b-2", "b-3"], NET_B)
        b1_ip, b2_ip, b3_ip = (h.wait_mesh_ip() for h in (b1, b2, b3))

        refused = a1.wmctl(
            "--insecure", "put", "peerings", "bad", "--gateway", "a-1",
            "--remote-public-key", public_key(b1), "--export", NET_A, "--accept", "10.10.5.0/24",
            check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert "overlaps this mesh's network 10.10.0.0/16" in refused.stderr

        put_peering(a1, "to-b", b1, export=NET_A, accept=NET_B)
        put_peering(b1, "to-a", a1, export=f"{b2_ip}/32", accept=NET_A)

        eventually(lambda: a2.ping(b2_ip), timeout=30,
                   what=lambda: f"a-2 -> b-2 across the peering\n{lab.logs()}")  # fmt: skip
        assert b2.ping(a2.wait_mesh_ip())  # and back: B accepts all of A
        assert not a2.ping(b3_ip, count=3)  # not exported: dropped at b-1
        assert not a2.ping(b1_ip, count=3)  # b-1's own address is not exported either

        # network ACLs apply across the peering: a-2 may not reach B, and then may again
        a1.wmctl("--insecure", "put", "networkacls", "no-b", "--priority", "10", "--deny",
                 "--src-node", "a-2", "--dst-cidr", NET_B)  # fmt: skip
        eventually(lambda: not a2.ping(b2_ip), timeout=20,
                   what=lambda: f"the ACL stops a-2 -> b-2\n{lab.logs()}")  # fmt: skip
        a1.wmctl("--insecure", "delete", "networkacls", "no-b")
        eventually(lambda: a2.ping(b2_ip), timeout=20,
                   what=lambda: f"a-2 -> b-2 again\n{lab.logs()}")  # fmt: skip
        for host in (a1, a2, b1, b2, b3):
            other = NET_B if host in (a1, a2) else NET_A
            eventually(
                lambda h=host, o=other: o in routes(h),
                timeout=10,
                what=lambda h=host, o=other: f"{h.name} routes {o}: {routes(h)}",
            )

        a1.wmctl("--insecure", "delete", "peerings", "to-b")
        b1.wmctl("--insecure", "delete", "peerings", "to-a")
        for host, gone in ((a1, NET_B), (a2, NET_B), (b1, NET_A), (b2, NET_A), (b3, NET_A)):
            eventually(lambda h=host, g=gone: g not in routes(h), timeout=20,
                       what=lambda h=host, g=gone: f"{g} off {h.name}: {routes(h)}")  # fmt: skip
        assert public_key(b1) not in a1.wg_peers()
        assert not a2.ping(b2_ip, count=3)
