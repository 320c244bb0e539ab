"""The snapshot file: what save writes is what restore and inspect read, and nothing else is."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from webmesh import errors
from webmesh.authz.acl import AclAction, NetworkACL
from webmesh.mesh import commands, snapshotfile
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.objects import Kind
from webmesh.mesh.state import MeshState, apply, to_snapshot


def key(n: int) -> str:
    return base64.b64encode(bytes([n + 1]) * 32).decode()


def mesh() -> MeshState:
    state = MeshState()
    nodes = [
        Node(id="s1", public_key=key(1), ipv4="172.16.0.1/32", role=NodeRole.VOTER),
        Node(id="b", public_key=key(2), ipv4="172.16.0.2/32", observed_endpoint="1.2.3.4:5"),
    ]
    steps: list[commands.Command] = [
        commands.Bootstrap(Networks("172.16.0.0/12", "fd00:1::/48", "corp.example")),
        *(commands.PutNode(n) for n in nodes),
        commands.PutObject(
            Kind.NETWORKACL,
            NetworkACL(
                name="deny-b",
                priority=10,
                action=AclAction.DENY,
                source_nodes=("b",),
                destination_nodes=("s1",),
            ),
        ),
    ]
    for step in steps:
        transition = apply(state, step)
        assert transition.result.ok, transition.result
        state = transition.state
    return state


def test_what_is_saved_reads_back_as_the_same_state() -> None:
    state = mesh()
    header, restored = snapshotfile.decode(snapshotfile.encode(state, created_at=1.5e9))
    assert to_snapshot(restored) == to_snapshot(state)
    assert (header.domain, header.ipv4, header.ipv6) == (
        "corp.example",
        "172.16.0.0/12",
        "fd00:1::/48",
    )
    assert header.index == state.index and header.created_at == 1.5e9


def test_summary_counts_nodes_roles_and_objects() -> None:
    header, state = snapshotfile.decode(snapshotfile.encode(mesh(), created_at=0))
    summary = snapshotfile.summary(header, state)
    assert summary["nodes"] == 2
    assert summary["by_role"] == {"voter": 1, "observer": 1, "client": 0}
    assert summary["objects"][f"{Kind.NETWORKACL.value}s"] == 1


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda d: d[:-1], "cut short"),
        (lambda d: d + b" ", "cut short or padded"),
        (lambda d: d[:-2] + bytes([d[-2] ^ 1]) + d[-1:], "corrupted"),
        (lambda d: b"hello world\n" + d, "not a webmesh snapshot"),
        (lambda d: d.replace(b'"v": 1', b'"v": 9', 1), "version 9"),
        (lambda d: d.replace(b"\n", b" ", 1), "no header line"),
        (lambda d: b"", "no header line"),
    ],
)
def test_a_damaged_or_foreign_file_is_refused_saying_why(damage, why) -> None:  # type: ignore[no-untyped-def]
    data = snapshotfile.encode(mesh(), created_at=0)
    with pytest.raises(errors.InvalidArgument, match=why):
        snapshotfile.decode(damage(data), source="mesh.snapshot")


def test_a_checksummed_body_that_is_not_a_state_is_refused() -> None:
    body = json.dumps({"v": 99}).encode()
    header = snapshotfile.Header(
        0, 0, "x", "10.0.0.0/8", "", hashlib.sha256(body).hexdigest(), len(body)
    )
    data = json.dumps(header.to_dict()).encode() + b"\n" + body
    with pytest.raises(errors.InvalidArgument, match="state"):
        snapshotfile.decode(data)


def test_a_mesh_not_bootstrapped_has_nothing_to_save() -> None:
    with pytest.raises(errors.FailedPrecondition):
        snapshotfile.encode(MeshState(), created_at=0)
