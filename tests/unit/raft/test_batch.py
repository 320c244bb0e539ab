"""The batch envelope: entries in, results out, one for each, in order."""

from __future__ import annotations

import pytest

from webmesh.raft import batch


def test_entries_and_results_round_trip_in_order() -> None:
    entries = [b'{"a":1}', b"", b"x" * 1000]
    packed = batch.pack(entries)
    assert batch.is_batch(packed) and not batch.is_batch(entries[0])
    assert batch.unpack(packed) == entries
    results = [b"ok", None, b""]
    assert batch.unpack_results(batch.pack_results(results)) == results


@pytest.mark.parametrize(
    "data",
    [
        batch.MAGIC,  # no count
        batch.pack([b"abc"])[:-1],  # truncated
        batch.pack([b"abc"]) + b"!",  # trailing bytes
        b'{"json": "not a batch"}',
    ],
)
def test_malformed_batches_are_refused(data: bytes) -> None:
    with pytest.raises(batch.BatchError):
        batch.unpack(data)


def test_a_failed_apply_is_not_a_valid_entry() -> None:
    with pytest.raises(batch.BatchError):
        batch.unpack(batch.pack_results([None]))
