"""Every query of the Grafana dashboard (charts/webmesh/dashboards/webmesh.json) returns data from
a real Prometheus (Debian's) scraping a real mesh: three voters, an observer joined through a
follower, and a node that joins, passes traffic and dies (so the offline panels have a node).

Grafana's variables are replaced as Grafana would with "All" selected (``.*``). With the windows
(``$__rate_interval``, ``$__range``) spanning the whole run, so that every join, ping and
reconcile pass is inside them, "returns data" means a successful query with a non-empty result
holding at least one finite number: a panel that would draw nothing (no series, or only NaN)
fails, named. With Grafana's shortest ``$__rate_interval`` (4 scrape intervals) every query must
still return series (a rate of nothing-happened is 0, a quantile of it NaN: that is data).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.netlab import QUICKSTART_FLAGS, Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "charts" / "webmesh" / "dashboards" / "webmesh.json"
FLAGS = QUICKSTART_FLAGS
PROMETHEUS_PORT = 9090
JOIN = 'method="/webmesh.v1.Membership/Join"'
CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: webmesh
    static_configs:
      - targets: [{targets}]
"""
# Run in the Prometheus host's namespace (the lab's LAN is not routed from here): each query of
# argv[2] (a JSON list) against argv[1]; prints the API's answers as a JSON list.
QUERY_SCRIPT = """\
import json, sys, urllib.error, urllib.parse, urllib.request
answers = []
for query in json.loads(sys.argv[2]):
    url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            answers.append(json.load(response))
    except urllib.error.HTTPError as error:
        answers.append(json.load(error))
    except OSError as error:
        answers.append({"status": "unreachable", "error": str(error)})
print(json.dumps(answers))
"""


@pytest.fixture(autouse=True)
def prometheus_installed() -> None:
    if shutil.which("prometheus") is None:  # a netns test must run in CI; elsewhere say how
        message = "Prometheus is missing: apt-get install --no-install-recommends prometheus"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"GRAFANA DASHBOARD TEST SKIPPED: {message}")


def dashboard_queries() -> list[tuple[str, str]]:
    """(what, PromQL) for every target of every panel, rows' nested panels included, and for
    every query variable (label_values(expr, label) is asked as count by (label) (expr))."""
    dashboard = json.loads(DASHBOARD.read_text())
    found: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for inner in (panel, *panel.get("panels", [])):
            for target in inner.get("targets", []):
                found.append((f"panel {inner['title']!r} {target['refId']}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variable["definition"])
            assert match, variable["definition"]
            expr, label = match.groups()
            found.append((f"variable ${variable['name']}", f"count by ({label}) ({expr})"))
    return found


def grafana_substitute(expr: str, window: str) -> str:
    """What Grafana sends: the dashboard's variables at "All", the built-in windows."""
    expr = re.sub(r"\$\{?__rate_interval\}?|\$\{?__range\}?", window, expr)
    expr = re.sub(r"\$\{?(job|instance)\}?", ".*", expr)
    assert "$" not in expr, f"a variable the test does not know: {expr}"
    return expr


def ask(prometheus: Host, queries: list[str]) -> list[dict[str, Any]]:
    base = f"http://{prometheus.lan_ip}:{PROMETHEUS_PORT}"
    out = prometheus.exec(sys.executable, "-c", QUERY_SCRIPT, base, json.dumps(queries))
    answers: list[dict[str, Any]] = json.loads(out.stdout)
    return answers


def has_data(answer: dict[str, Any], *, finite: bool) -> bool:
    """A successful query with a non-empty result (``finite``: with a finite number in it)."""
    if answer.get("status") != "success":
        return False
    data = answer["data"]
    if data["resultType"] == "scalar":
        return not finite or math.isfinite(float(data["result"][1]))
    values = [float(series["value"][1]) for series in data["result"]]
    return bool(values) and (not finite or any(math.isfinite(value) for value in values))


def without_data(prometheus: Host, window: str, *, finite: bool) -> list[str]:
    """The dashboard's queries that return no data now, each with what Prometheus answered."""
    queries = dashboard_queries()
    sent = [grafana_substitute(expr, window) for _, expr in queries]
    answers = ask(prometheus, sent)
    return [
        f"{what}: {expr}\n    -> {json.dumps(answer)[:400]}"
        for (what, _), expr, answer in zip(queries, sent, answers, strict=True)
        if not has_data(answer, finite=finite)
    ]


def assert_all_have_data(prometheus: Host, window: Callable[[], str], *, finite: bool) -> None:
    missing: list[str] = []

    def none_missing() -> bool:
        missing[:] = without_data(prometheus, window(), finite=finite)
        return not missing

    try:
        eventually(none_missing, timeout=15, interval=1.0)
    except AssertionError:
        pytest.fail(f"dashboard queries without data ({window()} windows):\n" + "\n".join(missing))


def node_ids(host: Host) -> set[str]:
    out = host.wmctl("--insecure", "get", "nodes", "-o", "json", check=False)
    return {n["id"] for n in json.loads(out.stdout)} if out.returncode == 0 else set()


def one_value(prometheus: Host, query: str) -> float | None:
    (answer,) = ask(prometheus, [query])
    result = answer.get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if answer.get("status") == "success" and result else None


def test_every_dashboard_query_returns_data() -> None:
    with Lab() as lab:
        voters = [lab.add_host(f"voter-{i}") for i in range(3)]
        observer = lab.add_host("observer")
        transient = lab.add_host("transient")
        prometheus = lab.add_host("prometheus")
        nodes = [*voters, observer, transient]

        config = lab.dir / "prometheus.yml"
        config.write_text(CONFIG.format(targets=", ".join(f"'{h.name}:8080'" for h in nodes)))
        started = time.monotonic()
        prometheus.spawn(
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={lab.dir / 'tsdb'}",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
            name="prometheus",
        )

        voters[0].node(*FLAGS, "--bootstrap.enabled")
        voters[0].wait_port(8443)
        for host in voters[1:]:
            host.node(*FLAGS, "--mesh.join-address=voter-0:8443", "--mesh.join-as-voter")
            host.wait_port(8443)
        observer.node(*FLAGS, "--mesh.join-address=voter-1:8443")  # forwarded to the leader
        members = {h.name for h in (*voters, observer)}
        eventually(
            lambda: node_ids(voters[0]) == members,
            timeout=30,
            what=lambda: f"voter-0 sees {members}\n{lab.logs()}",
        )
        prometheus.wait_port(PROMETHEUS_PORT, timeout=20)
        joins = f'webmesh_grpc_requests_total{{instance="voter-0:8080", {JOIN}}}'
        eventually(
            lambda: (
                one_value(prometheus, 'count(up{job="webmesh"} == 1)') == len(members)
                and one_value(prometheus, f"count({joins})")
            ),
            timeout=20,
            what=lambda: f"Prometheus scraping {members}, joins on voter-0\n{lab.logs()}",
        )
        # A join that rate() can see: voter-0's Join series exists already. (A server's first
        # join creates its series, at 1: Prometheus has no earlier sample to count it from.)
        transient.node(*FLAGS, "--mesh.join-address=voter-0:8443")
        everyone = {h.name for h in nodes}
        eventually(
            lambda: node_ids(voters[0]) == everyone,
            timeout=30,
            what=lambda: f"voter-0 sees {everyone}\n{lab.logs()}",
        )

        # traffic through the tunnels: bytes per peer, handshakes
        for source, target in [(observer, v) for v in voters] + [(transient, observer)]:
            address = target.wait_mesh_ip()
            eventually(
                lambda s=source, a=address: s.ping(a),
                timeout=20,
                what=lambda s=source, t=target: f"{s.name} -> {t.name}\n{lab.logs()}",
            )
        eventually(
            lambda: one_value(prometheus, 'count(up{job="webmesh"} == 1)') == len(nodes),
            timeout=20,
            what=lambda: f"Prometheus scraping all {len(nodes)} nodes\n{lab.logs()}",
        )

        # a node that dies without leaving: offline after 4 s (webmesh.mesh.presence)
        transient.processes[-1].kill()
        offline = 'max(webmesh_mesh_nodes_by_status{status="offline"})'
        eventually(
            lambda: one_value(prometheus, offline) == 1,
            timeout=20,
            what=lambda: f"Prometheus seeing transient offline\n{lab.logs()}",
        )

        def whole_run() -> str:
            return f"{math.ceil(time.monotonic() - started) + 5}s"

        assert_all_have_data(prometheus, whole_run, finite=True)
        assert_all_have_data(prometheus, lambda: "4s", finite=False)
