import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_ROLE_UNSPECIFIED: _ClassVar[NodeRole]
    NODE_ROLE_VOTER: _ClassVar[NodeRole]
    NODE_ROLE_OBSERVER: _ClassVar[NodeRole]
    NODE_ROLE_CLIENT: _ClassVar[NodeRole]
NODE_ROLE_UNSPECIFIED: NodeRole
NODE_ROLE_VOTER: NodeRole
NODE_ROLE_OBSERVER: NodeRole
NODE_ROLE_CLIENT: NodeRole

class MeshNode(_message.Message):
    __slots__ = ("id", "public_key", "private_ipv4", "private_ipv6", "wireguard_endpoints", "primary_endpoint", "role", "api_address", "raft_address", "routes", "joined_at", "is_leader", "raft_key", "online", "last_seen", "ephemeral", "meshdns_address", "observed_endpoint")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_IPV4_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_IPV6_FIELD_NUMBER: _ClassVar[int]
    WIREGUARD_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    API_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    IS_LEADER_FIELD_NUMBER: _ClassVar[int]
    RAFT_KEY_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    MESHDNS_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    id: str
    public_key: str
    private_ipv4: str
    private_ipv6: str
    wireguard_endpoints: _containers.RepeatedScalarFieldContainer[str]
    primary_endpoint: str
    role: NodeRole
    api_address: str
    raft_address: str
    routes: _containers.RepeatedScalarFieldContainer[str]
    joined_at: _timestamp_pb2.Timestamp
    is_leader: bool
    raft_key: str
    online: bool
    last_seen: _timestamp_pb2.Timestamp
    ephemeral: bool
    meshdns_address: str
    observed_endpoint: str
    def __init__(self, id: _Optional[str] = ..., public_key: _Optional[str] = ..., private_ipv4: _Optional[str] = ..., private_ipv6: _Optional[str] = ..., wireguard_endpoints: _Optional[_Iterable[str]] = ..., primary_endpoint: _Optional[str] = ..., role: _Optional[_Union[NodeRole, str]] = ..., api_address: _Optional[str] = ..., raft_address: _Optional[str] = ..., routes: _Optional[_Iterable[str]] = ..., joined_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., is_leader: _Optional[bool] = ..., raft_key: _Optional[str] = ..., online: _Optional[bool] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ephemeral: _Optional[bool] = ..., meshdns_address: _Optional[str] = ..., observed_endpoint: _Optional[str] = ...) -> None: ...

class WireGuardPeer(_message.Message):
    __slots__ = ("id", "public_key", "endpoint", "allowed_ips", "private_ipv4", "private_ipv6", "relay", "exit_routes", "path")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IPS_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_IPV4_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_IPV6_FIELD_NUMBER: _ClassVar[int]
    RELAY_FIELD_NUMBER: _ClassVar[int]
    EXIT_ROUTES_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    id: str
    public_key: str
    endpoint: str
    allowed_ips: _containers.RepeatedScalarFieldContainer[str]
    private_ipv4: str
    private_ipv6: str
    relay: bool
    exit_routes: _containers.RepeatedScalarFieldContainer[str]
    path: str
    def __init__(self, id: _Optional[str] = ..., public_key: _Optional[str] = ..., endpoint: _Optional[str] = ..., allowed_ips: _Optional[_Iterable[str]] = ..., private_ipv4: _Optional[str] = ..., private_ipv6: _Optional[str] = ..., relay: _Optional[bool] = ..., exit_routes: _Optional[_Iterable[str]] = ..., path: _Optional[str] = ...) -> None: ...
