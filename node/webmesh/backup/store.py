"""Where backups go: a directory (a mounted volume, an NFS share, a synced folder) or an S3
bucket (``webmesh.backup.s3``), behind one small interface, ``BackupStore``.

Objects are named ``webmesh-<UTC time>-<raft index>.backup`` so that names sort by age;
``prune`` keeps the newest ``retain``. In a directory they are written whole or not at all (a
temporary file, fsynced, renamed, the directory fsynced) with mode 0600.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from webmesh import files

PREFIX, SUFFIX = "webmesh-", ".backup"


def object_name(created_at: float, index: int) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_at))
    return f"{PREFIX}{stamp}-{index:012d}{SUFFIX}"


class BackupStore(Protocol):
    """A place that keeps backup objects by name (blocking calls: run them in a thread)."""

    def put(self, name: str, data: bytes) -> None: ...

    def names(self) -> list[str]:
        """The backups there (names that ``object_name`` made), the oldest first."""
        ...

    def get(self, name: str) -> bytes: ...

    def prune(self, retain: int) -> list[str]:
        """Delete all but the newest ``retain``; the names deleted."""
        ...


def is_backup_name(name: str) -> bool:
    return name.startswith(PREFIX) and name.endswith(SUFFIX)


def open_store(url: str, *, s3_endpoint: str = "", s3_region: str = "") -> BackupStore:
    """The store ``--backup.url`` names: ``s3://bucket/prefix``, else a directory's path."""
    if url.startswith("s3://"):
        from webmesh.backup.s3 import S3Store  # noqa: PLC0415 (boto3 only where S3 is used)

        return S3Store.from_url(url, endpoint=s3_endpoint, region=s3_region)
    return DirectoryStore(Path(url))


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
        return sorted(p.name for p in self.directory.iterdir() if is_backup_name(p.name))

    def get(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()

    def prune(self, retain: int) -> list[str]:
        """Delete all but the newest ``retain``; the names deleted."""
        names = self.names()
        doomed = names[: max(len(names) - retain, 0)]
        for name in doomed:
            (self.directory / name).unlink(missing_ok=True)
        return doomed
