"""Real-network tests: root, network namespaces, wireguard-go. In CI they must run, never skip."""

from __future__ import annotations

import pytest

from support import tiers
from support.netlab import can_run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    netns_items = [item for item in items if "netns" in item.keywords]
    tiers.require(netns_items, can_run(), what="network tests")
