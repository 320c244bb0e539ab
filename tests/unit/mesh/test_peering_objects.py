"""Peering objects: they validate themselves, refuse accepted prefixes that would mean two places
(this mesh's networks, another peering's), name an existing gateway, compile into the routes of
their gateway, reach the gateway's reconcile and survive a snapshot."""

from __future__ import annotations

import base64
import json

import pytest

from webmesh import errors
from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.objects import Kind, Objects, Peering, Route, check_peering
from webmesh.mesh.state import (
    MeshState,
    ObjectChanged,
    Transition,
    apply,
    changed_node_ids,
    from_snapshot,
    to_snapshot,
)

NETWORKS = Networks(ipv4="10.10.0.0/16", ipv6="fd00:a::/48", domain="a.internal")
MESH = ("10.10.0.0/16", "fd00:a::/48")
KEY = base64.b64encode(b"r" * 32).decode()


def peering(name: str = "to-b", gateway: str = "gw", **kw: object) -> Peering:
    fields: dict[str, object] = {
        "remote_public_key": KEY,
        "export_cidrs": ("10.10.0.0/16",),
        "accept_cidrs": ("10.20.0.0/16",),
        "remote_endpoint": "192.0.2.9:51820",
    }
    fields.update(kw)
    return Peering(name, gateway, **fields)  # type: ignore[arg-type]


def mesh(*node_ids: str) -> MeshState:
    state = apply(MeshState(), commands.Bootstrap(NETWORKS)).state
    for n, node_id in enumerate(node_ids, start=1):
        key = base64.b64encode(bytes([n]) * 32).decode()
        node = Node(id=node_id, public_key=key, ipv4=f"10.10.0.{n}/32", role=NodeRole.OBSERVER)
        state = apply(state, commands.PutNode(node)).state
    return state


def put(state: MeshState, obj: Peering | Route, **kw: bool) -> Transition:
    kind = Kind.PEERING if isinstance(obj, Peering) else Kind.ROUTE
    return apply(state, commands.PutObject(kind, obj, **kw))


def stored(state: MeshState, *objs: Peering | Route) -> MeshState:
    for obj in objs:
        t = put(state, obj)
        assert t.result.ok, t.result.error_message
        state = t.state
    return state


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"remote_public_key": "nope"}, "invalid WireGuard public key"),
        ({"remote_public_key": base64.b64encode(b"k" * 16).decode()}, "16 bytes, expected 32"),
        ({"remote_endpoint": "b-1.example"}, "b-1.example"),
        ({"remote_endpoint": "192.0.2.9:99999"}, "192.0.2.9:99999"),
        ({"export_cidrs": ()}, "has no export CIDR"),
        ({"accept_cidrs": ()}, "has no accept CIDR"),
        ({"accept_cidrs": ("10.20.0.0/33",)}, "10.20.0.0/33"),
        ({"export_cidrs": ("not-a-cidr",)}, "not-a-cidr"),
    ],
)
def test_a_bad_peering_is_an_invalid_argument(changes: dict[str, object], says: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=says):
        peering(**changes)


@pytest.mark.parametrize(("name", "gateway"), [("To_B", "gw"), ("to-b", ""), ("to-b", "no spaces")])
def test_names_and_gateway_ids_are_checked(name: str, gateway: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        peering(name, gateway)


def test_the_remote_endpoint_is_optional_and_a_dict_round_trips() -> None:
    dialed_in = peering(remote_endpoint="")
    assert dialed_in.remote_endpoint == ""
    raw = json.loads(json.dumps(peering().to_dict()))
    assert Peering.from_dict(raw) == peering()
    del raw["remote_endpoint"]
    assert Peering.from_dict(raw) == dialed_in
    del raw["accept_cidrs"]
    with pytest.raises(errors.InvalidArgument, match="malformed peering"):
        Peering.from_dict(raw)


# --- check_peering ----------------------------------------------------------------------------


def objects(*peerings: Peering) -> Objects:
    found = Objects()
    for p in peerings:
        found = found.put(Kind.PEERING, p)
    return found


@pytest.mark.parametrize("accepted", ["10.10.5.0/24", "10.0.0.0/8", "fd00:a:0:1::/64", "::/0"])
def test_accepting_this_meshs_network_is_refused(accepted: str) -> None:
    clash = peering(accept_cidrs=(accepted,))
    with pytest.raises(errors.InvalidArgument) as caught:
        check_peering(clash, MESH, Objects())
    message = str(caught.value)
    assert "overlaps this mesh's network" in message
    assert "--bootstrap.ipv4-network" in message


def test_accepting_what_another_peering_accepts_is_refused() -> None:
    other = peering("to-c", accept_cidrs=("10.20.128.0/17",))
    with pytest.raises(errors.InvalidArgument, match="which peering to-c accepts"):
        check_peering(peering(), MESH, objects(other))


def test_ipv4_and_ipv6_never_overlap() -> None:
    v6 = peering("to-c", accept_cidrs=("::/0",))
    check_peering(peering(accept_cidrs=("0.0.0.0/0",)), ("fd00:a::/48",), objects(v6))


def test_re_putting_the_same_peering_is_fine() -> None:
    check_peering(peering(), MESH, objects(peering()))
    check_peering(peering(accept_cidrs=("10.20.0.0/17",)), MESH, objects(peering()))


# --- compiled views ---------------------------------------------------------------------------


def test_accepted_prefixes_are_routed_through_the_gateway_beside_its_routes() -> None:
    found = objects(peering(), peering("to-c", "gw2", accept_cidrs=("10.30.0.0/16",)))
    found = found.put(Kind.ROUTE, Route("lan", "gw", ("192.168.1.0/24", "10.20.0.0/16")))
    assert found.routes_by_node == {
        "gw": ("10.20.0.0/16", "192.168.1.0/24"),
        "gw2": ("10.30.0.0/16",),
    }


def test_peerings_by_gateway_sorted_by_name() -> None:
    to_d = peering("to-d", accept_cidrs=("10.40.0.0/16",))
    to_c = peering("to-c", "gw2", accept_cidrs=("10.30.0.0/16",))
    found = objects(to_d, peering(), to_c)
    assert found.peerings_by_gateway == {"gw": (peering(), to_d), "gw2": (to_c,)}
    assert found.delete(Kind.PEERING, "to-c").peerings_by_gateway == {"gw": (peering(), to_d)}
    assert Objects().peerings_by_gateway == {}


# --- the state machine ------------------------------------------------------------------------


def test_apply_refuses_an_overlap_and_keeps_the_state() -> None:
    state = mesh("gw")
    t = put(state, peering(accept_cidrs=("10.10.0.0/24",)))
    assert t.result.error_kind == "InvalidArgument"
    assert "overlaps this mesh's network 10.10.0.0/16" in t.result.error_message
    assert t.state.objects == state.objects
    state = stored(state, peering())
    t = put(state, peering("to-c", accept_cidrs=("10.20.1.0/24",)))
    assert t.result.error_kind == "InvalidArgument"
    assert "10.20.1.0/24 overlaps 10.20.0.0/16, which peering to-b accepts" in (
        t.result.error_message
    )


def test_apply_refuses_a_missing_gateway_unless_allowed() -> None:
    state = mesh("gw")
    t = put(state, peering(gateway="nosuch"))
    assert t.result.error_kind == "NotFound"
    assert t.result.error_message == "peering to-b: node 'nosuch' is not in the mesh"
    t = put(state, peering(gateway="nosuch"), allow_missing_nodes=True)
    assert t.result.ok and t.state.objects.peerings_by_gateway["nosuch"] == (
        peering(gateway="nosuch"),
    )


def test_a_peering_change_touches_its_gateways_only() -> None:
    state = stored(mesh("gw", "gw2", "a3"), peering())
    moved = put(state, peering(gateway="gw2"))
    assert moved.effects == (ObjectChanged(Kind.PEERING, peering(), peering(gateway="gw2")),)
    assert changed_node_ids(moved.effects) == {"gw", "gw2"}
    gone = apply(moved.state, commands.DeleteObject(Kind.PEERING, "to-b"))
    assert changed_node_ids(gone.effects) == {"gw2"}
    assert gone.state.objects.peerings_by_gateway == {}


def test_peerings_survive_a_snapshot() -> None:
    dialed_in = peering("to-c", "a3", remote_endpoint="", accept_cidrs=("fd00:c::/48",))
    state = stored(mesh("gw", "a3"), peering(), dialed_in)
    restored = from_snapshot(json.loads(json.dumps(to_snapshot(state))))
    assert restored == state
    assert restored.objects.by_kind[Kind.PEERING] == {"to-b": peering(), "to-c": dialed_in}
    assert restored.objects.peerings_by_gateway == state.objects.peerings_by_gateway
    assert restored.objects.routes_by_node == {"gw": ("10.20.0.0/16",), "a3": ("fd00:c::/48",)}


def test_a_put_travels_through_the_log_unchanged() -> None:
    command = commands.PutObject(Kind.PEERING, peering(), allow_missing_nodes=True)
    assert commands.decode(commands.encode(command)) == command
