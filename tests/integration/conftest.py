"""Fixtures shared by the loopback tiers: ``lab`` starts real NodeDaemons (real Raft and gRPC,
fake WireGuard) for one test and shuts them all down after it."""

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
