"""Golden-file checks shared by the test suites that compare rendered text with files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def golden_checker(directory: Path, update_env: str) -> Callable[[str, str], None]:
    """A check that ``text`` equals ``directory/name``; with ``$update_env`` set it rewrites it."""

    def check(name: str, text: str) -> None:
        path = directory / name
        if os.environ.get(update_env):
            path.write_text(text)
        assert path.exists(), f"no golden file {path}: run with {update_env}=1 to create it"
        assert text == path.read_text(), f"{name} changed; if intended, rerun with {update_env}=1"

    return check
