"""DNS server addresses (forwarders, the host's resolvers) and what MeshDNS makes of the state."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from webmesh import errors, syntax
from webmesh.daemon.meshdns import MeshDns, lookup_in, resolv_conf_servers
from webmesh.daemon.settings import MeshDnsSettings
from webmesh.dns import hostresolver
from webmesh.dns.answer import Addresses
from webmesh.dns.forward import Upstream, parse_upstream
from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node
from webmesh.mesh.state import MeshState, apply

NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="fd00:1:2::/48", domain="webmesh.internal")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.2", ("10.0.0.2", 53)),
        ("10.0.0.2:5353", ("10.0.0.2", 5353)),
        ("fd00::53", ("fd00::53", 53)),
        ("[fd00::53]:5353", ("fd00::53", 5353)),
        ("[fd00::53]", ("fd00::53", 53)),
        ("fe80::1%eth0", ("fe80::1%eth0", 53)),
    ],
)
def test_dns_server_addresses_are_accepted(text: str, expected: tuple[str, int]) -> None:
    assert syntax.parse_dns_server(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "dns.example",  # a name would need DNS to be found
        "dns.example:53",
        "10.0.0.2:0",
        "10.0.0.2:70000",
        "10.0.0.2:",
        "[fd00::53]x",
        "[fd00::53]:",
        "[fd00::53",
        "[fd00::53:53",
        "10.0.0.2:abc",
        "10.0.0.2:-53",
        "10.0.0.2:²",  # str.isdigit says yes, int() says no
        "10.0.0.2:٥٣",  # Arabic-Indic digits: int() reads 53, but no resolver would
        "",
    ],
)
def test_anything_else_is_an_invalid_argument(text: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        syntax.parse_dns_server(text)


def test_parse_upstream_keeps_host_and_port() -> None:
    assert parse_upstream("[fd00::53]:5353") == Upstream("fd00::53", 5353)
    assert str(parse_upstream("fd00::53")) == "[fd00::53]:53"
    assert str(parse_upstream("10.0.0.2")) == "10.0.0.2:53"


def test_resolv_conf_names_only_the_servers_on_port_53() -> None:
    """resolv.conf has no ports: a MeshDNS on another port cannot be named there."""
    servers = ("10.0.0.1:53", "10.0.0.2:5353", "[fd00::1]:53")
    assert resolv_conf_servers(servers) == ("10.0.0.1", "fd00::1")
    assert resolv_conf_servers(()) == ()


def mesh_state() -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS)).state
    for one in (
        Node(
            id="Node-A",
            public_key=base64.b64encode(b"\x01" * 32).decode(),
            ipv4="172.16.0.1/32",
            ipv6="fd00:1:2:1::/64",
        ),
        Node(id="v4", public_key=base64.b64encode(b"\x02" * 32).decode(), ipv4="172.16.0.2/32"),
    ):
        transition = apply(state, commands.PutNode(one))
        assert transition.result.ok, transition.result
        state = transition.state
    return state


def test_lookup_gives_the_interface_addresses_of_a_node() -> None:
    state = mesh_state()
    lookup = lookup_in(lambda: state)
    assert lookup("Node-A") == Addresses(ipv4=("172.16.0.1",), ipv6=("fd00:1:2:1::1",))
    assert lookup("node-a") == lookup("Node-A")
    assert lookup("v4") == Addresses(ipv4=("172.16.0.2",), ipv6=())
    assert lookup("nobody") is None


def test_lookup_follows_the_latest_state() -> None:
    states = [apply(MeshState(), commands.Bootstrap(NETWORKS)).state]
    lookup = lookup_in(lambda: states[-1])
    assert lookup("v4") is None
    states.append(mesh_state())
    assert lookup("v4") == Addresses(ipv4=("172.16.0.2",))


async def test_a_host_resolver_that_is_not_an_address_is_skipped(tmp_path: Path) -> None:
    """The host's resolv.conf is not ours to validate: a line MeshDNS cannot use is left out,
    it does not stop the node from serving."""
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver dns.example\nnameserver 10.9.0.1\nnameserver fd00::53\n")
    settings = MeshDnsSettings(
        enabled=True,
        listen_port=0,
        listen_addresses=("127.0.0.1",),
        forwarders=(),
        no_forward=False,
    )
    meshdns = MeshDns(
        settings,
        use_meshdns=False,
        state=mesh_state,
        node_id="Node-A",
        interface="wm0",
        data_dir=tmp_path,
    )
    meshdns.resolver = hostresolver.ResolvConfFile(tmp_path / "saved", path=conf)
    await meshdns.start(("127.0.0.1",), "webmesh.internal")
    try:
        assert meshdns.server is not None and meshdns.server.forwarder is not None
        assert meshdns.server.forwarder.upstreams == (Upstream("10.9.0.1"), Upstream("fd00::53"))
    finally:
        await meshdns.close()
