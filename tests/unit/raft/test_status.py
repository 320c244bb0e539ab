"""Mapping a raw reading of a replica to RaftStatus."""

from __future__ import annotations

import dataclasses

import pytest

from webmesh.raft import status
from webmesh.raft.store import RaftRole
from webmesh.raft.transport import HandshakeReport

BASE = status.Observed(
    self_address="10.0.0.1:1",
    raft_state=status.STATE_FOLLOWER,
    is_leader=False,
    leader="10.0.0.2:1",
    term=3,
    commit_index=10,
    applied_index=9,
    other_voters=("10.0.0.3:1", "10.0.0.2:1"),
    has_quorum=True,
    ready=True,
    leader_changes=2,
    closed=False,
)


@pytest.mark.parametrize(
    ("changes", "role"),
    [
        ({}, RaftRole.FOLLOWER),
        ({"raft_state": status.STATE_CANDIDATE}, RaftRole.CANDIDATE),
        ({"raft_state": status.STATE_LEADER}, RaftRole.LEADER),
        ({"is_leader": True}, RaftRole.LEADER),
        ({"self_address": ""}, RaftRole.OBSERVER),
        ({"closed": True, "is_leader": True}, RaftRole.SHUTDOWN),
    ],
)
def test_roles(changes: dict[str, object], role: RaftRole) -> None:
    assert status.to_status(dataclasses.replace(BASE, **changes)).role is role  # type: ignore[arg-type]


def test_voters_include_self_and_are_sorted() -> None:
    result = status.to_status(BASE)
    assert result.voters == ("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1")
    assert (result.term, result.commit_index, result.applied_index) == (3, 10, 9)
    assert (result.leader, result.leader_changes, result.ready, result.has_quorum) == (
        "10.0.0.2:1",
        2,
        True,
        True,
    )


def test_observer_is_not_a_voter() -> None:
    result = status.to_status(dataclasses.replace(BASE, self_address=""))
    assert result.voters == ("10.0.0.2:1", "10.0.0.3:1")
    assert result.self_address == ""


def test_closed_replica_is_not_ready_and_has_no_leader() -> None:
    result = status.to_status(dataclasses.replace(BASE, closed=True))
    assert (result.ready, result.has_quorum, result.leader) == (False, False, "")


def test_problem_reports_recent_handshake_failures_only() -> None:
    assert status.problem_from(HandshakeReport(0, "", "", None, 3)) == ""
    assert status.problem_from(HandshakeReport(4, "10.0.0.9:1", "x", 100.0, 3)) == ""
    problem = status.problem_from(
        HandshakeReport(4, "10.0.0.9:1", "it hung up on our hello", 2.0, 0)
    )
    assert "10.0.0.9:1" in problem
    assert "it hung up on our hello" in problem
    assert "do not admit each other's raft keys" in problem
