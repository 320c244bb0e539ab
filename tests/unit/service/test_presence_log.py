"""Presence changes are logged a line per node for the usual few, one line for a crowd."""

from __future__ import annotations

import logging

import pytest

from webmesh.mesh.commands import SetPresence
from webmesh.service.presence import LOGGED_BY_NAME, _log_change


def lines(caplog: pytest.LogCaptureFixture, change: SetPresence) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="webmesh.service"):
        _log_change(change)
    return [r.getMessage() for r in caplog.records]


def test_a_few_changes_get_a_line_each(caplog: pytest.LogCaptureFixture) -> None:
    change = SetPresence(offline={"b": 20.0, "a": 10.0}, online=("c",))
    assert lines(caplog, change) == [
        "node offline node=a last_seen=10",
        "node offline node=b last_seen=20",
        "node online again node=c",
    ]


def test_a_crowd_shares_one_line_per_direction(caplog: pytest.LogCaptureFixture) -> None:
    offline = {f"n{i:04d}": 1.0 for i in range(3000)}
    online = tuple(f"m{i}" for i in range(LOGGED_BY_NAME + 1))
    got = lines(caplog, SetPresence(offline=offline, online=online))
    shown = ",".join(f"n{i:04d}" for i in range(LOGGED_BY_NAME))
    assert got == [
        f"nodes offline count=3000 nodes={shown},+{3000 - LOGGED_BY_NAME} more",
        f"nodes online again count={LOGGED_BY_NAME + 1} nodes="
        + ",".join(online[:LOGGED_BY_NAME])
        + ",+1 more",
    ]


def test_exactly_the_limit_is_still_named(caplog: pytest.LogCaptureFixture) -> None:
    offline = {f"n{i}": 1.0 for i in range(LOGGED_BY_NAME)}
    assert len(lines(caplog, SetPresence(offline=offline))) == LOGGED_BY_NAME
