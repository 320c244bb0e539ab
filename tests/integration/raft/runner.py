"""A one-store process for the tests that need a real SIGKILL.

Usage: python runner.py --address HOST:PORT --data-dir DIR --password PW [--put ID ...]
Prints one JSON line per event on stdout: "ready" (with the node ids in the state) once the
store is ready, "committed" after each proposal, then waits until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import sys
from pathlib import Path

from webmesh.mesh import commands
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.raft.config import RaftTimings
from webmesh.raft.syncobj import SyncObjStore

TIMINGS = RaftTimings(heartbeat=0.1, election_min=0.4, election_max=0.8, connection_timeout=3.0)


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def put_node(node_id: str) -> bytes:
    key = base64.b64encode(hashlib.sha256(node_id.encode()).digest()).decode()
    node = Node(id=node_id, public_key=key, role=NodeRole.VOTER, joined_at=1.0)
    return commands.encode(commands.PutNode(node))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--put", nargs="*", default=[])
    args = parser.parse_args()
    machine = MeshMachine()
    store = SyncObjStore(
        machine,
        self_address=args.address,
        voters=[],
        password=args.password,
        data_dir=args.data_dir,
        timings=TIMINGS,
    )
    await store.start()
    await store.wait_ready(15)
    emit("ready", nodes=sorted(machine.state.nodes), bootstrapped=machine.state.bootstrapped)
    if args.put and not machine.state.bootstrapped:
        networks = Networks("172.16.0.0/12", "", "webmesh.internal")
        await store.propose(commands.encode(commands.Bootstrap(networks)))
    for node_id in args.put:
        result = commands.Result.decode(await store.propose(put_node(node_id)))
        emit("committed", node=node_id, ok=result.ok, index=store.status().commit_index)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main())
