"""A voter killed with SIGKILL gets its state back alone from its data directory."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from integration.raft import runners
from integration.raft.runners import kill, next_event
from webmesh.raft.store import RaftRole
from webmesh.raft.v1 import wire_pb2


async def spawn(address: str, data_dir: Path, *put: str) -> asyncio.subprocess.Process:
    return await runners.spawn(address, data_dir, *(["--put", *put] if put else []))


async def test_sigkilled_voter_restores_its_state_from_data_dir(
    tmp_path: Path, helpers: Any
) -> None:
    address = f"127.0.0.1:{helpers.free_port()}"
    first = await spawn(address, tmp_path, "alpha", "beta")
    try:
        assert (await next_event(first))["nodes"] == []
        assert (await next_event(first))["node"] == "alpha"
        assert (await next_event(first))["node"] == "beta"
    finally:
        await kill(first)
    assert first.returncode == -signal.SIGKILL

    second = await spawn(address, tmp_path)
    try:
        ready = await next_event(second)
        assert ready == {
            "event": "ready",
            "nodes": ["alpha", "beta"],
            "bootstrapped": True,
            "leader": True,
        }
    finally:
        await kill(second)


async def test_in_process_restart_reads_snapshot_and_journal(
    tmp_path: Path, start_store: Any, helpers: Any
) -> None:
    address = f"127.0.0.1:{helpers.free_port()}"
    first = await start_store(voters=[], address=address, data_dir=tmp_path)
    await first.store.wait_ready(10)
    await first.store.propose(helpers.bootstrap_entry())
    await first.store.propose(helpers.put_node_entry("in-snapshot"))
    first.store._syncobj.forceLogCompaction()
    await helpers.eventually((tmp_path / "raft.dump").exists, 5, "a dump file")
    await first.store.propose(helpers.put_node_entry("in-journal"))
    await first.store.close()
    # The dump is our Snapshot message (no pickle at all): the state machine's JSON inside.
    snapshot = wire_pb2.Snapshot()
    snapshot.ParseFromString((tmp_path / "raft.dump").read_bytes())
    assert snapshot.format == 1
    assert b"in-snapshot" in snapshot.state and snapshot.voters == [address]
    assert snapshot.last_entry.command.WhichOneof("kind") == "regular"

    again = await start_store(voters=[], address=address, data_dir=tmp_path, start=False)
    assert again.node_ids() == set()  # nothing until started and replayed
    await again.store.start()
    await again.store.wait_ready(10)
    assert again.node_ids() == {"in-snapshot", "in-journal"}
    assert again.store.status().role is RaftRole.LEADER


async def test_restarted_voter_rejoins_with_remembered_voters(
    tmp_path: Path, start_store: Any, helpers: Any
) -> None:
    """Restarted with voters=[], a member of a static cluster must not elect itself alone."""
    addresses = [f"127.0.0.1:{helpers.free_port()}" for _ in range(3)]
    dirs = [tmp_path / str(i) for i in range(3)]
    members = [
        await start_store(voters=addresses, address=a, data_dir=d)
        for a, d in zip(addresses, dirs, strict=True)
    ]
    await helpers.eventually(lambda: helpers.leader_of(members) is not None, 10, "a leader")
    leader = helpers.leader_of(members)
    await leader.store.propose(helpers.bootstrap_entry())
    await leader.store.propose(helpers.put_node_entry("before-restart"))
    index = members.index(next(m for m in members if m is not leader))
    await members[index].store.close()

    again = await start_store(voters=[], address=addresses[index], data_dir=dirs[index])
    await again.store.wait_ready(10)
    assert not again.store.is_leader()
    assert again.store.status().voters == tuple(sorted(addresses))
    assert again.store.status().leader == leader.address
    await leader.store.propose(helpers.put_node_entry("after-restart"))
    await helpers.eventually(
        lambda: again.node_ids() == {"before-restart", "after-restart"}, 5, "caught up"
    )
