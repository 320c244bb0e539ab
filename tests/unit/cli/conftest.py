"""wmctl tests: no test reads the developer's ~/.wmctl; golden files under golden/.

Regenerate the golden files after an intended change of output with
``WMCTL_UPDATE_GOLDEN=1 pytest tests/unit/cli`` and review the diff.

Tests that take the ``dot_program`` fixture render with the real Graphviz: skipped loudly where
it is missing, a usage error in CI (support/tiers.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from support import tiers
from support.golden import golden_checker

GOLDEN = Path(__file__).parent / "golden"
UPDATE = "WMCTL_UPDATE_GOLDEN"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rendering = [item for item in items if "dot_program" in getattr(item, "fixturenames", ())]
    missing = (
        "" if shutil.which("dot") else "Graphviz's dot is not installed (apt-get install graphviz)"
    )
    tiers.require(rendering, missing, what="Graphviz rendering tests")


@pytest.fixture
def dot_program() -> str:
    """The real ``dot`` (the hook above skips or stops the run where there is none)."""
    return shutil.which("dot") or "dot"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "wmctl" / "config.yaml"
    monkeypatch.setenv("WMCTL_CONFIG", str(path))
    return path


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    return golden_checker(GOLDEN, UPDATE)
