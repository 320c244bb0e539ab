"""Where ``--bootstrap.restore-from`` reads a mesh's state: a snapshot file, a backup file, or
the newest backup of a store (a directory, ``file:///path``, ``s3://bucket/prefix``; an
``s3://`` URL that ends in a backup's name is that one backup).

What comes back is a snapshot file's bytes (``webmesh.mesh.snapshotfile`` parses and checks
them): a backup is opened with the backup key first, and one that does not open is refused
here, with a message naming the object. The newest backup is taken, never an older one in its
place: restoring silently from an older state than the operator expects would lose what was
written since; the message names the store so that they can pick another object by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webmesh import errors
from webmesh.backup import seal, store


@dataclass(frozen=True, slots=True)
class Source:
    """A snapshot as read: what it was read from (for messages and logs), and its bytes."""

    name: str
    data: bytes


def read(source: str, *, key: bytes | None, s3_endpoint: str = "", s3_region: str = "") -> Source:
    """The snapshot file in ``source`` (blocking: run it in a thread); ``InvalidArgument`` when
    there is none, or it is a backup that does not open with ``key``."""
    name, data = _fetch(source, s3_endpoint=s3_endpoint, s3_region=s3_region)
    if not data.startswith(seal.MAGIC):
        return Source(name, data)  # a plain snapshot file (wmctl snapshot save)
    if key is None:
        raise errors.InvalidArgument(
            f"{name} is an encrypted backup: give its key with --backup.key-file"
        )
    return Source(name, seal.open_sealed(key, data, source=name))


def _fetch(source: str, *, s3_endpoint: str, s3_region: str) -> tuple[str, bytes]:
    if source.startswith("s3://"):
        parent, _, last = source.rpartition("/")
        one = store.is_backup_name(last)
        try:
            target = store.open_store(
                parent if one else source, s3_endpoint=s3_endpoint, s3_region=s3_region
            )
        except (OSError, ValueError) as exc:
            raise errors.InvalidArgument(f"cannot open {source}: {exc}") from exc
        return _get(target, last if one else _newest(target, source))
    path = Path(source.removeprefix("file://"))
    if path.is_dir():
        directory = store.DirectoryStore(path)
        return _get(directory, _newest(directory, source))
    try:
        return str(path), path.read_bytes()
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot read {path}: {exc.strerror}") from exc


def _newest(target: store.BackupStore, source: str) -> str:
    try:
        names = target.names()
    except OSError as exc:
        raise errors.Unavailable(f"cannot list the backups in {source}: {exc}") from exc
    if not names:
        raise errors.InvalidArgument(f"{source} holds no backup (webmesh-*.backup)")
    return names[-1]


def _get(target: store.BackupStore, name: str) -> tuple[str, bytes]:
    where = f"{str(target).rstrip('/')}/{name}"
    try:
        return where, target.get(name)
    except FileNotFoundError:
        raise errors.InvalidArgument(f"there is no backup {where}") from None
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot read {where}: {exc}") from exc
