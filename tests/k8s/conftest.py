"""The real-Kubernetes-API-server tier: kube-apiserver + etcd from ``KUBEBUILDER_ASSETS``.

The tier runs in one process (``pytest -n 0 tests/k8s``: ``make test-k8s``, and a step of
``make test``): its modules share one API server (session scope) and run in file order, since
test_rbac.py reads from the audit log what test_operator.py made the operator do. Without the
binaries the tier is skipped LOUDLY; in CI (``CI`` set) it must run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import chart, kubeapi, tiers
from webmesh_operator import permissions

ROOT = Path(__file__).resolve().parents[2]
CRD_FILES = sorted((ROOT / "crds").glob("*.yaml"))
OPERATOR_NAMESPACE = "webmesh-system"
OPERATOR_ACCOUNT = "webmesh-operator"
MARKER = "k8s: needs a real kube-apiserver and etcd (KUBEBUILDER_ASSETS; see `make k8s-assets`)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    k8s_items = [item for item in items if "k8s" in item.keywords]
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    if k8s_items and workers > 1:
        raise pytest.UsageError(
            "tests/k8s run in one process, in order (one API server; test_rbac reads what "
            "test_operator did): run them with `make test-k8s` or `pytest -n 0 tests/k8s`"
        )
    tiers.require(k8s_items, kubeapi.missing_assets(), what="Kubernetes API tests")


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kubeapi.KubeAPI]:
    """A running API server with ``crds/`` installed (Established)."""
    with kubeapi.start(tmp_path_factory.mktemp("kube")) as server:
        server.install_crds(CRD_FILES)
        yield server


@pytest.fixture
def admin(kube: kubeapi.KubeAPI) -> Iterator[kubeapi.Rest]:
    api = kube.admin()
    try:
        yield api
    finally:
        api.close()


@dataclasses.dataclass(frozen=True)
class OperatorAccount:
    """The operator's ServiceAccount: its kubeconfig, its audit user name and its granted rules."""

    kubeconfig: Path
    username: str
    rules: list[dict[str, Any]]
    source: str


def _bound_rules(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rule of the (Cluster)Roles the chart binds to its ServiceAccount."""
    accounts = {m["metadata"]["name"] for m in manifests if m["kind"] == "ServiceAccount"}
    roles = {(m["kind"], m["metadata"]["name"]): m for m in manifests if m["kind"].endswith("Role")}
    rules: list[dict[str, Any]] = []
    for binding in manifests:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        subjects = binding.get("subjects") or []
        if any(s["kind"] == "ServiceAccount" and s["name"] in accounts for s in subjects):
            ref = binding["roleRef"]
            rules.extend(roles[(ref["kind"], ref["name"])].get("rules") or [])
    return rules


def operator_rules() -> tuple[list[dict[str, Any]], str]:
    """The chart's operator RBAC (``permissions.RULES`` only while the chart does not exist)."""
    if not (chart.CHART_DIR / "Chart.yaml").exists():
        return permissions.as_policy_rules(), "webmesh_operator.permissions (no chart yet)"
    rules = _bound_rules(chart.render_chart(namespace=OPERATOR_NAMESPACE))
    assert rules, "the chart binds no (Cluster)Role to its operator ServiceAccount"
    return rules, "charts/webmesh"


@pytest.fixture(scope="session")
def operator_account(kube: kubeapi.KubeAPI) -> OperatorAccount:
    """A ServiceAccount bound to exactly the chart's operator rules (as one ClusterRole)."""
    rules, source = operator_rules()
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "webmesh-operator-under-test"},
        "rules": rules,
    }
    kubeconfig = kube.service_account_kubeconfig(OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, role)
    username = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}"
    return OperatorAccount(kubeconfig, username, rules, source)
