"""meshapi's pure part: the observation built from what the mesh API answered (its messages)."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from webmesh.api import convert
from webmesh.client import wire
from webmesh.client.wire import types_pb2
from webmesh_operator import meshapi
from webmesh_operator.status import Member

SEEN = 1767225787.6  # 2026-01-01T00:03:07.6Z


def stamp(seconds: float) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromNanoseconds(int(seconds * 1e9))
    return result


def test_the_role_names_are_the_nodes_own() -> None:
    assert wire.ROLE_NAMES == convert.ROLE_NAMES


def test_members_carry_role_and_presence() -> None:
    nodes = [
        types_pb2.MeshNode(
            id="laptop",
            private_ipv4="172.16.0.9/32",
            role=types_pb2.NODE_ROLE_CLIENT,
            online=False,
            last_seen=stamp(SEEN),
            ephemeral=True,
        ),
        types_pb2.MeshNode(
            id="demo-0",
            private_ipv4="172.16.0.1/32",
            private_ipv6="fd00:1::/64",
            role=types_pb2.NODE_ROLE_VOTER,
            raft_address="172.16.0.1:9000",
            online=True,
        ),
        types_pb2.MeshNode(id="demo-app-0", role=types_pb2.NODE_ROLE_OBSERVER, online=False),
    ]
    seen = meshapi._observation("demo-0", ["172.16.0.1:9000"], nodes)
    assert seen.voters == ("demo-0",)
    assert seen.members == (
        Member("demo-0", ("172.16.0.1/32", "fd00:1::/64"), True, role="voter"),
        Member("demo-app-0", (), False, role="observer", online=False),
        Member(
            "laptop",
            ("172.16.0.9/32",),
            False,
            role="client",
            online=False,
            last_seen="2026-01-01T00:03:07Z",
            ephemeral=True,
        ),
    )


def test_an_online_node_has_no_last_seen_and_an_unknown_role_says_so() -> None:
    node = types_pb2.MeshNode(id="n", online=True, last_seen=stamp(SEEN))
    (member,) = meshapi._observation("n", [], [node]).members
    assert (member.role, member.online, member.last_seen) == ("unknown", True, "")
