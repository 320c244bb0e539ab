"""webmesh.prometheus: the metric types and encoder without prometheus_client's servers, and a
``prometheus_client`` package that still works whole for anyone who asks for more."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr


def test_the_servers_are_not_loaded_and_the_default_collectors_are() -> None:
    run("""
        import sys
        from webmesh import prometheus
        for name in ("prometheus_client.exposition", "http.server", "wsgiref", "email"):
            assert name not in sys.modules, name
        body, content_type = prometheus.render()
        assert content_type.startswith("application/openmetrics-text")
        assert b"process_resident_memory_bytes" in body and b"python_info" in body
        """)


def test_the_whole_package_on_demand_shares_the_registry() -> None:
    run("""
        from webmesh import prometheus
        import prometheus_client
        assert prometheus_client.REGISTRY is prometheus.REGISTRY
        assert prometheus_client.Counter is prometheus.Counter
        assert prometheus_client.generate_latest(prometheus.REGISTRY)  # the classic text format
        names = [c for c in prometheus.REGISTRY._names_to_collectors if c.startswith("process_")]
        assert len(names) == len(set(names))  # nothing registered twice
        """)
