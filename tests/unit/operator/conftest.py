"""Operator unit tests: pure render functions and the CRD schemas; golden files under golden/.

Regenerate the golden files after an intended change of a manifest with
``WEBMESH_UPDATE_GOLDEN=1 pytest tests/unit/operator`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
UPDATE = "WEBMESH_UPDATE_GOLDEN"


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get(UPDATE):
            path.write_text(text)
        assert path.exists(), f"no golden file {path}: run with {UPDATE}=1 to create it"
        assert text == path.read_text(), f"{name} changed; if intended, rerun with {UPDATE}=1"

    return check
