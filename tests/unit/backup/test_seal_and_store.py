"""Backups are sealed (AES-256-GCM) and kept whole, in order, with a retention."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from webmesh import errors
from webmesh.backup import seal, store


@pytest.fixture
def key() -> bytes:
    return base64.b64decode(seal.new_key())


def test_a_sealed_backup_opens_with_its_key(key: bytes) -> None:
    sealed = seal.seal(key, b"the mesh state")
    assert b"the mesh state" not in sealed
    assert seal.open_sealed(key, sealed) == b"the mesh state"
    assert seal.seal(key, b"x") != seal.seal(key, b"x")  # a fresh nonce each time


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda d: d[:-1], "does not open"),
        (lambda d: d[:-3] + bytes([d[-3] ^ 1]) + d[-2:], "does not open"),
        (lambda d: b"PK\x03\x04" + d, "not a webmesh backup"),
    ],
)
def test_a_damaged_or_foreign_backup_is_refused(key: bytes, damage, why) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidArgument, match=why):
        seal.open_sealed(key, damage(seal.seal(key, b"state")), source="b.backup")


def test_another_meshs_key_does_not_open_it(key: bytes) -> None:
    other = base64.b64decode(seal.new_key())
    with pytest.raises(errors.InvalidArgument, match="another mesh's key"):
        seal.open_sealed(other, seal.seal(key, b"state"))


def test_a_key_file_must_hold_32_bytes_of_base64(tmp_path: Path) -> None:
    good = tmp_path / "good.key"
    good.write_text(seal.new_key() + "\n")
    assert len(seal.read_key(good)) == 32
    for text in ("not base64!", base64.b64encode(b"short").decode()):
        bad = tmp_path / "bad.key"
        bad.write_text(text)
        with pytest.raises(errors.InvalidArgument, match="32 bytes"):
            seal.read_key(bad)
    with pytest.raises(errors.InvalidArgument, match="cannot read"):
        seal.read_key(tmp_path / "missing.key")


def test_the_store_keeps_the_newest_and_writes_them_private(tmp_path: Path) -> None:
    target = store.DirectoryStore(tmp_path / "backups")
    names = [store.object_name(1_700_000_000 + i * 60, 10 + i) for i in range(5)]
    for name in reversed(names):  # written out of order: names still sort by age
        target.put(name, name.encode())
    assert target.names() == names
    assert target.prune(2) == names[:3]
    assert target.names() == names[3:]
    assert target.get(names[-1]) == names[-1].encode()
    assert stat.S_IMODE((target.directory / names[-1]).stat().st_mode) == 0o600
    assert not [p for p in target.directory.iterdir() if p.name.startswith(".")]  # no leftovers
