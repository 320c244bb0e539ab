"""A one-store process for the tests that need a real SIGKILL.

Usage: python runner.py --address HOST:PORT --data-dir DIR --key BASE64 [--put ID ...]
       [--voters A,B,...] [--sync always|batch|off] [--disk-image]
Prints one JSON line per event on stdout: "ready" (with the node ids in the state) once the
store is ready, "committed" after each proposal (only the leader proposes), then waits until
killed.

``--disk-image`` models what a power loss keeps: each time the journal or its meta file is
fsynced, a copy of it as it is then is written next to it (``<file>.image``). Restoring the
images (``disk_image.power_loss``) leaves exactly what had reached the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from webmesh.mesh import commands
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.raft import durability
from webmesh.raft.config import RaftTimings
from webmesh.raft.credentials import RaftCredentials, RaftKey
from webmesh.raft.store import SyncMode
from webmesh.raft.syncobj import SyncObjStore

TIMINGS = RaftTimings(heartbeat=0.1, election_min=0.4, election_max=0.8, connection_timeout=3.0)


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def put_node(node_id: str) -> bytes:
    key = base64.b64encode(hashlib.sha256(node_id.encode()).digest()).decode()
    node = Node(id=node_id, public_key=key, role=NodeRole.VOTER, joined_at=1.0)
    return commands.encode(commands.PutNode(node))


def keep_disk_images() -> None:
    """After every fsync of the journal or its meta, copy the file as it is (the disk's view)."""
    sync, store_meta = durability.DurableJournal.sync, durability._DurableMeta.storeMeta

    def image(path: str) -> None:  # atomic: a SIGKILL mid-copy leaves the previous image
        shutil.copyfile(path, path + ".image.tmp")
        os.replace(path + ".image.tmp", path + ".image")

    def synced(journal: durability.DurableJournal) -> None:
        sync(journal)
        image(journal._fd_path)

    def stored(meta: durability._DurableMeta, value: object) -> None:
        store_meta(meta, value)
        if meta._sync:
            image(meta.getPath())

    durability.DurableJournal.sync = synced  # type: ignore[method-assign]
    durability._DurableMeta.storeMeta = stored  # type: ignore[method-assign]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--key", required=True, help="the base64 private key all share")
    parser.add_argument("--put", nargs="*", default=[])
    parser.add_argument("--voters", default="")
    parser.add_argument("--sync", default="always")
    parser.add_argument("--disk-image", action="store_true")
    args = parser.parse_args()
    if args.disk_image:
        keep_disk_images()
    machine = MeshMachine()
    store = SyncObjStore(
        machine,
        self_address=args.address,
        voters=[v for v in args.voters.split(",") if v and v != args.address],
        credentials=RaftCredentials.shared(RaftKey.from_text(args.key)),
        data_dir=args.data_dir,
        timings=TIMINGS,
        sync=SyncMode(args.sync),
    )
    await store.start()
    await store.wait_ready(15)
    emit(
        "ready",
        nodes=sorted(machine.state.nodes),
        bootstrapped=machine.state.bootstrapped,
        leader=store.is_leader(),
    )
    if not store.is_leader():
        await asyncio.Event().wait()  # followers only replicate
    if args.put and not machine.state.bootstrapped:
        networks = Networks("172.16.0.0/12", "", "webmesh.internal")
        await store.propose(commands.encode(commands.Bootstrap(networks)))
    for node_id in args.put:
        result = commands.Result.decode(await store.propose(put_node(node_id)))
        emit("committed", node=node_id, ok=result.ok, index=store.status().commit_index)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main())
