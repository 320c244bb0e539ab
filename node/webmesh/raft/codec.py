"""pysyncobj's messages to and from our wire schema (``v1/wire.proto``): no pickle on the wire.

pysyncobj hands its transport Python values (dicts, a node's address string) and pickles them;
log entries carry commands that are a type byte and a pickle, which every replica unpickles when
it applies them. Here each message is mapped field by field onto the schema, and each command
onto what it means (a call of our one replicated method with its bytes, a voter added or
removed, a version, a no-op). The receiving replica builds its own command bytes from that
meaning with pysyncobj's pickler: pickling values we hold is safe, and nothing a peer sent is
ever unpickled.

Going out, the commands of our own log are read back with :func:`_read_local`, an unpickler that
resolves no class but pysyncobj's node (as an inert record) and runs no code: our log holds only
commands this module built or that our store proposed. Everything unexpected (a message type or
field pysyncobj does not send, a large entry's chunked "transmission", utility commands) is a
:class:`WireError`: the connection is dropped.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf.message import DecodeError
from pysyncobj import pickle as syncobj_pickle
from pysyncobj.node import TCPNode

from webmesh.raft.v1 import wire_pb2 as pb

REGULAR, NO_OP, MEMBERSHIP, VERSION = 0, 1, 2, 3  # pysyncobj's _COMMAND_TYPE
READONLY = "readonly"  # what an observer says instead of its address
CHANGES = ("add", "rem")


class WireError(ValueError):
    """A frame or a message outside the schema, or a command we do not replicate."""


# ----------------------------------------------------------------------------- commands


class _Node:
    """What a pickled ``TCPNode`` reads back as: its attributes, no behaviour."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """How protocol 2 (pysyncobj's) pickles ``bytes``: ``_codecs.encode(text, "latin1")``."""
    if encoding != "latin1" or not isinstance(text, str):
        raise WireError("bytes pickled with another encoding")
    return text.encode("latin1")


class _LocalUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("pysyncobj.node", "TCPNode"):
            return _Node
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        raise WireError(f"command refers to {module}.{name}")


def _read_local(payload: bytes) -> Any:
    return _LocalUnpickler(io.BytesIO(payload)).load()


def command_to_wire(command: bytes) -> pb.Command:
    """The meaning of one of our log's commands."""
    if not command:
        raise WireError("empty command")
    kind, payload = command[0], command[1:]
    if kind == NO_OP:
        return pb.Command(no_op=pb.NoOp())
    value = _read_local(payload)
    if kind == REGULAR:
        method, entry = _regular_call(value)
        return pb.Command(regular=pb.Regular(method=method, entry=entry))
    if kind == MEMBERSHIP:
        if not (isinstance(value, list) and len(value) == 3 and value[0] in CHANGES):
            raise WireError("malformed membership command")
        return pb.Command(membership=pb.Membership(change=value[0], address=str(value[1])))
    if kind == VERSION and isinstance(value, int):
        return pb.Command(version=pb.Version(version=value))
    raise WireError(f"unknown command type {kind}")


def _regular_call(value: Any) -> tuple[int, bytes]:
    """(method number, entry) of ``(method, (entry,))`` or ``(method, (entry,), {})``."""
    if isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[0], int):
        args, kwargs = value[1], value[2] if len(value) == 3 else {}
        one_bytes = isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], bytes)
        if one_bytes and not kwargs:
            return value[0], args[0]
    raise WireError("a replicated call other than _apply_entry(bytes)")


def command_from_wire(command: pb.Command) -> bytes:
    """This replica's bytes for a command a peer sent."""
    which = command.WhichOneof("kind")
    if which == "regular":
        call = (command.regular.method, (bytes(command.regular.entry),))
        return bytes([REGULAR]) + bytes(syncobj_pickle.dumps(call))
    if which == "no_op":
        return bytes([NO_OP])
    if which == "membership":
        change, address = command.membership.change, command.membership.address
        if change not in CHANGES:
            raise WireError(f"membership change {change!r}")
        node = TCPNode(valid_address(address))
        return bytes([MEMBERSHIP]) + bytes(syncobj_pickle.dumps([change, node.id, node]))
    if which == "version":
        return bytes([VERSION]) + bytes(syncobj_pickle.dumps(command.version.version))
    raise WireError("command without a kind")


def valid_address(address: str) -> str:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WireError(f"invalid voter address {address!r}")
    return address


def entry_to_wire(entry: Any) -> pb.Entry:
    command, index, term = entry
    return pb.Entry(command=command_to_wire(command), index=index, term=term)


def entry_from_wire(entry: pb.Entry) -> tuple[bytes, int, int]:
    return command_from_wire(entry.command), entry.index, entry.term


# ----------------------------------------------------------------------------- messages


def encode(message: Any) -> bytes:
    """pysyncobj's message (a dict, or the first message: an address or "readonly")."""
    return _to_wire(message).SerializeToString()


def decode(data: bytes) -> Any:
    """The message pysyncobj expects, from a frame a peer sent; :class:`WireError` if it is
    not one of ours."""
    wire = pb.Message()
    try:
        wire.ParseFromString(data)
    except DecodeError as exc:
        raise WireError(f"undecodable frame: {exc}") from None
    return _from_wire(wire)


def _to_wire(message: Any) -> pb.Message:
    if isinstance(message, str):
        address = "" if message == READONLY else message
        return pb.Message(identify=pb.Identify(address=address))
    if not isinstance(message, Mapping):
        raise WireError(f"message of type {type(message).__name__}")
    kind = message.get("type")
    encoder = _ENCODERS.get(kind) if isinstance(kind, str) else None
    if encoder is None:
        raise WireError(f"message type {kind!r}")
    return encoder(message)


def _append_entries(m: Mapping[str, Any]) -> pb.Message:
    if "transmission" in m:
        raise WireError("an entry larger than a batch (pysyncobj's chunked transmission)")
    body = pb.AppendEntries(term=m["term"], commit_index=m["commit_index"])
    if "prevLogIdx" in m:
        body.prev_log_index, body.prev_log_term = m["prevLogIdx"], m["prevLogTerm"]
        body.entries.extend(entry_to_wire(e) for e in m.get("entries", ()))
    if "serialized" in m:
        body.install_snapshot = True
        if m["serialized"] is not None:
            data, first, last = m["serialized"]
            body.snapshot.CopyFrom(pb.SnapshotChunk(data=data, first=first, last=last))
    return pb.Message(append_entries=body)


def _apply_command(m: Mapping[str, Any]) -> pb.Message:
    body = pb.ApplyCommand(command=command_to_wire(m["command"]))
    if "request_id" in m:
        body.request_id = m["request_id"]
    return pb.Message(apply_command=body)


def _apply_command_response(m: Mapping[str, Any]) -> pb.Message:
    body = pb.ApplyCommandResponse(request_id=m["request_id"])
    if m.get("error") is not None:
        body.error = m["error"]
    else:
        body.log_index, body.log_term = m["log_idx"], m["log_term"]
    return pb.Message(apply_command_response=body)


_ENCODERS: dict[str, Callable[[Mapping[str, Any]], pb.Message]] = {
    "request_vote": lambda m: pb.Message(
        request_vote=pb.RequestVote(
            term=m["term"], last_log_index=m["last_log_index"], last_log_term=m["last_log_term"]
        )
    ),
    "response_vote": lambda m: pb.Message(response_vote=pb.ResponseVote(term=m["term"])),
    "append_entries": _append_entries,
    "next_node_idx": lambda m: pb.Message(
        next_node_index=pb.NextNodeIndex(
            next_node_idx=m["next_node_idx"], reset=m["reset"], success=m["success"]
        )
    ),
    "apply_command": _apply_command,
    "apply_command_response": _apply_command_response,
    "timeout_now": lambda m: pb.Message(timeout_now=pb.TimeoutNow(term=m["term"])),
}


def _from_wire(wire: pb.Message) -> Any:
    which = wire.WhichOneof("body")
    if which == "identify":
        return wire.identify.address or READONLY
    decoder = _DECODERS.get(which or "")
    if decoder is None:
        raise WireError("empty message")
    return decoder(getattr(wire, which or ""))


def _apply_command_from_wire(a: pb.ApplyCommand) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "apply_command", "command": command_from_wire(a.command)}
    if a.HasField("request_id"):
        message["request_id"] = a.request_id
    return message


def _apply_command_response_from_wire(r: pb.ApplyCommandResponse) -> dict[str, Any]:
    response: dict[str, Any] = {"type": "apply_command_response", "request_id": r.request_id}
    if r.HasField("error"):
        response["error"] = r.error
    else:
        response["log_idx"], response["log_term"] = r.log_index, r.log_term
    return response


def _append_entries_from_wire(a: pb.AppendEntries) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "append_entries",
        "term": a.term,
        "commit_index": a.commit_index,
    }
    if a.HasField("prev_log_index") != a.HasField("prev_log_term"):
        raise WireError("append_entries with half of its previous entry")
    if a.HasField("prev_log_index"):
        message["prevLogIdx"], message["prevLogTerm"] = a.prev_log_index, a.prev_log_term
        message["entries"] = [entry_from_wire(e) for e in a.entries]
    elif a.entries:
        raise WireError("append_entries with entries but no previous entry")
    if a.install_snapshot:
        chunk = a.snapshot if a.HasField("snapshot") else None
        message["serialized"] = (
            None if chunk is None else (bytes(chunk.data), chunk.first, chunk.last)
        )
    return message


_DECODERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "request_vote": lambda v: {
        "type": "request_vote",
        "term": v.term,
        "last_log_index": v.last_log_index,
        "last_log_term": v.last_log_term,
    },
    "response_vote": lambda v: {"type": "response_vote", "term": v.term},
    "append_entries": _append_entries_from_wire,
    "next_node_index": lambda n: {
        "type": "next_node_idx",
        "next_node_idx": n.next_node_idx,
        "reset": n.reset,
        "success": n.success,
    },
    "apply_command": _apply_command_from_wire,
    "apply_command_response": _apply_command_response_from_wire,
    "timeout_now": lambda v: {"type": "timeout_now", "term": v.term},
}
