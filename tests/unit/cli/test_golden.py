"""Golden output of wmctl: tables and canonical JSON for every resource it shows.

Regenerate with ``WMCTL_UPDATE_GOLDEN=1`` (see conftest.py) and review the diff.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from webmesh.api.v1 import admin_pb2, membership_pb2, mesh_pb2, node_pb2, types_pb2
from webmesh.cli import admin, output
from webmesh.cli import main as wmctl
from webmesh.mesh.objects import Kind

NOW = 1_800_000_000.0
Golden = Callable[[str, str], None]


def _ts(seconds_ago: float) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=int(NOW - seconds_ago))


NODES = [
    types_pb2.MeshNode(
        id="bootstrap-node",
        public_key="A" * 43 + "=",
        private_ipv4="172.16.0.1/32",
        private_ipv6="fd00:1::/64",
        primary_endpoint="10.0.0.1:51820",
        wireguard_endpoints=["10.0.0.1:51820"],
        role=types_pb2.NODE_ROLE_VOTER,
        api_address="172.16.0.1:8443",
        raft_address="172.16.0.1:9443",
        joined_at=_ts(3 * 86400),
        is_leader=True,
        online=True,
    ),
    types_pb2.MeshNode(
        id="node-b",
        public_key="B" * 43 + "=",
        private_ipv4="172.16.0.2/32",
        role=types_pb2.NODE_ROLE_OBSERVER,
        api_address="172.16.0.2:8443",
        raft_address="172.16.0.2:9443",
        joined_at=_ts(5 * 3600),
        online=True,
    ),
    types_pb2.MeshNode(
        id="laptop",
        public_key="C" * 43 + "=",
        private_ipv4="172.16.0.3/32",
        role=types_pb2.NODE_ROLE_CLIENT,
        joined_at=_ts(42),
        last_seen=_ts(12),
        ephemeral=True,
    ),
]

PEERS = membership_pb2.PeerList(
    index=17,
    peers=[
        types_pb2.WireGuardPeer(
            id="bootstrap-node",
            public_key="A" * 43 + "=",
            endpoint="10.0.0.1:51820",
            allowed_ips=["172.16.0.1/32", "fd00:1::/64", "172.16.0.0/12"],
            private_ipv4="172.16.0.1/32",
            private_ipv6="fd00:1::/64",
            relay=True,
        ),
        types_pb2.WireGuardPeer(
            id="node-b",
            public_key="B" * 43 + "=",
            allowed_ips=["172.16.0.2/32"],
            private_ipv4="172.16.0.2/32",
        ),
    ],
)

GRAPH = mesh_pb2.MeshGraph(
    nodes=["bootstrap-node", "laptop", "node-b"],
    edges=[
        mesh_pb2.MeshEdge(
            source="bootstrap-node",
            target="laptop",
            path="direct",
            why="bootstrap-node has an endpoint",
        ),
        mesh_pb2.MeshEdge(
            source="bootstrap-node",
            target="node-b",
            path="direct",
            why="bootstrap-node has an endpoint",
        ),
        mesh_pb2.MeshEdge(
            source="laptop",
            target="node-b",
            relayed_by="bootstrap-node",
            path="relayed",
            why="the hole punch failed (a NAT that maps each destination anew?)",
        ),
    ],
    dot='graph webmesh {\n  "bootstrap-node";\n  "laptop";\n  "node-b";\n'
    '  "bootstrap-node" -- "laptop";\n  "bootstrap-node" -- "node-b";\n'
    '  "laptop" -- "node-b" [style=dashed, label="via bootstrap-node"];\n}\n',
)

STATUS = node_pb2.Status(
    id="bootstrap-node",
    version="0.1.0",
    started_at=_ts(2 * 3600),
    role=types_pb2.NODE_ROLE_VOTER,
    node_count=3,
    is_leader=True,
    raft=node_pb2.RaftStatus(
        state="leader",
        leader_id="bootstrap-node",
        leader_address="172.16.0.1:9443",
        term=4,
        commit_index=120,
        applied_index=120,
        has_quorum=True,
        voters=["172.16.0.1:9443"],
        address="172.16.0.1:9443",
    ),
    interface=node_pb2.InterfaceStatus(
        name="webmesh0",
        public_key="A" * 43 + "=",
        listen_port=51820,
        addresses=["172.16.0.1/12", "fd00:1::/64"],
        total_rx_bytes=2048,
        total_tx_bytes=4096,
        peers=[
            node_pb2.PeerStatus(
                id="node-b",
                endpoint="10.0.0.2:51820",
                allowed_ips=["172.16.0.2/32"],
                last_handshake=_ts(75),
                rx_bytes=1024,
                tx_bytes=2048,
            ),
            node_pb2.PeerStatus(id="laptop", allowed_ips=["172.16.0.3/32"]),
        ],
    ),
)

OBJECTS: dict[Kind, list[Message]] = {
    Kind.ROLE: [
        admin_pb2.Role(
            name="acl-editor",
            rules=[admin_pb2.Rule(verbs=["get", "put"], resources=["networkacls"])],
        ),
        admin_pb2.Role(
            name="node-b-reader",
            rules=[admin_pb2.Rule(verbs=["get"], resources=["nodes"], resource_names=["node-b"])],
        ),
    ],
    Kind.ROLEBINDING: [
        admin_pb2.RoleBinding(
            name="acl-editors",
            role="acl-editor",
            subjects=[
                admin_pb2.Subject(kind="user", name="alice"),
                admin_pb2.Subject(kind="group", name="netops"),
            ],
        )
    ],
    Kind.GROUP: [
        admin_pb2.Group(
            name="web",
            members=[
                admin_pb2.Subject(kind="node", name="web-1"),
                admin_pb2.Subject(kind="node", name="web-2"),
            ],
        ),
        admin_pb2.Group(name="empty"),
    ],
    Kind.NETWORKACL: [
        admin_pb2.NetworkACL(
            name="deny-b-c",
            priority=100,
            action="deny",
            source_nodes=["node-b"],
            destination_nodes=["node-c"],
        ),
        admin_pb2.NetworkACL(
            name="no-lab",
            action="deny",
            source_nodes=["*"],
            destination_cidrs=["10.10.0.0/16"],
        ),
    ],
    Kind.ROUTE: [
        admin_pb2.Route(name="office-lan", node="gateway-1", destination_cidrs=["192.168.10.0/24"])
    ],
    Kind.PEERING: [
        admin_pb2.Peering(
            name="to-b",
            gateway="bootstrap-node",
            remote_public_key="D" * 43 + "=",
            remote_endpoint="b-1.example:51820",
            export_cidrs=["172.16.0.0/12"],
            accept_cidrs=["10.20.0.0/16", "fd00:b::/48"],
        ),
        admin_pb2.Peering(
            name="to-c",
            gateway="node-b",
            remote_public_key="E" * 43 + "=",
            export_cidrs=["172.16.0.2/32"],
            accept_cidrs=["10.30.0.0/16"],
        ),
    ],
}


class FakeMesh:
    """What the query commands call, answering with the fixtures above."""

    async def list_nodes(self) -> list[types_pb2.MeshNode]:
        return NODES

    async def get_node(self, node_id: str) -> types_pb2.MeshNode:
        return next(n for n in NODES if n.id == node_id)

    async def peers(self, node_id: str) -> membership_pb2.PeerList:
        return PEERS

    async def graph(self) -> mesh_pb2.MeshGraph:
        return GRAPH

    async def status(self) -> node_pb2.Status:
        return STATUS

    async def list_objects(self, kind: Kind) -> list[Message]:
        return OBJECTS[kind]


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output.time, "time", lambda: NOW)


async def run(*argv: str) -> str:
    args: argparse.Namespace = wmctl.build_parser().parse_args(list(argv))
    fake: Any = FakeMesh()
    return await wmctl.COMMANDS[args.command](fake, args)


CASES = [
    ("nodes.txt", ("get", "nodes")),
    ("nodes-wide.txt", ("get", "nodes", "-o", "wide")),
    ("nodes.json", ("get", "nodes", "-o", "json")),
    ("node.yaml", ("get", "node", "node-b", "-o", "yaml")),
    ("peers.txt", ("get", "peers", "laptop")),
    ("peers-wide.txt", ("get", "peers", "laptop", "-o", "wide")),
    ("peers.json", ("get", "peers", "laptop", "-o", "json")),
    ("graph.dot", ("get", "graph")),
    ("graph.json", ("get", "graph", "--format", "json")),
    ("graph.txt", ("get", "graph", "--format", "table")),
    ("status.txt", ("status",)),
    ("status.json", ("status", "-o", "json")),
]


@pytest.mark.parametrize(("name", "argv"), CASES, ids=[c[0] for c in CASES])
async def test_golden_output(name: str, argv: tuple[str, ...], golden: Golden) -> None:
    golden(name, await run(*argv))


@pytest.mark.parametrize("kind", list(Kind), ids=[k.value for k in Kind])
async def test_golden_policy_objects(kind: Kind, golden: Golden) -> None:
    plural = next(p for p, k in admin.RESOURCES.items() if k is kind)
    golden(f"{plural}.txt", await run("get", plural))
    golden(f"{plural}.json", await run("get", plural, "-o", "json"))


async def test_json_outputs_parse_and_use_the_canonical_names() -> None:
    nodes = json.loads(await run("get", "nodes", "-o", "json"))
    assert nodes[2]["role"] == "NODE_ROLE_CLIENT"
    graph = json.loads(await run("get", "graph", "-o", "json"))
    assert graph["edges"][0] == {
        "source": "bootstrap-node",
        "target": "laptop",
        "relayedBy": "",
        "path": "direct",
        "why": "bootstrap-node has an endpoint",
    }
    assert "dot" not in graph
    assert json.loads(await run("get", "peers", "x", "-o", "json"))["index"] == "17"
