"""Acknowledged means on disk: a power loss of every voter loses no acknowledged write.

A power loss is modelled as "everything not fsynced is gone": the runner (``--disk-image``) keeps
a copy of the journal and its meta file as they were at each fsync; after SIGKILL the test puts
those copies in place of the files (:func:`power_loss`) and restarts the voters. With
``--raft.sync=always`` every write that was acknowledged is back; with ``off`` (the control,
pysyncobj's own behaviour) the same run loses them, so the test can fail. SIGKILL alone is not
enough to show this: the page cache outlives the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from integration.raft import runners
from integration.raft.runners import kill, next_event

WRITES = [f"w{i}" for i in range(40)]


async def spawn(
    address: str, data_dir: Path, *, voters: list[str], sync: str, put: list[str]
) -> asyncio.subprocess.Process:
    args = ["--voters", ",".join(voters), "--sync", sync, "--disk-image"]
    return await runners.spawn(address, data_dir, *args, *(["--put", *put] if put else []))


def power_loss(data_dir: Path) -> None:
    """What a disk keeps of the journal and its meta: the copies taken at fsync, or nothing."""
    for name in ("raft.journal", "raft.journal.meta"):
        path, image = data_dir / name, data_dir / f"{name}.image"
        if image.exists():
            image.replace(path)
        else:
            path.unlink(missing_ok=True)


async def run_and_lose_power(tmp_path: Path, helpers: Any, *, voters: int, sync: str) -> set[str]:
    """Start ``voters`` voters, have the leader commit WRITES (acknowledged one by one), kill
    them all, lose what was not on disk, restart them: the writes that came back."""
    addresses = [f"127.0.0.1:{helpers.free_port()}" for _ in range(voters)]
    dirs = [tmp_path / str(i) for i in range(voters)]
    processes = [
        await spawn(a, d, voters=addresses, sync=sync, put=WRITES)
        for a, d in zip(addresses, dirs, strict=True)
    ]
    acknowledged: set[str] = set()
    try:
        for process in processes:
            assert (await next_event(process))["event"] == "ready"

        async def acks(process: asyncio.subprocess.Process) -> None:
            with contextlib.suppress(asyncio.TimeoutError):
                while len(acknowledged) < len(WRITES):
                    event = await next_event(process, timeout=10)
                    if event["event"] == "committed" and event["ok"]:
                        acknowledged.add(event["node"])

        await asyncio.wait_for(asyncio.gather(*(acks(p) for p in processes)), 30)
    finally:
        for process in processes:
            await kill(process)
    assert acknowledged == set(WRITES), "the leader acknowledged every write"
    for data_dir in dirs:
        power_loss(data_dir)
    restarted = [
        await spawn(a, d, voters=addresses, sync=sync, put=[])
        for a, d in zip(addresses, dirs, strict=True)
    ]
    try:
        ready = [await next_event(process) for process in restarted]
    finally:
        for process in restarted:
            await kill(process)
    leaders = [set(event["nodes"]) for event in ready if event["leader"]]
    return leaders[0] if leaders else set()  # a leader has every committed entry (Raft)


@pytest.mark.parametrize("voters", [1, 3])
async def test_power_loss_of_every_voter_keeps_every_acknowledged_write(
    tmp_path: Path, helpers: Any, voters: int
) -> None:
    back = await run_and_lose_power(tmp_path, helpers, voters=voters, sync="always")
    assert back == set(WRITES), f"lost {sorted(set(WRITES) - back)}"


async def test_control_without_fsync_a_power_loss_loses_acknowledged_writes(
    tmp_path: Path, helpers: Any
) -> None:
    """pysyncobj's own behaviour (sync off): nothing is fsynced, so nothing survives."""
    back = await run_and_lose_power(tmp_path, helpers, voters=1, sync="off")
    assert back != set(WRITES)
