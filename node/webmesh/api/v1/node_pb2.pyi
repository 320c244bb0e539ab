import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from webmesh.api.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RaftStatus(_message.Message):
    __slots__ = ("state", "leader_id", "leader_address", "term", "commit_index", "applied_index", "has_quorum", "voters", "address")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    HAS_QUORUM_FIELD_NUMBER: _ClassVar[int]
    VOTERS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    state: str
    leader_id: str
    leader_address: str
    term: int
    commit_index: int
    applied_index: int
    has_quorum: bool
    voters: _containers.RepeatedScalarFieldContainer[str]
    address: str
    def __init__(self, state: _Optional[str] = ..., leader_id: _Optional[str] = ..., leader_address: _Optional[str] = ..., term: _Optional[int] = ..., commit_index: _Optional[int] = ..., applied_index: _Optional[int] = ..., has_quorum: _Optional[bool] = ..., voters: _Optional[_Iterable[str]] = ..., address: _Optional[str] = ...) -> None: ...

class PeerStatus(_message.Message):
    __slots__ = ("id", "public_key", "endpoint", "allowed_ips", "last_handshake", "rx_bytes", "tx_bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IPS_FIELD_NUMBER: _ClassVar[int]
    LAST_HANDSHAKE_FIELD_NUMBER: _ClassVar[int]
    RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    public_key: str
    endpoint: str
    allowed_ips: _containers.RepeatedScalarFieldContainer[str]
    last_handshake: _timestamp_pb2.Timestamp
    rx_bytes: int
    tx_bytes: int
    def __init__(self, id: _Optional[str] = ..., public_key: _Optional[str] = ..., endpoint: _Optional[str] = ..., allowed_ips: _Optional[_Iterable[str]] = ..., last_handshake: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rx_bytes: _Optional[int] = ..., tx_bytes: _Optional[int] = ...) -> None: ...

class InterfaceStatus(_message.Message):
    __slots__ = ("name", "public_key", "listen_port", "addresses", "total_rx_bytes", "total_tx_bytes", "peers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    LISTEN_PORT_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    public_key: str
    listen_port: int
    addresses: _containers.RepeatedScalarFieldContainer[str]
    total_rx_bytes: int
    total_tx_bytes: int
    peers: _containers.RepeatedCompositeFieldContainer[PeerStatus]
    def __init__(self, name: _Optional[str] = ..., public_key: _Optional[str] = ..., listen_port: _Optional[int] = ..., addresses: _Optional[_Iterable[str]] = ..., total_rx_bytes: _Optional[int] = ..., total_tx_bytes: _Optional[int] = ..., peers: _Optional[_Iterable[_Union[PeerStatus, _Mapping]]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("id", "version", "started_at", "role", "raft", "interface", "node_count", "is_leader", "mesh_generation")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    RAFT_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    NODE_COUNT_FIELD_NUMBER: _ClassVar[int]
    IS_LEADER_FIELD_NUMBER: _ClassVar[int]
    MESH_GENERATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: str
    started_at: _timestamp_pb2.Timestamp
    role: _types_pb2.NodeRole
    raft: RaftStatus
    interface: InterfaceStatus
    node_count: int
    is_leader: bool
    mesh_generation: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., role: _Optional[_Union[_types_pb2.NodeRole, str]] = ..., raft: _Optional[_Union[RaftStatus, _Mapping]] = ..., interface: _Optional[_Union[InterfaceStatus, _Mapping]] = ..., node_count: _Optional[int] = ..., is_leader: _Optional[bool] = ..., mesh_generation: _Optional[str] = ...) -> None: ...
