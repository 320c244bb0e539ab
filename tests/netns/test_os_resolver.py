"""Host names resolve as the OS resolves them (/etc/hosts first), even where DNS never answers.

gRPC's default c-ares resolver asks DNS itself: in a container whose DNS server never answers,
``--mesh.join-address=bootstrap-node:8443`` timed out although /etc/hosts maps the name. Our
programs set ``GRPC_DNS_RESOLVER=native`` (:mod:`webmesh.client.grpcenv`). The lab's hosts have a
default route and an /etc/resolv.conf naming a server that never answers: the route goes via a
black-hole gateway on the lab's own bridge (see :mod:`support.netlab`), so no packet leaves it.
"""

from __future__ import annotations

import json
import time

import pytest

from support.netlab import Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

DEAD_DNS = "192.0.2.53"  # TEST-NET-1: no host of the lab has it, and the gateway drops it
BOOTSTRAP = (
    "--global.insecure",
    "--global.no-ipv6",
    "--global.detect-endpoints",
    "--global.detect-private-endpoints",
    "--bootstrap.enabled",
)
JOIN = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap-node:8443")
GET_NODES = ("wmctl", "--insecure", "--server", "bootstrap-node:8443", "--timeout", "2")
FAST = 2.0  # seconds: far below any DNS timeout (glibc 5 s a try, c-ares more)


@pytest.fixture(autouse=True)
def _default_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our programs choose the resolver themselves, unless the environment chose one."""
    monkeypatch.delenv("GRPC_DNS_RESOLVER", raising=False)


def assert_dns_never_answers(host: Host) -> None:
    """The lab's premise: /etc/hosts answers at once, DNS never (no reply, no refusal)."""
    named = host.contained("getent", "ahosts", "bootstrap-node", timeout=5)
    assert named.stdout.split()[0] == host.lab.hosts[0].lan_ip
    unknown = host.contained("timeout", "3", "getent", "ahosts", "nosuch-name", check=False)
    assert unknown.returncode == 124, f"DNS answered: {unknown}"  # 124: timeout killed it


def test_quick_start_by_name_where_dns_never_answers() -> None:
    with Lab(nameserver=DEAD_DNS) as lab:
        boot = lab.add_host("bootstrap-node")
        joiner = lab.add_host("node-b")
        assert_dns_never_answers(joiner)

        boot.node(*BOOTSTRAP)
        boot.wait_port(8443)
        started = time.monotonic()
        node = joiner.node(*JOIN)
        eventually(
            lambda: "joined the mesh" in node.log.read_text(errors="replace"),
            timeout=30,
            interval=0.02,
            what=lambda: f"node-b joining\n{lab.logs()}",
        )
        joined_after = time.monotonic() - started
        print(f"node-b joined {joined_after:.2f}s after it was started")
        assert joined_after < FAST, f"joining took {joined_after:.2f}s\n{lab.logs()}"

        boot_ip, joiner_ip = boot.wait_mesh_ip(), joiner.wait_mesh_ip()
        eventually(
            lambda: joiner.ping(boot_ip),
            timeout=20,
            what=lambda: f"node-b -> {boot_ip}\n{lab.logs()}",
        )
        eventually(lambda: boot.ping(joiner_ip), timeout=10, what=f"bootstrap -> {joiner_ip}")

        # wmctl, run as a container runs it (the lab's /etc/hosts and resolv.conf), by name
        started = time.monotonic()
        listed = joiner.contained(*GET_NODES, "get", "nodes", "-o", "json", check=False)
        took = time.monotonic() - started
        print(f"wmctl get nodes answered in {took:.2f}s (process start to exit)")
        assert listed.returncode == 0, listed.stderr
        assert {n["id"] for n in json.loads(listed.stdout)} == {"bootstrap-node", "node-b"}

        # the control: gRPC's c-ares resolver (the old default) asks the dead DNS server
        started = time.monotonic()
        ares = joiner.contained(
            *GET_NODES, "get", "nodes", env={"GRPC_DNS_RESOLVER": "ares"}, check=False
        )
        took = time.monotonic() - started
        print(f"wmctl with c-ares gave up after {took:.2f}s: {ares.stderr.strip()}")
        assert ares.returncode != 0, f"c-ares answered: DNS is not dead in this lab\n{ares}"
        assert "bootstrap-node" in ares.stderr
        assert "Traceback" not in ares.stderr


def test_an_unknown_name_is_reported_as_unresolved_within_the_timeout() -> None:
    """The system resolver waits longer on a dead DNS server (glibc: 2 tries of 5 s) than the
    call's deadline; wmctl still says which name it could not resolve, and who was asked."""
    with Lab(nameserver=DEAD_DNS) as lab:
        host = lab.add_host("node-a")
        result = host.contained(
            "wmctl",
            "--insecure",
            "--server",
            "nosuch-host:8443",
            "--timeout",
            "3",
            "get",
            "nodes",
            check=False,
            timeout=15,
        )
        assert_one_line_about_resolving(result.returncode, result.stderr)


def assert_one_line_about_resolving(returncode: int, stderr: str) -> None:
    assert returncode != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert "nosuch-host" in lines[0]
    assert "resolve" in lines[0]
    assert "system resolver" in lines[0]
