"""The wire types and names a client program needs, in one place.

The operator may import from webmesh only the client and the errors (an import-linter
contract): the generated messages it builds and reads, the object kinds of the Admin API and the
built-in group that voters join come to it through here.
"""

from __future__ import annotations

from webmesh.api.v1 import admin_pb2, membership_pb2, mesh_pb2, node_pb2, types_pb2
from webmesh.authz.model import VOTERS
from webmesh.mesh.objects import Kind

__all__ = [
    "VOTERS",
    "Kind",
    "admin_pb2",
    "membership_pb2",
    "mesh_pb2",
    "node_pb2",
    "types_pb2",
]
