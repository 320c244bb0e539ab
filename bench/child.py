"""What the benchmarks' child processes (``fakenode.py``, ``subscribers.py``) share: their
command channel (one JSON object per line, requests on stdin, replies on stdout) and the
open-files limit a server or a crowd of clients needs (a socket per subscriber)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
from collections.abc import AsyncIterator
from typing import Any


async def requests() -> AsyncIterator[dict[str, Any]]:
    """The parent's requests, one per stdin line, until it sends "stop" or closes stdin."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        request: dict[str, Any] = json.loads(line)
        if request.get("cmd") == "stop":
            return
        yield request


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def raise_nofile_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    with contextlib.suppress(ValueError, OSError):  # an unlimited hard limit may be refused
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
