"""The Grafana dashboard (charts/webmesh/dashboards/webmesh.json), checked without a mesh.

Every panel has a query; every metric, label and gRPC method a query names is one the node
exports (rendered from webmesh.metrics with a fake node), so a renamed metric fails here at
once. tests/netns/test_grafana_dashboard.py runs every query against a real Prometheus
scraping a real mesh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webmesh import metrics
from webmesh.api.v1 import admin_pb2, membership_pb2, mesh_pb2, node_pb2
from webmesh.mesh.state import MeshState
from webmesh.raft.store import RaftRole, RaftStatus
from webmesh.wg.config import DeviceState, PeerState

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "charts" / "webmesh" / "dashboards" / "webmesh.json"
ROWS = ["Mesh", "Raft", "API", "WireGuard", "Reconcile"]
# What Grafana substitutes, and the dashboard's own variables.
VARIABLES = {"__rate_interval", "__range", "__interval", "job", "instance"}
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped sample
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included (a collapsed row keeps its panels inside)."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every target of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def exported() -> dict[str, set[str]]:
    """Every series name a node exports (as Prometheus stores it) -> its label names."""
    peer = PeerState("a2V5", last_handshake=1.0, rx_bytes=1, tx_bytes=1)
    address = "10.0.0.1:9443"
    raft = RaftStatus(address, RaftRole.LEADER, address, 1, 1, 1, (address,), has_quorum=True,
                      ready=True, leader_changes=1, refused=(("x", 1),))  # fmt: skip
    collector = metrics.NodeCollector(
        raft=lambda: raft,
        state=MeshState,
        device=lambda: DeviceState(peers=(peer,)),
        peer_names=lambda: {peer.public_key: "peer"},
    )
    families = [*collector.collect(), *metrics.REGISTRY.collect()]
    names: dict[str, set[str]] = {}
    for family in families:
        declared = set(getattr(family, "_labelnames", ()))  # a *MetricFamily's, even unsampled
        for suffix in SUFFIXES.get(family.type, ("",)):
            names[family.name + suffix] = declared | ({"le"} if suffix == "_bucket" else set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    # Labelled metrics with no child yet have no samples: take their declared label names.
    for metric in (metrics.GRPC_REQUESTS, metrics.GRPC_DURATION):
        for suffix in SUFFIXES[metric._type]:
            declared = set(metric._labelnames) | ({"le"} if suffix == "_bucket" else set())
            names[metric._name + suffix] = declared
    return names


def grpc_paths() -> set[str]:
    """The method label's values: "/<package>.<Service>/<Method>" of every RPC we serve."""
    return {
        f"/{service.full_name}/{method.name}"
        for module in (admin_pb2, membership_pb2, mesh_pb2, node_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }


def test_identity_and_variables() -> None:
    dashboard = load()
    assert (dashboard["uid"], dashboard["title"]) == ("webmesh", "webmesh")
    assert dashboard["id"] is None  # Grafana assigns it; the sidecar refuses to overwrite by id
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance"]
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource",
        "prometheus",
    )
    for name in ("job", "instance"):
        assert variables[name]["definition"].startswith("label_values(webmesh_mesh_nodes")
        assert variables[name]["allValue"] == ".*"


def test_rows_in_order() -> None:
    titles = [panel["title"] for panel in load()["panels"] if panel["type"] == "row"]
    assert titles == ROWS


def test_every_panel_queries_prometheus_through_the_variable() -> None:
    dashboard = load()
    seen_ids: set[int] = set()
    for panel in panels(dashboard):
        assert panel["id"] not in seen_ids, panel["title"]
        seen_ids.add(panel["id"])
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"stat", "timeseries"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        targets = panel["targets"]
        assert targets, f"{panel['title']} has no query"
        for target in targets:
            assert target["expr"].strip(), f"{panel['title']} has an empty query"
            assert target["datasource"] == panel["datasource"], panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]


def test_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(load()):
        position = panel["gridPos"]
        for x in range(position["x"], position["x"] + position["w"]):
            for y in range(position["y"], position["y"] + position["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_rates_use_the_rate_interval() -> None:
    for title, expr in queries(load()):
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert window in {"$__rate_interval", "$__range"}, f"{title}: [{window}]"


def test_only_known_variables() -> None:
    for title, expr in queries(load()):
        used = set(re.findall(r"\$\{?(\w+)", expr))
        assert used <= VARIABLES, f"{title}: {sorted(used - VARIABLES)}"


@pytest.mark.parametrize(("title", "expr"), queries(load()), ids=lambda value: str(value)[:40])
def test_every_metric_and_label_exists(title: str, expr: str) -> None:
    names = exported()
    used = set(re.findall(r"\bwebmesh_[a-z0-9_]+\b", expr))
    assert used, f"{title}: no webmesh metric in {expr}"
    assert sorted(used - set(names)) == [], f"{title}: not exported by the node"
    labels = set().union(*(names[name] for name in used)) | TARGET_LABELS
    matched = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
    grouped = {
        label.strip()
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
        for label in group.split(",")
        if label.strip()
    }
    assert sorted((matched | grouped) - labels) == [], f"{title}: labels the metrics lack"
    for method in re.findall(r'method=~?"([^"]+)"', expr):
        assert method in grpc_paths(), f"{title}: no RPC {method}"


def test_the_dashboard_covers_what_the_issue_asks() -> None:
    """Nodes online, Raft leader changes and commit rate, join rate and latency, WireGuard peers
    and handshake age, bytes per peer, reconcile errors (issue 19)."""
    text = " ".join(expr for _, expr in queries(load()))
    for needed in (
        'webmesh_mesh_nodes_by_status{job=~"$job", status="online"}',
        "increase(webmesh_raft_leader_changes_total",
        "rate(webmesh_raft_commit_index",
        'instance=~"$instance", method="/webmesh.v1.Membership/Join"}[$__rate_interval]',
        "histogram_quantile(0.99, sum by (le) (rate(webmesh_grpc_request_duration_seconds_bucket",
        "webmesh_wireguard_peers{",
        "time() - (webmesh_wireguard_peer_last_handshake_seconds",
        "rate(webmesh_wireguard_peer_rx_bytes_total",
        "rate(webmesh_wireguard_peer_tx_bytes_total",
        "increase(webmesh_reconcile_errors_total",
    ):
        assert needed in text, needed
