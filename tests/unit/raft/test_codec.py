"""Every message pysyncobj sends maps onto our schema and back; nothing else gets through."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from pysyncobj import pickle as syncobj_pickle
from pysyncobj.config import FAIL_REASON
from pysyncobj.node import TCPNode

from webmesh.raft import codec
from webmesh.raft.v1 import wire_pb2

REGULAR = bytes([codec.REGULAR]) + syncobj_pickle.dumps((7, (b'{"op":"put"}',)))
MEMBERSHIP = bytes([codec.MEMBERSHIP]) + syncobj_pickle.dumps(
    ["add", "10.0.0.2:9443", TCPNode("10.0.0.2:9443")]
)
VERSION = bytes([codec.VERSION]) + syncobj_pickle.dumps(2)
NO_OP = bytes([codec.NO_OP])

MESSAGES: list[Any] = [
    "10.0.0.1:9443",
    "readonly",
    {"type": "request_vote", "term": 4, "last_log_index": 10, "last_log_term": 3},
    {"type": "response_vote", "term": 4},
    {
        "type": "append_entries",
        "term": 4,
        "commit_index": 9,
        "prevLogIdx": 8,
        "prevLogTerm": 3,
        "entries": [(REGULAR, 9, 4), (MEMBERSHIP, 10, 4), (NO_OP, 11, 4), (VERSION, 12, 4)],
    },
    {
        "type": "append_entries",
        "term": 4,
        "commit_index": 9,
        "prevLogIdx": 8,
        "prevLogTerm": 3,
        "entries": [],
    },
    {"type": "append_entries", "term": 4, "commit_index": 9, "serialized": None},
    {"type": "append_entries", "term": 4, "commit_index": 9, "serialized": (b"abc", True, False)},
    {"type": "next_node_idx", "next_node_idx": 12, "reset": False, "success": True},
    {"type": "apply_command", "command": REGULAR, "request_id": 3},
    {"type": "apply_command", "command": REGULAR},
    {"type": "apply_command_response", "request_id": 3, "log_idx": 12, "log_term": 4},
    {"type": "apply_command_response", "request_id": 3, "error": FAIL_REASON.REQUEST_DENIED},
    {"type": "timeout_now", "term": 4},
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m if isinstance(m, str) else m["type"])
def test_every_message_survives_the_round_trip(message: Any) -> None:
    assert codec.decode(codec.encode(message)) == message


def test_commands_travel_by_meaning_and_are_rebuilt_locally() -> None:
    for command in (REGULAR, MEMBERSHIP, VERSION, NO_OP):
        rebuilt = codec.command_from_wire(codec.command_to_wire(command))
        assert rebuilt[0] == command[0]
        assert syncobj_pickle.loads(rebuilt[1:]) if len(rebuilt) > 1 else True
    node = syncobj_pickle.loads(codec.command_from_wire(codec.command_to_wire(MEMBERSHIP))[1:])[2]
    assert isinstance(node, TCPNode) and node.address == "10.0.0.2:9443"


@pytest.mark.parametrize(
    "message",
    [
        ["status"],  # pysyncobj's utility (admin) commands are not served
        {
            "type": "append_entries",
            "term": 1,
            "commit_index": 1,
            "transmission": "start",
            "data": b"x",
            "prevLogIdx": 1,
            "prevLogTerm": 1,
        },
        {"type": "nonsense"},
        42,
    ],
)
def test_what_we_never_send_cannot_be_encoded(message: Any) -> None:
    with pytest.raises(codec.WireError):
        codec.encode(message)


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (print, ("pwned",))


def test_a_command_naming_any_other_class_is_refused_on_the_way_out() -> None:
    evil = bytes([codec.REGULAR]) + pickle.dumps((1, (_Evil(),)), protocol=2)
    with pytest.raises(codec.WireError, match=r"builtin.*print"):
        codec.command_to_wire(evil)
    not_bytes = bytes([codec.REGULAR]) + syncobj_pickle.dumps((1, ("text",)))
    with pytest.raises(codec.WireError, match="_apply_entry"):
        codec.command_to_wire(not_bytes)


@pytest.mark.parametrize(
    "frame",
    [
        b"",  # an empty message
        b"\xff\xff\xff",  # not protobuf
        pickle.dumps({"type": "request_vote"}),
        wire_pb2.Message(
            append_entries=wire_pb2.AppendEntries(term=1, entries=[wire_pb2.Entry(index=1)])
        ).SerializeToString(),  # entries without a previous entry
        wire_pb2.Message(
            apply_command=wire_pb2.ApplyCommand(
                command=wire_pb2.Command(membership=wire_pb2.Membership(change="drop"))
            )
        ).SerializeToString(),
        wire_pb2.Message(
            apply_command=wire_pb2.ApplyCommand(
                command=wire_pb2.Command(
                    membership=wire_pb2.Membership(change="add", address="no-port")
                )
            )
        ).SerializeToString(),
    ],
)
def test_frames_outside_the_schema_are_refused(frame: bytes) -> None:
    with pytest.raises(codec.WireError):
        codec.decode(frame)
