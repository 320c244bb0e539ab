"""Fixtures for the web view's loopback tests: real NodeDaemons (fake WireGuard), real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integration.node.meshlab import Lab


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    started = Lab(tmp_path)
    try:
        yield started
    finally:
        await started.close()
