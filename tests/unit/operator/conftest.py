"""Operator unit tests: pure render functions and the CRD schemas; golden files under golden/.

Regenerate the golden files after an intended change of a manifest with
``WEBMESH_UPDATE_GOLDEN=1 pytest tests/unit/operator`` and review the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support.golden import golden_checker

GOLDEN = Path(__file__).parent / "golden"
UPDATE = "WEBMESH_UPDATE_GOLDEN"


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    return golden_checker(GOLDEN, UPDATE)
