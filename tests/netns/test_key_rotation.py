"""WireGuard key rotation under a continuous ping, on the real data plane (wireguard-go)."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from support.netlab import Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

BASE = ("--global.insecure", "--global.no-ipv6")
ENDPOINTS = ("--global.detect-endpoints", "--global.detect-private-endpoints")
PINGS, INTERVAL = 60, 0.2  # 12 s of pings, five a second: stricter than ping's default


def public_key(host: Host, node_id: str) -> str:
    out = host.wmctl("--insecure", "get", "nodes", "-o", "json", check=False)
    if out.returncode != 0:
        return ""
    return next((n["publicKey"] for n in json.loads(out.stdout) if n["id"] == node_id), "")


def start_ping(src: Host, target: str) -> subprocess.Popen[str]:
    cmd = ("ip", "netns", "exec", src.netns, "ping", "-4", "-n", "-c", str(PINGS),
           "-i", str(INTERVAL), "-W", "1", target)  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def lost(ping: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = ping.communicate(timeout=PINGS * INTERVAL + 30)
    found = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert found, out
    return int(found.group(1)) - int(found.group(2)), out[-300:]


def test_a_key_rotation_under_continuous_pings_loses_at_most_one_packet() -> None:
    with Lab() as lab:
        rotating, peer, behind = (lab.add_host(n) for n in ("rotating", "peer", "behind"))
        rotating.node(*BASE, *ENDPOINTS, "--bootstrap.enabled")
        rotating.wait_port(8443)
        peer.node(*BASE, *ENDPOINTS, "--mesh.join-address=rotating:8443")
        behind.node(*BASE, "--mesh.join-address=rotating:8443")  # no endpoint: it dials
        target = rotating.wait_mesh_ip()
        peer_ip = peer.wait_mesh_ip()
        behind.wait_mesh_ip()
        for src, dst in ((peer, target), (behind, target), (rotating, peer_ip)):
            eventually(lambda s=src, d=dst: s.ping(d), timeout=30, what=lab.logs())
        pings = [
            start_ping(peer, target),
            start_ping(behind, target),
            start_ping(rotating, peer_ip),
        ]
        time.sleep(2)
        for host in (rotating, peer):  # the leader (its own record), then an observer (a Join)
            before = public_key(peer, host.name)
            peer.wmctl("--insecure", "--server", f"{rotating.lan_ip}:8443", "rotate-key", host.name)
            eventually(
                lambda h=host, b=before: public_key(peer, h.name) not in ("", b),
                timeout=10,
                what=lambda: f"the new key in the mesh\n{lab.logs()}",
            )
            eventually(lambda h=host: h.wg("public-key") == public_key(peer, h.name), timeout=5,
                       what=lambda h=host: f"{h.name}'s device\n{lab.logs()}")  # fmt: skip
            time.sleep(2)
        results = [lost(p) for p in pings]
        for count, tail in results:
            assert count <= 1, f"{count} pings lost across the rotations\n{tail}\n{lab.logs()}"
        assert "wireguard key rotated" in rotating.logs() and "wireguard key rotated" in peer.logs()
