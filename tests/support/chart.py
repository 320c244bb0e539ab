"""Render and lint charts/webmesh offline with helm-python-sdk, the Helm v4 Go SDK as a C library.

No ``helm`` binary exists in CI; this SDK is Helm's own code (template engine, schema validation,
lint rules, CRD handling), so what it renders is what ``helm install`` would send. The real-API-
server tests take the chart's ClusterRole from :func:`render_chart`, so the RBAC they grant the
operator is the chart's, not a copy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "charts" / "webmesh"
GENERATOR = ROOT / "scripts" / "generate_chart_crds.py"


def render_chart(
    values: dict[str, Any] | None = None,
    *,
    namespace: str = "webmesh-system",
    release: str = "webmesh",
) -> list[dict[str, Any]]:
    """Every manifest ``helm install`` would create: the CRDs from crds/ first, then templates.

    Templates come in path order; empty documents and NOTES.txt are skipped. Raises
    ``helm_python.HelmValuesError`` when ``values`` break values.schema.json and
    ``helm_python.HelmRenderError`` when a template fails.
    """
    with helm_python.Chart.load(CHART_DIR) as chart:
        crds = [crd["data"] for crd in chart.crds]
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    templates = [text for path, text in sorted(rendered.items()) if not path.endswith("NOTES.txt")]
    return [document for text in crds + templates for document in _documents(text)]


def render_notes(
    values: dict[str, Any] | None = None,
    *,
    namespace: str = "webmesh-system",
    release: str = "webmesh",
) -> str:
    """The NOTES.txt shown after ``helm install``."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))


def lint(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``helm lint --strict`` of the chart: ``{"messages": [...], "errors": [...]}``."""
    return helm_python.lint(CHART_DIR, values, strict=True, namespace="webmesh-system")


def validate_values(values: dict[str, Any]) -> None:
    """Check ``values`` (merged onto the defaults) against values.schema.json, as Helm does."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        chart.validate_schema(chart.merge_values(values))


def crd_generator() -> ModuleType:
    """scripts/generate_chart_crds.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_chart_crds", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documents(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(text) if document]


def by_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The manifests of one kind, in order."""
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def one(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single manifest of ``kind``; fails when there is none or more than one."""
    (manifest,) = by_kind(manifests, kind)
    return manifest
