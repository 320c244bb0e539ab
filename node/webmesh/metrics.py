"""Prometheus metrics of a node (served at /metrics by :mod:`webmesh.metrics_http`).

Counters and histograms are module-level (one process, one node). Gauges that mirror state (Raft,
mesh size, WireGuard peers) are read at scrape time by ``NodeCollector`` from providers the daemon
passes in, so they are never stale and cost nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from webmesh.mesh.state import MeshState
from webmesh.prometheus import (
    REGISTRY,
    Collector,
    Counter,
    CounterMetricFamily,
    GaugeMetricFamily,
    Histogram,
    render,
)
from webmesh.raft.store import RaftRole, RaftStatus
from webmesh.wg.config import DeviceState

if TYPE_CHECKING:
    from webmesh.backup.status import BackupStatus
    from webmesh.dns.server import MeshDnsServer

GRPC_REQUESTS = Counter(
    "webmesh_grpc_requests_total",
    "gRPC requests served, by method and status code",
    ["method", "code"],
)
GRPC_DURATION = Histogram(
    "webmesh_grpc_request_duration_seconds", "gRPC request handling time", ["method"]
)
RECONCILE_DURATION = Histogram(
    "webmesh_reconcile_duration_seconds", "Time of one WireGuard reconcile pass"
)
RECONCILE_ERRORS = Counter("webmesh_reconcile_errors_total", "Failed WireGuard reconcile passes")


class NodeCollector(Collector):
    """Mirrors the node's Raft state, mesh size and WireGuard peers at scrape time."""

    def __init__(
        self,
        *,
        raft: Callable[[], RaftStatus | None],
        state: Callable[[], MeshState],
        device: Callable[[], DeviceState | None],
        peer_names: Callable[[], dict[str, str]],
        meshdns: Callable[[], MeshDnsServer | None] = lambda: None,
        backup: Callable[[], BackupStatus | None] = lambda: None,
    ) -> None:
        self._backup = backup
        self._meshdns = meshdns
        self._raft = raft
        self._state = state
        self._device = device
        self._peer_names = peer_names

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from self._raft_metrics()
        state = self._state()
        nodes = GaugeMetricFamily("webmesh_mesh_nodes", "Nodes in the replicated mesh state")
        nodes.add_metric([], len(state.nodes))
        yield nodes
        yield from _presence_metrics(state)
        yield from self._wireguard_metrics()
        yield from self._meshdns_metrics()
        yield from self._backup_metrics()

    def _backup_metrics(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        status = self._backup()
        if status is None:
            return
        for name, doc, value in (
            ("webmesh_backup_last_success_timestamp_seconds",
             "When the last backup was written (unix seconds; 0: none yet)", status.last_success),
            ("webmesh_backup_last_size_bytes", "Size of the last backup", status.last_bytes),
        ):  # fmt: skip
            gauge = GaugeMetricFamily(name, doc)
            gauge.add_metric([], float(value))
            yield gauge
        for name, doc, count in (
            ("webmesh_backup_failures", "Backups that failed", status.failures),
            ("webmesh_backup_written", "Backups written by this node", status.written),
        ):
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], float(count))
            yield counter

    def _meshdns_metrics(self) -> Iterator[CounterMetricFamily]:
        server = self._meshdns()
        if server is None:
            return
        queries = CounterMetricFamily(
            "webmesh_meshdns_queries",
            "MeshDNS queries answered, by outcome (answered, nxdomain, forwarded, servfail, "
            "refused, formerr, notimp)",
            labels=["outcome"],
        )
        for outcome, count in sorted(server.outcomes.items()):
            queries.add_metric([outcome], float(count))
        yield queries
        refused = CounterMetricFamily(
            "webmesh_meshdns_refused",
            "MeshDNS queries dropped or refused and TCP connections closed, by reason",
            labels=["reason"],
        )
        for reason, count in sorted(server.refusals.items()):
            refused.add_metric([reason], float(count))
        yield refused

    def _raft_metrics(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        status = self._raft()
        if status is None:
            return
        role = GaugeMetricFamily(
            "webmesh_raft_state", "1 for this node's Raft role", labels=["state"]
        )
        for candidate in RaftRole:
            role.add_metric([candidate.value], 1.0 if status.role is candidate else 0.0)
        yield role
        for name, doc, value in (
            ("webmesh_raft_term", "Current Raft term", status.term),
            ("webmesh_raft_commit_index", "Raft commit index", status.commit_index),
            ("webmesh_raft_applied_index", "Last applied Raft index", status.applied_index),
            ("webmesh_raft_voters", "Raft voting members", len(status.voters)),
            ("webmesh_raft_has_quorum", "1 when this node sees a quorum", int(status.has_quorum)),
        ):
            gauge = GaugeMetricFamily(name, doc)
            gauge.add_metric([], float(value))
            yield gauge
        changes = CounterMetricFamily("webmesh_raft_leader_changes", "Leader changes seen")
        changes.add_metric([], float(status.leader_changes))
        yield changes
        refused = CounterMetricFamily(
            "webmesh_raft_refused_connections",
            "Raft connections closed on the peer, by reason (unknown_key: no replica of the mesh)",
            labels=["reason"],
        )
        for reason, count in status.refused:
            refused.add_metric([reason], float(count))
        yield refused

    def _wireguard_metrics(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        device = self._device()
        peers = GaugeMetricFamily("webmesh_wireguard_peers", "WireGuard peers configured")
        peers.add_metric([], len(device.peers) if device else 0)
        yield peers
        if device is None:
            return
        names = self._peer_names()
        labels = ["peer", "public_key"]
        rx = CounterMetricFamily("webmesh_wireguard_peer_rx_bytes", "Bytes received", labels=labels)
        tx = CounterMetricFamily("webmesh_wireguard_peer_tx_bytes", "Bytes sent", labels=labels)
        handshake = GaugeMetricFamily(
            "webmesh_wireguard_peer_last_handshake_seconds",
            "Unix time of the last handshake",
            labels=labels,
        )
        for peer in device.peers:
            key = [names.get(peer.public_key, ""), peer.public_key]
            rx.add_metric(key, float(peer.rx_bytes))
            tx.add_metric(key, float(peer.tx_bytes))
            handshake.add_metric(key, peer.last_handshake)
        yield from (rx, tx, handshake)


__all__ = [
    "GRPC_DURATION",
    "GRPC_REQUESTS",
    "RECONCILE_DURATION",
    "RECONCILE_ERRORS",
    "REGISTRY",
    "NodeCollector",
    "render",
]


def _presence_metrics(state: MeshState) -> Iterator[GaugeMetricFamily]:
    """Who is online (webmesh.mesh.presence): a count per status, and when each offline node
    was last seen (only offline nodes have a sample: the series stay few in a healthy mesh)."""
    offline = len([i for i in state.offline if i in state.nodes])
    by_status = GaugeMetricFamily(
        "webmesh_mesh_nodes_by_status",
        "Nodes online and offline, as the leader sees them",
        labels=["status"],
    )
    by_status.add_metric(["online"], len(state.nodes) - offline)
    by_status.add_metric(["offline"], offline)
    yield by_status
    last_seen = GaugeMetricFamily(
        "webmesh_node_last_seen_timestamp_seconds",
        "When an offline node was last seen (unix seconds); online nodes have no sample",
        labels=["node"],
    )
    for node_id, seen in sorted(state.offline.items()):
        if node_id in state.nodes:
            last_seen.add_metric([node_id], seen)
    yield last_seen
