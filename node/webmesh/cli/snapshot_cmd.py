"""``wmctl snapshot save FILE`` and ``wmctl snapshot inspect FILE``.

``save`` streams the whole mesh state from the server (``Mesh.SaveSnapshot``, which needs
"get snapshots"), checks it before anything is written, and writes it atomically (a temporary
file, fsynced, renamed) with mode 0600: it holds every node's keys and addresses and the RBAC
rules. ``inspect`` reads a file without any server and says what is in it, or why it is refused.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

from webmesh import errors, files
from webmesh.backup import seal
from webmesh.client.mesh_client import MeshClient
from webmesh.mesh import snapshotfile

EPILOG = """\
examples:
  wmctl snapshot save mesh-$(date +%F).snapshot
  wmctl snapshot inspect mesh-2026-12-07.snapshot
  wmctl snapshot inspect mesh-2026-12-07.snapshot -o json
Saving needs 'get snapshots' (mesh-admin has it). The file holds the whole mesh state (nodes,
public keys, addresses, RBAC, network ACLs, routes), never a private key; keep it private.
"""


def add_parser(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    snapshot = sub.add_parser(
        "snapshot",
        parents=common,
        help="save the mesh state to a file, or inspect such a file",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = snapshot.add_subparsers(dest="action", required=True, metavar="ACTION")
    save = actions.add_parser(
        "save",
        parents=common,
        help="stream the mesh state from the server to FILE",
        epilog="example:\n  wmctl snapshot save mesh.snapshot --server 10.0.0.1:8443\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    save.add_argument("file", metavar="FILE")
    inspect = actions.add_parser(
        "inspect",
        parents=common,
        help="say what FILE holds, or why it is refused (no server needed)",
        epilog="examples:\n  wmctl snapshot inspect mesh.snapshot\n"
        "  wmctl snapshot inspect mesh.snapshot -o json\n"
        "  wmctl snapshot inspect /backups/webmesh-20261207T101500Z-000000000042.backup "
        "--key-file backup.key\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("file", metavar="FILE")
    inspect.add_argument(
        "--key-file",
        default="",
        metavar="PATH",
        help="the backup key, to read a backup the nodes wrote (--backup.key-file)",
    )


async def run(mesh: MeshClient, args: argparse.Namespace) -> str:
    if args.action == "inspect":
        return inspect(Path(args.file), args.output, key_file=args.key_file)
    return await save(mesh, Path(args.file))


async def save(mesh: MeshClient, path: Path) -> str:
    started = time.monotonic()
    data = await mesh.snapshot()
    header, state = snapshotfile.decode(data, source=f"the snapshot from {mesh.server}")
    files.write_atomically(path, data, mode=0o600)
    took = time.monotonic() - started
    return (
        f"saved {len(state.nodes)} nodes (raft index {header.index}, mesh {header.domain}) to "
        f"{path}: {len(data)} bytes, sha256 {header.sha256[:16]}…, in {took:.1f} s\n"
    )


def inspect(path: Path, fmt: str, *, key_file: str = "") -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot read {path}: {exc.strerror or exc}") from exc
    if data.startswith(seal.MAGIC):  # a backup: encrypted and authenticated
        if not key_file:
            raise errors.InvalidArgument(f"{path} is an encrypted backup: give --key-file")
        data = seal.open_sealed(seal.read_key(Path(key_file)), data, source=str(path))
    header, state = snapshotfile.decode(data, source=str(path))
    summary = snapshotfile.summary(header, state)
    if fmt == "json":
        return json.dumps(summary, indent=2) + "\n"
    if fmt == "yaml":
        return str(yaml.safe_dump(summary, sort_keys=False))
    taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(header.created_at))
    roles = ", ".join(f"{count} {role}" for role, count in summary["by_role"].items())
    objects = ", ".join(f"{count} {kind}" for kind, count in summary["objects"].items())
    networks = header.ipv4 + (f", {header.ipv6}" if header.ipv6 else "")
    return (
        f"Snapshot:  {path} (valid: checksum matches)\n"
        f"Taken:     {taken}, raft index {header.index}\n"
        f"Mesh:      {header.domain} ({networks})\n"
        f"Nodes:     {summary['nodes']} ({roles}; {summary['offline']} offline)\n"
        f"Objects:   {objects}\n"
        f"Size:      {header.length} bytes of state, sha256 {header.sha256}\n"
    )
