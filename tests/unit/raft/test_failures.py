"""Every pysyncobj FAIL_REASON maps to a domain error with a message that says what to do."""

from __future__ import annotations

import pytest
from pysyncobj import FAIL_REASON

from webmesh import errors
from webmesh.raft import failures


@pytest.mark.parametrize(
    ("reason", "kind", "words"),
    [
        (FAIL_REASON.QUEUE_FULL, errors.Unavailable, "queue is full"),
        (FAIL_REASON.MISSING_LEADER, errors.Unavailable, "no raft leader"),
        (FAIL_REASON.DISCARDED, errors.Unavailable, "discarded"),
        (FAIL_REASON.LEADER_CHANGED, errors.Unavailable, "outcome unknown"),
        (FAIL_REASON.REQUEST_DENIED, errors.Unavailable, "denied"),
        (FAIL_REASON.UNKNOWN_OUTCOME, errors.Unavailable, "unknown"),
        (99, errors.MeshError, "unexpected pysyncobj failure code 99"),
    ],
)
def test_reasons(reason: int, kind: type[errors.MeshError], words: str) -> None:
    error = failures.error_for(reason, action="propose")
    assert type(error) is kind
    assert str(error).startswith("propose: ")
    assert words in str(error)


def test_not_leader_carries_the_leader() -> None:
    error = failures.error_for(FAIL_REASON.NOT_LEADER, action="propose", leader="10.0.0.1:9443")
    assert isinstance(error, errors.NotLeader)
    assert error.leader == "10.0.0.1:9443"
    assert "10.0.0.1:9443" in str(error)


def test_every_reason_but_success_is_mapped() -> None:
    for name, value in vars(FAIL_REASON).items():
        if name.startswith("_") or value == FAIL_REASON.SUCCESS:
            continue
        assert "unexpected" not in str(failures.error_for(value, action="x")), name
        assert failures.reason_name(value) == name
    assert failures.reason_name(1234) == "1234"
