"""A node with another raft secret never joins, and both sides report why (a failed proof)."""

from __future__ import annotations

from typing import Any

import pytest

from webmesh import errors
from webmesh.raft.config import RaftTimings
from webmesh.raft.store import RaftRole

QUICK = RaftTimings(
    heartbeat=0.1, election_min=0.5, election_max=1.2, connection_timeout=3.0, connection_retry=0.3
)


async def test_observer_with_wrong_password_is_refused_and_told(
    start_store: Any, helpers: Any
) -> None:
    voter = await start_store(voters=[], timings=QUICK)
    await voter.store.wait_ready(10)
    await voter.store.propose(helpers.bootstrap_entry())

    intruder = await start_store(
        voters=[voter.address], observer=True, password="not-the-password", timings=QUICK
    )
    with pytest.raises(errors.Unavailable, match="raft secret differs"):
        await intruder.store.wait_ready(2)
    status = intruder.store.status()
    assert status.role is RaftRole.OBSERVER
    assert (status.ready, status.leader) == (False, "")
    assert status.auth_failures > 0
    assert "raft secret differs" in status.problem
    assert not intruder.machine.state.bootstrapped  # it learned nothing

    await helpers.eventually(lambda: voter.store.status().auth_failures > 0, 5, "voter notices")
    assert "raft secret differs" in voter.store.status().problem
    await voter.store.propose(helpers.put_node_entry("still-works"))  # the cluster is unharmed


async def test_voter_with_wrong_password_never_sees_a_leader(
    start_store: Any, helpers: Any
) -> None:
    good = await start_store(voters=[], timings=QUICK)
    await good.store.wait_ready(10)
    bad_address = f"127.0.0.1:{helpers.free_port()}"
    await good.store.add_voter(bad_address, wait_for_commit=False)
    bad = await start_store(
        voters=[good.address], address=bad_address, password="wrong", timings=QUICK
    )
    with pytest.raises(errors.Unavailable, match="raft secret differs"):
        await bad.store.wait_ready(2)
    assert bad.store.status().leader == ""
    assert "raft secret differs" in bad.store.status().problem
    await helpers.eventually(
        lambda: "raft secret differs" in good.store.status().problem, 5, "good notices"
    )
