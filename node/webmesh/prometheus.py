"""prometheus_client, narrowly: the metric types, the registry and the OpenMetrics encoder.

prometheus_client's package ``__init__`` also loads its HTTP servers, WSGI app, urllib-based push
gateway client and with them the email package (about 4 MB resident, ``bench/idle_node.py``);
the node serves /metrics itself (:mod:`webmesh.metrics_http`). So the package is registered
without its ``__init__`` (:mod:`webmesh.narrowimport`) and only these modules are loaded. The
default collectors register themselves with ``REGISTRY`` on import, as the ``__init__`` would
have them do (``process_*``, ``python_info``, ``python_gc_*``).
"""

from __future__ import annotations

from webmesh import narrowimport

narrowimport.register_bare_package("prometheus_client")

import prometheus_client.gc_collector  # noqa: E402
import prometheus_client.platform_collector  # noqa: E402
import prometheus_client.process_collector  # noqa: E402,F401
from prometheus_client.metrics import Counter, Histogram  # noqa: E402
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily  # noqa: E402
from prometheus_client.openmetrics import exposition  # noqa: E402
from prometheus_client.registry import REGISTRY, Collector  # noqa: E402

__all__ = [
    "REGISTRY",
    "Collector",
    "Counter",
    "CounterMetricFamily",
    "GaugeMetricFamily",
    "Histogram",
    "render",
]


def render() -> tuple[bytes, str]:
    """The default registry in the OpenMetrics text format, and its content type."""
    body: bytes = exposition.generate_latest(REGISTRY)  # type: ignore[no-untyped-call]
    return body, str(exposition.CONTENT_TYPE_LATEST)
