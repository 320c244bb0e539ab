"""The wire types and names a client program needs, in one place.

The operator may import from webmesh only the client and the errors (an import-linter
contract): the generated messages it builds and reads, the object kinds of the Admin API and the
built-in group that voters join come to it through here, and the names of the node roles (the
same words as ``NodeRole``'s values, which the operator publishes in a Mesh's status).
"""

from __future__ import annotations

from webmesh.api.v1 import admin_pb2, membership_pb2, mesh_pb2, node_pb2, types_pb2
from webmesh.authz.model import VOTERS
from webmesh.mesh.model import NodeRole
from webmesh.mesh.objects import Kind

# MeshNode.role -> "voter" | "observer" | "client" (api.convert.ROLE_NAMES says the same; the
# client may not import it, and a unit test keeps the two equal).
ROLE_NAMES: dict[int, str] = {
    types_pb2.NODE_ROLE_VOTER: NodeRole.VOTER.value,
    types_pb2.NODE_ROLE_OBSERVER: NodeRole.OBSERVER.value,
    types_pb2.NODE_ROLE_CLIENT: NodeRole.CLIENT.value,
}

__all__ = [
    "ROLE_NAMES",
    "VOTERS",
    "Kind",
    "admin_pb2",
    "membership_pb2",
    "mesh_pb2",
    "node_pb2",
    "types_pb2",
]
