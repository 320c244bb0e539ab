"""`wmctl snapshot save` through real servers (in-process wmctl, real gRPC and Raft), and the
saved file read back by `wmctl snapshot inspect`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from integration.node.meshlab import Cluster
from webmesh import errors
from webmesh.cli import main as wmctl
from webmesh.mesh import snapshotfile

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the cluster's loop (conftest)


async def wmctl_run(server: str, *argv: str) -> str:
    args = wmctl.build_parser().parse_args(["--insecure", "-s", server, *argv])
    return await wmctl.run(args)


async def test_a_snapshot_from_any_server_holds_the_whole_mesh(
    cluster: Cluster, tmp_path: Path
) -> None:
    async with cluster.bootstrap.client() as client:
        listed = {n.id: n for n in await client.list_nodes()}
    for member in (cluster.bootstrap, cluster.observer):  # the leader, and a read replica
        path = tmp_path / f"{member.node_id}.snapshot"
        said = await wmctl_run(member.api, "snapshot", "save", str(path))
        assert f"to {path}" in said, said
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds every node's keys
        header, state = snapshotfile.decode(path.read_bytes())
        assert set(state.nodes) >= set(listed)
        for node_id, node in listed.items():
            assert state.nodes[node_id].public_key == node.public_key
            assert state.nodes[node_id].ipv4 == node.private_ipv4
        assert header.domain == "webmesh.internal" and header.index == state.index

        summary = json.loads(
            await wmctl_run(member.api, "snapshot", "inspect", str(path), "-o", "json")
        )
        assert summary["nodes"] == len(state.nodes)
        assert summary["by_role"]["voter"] == 2


async def test_inspect_refuses_a_corrupted_file(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "mesh.snapshot"
    await wmctl_run(cluster.bootstrap.api, "snapshot", "save", str(path))
    text = await wmctl_run(cluster.bootstrap.api, "snapshot", "inspect", str(path))
    assert "valid: checksum matches" in text
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01  # one bit of the state
    broken = tmp_path / "broken.snapshot"
    broken.write_bytes(bytes(data))
    with pytest.raises(errors.InvalidArgument, match="corrupted"):
        await wmctl_run(cluster.bootstrap.api, "snapshot", "inspect", str(broken))
