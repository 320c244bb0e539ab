"""SyncObjStore refuses unsafe or impossible configurations before touching the network."""

from __future__ import annotations

import pytest

from webmesh import errors
from webmesh.mesh.machine import MeshMachine
from webmesh.raft.credentials import RaftCredentials, RaftKey
from webmesh.raft.store import RaftRole
from webmesh.raft.syncobj import SyncObjStore

KEYS = RaftCredentials.shared(RaftKey.generate())


def test_voter_needs_an_address_and_observer_needs_voters() -> None:
    with pytest.raises(errors.InvalidArgument, match="own raft address"):
        SyncObjStore(MeshMachine(), self_address=None, voters=["127.0.0.1:1"], credentials=KEYS)
    with pytest.raises(errors.InvalidArgument, match="voters"):
        SyncObjStore(MeshMachine(), self_address=None, voters=[], credentials=KEYS, observer=True)


async def test_not_started_store_reports_and_refuses() -> None:
    store = SyncObjStore(
        MeshMachine(), self_address="127.0.0.1:1", voters=["127.0.0.1:2"], credentials=KEYS
    )
    assert store.status().role is RaftRole.FOLLOWER
    assert store.status().voters == ("127.0.0.1:1", "127.0.0.1:2")
    assert not store.is_leader()
    with pytest.raises(errors.Unavailable, match="not been started"):
        await store.propose(b"{}")
    await store.close()
    assert store.status().role is RaftRole.SHUTDOWN


def test_leader_and_voters_match_the_status_without_building_it() -> None:
    store = SyncObjStore(
        MeshMachine(),
        self_address="127.0.0.1:3",
        voters=["127.0.0.1:2", "127.0.0.1:1"],
        credentials=KEYS,
    )
    assert store.voters() == store.status().voters == ("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")
    assert store.leader() == store.status().leader == ""
