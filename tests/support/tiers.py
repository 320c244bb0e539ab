"""The rule every tier that needs more than Python follows: skip loudly, or in CI fail the run.

A tier whose prerequisites are missing (root, wireguard-go, kube-apiserver, buildah, the real
node) is skipped with a reason in capitals on a developer's machine, and stops the run with a
usage error in CI (``CI`` set), where a skipped real test would prove nothing.
"""

from __future__ import annotations

import os

import pytest


def require(items: list[pytest.Item], reason: str, *, what: str) -> None:
    """Skip ``items`` (the ``what``, e.g. "network tests") when ``reason`` says what is missing."""
    if not reason or not items:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI must run the {what}, but {reason}")
    skip = pytest.mark.skip(reason=f"{what.upper()} SKIPPED: {reason}")
    for item in items:
        item.add_marker(skip)
