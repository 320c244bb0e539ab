"""Rendering API messages for people (kubectl-like tables) and scripts (canonical JSON, YAML)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

from webmesh.api.convert import ROLE_NAMES
from webmesh.api.v1 import membership_pb2, mesh_pb2, node_pb2, types_pb2

FORMATS = ("table", "wide", "json", "yaml")


def to_jsonable(messages: Message | Sequence[Message]) -> Any:
    """protobuf's canonical JSON mapping (a list for several messages)."""
    if isinstance(messages, Message):
        return json_format.MessageToDict(messages)
    return [json_format.MessageToDict(m) for m in messages]


def render_data(messages: Message | Sequence[Message], fmt: str) -> str:
    data = to_jsonable(messages)
    if fmt == "yaml":
        return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return json.dumps(data, indent=2) + "\n"


def age(seconds: float, now: float | None = None) -> str:
    """kubectl-style age: 45s, 12m, 5h, 3d."""
    if seconds <= 0:
        return "<unknown>"
    delta = max(0, int((now if now is not None else time.time()) - seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta // size}{unit}"
    return f"{delta}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [
        "   ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
        for row in (headers, *rows)
    ]
    return "\n".join(lines) + "\n"


def nodes_table(
    nodes: Sequence[types_pb2.MeshNode], *, wide: bool, now: float | None = None
) -> str:
    headers = [
        "NAME", "ROLE", "LEADER", "STATUS", "LAST SEEN", "IPV4", "IPV6", "ENDPOINT", "OBSERVED",
        "AGE",
    ]  # fmt: skip
    if wide:
        headers += ["API", "RAFT", "PUBLIC KEY"]
    rows = []
    for n in nodes:
        row = [
            n.id,
            ROLE_NAMES.get(n.role, "unknown"),
            "*" if n.is_leader else "",
            "online" if n.online else "offline",
            last_seen(n, now),
            n.private_ipv4 or "<none>",
            n.private_ipv6 or "<none>",
            n.primary_endpoint or "<none>",
            n.observed_endpoint or "<none>",
            age(n.joined_at.ToNanoseconds() / 1e9 if n.HasField("joined_at") else 0, now),
        ]
        if wide:
            row += [n.api_address or "<none>", n.raft_address or "<none>", n.public_key]
        rows.append(row)
    return table(headers, rows)


def last_seen(node: types_pb2.MeshNode, now: float | None = None) -> str:
    """ "now" for an online node, else how long ago the leader last saw it ("5m ago")."""
    if node.online:
        return "now"
    seen = _seconds(node, "last_seen")
    return f"{age(seen, now)} ago" if seen else "<unknown>"


def presence_text(node: types_pb2.MeshNode, *, now: float | None = None) -> str:
    """The mesh's record of a node: ``wmctl status NODE`` prints it above the node's own view."""
    lines = [
        f"Node:        {node.id}",
        f"Role:        {ROLE_NAMES.get(node.role, 'unknown')}"
        + (" (leader)" if node.is_leader else "")
        + (", ephemeral" if node.ephemeral else ""),
        f"Status:      {'online' if node.online else 'offline'}, last seen {last_seen(node, now)}",
        f"Addresses:   {', '.join(a for a in (node.private_ipv4, node.private_ipv6) if a)}",
    ]
    return "\n".join(lines) + "\n"


def status_text(status: node_pb2.Status, *, now: float | None = None) -> str:
    raft = status.raft
    iface = status.interface
    lines = [
        f"Node:        {status.id}",
        f"Version:     {status.version}",
        f"Age:         {age(_seconds(status, 'started_at'), now)}",
        f"Role:        {ROLE_NAMES.get(status.role, 'unknown')}"
        + (" (leader)" if status.is_leader else ""),
        f"Mesh nodes:  {status.node_count}"
        + (f" (generation {status.mesh_generation})" if status.mesh_generation else ""),
        f"Raft:        state={raft.state or '-'} leader={raft.leader_id or '-'} term={raft.term} "
        f"commit={raft.commit_index} applied={raft.applied_index} quorum={raft.has_quorum}",
        f"Voters:      {', '.join(raft.voters) or '-'}",
        f"Interface:   {iface.name} port={iface.listen_port} "
        f"addresses={', '.join(iface.addresses)}",
        f"Traffic:     rx={iface.total_rx_bytes}B tx={iface.total_tx_bytes}B",
    ]
    rows = [
        [
            p.id or "?",
            p.endpoint or "<none>",
            ",".join(p.allowed_ips),
            age(p.last_handshake.ToSeconds(), now) if p.last_handshake.ToSeconds() else "never",
            str(p.rx_bytes),
            str(p.tx_bytes),
        ]
        for p in iface.peers
    ]
    peers = table(["PEER", "ENDPOINT", "ALLOWED IPS", "HANDSHAKE", "RX", "TX"], rows)
    return "\n".join(lines) + "\n\n" + peers


def _seconds(message: Any, field: str) -> float:
    """A Timestamp field in seconds, 0 when unset (shown as <unknown>)."""
    if not message.HasField(field):
        return 0.0
    return float(getattr(message, field).ToNanoseconds() / 1e9)


def peers_table(peers: membership_pb2.PeerList, *, wide: bool) -> str:
    """A node's WireGuard peers (``wmctl get peers NODE``), as the mesh computes them."""
    headers = ["NAME", "ENDPOINT", "IPV4", "IPV6", "ALLOWED IPS", "RELAY"]
    if wide:
        headers.append("PUBLIC KEY")
    rows = []
    for p in peers.peers:
        row = [
            p.id,
            p.endpoint or "<none>",
            p.private_ipv4 or "<none>",
            p.private_ipv6 or "<none>",
            ",".join(p.allowed_ips) or "<none>",
            "yes" if p.relay else "",
        ]
        if wide:
            row.append(p.public_key)
        rows.append(row)
    return table(headers, rows)


def graph_table(graph: mesh_pb2.MeshGraph) -> str:
    """The mesh's links as a table (``wmctl get graph -o table``)."""
    rows = [
        [
            e.source,
            e.target,
            e.path or ("relayed" if e.relayed_by else "direct"),
            e.relayed_by or "<direct>",
            e.why or "-",
        ]
        for e in graph.edges
    ]
    return table(["SOURCE", "TARGET", "PATH", "VIA", "WHY"], rows)


def graph_json(graph: mesh_pb2.MeshGraph) -> str:
    """Nodes and edges in the canonical JSON mapping (the DOT text is left out)."""
    data = json_format.MessageToDict(graph, always_print_fields_with_no_presence=True)
    data.pop("dot", None)
    return json.dumps(data, indent=2) + "\n"
