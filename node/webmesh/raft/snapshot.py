"""Raft snapshots as our own file format: what a follower installs is never unpickled.

pysyncobj writes a snapshot ("full dump") by pickling its bookkeeping with the consumers' data,
and a follower that is too far behind receives that file in chunks and unpickles it. Given
``SyncObjConf.serializer``/``deserializer`` (and a dump file; every replica gets one, see
``webmesh.raft.config``) it calls ours instead, on its own thread, at a point where the state
machine holds exactly the applied entries:

- :meth:`SnapshotFiles.write` stores a ``Snapshot`` message (``v1/wire.proto``): the state
  machine's snapshot (its versioned JSON), the last two applied entries (commands by meaning,
  as on the wire) and the voters' addresses;
- :meth:`SnapshotFiles.read` parses one (from our disk, or as received from the leader),
  restores the state machine from it and gives pysyncobj back its bookkeeping, building the
  commands' bytes and the voters' node objects itself.

A file that does not parse raises: pysyncobj logs it and keeps its current state.

:class:`SnapshotSender` replaces how pysyncobj's serializer reads the file to send it: pysyncobj
opens the file for each follower and never closes it (a descriptor leaked per transmission);
ours reads it whole into memory when a transmission starts and forgets it when the transmission
ends, is cancelled, or a newer snapshot is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pysyncobj.node import TCPNode

from webmesh.raft import codec
from webmesh.raft.store import StateMachine
from webmesh.raft.v1 import wire_pb2 as pb

FORMAT = 1
MAX_SNAPSHOT_BYTES = 1 << 30  # a file larger than this is refused before it is read


class SnapshotSender:
    """``getTransmissionData``/``cancelTransmisstion`` of pysyncobj's serializer, file-safe."""

    def __init__(self, path: Path, chunk: int) -> None:
        self._path = path
        self._chunk = chunk
        self._sending: dict[Any, tuple[bytes, int]] = {}  # follower -> (file, bytes sent)

    def install(self, serializer: Any) -> None:
        """Take over from pysyncobj's serializer (instance attributes win over its methods)."""
        serializer.getTransmissionData = self.next_chunk
        serializer.cancelTransmisstion = self.cancel  # pysyncobj's spelling

    def next_chunk(self, follower: Any) -> tuple[bytes, bool, bool] | None:
        """(data, first, last) for ``follower``; None while there is no snapshot yet."""
        sending = self._sending.get(follower)
        if sending is None:
            try:
                sending = (self._path.read_bytes(), 0)
            except OSError:
                return None
        data, sent = sending
        chunk = data[sent : sent + self._chunk]
        last = not chunk
        if last:
            self._sending.pop(follower, None)
        else:
            self._sending[follower] = (data, sent + len(chunk))
        return chunk, sent == 0, last

    def cancel(self, follower: Any) -> None:
        self._sending.pop(follower, None)

    def restart(self) -> None:
        """A newer snapshot was written: transmissions in progress start over with it."""
        self._sending.clear()


class SnapshotFiles:
    """The serializer/deserializer pair pysyncobj calls for ``machine``."""

    def __init__(self, machine: StateMachine, sender: SnapshotSender | None = None) -> None:
        self._machine = machine
        self._sender = sender

    def write(self, path: str, data: Any) -> None:
        """``data`` is pysyncobj's ``(last entry, previous entry, cluster nodes)``."""
        last, previous, cluster = data
        snapshot = pb.Snapshot(
            format=FORMAT,
            last_entry=codec.entry_to_wire(last),
            previous_entry=codec.entry_to_wire(previous),
            voters=sorted(node.id for node in cluster if node is not None),
            state=self._machine.snapshot(),
        )
        with open(path, "wb") as out:
            out.write(snapshot.SerializeToString())
            out.flush()
            os.fsync(out.fileno())
        if self._sender is not None:
            self._sender.restart()

    def read(self, path: str) -> tuple[Any, Any, list[TCPNode]]:
        size = Path(path).stat().st_size
        if size > MAX_SNAPSHOT_BYTES:
            raise codec.WireError(f"snapshot of {size} bytes")
        snapshot = pb.Snapshot()
        try:
            snapshot.ParseFromString(Path(path).read_bytes())
        except Exception as exc:
            raise codec.WireError(f"unreadable snapshot: {exc}") from None
        if snapshot.format != FORMAT:
            raise codec.WireError(f"snapshot format {snapshot.format}, expected {FORMAT}")
        last = codec.entry_from_wire(snapshot.last_entry)
        previous = codec.entry_from_wire(snapshot.previous_entry)
        voters = [TCPNode(codec.valid_address(address)) for address in snapshot.voters]
        self._machine.restore(bytes(snapshot.state))
        return last, previous, voters
