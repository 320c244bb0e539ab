"""Helpers for real-data-plane tests: bounded waits, unique namespaces, in-namespace agents."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

AGENT = Path(__file__).with_name("agent.py")
NODE_DIR = Path(__file__).resolve().parents[3] / "node"


def require_netns() -> None:
    """Skip LOUDLY when this machine cannot run the real data plane (CI has both)."""
    if os.geteuid() != 0:
        pytest.skip("SKIPPED REAL WIREGUARD TEST: needs root (network namespaces, TUN)")
    if shutil.which("wireguard-go") is None or shutil.which("ip") is None:
        pytest.skip("SKIPPED REAL WIREGUARD TEST: wireguard-go or ip not on PATH")


async def eventually(
    condition: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.1
) -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {condition}")
        await asyncio.sleep(interval)


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=10)


async def succeeds(*args: str) -> bool:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(proc.wait(), 10) == 0


def unique(prefix: str) -> str:
    """Short (IFNAMSIZ-safe) names unique per host: /var/run/wireguard is shared by namespaces."""
    return f"{prefix}{os.getpid() % 100000}{secrets.token_hex(2)}"


@pytest.fixture
def netns_pair() -> Iterator[tuple[str, str]]:
    """Two fresh namespaces joined by a veth pair (``veth0`` in each), lo up; deleted after."""
    require_netns()
    base = unique("wgt")
    names = (f"{base}a", f"{base}b")
    try:
        for ns in names:
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "link", "add", "veth0", "netns", names[0], "type", "veth", "peer", "veth0",
            "netns", names[1])  # fmt: skip
        yield names
    finally:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


class Agent:
    """A running agent.py inside one namespace."""

    def __init__(self, ns: str, proc: asyncio.subprocess.Process) -> None:
        self.ns, self.proc = ns, proc

    async def call(self, op: str, **kwargs: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps({"op": op, **kwargs}) + "\n").encode())
        await self.proc.stdin.drain()
        reply = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 30))
        if not reply["ok"]:
            raise RuntimeError(f"agent in {self.ns}: {op} failed: {reply['error']}")
        return reply["result"]

    async def stop(self) -> None:
        """Ask the agent to quit (it stops its wireguard-go); kill it if it does not."""
        if self.proc.returncode is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op": "quit"}\n')
                await asyncio.wait_for(self.proc.wait(), 15)
            except (TimeoutError, OSError):
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def agents(netns_pair: tuple[str, str]) -> AsyncIterator[tuple[Agent, Agent]]:
    env = {**os.environ, "PYTHONPATH": f"{NODE_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started: list[Agent] = []
    try:
        for ns in netns_pair:
            proc = await asyncio.create_subprocess_exec(
                "ip", "netns", "exec", ns, sys.executable, str(AGENT),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
            started.append(Agent(ns, proc))
        yield started[0], started[1]
    finally:
        for agent in started:
            await agent.stop()
