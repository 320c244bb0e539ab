"""Scheduled backups from real nodes (in-process daemons, real Raft and gRPC): the leader writes
sealed snapshots every interval and keeps the newest; a follower writes none; the newest opens
with the key and holds the mesh; wmctl snapshot inspect reads it with --key-file. The same into
an S3 bucket (moto_server on loopback), with credentials from the AWS environment variables."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from integration.node.meshlab import Lab
from support import s3server
from support.wait import async_eventually
from webmesh import errors
from webmesh.backup import seal, store
from webmesh.cli import main as wmctl
from webmesh.mesh import snapshotfile


async def test_the_leader_writes_sealed_backups_and_keeps_the_newest(tmp_path: Path) -> None:
    key_file = tmp_path / "backup.key"
    key_file.write_text(seal.new_key())
    leader_dir, follower_dir = tmp_path / "leader", tmp_path / "follower"

    def backups(directory: Path) -> tuple[str, ...]:
        return ("--backup.url", str(directory), "--backup.interval", "1s",
                "--backup.retain", "2", "--backup.key-file", str(key_file))  # fmt: skip

    lab = Lab(tmp_path / "nodes")
    try:
        n1 = await lab.start("n1", extra=backups(leader_dir))
        n2 = await lab.start("n2", join=n1, voter=True, extra=backups(follower_dir))

        leader, follower = n1.daemon.backups, n2.daemon.backups
        assert leader is not None and follower is not None

        async def three_written() -> bool:
            return leader.status.written >= 3

        await async_eventually(three_written, timeout=15, what="three backups from the leader")
        assert len(store.DirectoryStore(leader_dir).names()) == 2  # --backup.retain 2
        assert follower.status.written == 0  # only the leader writes
        assert store.DirectoryStore(follower_dir).names() == []

        newest = leader_dir / store.DirectoryStore(leader_dir).names()[-1]
        key = seal.read_key(key_file)
        header, state = snapshotfile.decode(seal.open_sealed(key, newest.read_bytes()))
        assert {"n1", "n2"} <= set(state.nodes)
        assert header.domain == "webmesh.internal"

        args = ["--insecure", "-s", n1.api, "snapshot", "inspect", str(newest), "-o", "json"]
        with pytest.raises(errors.InvalidArgument, match="--key-file"):
            await wmctl.run(wmctl.build_parser().parse_args(args))
        parsed = wmctl.build_parser().parse_args([*args, "--key-file", str(key_file)])
        assert json.loads(await wmctl.run(parsed))["nodes"] == len(state.nodes)
    finally:
        await lab.close()


async def test_the_leader_writes_backups_to_an_s3_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3server.fake_credentials(monkeypatch, tmp_path)  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    key_file = tmp_path / "backup.key"
    key_file.write_text(seal.new_key())
    with s3server.running_moto() as endpoint:
        s3server.create_bucket(endpoint, "backups")
        lab = Lab(tmp_path / "nodes")
        try:
            n1 = await lab.start("n1", extra=(
                "--backup.url", "s3://backups/mesh", "--backup.s3-endpoint", endpoint,
                "--backup.interval", "1s", "--backup.retain", "2",
                "--backup.key-file", str(key_file),
            ))  # fmt: skip
            leader = n1.daemon.backups
            assert leader is not None
            assert str(leader.target) == "s3://backups/mesh"

            async def three_written() -> bool:
                return leader.status.written >= 3

            await async_eventually(three_written, timeout=15, what="three backups in the bucket")
            assert leader.status.failures == 0
            bucket = store.open_store("s3://backups/mesh", s3_endpoint=endpoint)
            names = await asyncio.to_thread(bucket.names)
            assert len(names) == 2  # --backup.retain 2
            sealed = await asyncio.to_thread(bucket.get, names[-1])
            header, state = snapshotfile.decode(seal.open_sealed(seal.read_key(key_file), sealed))
            assert set(state.nodes) == {"n1"}
            assert header.domain == "webmesh.internal"
        finally:
            await lab.close()
