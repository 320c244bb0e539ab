from webmesh.api.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetNodeRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeList(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_types_pb2.MeshNode]
    def __init__(self, nodes: _Optional[_Iterable[_Union[_types_pb2.MeshNode, _Mapping]]] = ...) -> None: ...

class GetMeshGraphRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MeshEdge(_message.Message):
    __slots__ = ("source", "target", "relayed_by", "path", "why")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    RELAYED_BY_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    relayed_by: str
    path: str
    why: str
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ..., relayed_by: _Optional[str] = ..., path: _Optional[str] = ..., why: _Optional[str] = ...) -> None: ...

class MeshGraph(_message.Message):
    __slots__ = ("nodes", "edges", "dot")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    DOT_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    edges: _containers.RepeatedCompositeFieldContainer[MeshEdge]
    dot: str
    def __init__(self, nodes: _Optional[_Iterable[str]] = ..., edges: _Optional[_Iterable[_Union[MeshEdge, _Mapping]]] = ..., dot: _Optional[str] = ...) -> None: ...

class SaveSnapshotRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...
