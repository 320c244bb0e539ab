"""Several proposals in one Raft entry: the envelope, and the results that come back. Pure.

Every Raft entry costs a round of messages and, with ``--raft.sync=always``, an fsync on a
majority. Proposals that arrive while earlier ones are being committed are therefore packed into
one entry (``SyncObjStore`` decides when), applied one by one in order by every replica, and each
proposer gets its own result. A batch of one is sent as the bare entry, so a log written before
batching existed applies unchanged.

An envelope starts with ``MAGIC`` (a zero byte: no state-machine entry, which is JSON, does),
then a count and each entry with its length; results the same, with a flag for an entry whose
apply failed (``None``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

MAGIC = b"\x00WMB1"
_COUNT = struct.Struct(">I")
_LENGTH = struct.Struct(">I")
_FAILED = 0xFFFFFFFF  # a result's length that means "apply failed"
ENVELOPE_BYTES = len(MAGIC) + _COUNT.size  # plus _LENGTH.size per entry


class BatchError(ValueError):
    """Bytes that start like a batch but are not one."""


def is_batch(data: bytes) -> bool:
    return data.startswith(MAGIC)


def pack(entries: Sequence[bytes]) -> bytes:
    parts = [MAGIC, _COUNT.pack(len(entries))]
    for entry in entries:
        parts += [_LENGTH.pack(len(entry)), entry]
    return b"".join(parts)


def unpack(data: bytes) -> list[bytes]:
    return [entry or b"" for entry in _split(data, allow_failed=False)]


def pack_results(results: Sequence[bytes | None]) -> bytes:
    parts = [MAGIC, _COUNT.pack(len(results))]
    for result in results:
        if result is None:
            parts.append(_LENGTH.pack(_FAILED))
        else:
            parts += [_LENGTH.pack(len(result)), result]
    return b"".join(parts)


def unpack_results(data: bytes) -> list[bytes | None]:
    return _split(data, allow_failed=True)


def _split(data: bytes, *, allow_failed: bool) -> list[bytes | None]:
    if not is_batch(data) or len(data) < ENVELOPE_BYTES:
        raise BatchError("not a batch")
    (count,) = _COUNT.unpack_from(data, len(MAGIC))
    offset = ENVELOPE_BYTES
    items: list[bytes | None] = []
    for _ in range(count):
        if offset + _LENGTH.size > len(data):
            raise BatchError("truncated batch")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if length == _FAILED and allow_failed:
            items.append(None)
            continue
        if offset + length > len(data):
            raise BatchError("truncated batch")
        items.append(data[offset : offset + length])
        offset += length
    if offset != len(data):
        raise BatchError("trailing bytes after a batch")
    return items
