"""The chart's Grafana dashboard ConfigMap: what Grafana's sidecar needs, and only when asked.

The sidecar of the grafana and kube-prometheus-stack charts loads every ConfigMap with the
``grafana_dashboard`` label and writes each data key to a file Grafana reads as a dashboard.
"""

from __future__ import annotations

import json
from typing import Any

import helm_python
import pytest

from support.chart import CHART_DIR, by_kind, lint, one, render_chart, validate_values

DASHBOARD = CHART_DIR / "dashboards" / "webmesh.json"


def dashboard_map(values: dict[str, Any] | None = None, **kwargs: str) -> dict[str, Any]:
    return one(render_chart(values, **kwargs), "ConfigMap")


def test_rendered_by_default_with_the_sidecar_label_and_the_json() -> None:
    config_map = dashboard_map()
    metadata = config_map["metadata"]
    assert metadata["name"] == "webmesh-grafana-dashboard"
    assert metadata["namespace"] == "webmesh-system"
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["labels"]["app.kubernetes.io/component"] == "grafana-dashboard"
    assert "annotations" not in metadata
    assert list(config_map["data"]) == ["webmesh.json"]
    text = config_map["data"]["webmesh.json"]
    assert text == DASHBOARD.read_text()  # byte for byte: the file in the repository
    assert json.loads(text)["uid"] == "webmesh"


def test_absent_when_disabled() -> None:
    manifests = render_chart({"grafanaDashboard": {"enabled": False}})
    assert by_kind(manifests, "ConfigMap") == []


def test_labels_annotations_namespace_and_release_name() -> None:
    values = {
        "grafanaDashboard": {
            "labels": {"team": "net"},
            "annotations": {"grafana_folder": "webmesh"},
            "namespace": "monitoring",
        }
    }
    metadata = dashboard_map(values, release="prod")["metadata"]
    assert metadata["name"] == "prod-webmesh-grafana-dashboard"
    assert metadata["namespace"] == "monitoring"
    assert {"grafana_dashboard": "1", "team": "net"}.items() <= metadata["labels"].items()
    assert metadata["annotations"] == {"grafana_folder": "webmesh"}


def test_another_sidecar_label_replaces_the_default() -> None:
    values = {"grafanaDashboard": {"labels": {"grafana_dashboard": None, "dashboards": "grafana"}}}
    labels = dashboard_map(values)["metadata"]["labels"]
    assert "grafana_dashboard" not in labels
    assert labels["dashboards"] == "grafana"


def test_lint_passes_with_the_dashboard_off() -> None:
    report = lint({"grafanaDashboard": {"enabled": False}})
    assert report["errors"] == []
    assert [message for message in report["messages"] if message["severity"] >= 2] == []


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"grafanaDashboard": {"enable": True}}, "'enable' not allowed"),
        ({"grafanaDashboard": {"enabled": "yes"}}, "/grafanaDashboard/enabled"),
        ({"grafanaDashboard": {"labels": {"grafana_dashboard": 1}}}, "/grafanaDashboard/labels"),
        ({"grafanaDashboard": {"namespace": "Monitoring"}}, "/grafanaDashboard/namespace"),
    ],
)
def test_bad_values_are_rejected(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=where):
        validate_values(values)
