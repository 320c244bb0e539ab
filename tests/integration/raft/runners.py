"""Driving ``runner.py`` processes (one store each) from a test: start, read events, SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from webmesh.raft.credentials import RaftKey

RUNNER = Path(__file__).with_name("runner.py")
KEY = RaftKey.generate().to_text()  # every runner of this test session shares it


async def spawn(address: str, data_dir: Path, *args: str) -> asyncio.subprocess.Process:
    """A runner for ``address`` on ``data_dir``; ``args`` are more of runner.py's options."""
    base = ["--address", address, "--data-dir", str(data_dir), "--key", KEY]
    return await asyncio.create_subprocess_exec(
        sys.executable, str(RUNNER), *base, *args, stdout=asyncio.subprocess.PIPE
    )


async def next_event(process: asyncio.subprocess.Process, timeout: float = 20) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    assert line, f"runner exited with {await process.wait()}"
    event: dict[str, Any] = json.loads(line)
    return event


async def kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGKILL)
    await asyncio.wait_for(process.wait(), 10)
