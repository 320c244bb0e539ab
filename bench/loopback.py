"""Loopback clusters of ``bench/fakenode.py`` processes (fake WireGuard, real Raft and gRPC)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import BENCH

HOST = "127.0.0.1"
FAKENODE = BENCH / "fakenode.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class FakeNode:
    node_id: str
    api: str
    raft: str
    popen: subprocess.Popen[str]
    log: Path
    _lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line)

    def read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(
                f"{self.node_id}: no answer within {timeout:g}s\n{self.tail()}"
            ) from None
        return dict(json.loads(line))

    def request(self, payload: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        assert self.popen.stdin is not None
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.node_id} exited ({self.popen.returncode})\n{self.tail()}")
        self.popen.stdin.write(json.dumps(payload) + "\n")
        self.popen.stdin.flush()
        return self.read(timeout)

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")
        return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(Exception):
                assert self.popen.stdin is not None
                self.popen.stdin.write('{"cmd": "stop"}\n')
                self.popen.stdin.flush()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.send_signal(signal.SIGKILL)
                self.popen.wait(5)


class FakeCluster:
    """Start nodes with ``start``; ``close`` stops them all (newest first)."""

    def __init__(self, prefix: str = "wmbench-") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.nodes: list[FakeNode] = []

    def start(
        self,
        node_id: str,
        *,
        join: FakeNode | None = None,
        voter: bool = False,
        endpoint: bool = True,
        extra: tuple[str, ...] = (),
        ready_timeout: float = 60.0,
    ) -> FakeNode:
        api, raft, wg_port = f"{HOST}:{free_port()}", f"{HOST}:{free_port()}", free_port()
        argv = [
            "--global.insecure",
            "--global.no-ipv6",
            f"--mesh.node-id={node_id}",
            f"--raft.listen-address={raft}",
            f"--services.api.listen-address={api}",
            "--services.metrics.disabled",
            "--wireguard.backend=fake",
            f"--raft.data-dir={self.dir / node_id}",
            f"--wireguard.listen-port={wg_port}",
            f"--mesh.join-address={join.api}" if join else "--bootstrap.enabled",
        ]
        if endpoint:
            argv.append(f"--global.primary-endpoint={HOST}:{wg_port}")
        if voter:
            argv.append("--mesh.join-as-voter")
        log = self.dir / f"{node_id}.log"
        with log.open("w") as err:
            popen = subprocess.Popen(
                [sys.executable, str(FAKENODE), node_id, "--", *argv, *extra],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        node = FakeNode(node_id, api, raft, popen, log)
        self.nodes.append(node)
        event = node.read(ready_timeout)
        if event.get("event") != "ready":
            raise RuntimeError(f"{node_id} did not start: {event}\n{node.tail()}")
        return node

    def leader(self) -> FakeNode | None:
        leaders = [n for n in self.nodes if n.request({"cmd": "status"}).get("leader")]
        return leaders[0] if len(leaders) == 1 else None

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        if not os.environ.get("WEBMESH_KEEP_BENCH"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def count_in_logs(self, needle: str) -> int:
        return sum(node.log_text().count(needle) for node in self.nodes)
