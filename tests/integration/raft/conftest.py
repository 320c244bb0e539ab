"""Loopback Raft clusters in one process: each store runs its own pysyncobj thread.

Helpers are fixtures (``--import-mode=importlib`` does not put this directory on sys.path).
Every wait is bounded (``eventually``); every store is closed in the fixture's ``finally``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from webmesh.mesh import commands
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.raft import appends
from webmesh.raft.config import RaftTimings
from webmesh.raft.credentials import RaftCredentials, RaftKey
from webmesh.raft.syncobj import SyncObjStore

# One key for every replica, admitted for any address: these tests are about Raft, and no mesh
# state names the replicas (tests/integration/node covers per-node keys from the state).
SHARED_KEY = RaftKey.generate()
CREDENTIALS = RaftCredentials.shared(SHARED_KEY)

# Faster than production (1.0-2.5 s elections) so tests stay short; still > 3 heartbeats.
FAST = RaftTimings(
    heartbeat=0.1,
    election_min=0.5,
    election_max=1.2,
    connection_timeout=3.0,
    connection_retry=0.3,
    leader_fallback=3.0,
    bind_retry=0.2,
    bind_timeout=1.0,
)


async def eventually(
    condition: Callable[[], bool], timeout: float, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bootstrap_entry() -> bytes:
    return commands.encode(commands.Bootstrap(Networks("172.16.0.0/12", "", "webmesh.internal")))


def put_node_entry(node_id: str) -> bytes:
    key = base64.b64encode(hashlib.sha256(node_id.encode()).digest()).decode()
    node = Node(id=node_id, public_key=key, role=NodeRole.VOTER, joined_at=1.0)
    return commands.encode(commands.PutNode(node))


class Member:
    def __init__(self, store: SyncObjStore, machine: MeshMachine, address: str) -> None:
        self.store, self.machine, self.address = store, machine, address

    def node_ids(self) -> set[str]:
        return set(self.machine.state.nodes)


class StartStore(Protocol):
    def __call__(
        self,
        *,
        voters: list[str],
        address: str | None = None,
        observer: bool = False,
        credentials: RaftCredentials = CREDENTIALS,
        data_dir: Path | None = None,
        timings: RaftTimings = FAST,
        start: bool = True,
    ) -> Awaitable[Member]: ...


@pytest.fixture
async def start_store() -> AsyncIterator[StartStore]:
    """Creates and starts stores; closes them all afterwards."""
    started: list[SyncObjStore] = []

    async def start(
        *,
        voters: list[str],
        address: str | None = None,
        observer: bool = False,
        credentials: RaftCredentials = CREDENTIALS,
        data_dir: Path | None = None,
        timings: RaftTimings = FAST,
        start: bool = True,
    ) -> Member:
        if address is None and not observer:
            address = f"127.0.0.1:{free_port()}"
        machine = MeshMachine()
        store = SyncObjStore(
            machine,
            self_address=address,
            voters=voters,
            credentials=credentials,
            data_dir=data_dir,
            observer=observer,
            timings=timings,
        )
        started.append(store)
        if start:
            await store.start()
        return Member(store, machine, address or "")

    try:
        yield start
    finally:
        await asyncio.gather(*(store.close() for store in started))


def without_append_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """pysyncobj's own handling of appends, for the control tests that show the rule matters."""
    monkeypatch.setattr(
        appends, "plan_append", lambda message, term_at, last: appends.AppendPlan(dict(message))
    )


def leader_of(members: list[Member]) -> Member | None:
    leaders = [m for m in members if m.store.is_leader()]
    return leaders[0] if len(leaders) == 1 else None


@pytest.fixture
async def three_voters(start_store: StartStore) -> list[Member]:
    """Three voters that know each other from the start, with a leader and a bootstrapped mesh."""
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    members = [await start_store(voters=addresses, address=a) for a in addresses]
    await eventually(lambda: leader_of(members) is not None, 10, "a single leader")
    await asyncio.gather(*(m.store.wait_ready(10) for m in members))
    leader = leader_of(members)
    assert leader is not None
    commands.Result.decode(await leader.store.propose(bootstrap_entry())).raise_for_error()
    return members


@pytest.fixture
def helpers() -> Any:
    """Module-level helpers for the tests (sys.path does not include this directory)."""

    class Helpers:
        eventually = staticmethod(eventually)
        free_port = staticmethod(free_port)
        bootstrap_entry = staticmethod(bootstrap_entry)
        put_node_entry = staticmethod(put_node_entry)
        leader_of = staticmethod(leader_of)
        without_append_rule = staticmethod(without_append_rule)
        key = SHARED_KEY
        credentials = CREDENTIALS

    return Helpers
