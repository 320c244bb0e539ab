"""Conversions between domain records and webmesh.v1 messages (kept off the domain types)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from google.protobuf import timestamp_pb2

from webmesh.api.v1 import membership_pb2, mesh_pb2, node_pb2, types_pb2
from webmesh.mesh.model import Node, NodeRole
from webmesh.mesh.peers import Edge, Peer
from webmesh.mesh.state import MeshState
from webmesh.raft.store import RaftStatus
from webmesh.service.membership import JoinResult, JoinSpec
from webmesh.service.status import NodeStatus
from webmesh.wg.config import DeviceState

ROLES: dict[NodeRole, types_pb2.NodeRole] = {
    NodeRole.VOTER: types_pb2.NODE_ROLE_VOTER,
    NodeRole.OBSERVER: types_pb2.NODE_ROLE_OBSERVER,
    NodeRole.CLIENT: types_pb2.NODE_ROLE_CLIENT,
}
ROLE_NAMES: dict[int, str] = {int(v): k.value for k, v in ROLES.items()}


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    if seconds:
        stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def node_to_proto(
    node: Node, *, leader_id: str = "", last_seen: float | None = None
) -> types_pb2.MeshNode:
    """``last_seen``: when an offline node was last seen (None: the node is online)."""
    message = types_pb2.MeshNode(
        id=node.id,
        public_key=node.public_key,
        private_ipv4=node.ipv4,
        private_ipv6=node.ipv6,
        wireguard_endpoints=list(node.endpoints),
        primary_endpoint=node.primary_endpoint,
        role=ROLES[node.role],
        api_address=node.api_address,
        raft_address=node.raft_address,
        routes=list(node.routes),
        joined_at=timestamp(node.joined_at),
        is_leader=bool(leader_id) and node.id == leader_id,
        raft_key=node.raft_key,
        online=last_seen is None,
        ephemeral=node.ephemeral,
        meshdns_address=node.dns_address,
        observed_endpoint=node.observed_endpoint,
    )
    if last_seen is not None:
        message.last_seen.CopyFrom(timestamp(last_seen))
    return message


def peer_to_proto(peer: Peer, state: MeshState) -> types_pb2.WireGuardPeer:
    node = state.nodes.get(peer.node_id)
    message = _peer_message(peer)
    message.private_ipv4 = node.ipv4 if node else ""
    message.private_ipv6 = node.ipv6 if node else ""
    return message


def peer_from_proto(message: types_pb2.WireGuardPeer) -> Peer:
    return Peer(
        node_id=message.id,
        public_key=message.public_key,
        endpoint=message.endpoint,
        allowed_ips=tuple(message.allowed_ips),
        relay=message.relay,
        exit_routes=tuple(message.exit_routes),
        path=message.path,
    )


def graph_to_proto(nodes: list[str], edges: tuple[Edge, ...]) -> mesh_pb2.MeshGraph:
    return mesh_pb2.MeshGraph(
        nodes=nodes,
        edges=[
            mesh_pb2.MeshEdge(
                source=e.source, target=e.target, relayed_by=e.relayed_by, path=e.path, why=e.why
            )
            for e in edges
        ],
        dot=graph_dot(nodes, edges),
    )


# The look of every graph: rounded boxes, and a circle of nodes (a mesh has no hierarchy for
# `dot`'s ranks to show; circo draws a full mesh as a ring with its chords).
DOT_HEADER = (
    "  graph [layout=circo, fontname=Helvetica, pad=0.3];",
    '  node [shape=box, style="rounded,filled", fillcolor=white, fontname=Helvetica, fontsize=11];',
    "  edge [fontname=Helvetica, fontsize=9, color=gray30];",
)
PUNCHED = "#2f855a"  # a direct path through two NATs: green, its label too
# Fill colours by role, so the Raft voters stand out from the read-only replicas and clients.
ROLE_COLOURS = {
    types_pb2.NODE_ROLE_VOTER: "#cfe2ff",
    types_pb2.NODE_ROLE_OBSERVER: "#d1e7dd",
    types_pb2.NODE_ROLE_CLIENT: "#fff3cd",
}


class GraphEdge(Protocol):
    """An edge as the domain (``mesh.peers.Edge``) and the wire (``MeshEdge``) both spell it."""

    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def relayed_by(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def why(self) -> str: ...


def graph_dot(
    nodes: Sequence[str],
    edges: Iterable[GraphEdge],
    *,
    details: Mapping[str, types_pb2.MeshNode] | None = None,
) -> str:
    """Graphviz DOT: solid lines for direct links, dashed ones labelled with the relay.

    ``details`` (what ``ListNodes`` says of each node) adds each node's address, role and
    presence to its box; wmctl passes them, so that its pictures say more than the ids.
    """
    lines = ["graph webmesh {", *DOT_HEADER]
    lines += [_dot_node(n, (details or {}).get(n)) for n in nodes]
    for e in edges:
        style = ""
        if e.relayed_by:
            via = f"via {e.relayed_by}" + (" (punching)" if e.path == "punching" else "")
            style = f' [style=dashed, label="{via}"]'
        elif e.path == "direct" and e.why.startswith("hole punched"):
            style = f' [color="{PUNCHED}", fontcolor="{PUNCHED}", label="punched"]'
        lines.append(f'  "{e.source}" -- "{e.target}"{style};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(node_id: str, node: types_pb2.MeshNode | None) -> str:
    """A node's line: its id alone, or a box with its address, role and whether it is offline."""
    if node is None:
        return f'  "{node_id}";'
    address = node.private_ipv4.removesuffix("/32") or node.private_ipv6
    role = ROLE_NAMES.get(node.role, "unknown")
    facts = [role, "leader" if node.is_leader else "", "" if node.online else "offline"]
    lines = (node_id, address, ", ".join(fact for fact in facts if fact))
    label = "\\n".join(line for line in lines if line)
    attributes = [f'label="{label}"']
    if node.online:
        attributes.append(f'fillcolor="{ROLE_COLOURS.get(node.role, "white")}"')
    else:
        attributes.append('style="rounded,dashed", color=gray50, fontcolor=gray40')
    if node.is_leader:
        attributes.append("penwidth=2")
    return f'  "{node_id}" [{", ".join(attributes)}];'


def join_spec(request: membership_pb2.JoinRequest, observed_host: str = "") -> JoinSpec:
    return JoinSpec(
        node_id=request.id,
        public_key=request.public_key,
        endpoints=tuple(request.wireguard_endpoints),
        as_voter=request.as_voter,
        as_observer=request.as_observer,
        raft_port=request.raft_port,
        api_port=request.api_port,
        want_ipv6=request.want_ipv6,
        routes=tuple(request.routes),
        raft_address=request.raft_address,
        api_address=request.api_address,
        raft_key=request.raft_key,
        raft_key_previous=request.raft_key_previous,
        ephemeral=request.ephemeral,
        previous_public_key=request.previous_public_key,
        dns_port=request.meshdns_port,
        wireguard_port=request.wireguard_port,
        observed_host=observed_host,
    )


def join_response(result: JoinResult) -> membership_pb2.JoinResponse:
    return membership_pb2.JoinResponse(
        mesh_domain=result.networks.domain,
        network_ipv4=result.networks.ipv4,
        network_ipv6=result.networks.ipv6,
        address_ipv4=result.node.ipv4,
        address_ipv6=result.node.ipv6,
        peers=[_peer_message(p) for p in result.peers],
        raft_voters=list(result.voters),
        raft_keys=dict(result.raft_keys),
        leader_id=result.leader_id,
        role=ROLES[result.node.role],
        node=node_to_proto(result.node, leader_id=result.leader_id),
        meshdns_servers=list(result.dns_servers),
        observed_endpoint=result.node.observed_endpoint,
    )


def _peer_message(peer: Peer) -> types_pb2.WireGuardPeer:
    return types_pb2.WireGuardPeer(
        id=peer.node_id,
        public_key=peer.public_key,
        endpoint=peer.endpoint,
        allowed_ips=list(peer.allowed_ips),
        relay=peer.relay,
        exit_routes=list(peer.exit_routes),
        path=peer.path,
    )


def status_to_proto(status: NodeStatus) -> node_pb2.Status:
    raft = status.raft
    device = status.interface.device
    message = node_pb2.Status(
        id=status.node_id,
        version=status.version,
        started_at=timestamp(status.started_at),
        role=ROLES[status.role],
        node_count=status.node_count,
        is_leader=bool(status.leader_id) and status.leader_id == status.node_id,
        mesh_generation=status.mesh_generation,
        interface=node_pb2.InterfaceStatus(
            name=status.interface.name, addresses=list(status.interface.addresses)
        ),
    )
    if raft is not None:
        message.raft.CopyFrom(_raft_to_proto(raft, status.leader_id))
    if device is not None:
        _device_into(message.interface, device, status.peer_names)
    return message


def _raft_to_proto(raft: RaftStatus, leader_id: str) -> node_pb2.RaftStatus:
    return node_pb2.RaftStatus(
        state=raft.role.value,
        leader_id=leader_id,
        leader_address=raft.leader,
        term=raft.term,
        commit_index=raft.commit_index,
        applied_index=raft.applied_index,
        has_quorum=raft.has_quorum,
        voters=list(raft.voters),
        address=raft.self_address,
    )


def _device_into(
    message: node_pb2.InterfaceStatus, device: DeviceState, names: dict[str, str]
) -> None:
    message.public_key = device.public_key
    message.listen_port = device.listen_port
    message.total_rx_bytes = sum(p.rx_bytes for p in device.peers)
    message.total_tx_bytes = sum(p.tx_bytes for p in device.peers)
    for peer in device.peers:
        message.peers.append(
            node_pb2.PeerStatus(
                id=names.get(peer.public_key, ""),
                public_key=peer.public_key,
                endpoint=peer.endpoint,
                allowed_ips=list(peer.allowed_ips),
                last_handshake=timestamp(peer.last_handshake),
                rx_bytes=peer.rx_bytes,
                tx_bytes=peer.tx_bytes,
            )
        )
