"""--bootstrap.restore-from on real in-process servers (real Raft and gRPC, fake WireGuard): a
new server starts the mesh from a snapshot file or from the newest backup of a directory, with
every node's id, addresses and key, and the policy objects; under a new generation; with its
own new key. A corrupted backup, or one sealed with another key, is refused saying so."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.node.meshlab import Lab, Member
from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import admin_pb2
from webmesh.backup import seal, store
from webmesh.cli import main as wmctl
from webmesh.mesh.objects import Kind
from webmesh.mesh.state import MeshState

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def settled(check: Callable[[], bool]) -> bool:
    return check()


async def old_mesh(root: Path, key_file: Path, backups: Path) -> tuple[MeshState, Path]:
    """A 3-node mesh with a route, one backup in ``backups`` and a snapshot file; its state."""
    extra = ("--backup.url", str(backups), "--backup.interval", "1h",
             "--backup.key-file", str(key_file))  # fmt: skip
    lab = Lab(root)
    try:
        n1 = await lab.start("n1", extra=extra)
        n2 = await lab.start("n2", join=n1, voter=True)
        await lab.start("n3", join=n1)
        async with n1.client() as client:
            route = admin_pb2.Route(name="lan", node="n2", destination_cidrs=["192.168.7.0/24"])
            await client.put_object(Kind.ROUTE, route)
        await async_eventually(
            lambda: settled(lambda: len(n2.daemon.machine.state.nodes) == 3), timeout=10
        )
        assert n1.daemon.backups is not None
        await n1.daemon.backups.backup_once()
        snapshot = root / "mesh.snapshot"
        args = ["--insecure", "-s", n1.api, "snapshot", "save", str(snapshot)]
        await wmctl.run(wmctl.build_parser().parse_args(args))
        return n1.daemon.machine.state, snapshot
    finally:
        await lab.close()


def same_members(before: MeshState, after: MeshState) -> None:
    for node_id in ("n2", "n3"):
        assert after.nodes[node_id].public_key == before.nodes[node_id].public_key
    for node_id in ("n1", "n2", "n3"):
        assert after.nodes[node_id].ipv4 == before.nodes[node_id].ipv4
    assert after.objects.get(Kind.ROUTE, "lan") == before.objects.get(Kind.ROUTE, "lan")
    assert after.networks == before.networks
    assert after.generation and after.generation != before.generation
    assert not after.restoring


async def test_a_new_server_restores_the_newest_backup_and_a_snapshot_file(tmp_path: Path) -> None:
    key_file = tmp_path / "backup.key"
    key_file.write_text(seal.new_key())
    backups = tmp_path / "backups"
    before, snapshot_file = await old_mesh(tmp_path / "old", key_file, backups)

    for source, extra in (
        (str(backups), ("--backup.key-file", str(key_file))),
        (str(snapshot_file), ()),
    ):
        lab = Lab(tmp_path / f"new-{Path(source).name}")
        try:
            n1 = await lab.start("n1", extra=("--bootstrap.restore-from", source, *extra))
            after = n1.daemon.machine.state
            same_members(before, after)
            assert after.nodes["n1"].public_key == n1.public_key  # its new key, published
            assert after.nodes["n1"].public_key != before.nodes["n1"].public_key
            async with n1.client() as client:
                status = await client.status()
            assert status.mesh_generation == after.generation
        finally:
            await lab.close()


@pytest.mark.parametrize("damage", ["corrupt", "foreign key", "no key"])
async def test_a_backup_that_cannot_be_trusted_is_refused(tmp_path: Path, damage: str) -> None:
    key_file = tmp_path / "backup.key"
    key_file.write_text(seal.new_key())
    backups = tmp_path / "backups"
    await old_mesh(tmp_path / "old", key_file, backups)
    newest = backups / store.DirectoryStore(backups).names()[-1]
    extra: tuple[str, ...] = ("--backup.key-file", str(key_file))
    if damage == "corrupt":
        data = bytearray(newest.read_bytes())
        data[len(data) // 2] ^= 0x01
        newest.write_bytes(bytes(data))
        why = "does not open with this key: it was changed"
    elif damage == "foreign key":
        other = tmp_path / "other.key"
        other.write_text(seal.new_key())
        extra, why = ("--backup.key-file", str(other)), "another mesh's key"
    else:
        extra, why = (), "is an encrypted backup: give its key with --backup.key-file"
    lab = Lab(tmp_path / "new")
    try:
        with pytest.raises(errors.InvalidArgument, match=why) as caught:
            await lab.start("n1", extra=("--bootstrap.restore-from", str(backups), *extra))
        assert newest.name in str(caught.value)
    finally:
        await lab.close()
    assert not (tmp_path / "new" / "n1" / "raft").exists()  # nothing was started


async def test_a_joiner_of_the_restored_mesh_gets_the_whole_state(tmp_path: Path) -> None:
    key_file = tmp_path / "backup.key"
    key_file.write_text(seal.new_key())
    before, snapshot_file = await old_mesh(tmp_path / "old", key_file, tmp_path / "backups")
    lab = Lab(tmp_path / "new")
    try:
        n1 = await lab.start("n1", extra=("--bootstrap.restore-from", str(snapshot_file)))
        n4: Member = await lab.start("n4", join=n1, voter=True)
        await async_eventually(
            lambda: settled(
                lambda: (
                    n4.daemon.machine.state.generation == n1.daemon.machine.state.generation
                    and "n4" in n4.daemon.machine.state.nodes
                )
            ),
            timeout=10,
            what="the new voter replicates the restored state",
        )
        same_members(before, n4.daemon.machine.state)
        out = await wmctl.run(
            wmctl.build_parser().parse_args(
                ["--insecure", "-s", n4.api, "get", "nodes", "-o", "json"]
            )
        )
        assert {"n1", "n2", "n3", "n4"} <= {item["id"] for item in json.loads(out)}
    finally:
        await lab.close()
