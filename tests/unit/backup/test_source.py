"""Where --bootstrap.restore-from reads: a snapshot file as it is, a backup opened with the key,
a directory's newest backup; and refusals that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from webmesh import errors
from webmesh.backup import seal, source, store

SNAPSHOT = b'{"format": "webmesh-snapshot"}\n{}'


def test_a_snapshot_file_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "mesh.snapshot"
    path.write_bytes(SNAPSHOT)
    assert source.read(str(path), key=None) == source.Source(str(path), SNAPSHOT)


def test_a_backup_opens_with_its_key_and_only_with_it(tmp_path: Path) -> None:
    key = seal.read_key(_key_file(tmp_path))
    path = tmp_path / "one.backup"
    path.write_bytes(seal.seal(key, SNAPSHOT))
    assert source.read(str(path), key=key).data == SNAPSHOT
    with pytest.raises(errors.InvalidArgument, match=r"give its key with --backup\.key-file"):
        source.read(str(path), key=None)
    with pytest.raises(errors.InvalidArgument, match="another mesh's key"):
        source.read(str(path), key=bytes(32))


def test_a_directory_gives_its_newest_backup(tmp_path: Path) -> None:
    key = seal.read_key(_key_file(tmp_path))
    backups = store.DirectoryStore(tmp_path / "backups")
    for index, body in ((1, b"old\n{}"), (2, SNAPSHOT)):
        backups.put(store.object_name(1000.0 + index, index), seal.seal(key, body))
    (backups.directory / "notes.txt").write_text("not a backup")
    for given in (str(backups.directory), f"file://{backups.directory}"):
        read = source.read(given, key=key)
        assert read.data == SNAPSHOT
        assert read.name.endswith(backups.names()[-1])


def test_refusals_say_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.InvalidArgument, match="holds no backup"):
        source.read(str(tmp_path / "empty"), key=None)
    with pytest.raises(errors.InvalidArgument, match=r"cannot read .*gone"):
        source.read(str(tmp_path / "gone"), key=None)


def _key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    path.write_text(seal.new_key())
    return path
