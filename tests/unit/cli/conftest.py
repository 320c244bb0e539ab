"""wmctl tests: no test reads the developer's ~/.wmctl; golden files under golden/.

Regenerate the golden files after an intended change of output with
``WMCTL_UPDATE_GOLDEN=1 pytest tests/unit/cli`` and review the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support.golden import golden_checker

GOLDEN = Path(__file__).parent / "golden"
UPDATE = "WMCTL_UPDATE_GOLDEN"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "wmctl" / "config.yaml"
    monkeypatch.setenv("WMCTL_CONFIG", str(path))
    return path


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    return golden_checker(GOLDEN, UPDATE)
