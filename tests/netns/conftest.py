"""Real-network tests: root, network namespaces, wireguard-go. In CI they must run, never skip."""

from __future__ import annotations

import os

import pytest

from support.netlab import can_run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = can_run()
    if not reason:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI must run the network tests, but {reason}")
    skip = pytest.mark.skip(reason=f"NETWORK TESTS SKIPPED: {reason}")
    for item in items:
        if "netns" in item.keywords:
            item.add_marker(skip)
