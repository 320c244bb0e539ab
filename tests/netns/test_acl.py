"""Network ACLs on the real data plane: a deny between two nodes stops every packet between them
within a second of its commit, everyone else still talks, and deleting it restores the path."""

from __future__ import annotations

import time

import pytest

from support.netlab import QUICKSTART_FLAGS, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

FLAGS = QUICKSTART_FLAGS


def test_a_deny_acl_cuts_exactly_one_pair_and_deleting_it_restores_it() -> None:
    with Lab() as lab:
        a, b, c = (lab.add_host(name) for name in ("node-a", "node-b", "node-c"))
        a.node(*FLAGS, "--bootstrap.enabled")
        a.wait_port(8443)
        for host in (b, c):
            host.node(*FLAGS, "--mesh.join-address=node-a:8443")
        ips = {h.name: h.wait_mesh_ip() for h in (a, b, c)}
        for src, dst in ((b, c), (c, b), (a, b), (a, c)):
            eventually(
                lambda s=src, d=dst: s.ping(ips[d.name]),
                timeout=20,
                what=lambda s=src, d=dst: f"{s.name} -> {d.name}\n{s.logs()}",
            )

        a.wmctl(
            "--insecure",
            "put",
            "networkacls",
            "deny-b-c",
            "--priority",
            "100",
            "--src-node",
            "node-b",
            "--dst-node",
            "node-c",
            "--deny",
        )
        committed = time.monotonic()
        eventually(
            lambda: not b.ping(ips["node-c"], wait=1),
            timeout=5,
            interval=0.05,
            what="b can no longer reach c",
        )
        assert time.monotonic() - committed < 2.5  # within a second, plus one ping's timeout
        assert not c.ping(ips["node-b"])  # not a single packet the other way either
        for src, dst in ((a, b), (a, c), (b, a), (c, a)):
            assert src.ping(ips[dst.name]), f"{src.name} -> {dst.name} must still work"

        a.wmctl("--insecure", "delete", "networkacls", "deny-b-c")
        eventually(lambda: b.ping(ips["node-c"]), timeout=5, what="b reaches c again")
        assert c.ping(ips["node-b"])


def test_advertised_routes_are_installed_and_reachable_through_the_mesh() -> None:
    """node-a advertises 10.99.0.0/24 (a network behind it); node-b routes it into the tunnel."""
    with Lab() as lab:
        a, b = lab.add_host("node-a"), lab.add_host("node-b")
        a.exec("ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
        a.exec("ip", "link", "set", "lan1", "up")
        a.exec("ip", "addr", "add", "10.99.0.1/24", "dev", "lan0")
        a.exec("ip", "link", "set", "lan0", "up")
        a.node(*FLAGS, "--bootstrap.enabled", "--mesh.routes=10.99.0.0/24")
        a.wait_port(8443)
        b.node(*FLAGS, "--mesh.join-address=node-a:8443")
        b.wait_mesh_ip()
        eventually(
            lambda: "10.99.0.0/24" in b.exec("ip", "route").stdout,
            timeout=20,
            what=lambda: f"route on node-b\n{b.logs()}",
        )
        eventually(lambda: b.ping("10.99.0.1"), timeout=10, what="node-b -> 10.99.0.1")
