"""Exit nodes: default routes reach only the nodes that opted in, and only by policy routing."""

from __future__ import annotations

import base64

from webmesh.mesh import commands, peers
from webmesh.mesh.feed import StaticFeed
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.peers import Peer
from webmesh.mesh.state import MeshState, apply
from webmesh.reconcile.desired import LocalInterface, desired, incremental_plan
from webmesh.reconcile.loop import Reconciler
from webmesh.wg.fake import FakeDriver, FakeLinks
from webmesh.wg.netlink import EXIT_TABLE

NETWORKS = Networks(ipv4="172.16.0.0/12", ipv6="fd00:1:2::/48", domain="webmesh.internal")
KEY_L = "L" * 43 + "="


def node(node_id: str, n: int, **kw: object) -> Node:
    key = base64.b64encode(bytes([n]) * 32).decode()
    fields: dict[str, object] = {"ipv4": f"172.16.0.{n}/32", "role": NodeRole.OBSERVER}
    fields.update(kw)
    return Node(id=node_id, public_key=key, joined_at=float(n), **fields)  # type: ignore[arg-type]


def mesh(*nodes: Node) -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS)).state
    for one in nodes:
        state = apply(state, commands.PutNode(one)).state
    return state


EXIT = node("gw", 1, endpoints=("10.0.0.1:51820",), routes=("0.0.0.0/0", "::/0", "10.9.0.0/16"))
OTHER = node("other", 2, endpoints=("10.0.0.2:51820",))
BEHIND = node("behind", 3)


def local(exit_node: str = "", addresses: tuple[str, ...] = ("172.16.0.3/12",)) -> LocalInterface:
    return LocalInterface(
        name="wm-test", private_key=KEY_L, listen_port=51820, mtu=1420,
        addresses=addresses, networks=("172.16.0.0/12",), exit_node=exit_node,
    )  # fmt: skip


def test_no_peer_carries_a_default_route_but_the_exit_node_offers_it_apart() -> None:
    state = mesh(EXIT, OTHER, BEHIND)
    for local_id in ("other", "behind"):
        entry = {p.node_id: p for p in peers.peers_of(state, local_id)}["gw"]
        assert "0.0.0.0/0" not in entry.allowed_ips and "::/0" not in entry.allowed_ips
        assert "10.9.0.0/16" in entry.allowed_ips  # other routes still go to it
        assert entry.exit_routes == ("0.0.0.0/0", "::/0")
    assert peers.forwards_traffic(state, "gw")
    assert not peers.exit_routes_of(state, OTHER)


def test_a_relay_never_carries_the_default_route_of_a_node_behind_it() -> None:
    hidden_exit = node("hidden", 4, routes=("0.0.0.0/0",))
    state = mesh(OTHER, BEHIND, hidden_exit)
    relay = {p.node_id: p for p in peers.peers_of(state, "behind")}["other"]
    assert relay.relay and "0.0.0.0/0" not in relay.allowed_ips


def test_an_exit_route_given_by_a_route_object_counts_too() -> None:
    from webmesh.mesh.objects import Kind, Route  # noqa: PLC0415

    state = mesh(OTHER, BEHIND)
    state = apply(
        state, commands.PutObject(Kind.ROUTE, Route("out", "other", ("0.0.0.0/0",)))
    ).state
    assert state.objects.routes_by_node["other"] == ("0.0.0.0/0",)
    entry = {p.node_id: p for p in peers.peers_of(state, "behind")}["other"]
    assert entry.exit_routes == ("0.0.0.0/0",)
    assert "0.0.0.0/0" not in entry.allowed_ips


def exit_peer(routes: tuple[str, ...] = ("0.0.0.0/0", "::/0")) -> Peer:
    return Peer("gw", "G" * 43 + "=", "10.0.0.1:51820", ("172.16.0.1/32",), exit_routes=routes)


def test_only_the_node_that_opted_in_routes_its_internet_traffic_to_the_exit_node() -> None:
    plain = desired(local(), [exit_peer()])
    assert plain.exit_routes == () and plain.device.fwmark == 0
    assert plain.device.peers[0].allowed_ips == ("172.16.0.1/32",)
    opted = desired(local("gw"), [exit_peer()])
    assert opted.exit_routes == ("0.0.0.0/0",)  # no IPv6 address of its own: IPv4 only
    assert opted.device.fwmark == EXIT_TABLE
    assert opted.device.peers[0].allowed_ips == ("0.0.0.0/0", "172.16.0.1/32")
    assert opted.routes == ()  # never a default route in the main table
    dual = desired(local("gw", ("172.16.0.3/12", "fd00:1:2:3::1/48")), [exit_peer()])
    assert dual.exit_routes == ("0.0.0.0/0", "::/0")


def test_an_exit_node_that_stops_offering_is_not_used() -> None:
    assert desired(local("gw"), [exit_peer(routes=())]).exit_routes == ()
    assert desired(local("gw"), []).exit_routes == ()


def test_the_fast_path_adds_the_exit_routes_to_the_chosen_peer() -> None:
    plan = incremental_plan(local("gw"), {}, {"gw": exit_peer()})
    assert plan.add[0].allowed_ips == ("0.0.0.0/0", "172.16.0.1/32")


async def test_the_reconciler_turns_exit_routing_and_masquerading_on_and_off() -> None:
    driver = FakeDriver()
    links = FakeLinks(driver=driver)
    feed = StaticFeed([exit_peer()])
    exit_node = [False]
    reconciler = Reconciler(
        driver=driver, links=links, local=local("gw"), feed=feed,
        masquerade=lambda: exit_node[0],
    )  # fmt: skip
    await reconciler.bring_up()
    assert links.exit_routing == {"wm-test": ("0.0.0.0/0",)}
    assert (await driver.show("wm-test")).fwmark == EXIT_TABLE
    exit_node[0] = True
    feed.set([exit_peer(routes=())])  # the exit node stopped offering
    await reconciler.reconcile_once()
    assert links.exit_routing == {}
    assert (await driver.show("wm-test")).fwmark == 0
    assert links.masquerading == {"wm-test"}
    await reconciler.tear_down()
    assert links.masquerading == set() and links.exit_routing == {}
