from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RotateWireGuardKeyRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class RotateWireGuardKeyResponse(_message.Message):
    __slots__ = ("requested",)
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
    requested: int
    def __init__(self, requested: _Optional[int] = ...) -> None: ...

class RotateRaftKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateRaftKeysResponse(_message.Message):
    __slots__ = ("epoch",)
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    def __init__(self, epoch: _Optional[int] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("verbs", "resources", "resource_names")
    VERBS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_NAMES_FIELD_NUMBER: _ClassVar[int]
    verbs: _containers.RepeatedScalarFieldContainer[str]
    resources: _containers.RepeatedScalarFieldContainer[str]
    resource_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, verbs: _Optional[_Iterable[str]] = ..., resources: _Optional[_Iterable[str]] = ..., resource_names: _Optional[_Iterable[str]] = ...) -> None: ...

class Role(_message.Message):
    __slots__ = ("name", "rules")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    name: str
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    def __init__(self, name: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ...) -> None: ...

class Subject(_message.Message):
    __slots__ = ("kind", "name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RoleBinding(_message.Message):
    __slots__ = ("name", "role", "subjects")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ...) -> None: ...

class Group(_message.Message):
    __slots__ = ("name", "members")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    members: _containers.RepeatedCompositeFieldContainer[Subject]
    def __init__(self, name: _Optional[str] = ..., members: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ...) -> None: ...

class NetworkACL(_message.Message):
    __slots__ = ("name", "priority", "action", "source_nodes", "destination_nodes", "source_cidrs", "destination_cidrs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODES_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NODES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CIDRS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CIDRS_FIELD_NUMBER: _ClassVar[int]
    name: str
    priority: int
    action: str
    source_nodes: _containers.RepeatedScalarFieldContainer[str]
    destination_nodes: _containers.RepeatedScalarFieldContainer[str]
    source_cidrs: _containers.RepeatedScalarFieldContainer[str]
    destination_cidrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., priority: _Optional[int] = ..., action: _Optional[str] = ..., source_nodes: _Optional[_Iterable[str]] = ..., destination_nodes: _Optional[_Iterable[str]] = ..., source_cidrs: _Optional[_Iterable[str]] = ..., destination_cidrs: _Optional[_Iterable[str]] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("name", "node", "destination_cidrs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CIDRS_FIELD_NUMBER: _ClassVar[int]
    name: str
    node: str
    destination_cidrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., node: _Optional[str] = ..., destination_cidrs: _Optional[_Iterable[str]] = ...) -> None: ...

class Peering(_message.Message):
    __slots__ = ("name", "gateway", "remote_public_key", "remote_endpoint", "export_cidrs", "accept_cidrs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    REMOTE_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    EXPORT_CIDRS_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_CIDRS_FIELD_NUMBER: _ClassVar[int]
    name: str
    gateway: str
    remote_public_key: str
    remote_endpoint: str
    export_cidrs: _containers.RepeatedScalarFieldContainer[str]
    accept_cidrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., gateway: _Optional[str] = ..., remote_public_key: _Optional[str] = ..., remote_endpoint: _Optional[str] = ..., export_cidrs: _Optional[_Iterable[str]] = ..., accept_cidrs: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RoleList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Role]
    def __init__(self, items: _Optional[_Iterable[_Union[Role, _Mapping]]] = ...) -> None: ...

class RoleBindingList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RoleBinding]
    def __init__(self, items: _Optional[_Iterable[_Union[RoleBinding, _Mapping]]] = ...) -> None: ...

class GroupList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Group]
    def __init__(self, items: _Optional[_Iterable[_Union[Group, _Mapping]]] = ...) -> None: ...

class NetworkACLList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[NetworkACL]
    def __init__(self, items: _Optional[_Iterable[_Union[NetworkACL, _Mapping]]] = ...) -> None: ...

class RouteList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Route]
    def __init__(self, items: _Optional[_Iterable[_Union[Route, _Mapping]]] = ...) -> None: ...

class PeeringList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Peering]
    def __init__(self, items: _Optional[_Iterable[_Union[Peering, _Mapping]]] = ...) -> None: ...
