from webmesh.api.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JoinRequest(_message.Message):
    __slots__ = ("id", "public_key", "wireguard_endpoints", "as_voter", "as_observer", "raft_port", "api_port", "want_ipv6", "routes", "raft_address", "api_address", "raft_key", "raft_key_previous", "ephemeral", "previous_public_key", "meshdns_port", "wireguard_port")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    WIREGUARD_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    AS_VOTER_FIELD_NUMBER: _ClassVar[int]
    AS_OBSERVER_FIELD_NUMBER: _ClassVar[int]
    RAFT_PORT_FIELD_NUMBER: _ClassVar[int]
    API_PORT_FIELD_NUMBER: _ClassVar[int]
    WANT_IPV6_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    API_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAFT_KEY_FIELD_NUMBER: _ClassVar[int]
    RAFT_KEY_PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    MESHDNS_PORT_FIELD_NUMBER: _ClassVar[int]
    WIREGUARD_PORT_FIELD_NUMBER: _ClassVar[int]
    id: str
    public_key: str
    wireguard_endpoints: _containers.RepeatedScalarFieldContainer[str]
    as_voter: bool
    as_observer: bool
    raft_port: int
    api_port: int
    want_ipv6: bool
    routes: _containers.RepeatedScalarFieldContainer[str]
    raft_address: str
    api_address: str
    raft_key: str
    raft_key_previous: str
    ephemeral: bool
    previous_public_key: str
    meshdns_port: int
    wireguard_port: int
    def __init__(self, id: _Optional[str] = ..., public_key: _Optional[str] = ..., wireguard_endpoints: _Optional[_Iterable[str]] = ..., as_voter: _Optional[bool] = ..., as_observer: _Optional[bool] = ..., raft_port: _Optional[int] = ..., api_port: _Optional[int] = ..., want_ipv6: _Optional[bool] = ..., routes: _Optional[_Iterable[str]] = ..., raft_address: _Optional[str] = ..., api_address: _Optional[str] = ..., raft_key: _Optional[str] = ..., raft_key_previous: _Optional[str] = ..., ephemeral: _Optional[bool] = ..., previous_public_key: _Optional[str] = ..., meshdns_port: _Optional[int] = ..., wireguard_port: _Optional[int] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("mesh_domain", "network_ipv4", "network_ipv6", "address_ipv4", "address_ipv6", "peers", "raft_voters", "leader_id", "role", "node", "raft_keys", "meshdns_servers", "observed_endpoint")
    class RaftKeysEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESH_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    NETWORK_IPV4_FIELD_NUMBER: _ClassVar[int]
    NETWORK_IPV6_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_IPV4_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_IPV6_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    RAFT_VOTERS_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    RAFT_KEYS_FIELD_NUMBER: _ClassVar[int]
    MESHDNS_SERVERS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    mesh_domain: str
    network_ipv4: str
    network_ipv6: str
    address_ipv4: str
    address_ipv6: str
    peers: _containers.RepeatedCompositeFieldContainer[_types_pb2.WireGuardPeer]
    raft_voters: _containers.RepeatedScalarFieldContainer[str]
    leader_id: str
    role: _types_pb2.NodeRole
    node: _types_pb2.MeshNode
    raft_keys: _containers.ScalarMap[str, str]
    meshdns_servers: _containers.RepeatedScalarFieldContainer[str]
    observed_endpoint: str
    def __init__(self, mesh_domain: _Optional[str] = ..., network_ipv4: _Optional[str] = ..., network_ipv6: _Optional[str] = ..., address_ipv4: _Optional[str] = ..., address_ipv6: _Optional[str] = ..., peers: _Optional[_Iterable[_Union[_types_pb2.WireGuardPeer, _Mapping]]] = ..., raft_voters: _Optional[_Iterable[str]] = ..., leader_id: _Optional[str] = ..., role: _Optional[_Union[_types_pb2.NodeRole, str]] = ..., node: _Optional[_Union[_types_pb2.MeshNode, _Mapping]] = ..., raft_keys: _Optional[_Mapping[str, str]] = ..., meshdns_servers: _Optional[_Iterable[str]] = ..., observed_endpoint: _Optional[str] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class LeaveResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SubscribePeersRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class PeerList(_message.Message):
    __slots__ = ("peers", "index", "meshdns_servers")
    PEERS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MESHDNS_SERVERS_FIELD_NUMBER: _ClassVar[int]
    peers: _containers.RepeatedCompositeFieldContainer[_types_pb2.WireGuardPeer]
    index: int
    meshdns_servers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, peers: _Optional[_Iterable[_Union[_types_pb2.WireGuardPeer, _Mapping]]] = ..., index: _Optional[int] = ..., meshdns_servers: _Optional[_Iterable[str]] = ...) -> None: ...

class ReportPresenceRequest(_message.Message):
    __slots__ = ("node_ids", "observed_endpoints")
    class ObservedEndpointsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    observed_endpoints: _containers.ScalarMap[str, str]
    def __init__(self, node_ids: _Optional[_Iterable[str]] = ..., observed_endpoints: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ReportPresenceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReportPathRequest(_message.Message):
    __slots__ = ("node_id", "peer_id", "path")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    peer_id: str
    path: str
    def __init__(self, node_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class ReportPathResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
