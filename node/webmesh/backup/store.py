"""Where backups go: a directory (a mounted volume, an NFS share, a synced folder).

Objects are written whole or not at all (a temporary file, fsynced, renamed, the directory
fsynced) with mode 0600, named ``webmesh-<UTC time>-<raft index>.backup`` so that names sort by
age; ``prune`` keeps the newest ``retain``.
"""

from __future__ import annotations

import time
from pathlib import Path

from webmesh import files

PREFIX, SUFFIX = "webmesh-", ".backup"


def object_name(created_at: float, index: int) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_at))
    return f"{PREFIX}{stamp}-{index:012d}{SUFFIX}"


class DirectoryStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __str__(self) -> str:
        return str(self.directory)

    def put(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        files.write_atomically(self.directory / name, data, mode=0o600, sync_directory=True)

    def names(self) -> list[str]:
        """The backups here, the oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p.name
            for p in self.directory.iterdir()
            if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX)
        )

    def get(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()

    def prune(self, retain: int) -> list[str]:
        """Delete all but the newest ``retain``; the names deleted."""
        names = self.names()
        doomed = names[: max(len(names) - retain, 0)]
        for name in doomed:
            (self.directory / name).unlink(missing_ok=True)
        return doomed
