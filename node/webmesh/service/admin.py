"""Administering the mesh's policy objects: roles, role bindings, groups, network ACLs, routes.

Mutations run on the leader (``NotLeader`` with the leader's API address elsewhere; the API
forwards them) and go through Raft as ``PutObject`` / ``DeleteObject``; ``apply`` re-validates and
refuses to change or delete the built-ins (``PermissionDenied``). Reads come from the local
replica. The objects validate themselves when built, so a bad one never reaches this far as
anything but an ``InvalidArgument``.
"""

from __future__ import annotations

import logging

from webmesh import errors
from webmesh.mesh import commands
from webmesh.mesh.model import NodeRole
from webmesh.mesh.objects import CLASSES, Kind, MeshObject
from webmesh.service.leader import ReplicatedService

log = logging.getLogger("webmesh.service")


def _check_kind(kind: Kind, obj: MeshObject) -> None:
    if not isinstance(obj, CLASSES[kind]):
        raise errors.InvalidArgument(f"a {type(obj).__name__} is not a {kind.value}")


class AdminService(ReplicatedService):
    """Put, get, delete and list policy objects over a consensus store."""

    async def put(
        self, kind: Kind, obj: MeshObject, *, allow_missing_nodes: bool = False
    ) -> MeshObject:
        """Create or replace ``obj`` (on the leader); return it as committed.
        ``allow_missing_nodes``: accept node ids the mesh does not know (yet)."""
        _check_kind(kind, obj)
        self.require_leader()
        await self.propose(commands.PutObject(kind, obj, allow_missing_nodes=allow_missing_nodes))
        log.info("object put kind=%s name=%s", kind.value, obj.name)
        return obj

    def get(self, kind: Kind, name: str) -> MeshObject:
        """One object from the local replica (``NotFound`` when it does not exist)."""
        return self.state.objects.get(kind, name)

    async def delete(self, kind: Kind, name: str) -> None:
        """Delete an object (on the leader); ``NotFound`` when it does not exist."""
        self.require_leader()
        await self.propose(commands.DeleteObject(kind, name))
        log.info("object deleted kind=%s name=%s", kind.value, name)

    async def rotate_raft_keys(self) -> int:
        """Raise the mesh's Raft key epoch (on the leader): every replica makes a new key."""
        self.require_leader()
        result = await self.propose(commands.RotateRaftKeys())
        epoch = int(result.value.get("epoch", 0))
        log.info("raft key rotation requested epoch=%d", epoch)
        return epoch

    async def request_key_rotation(self, node_id: str) -> int:
        """Ask ``node_id`` for a new WireGuard key (on the leader); the number of requests so
        far. The node rotates when it sees it (``webmesh.daemon.wg_keys``)."""
        self.require_leader()
        if self.state.node(node_id).role is NodeRole.CLIENT:
            raise errors.FailedPrecondition(
                f"{node_id} is a client (wmctl connect): it makes a new key each time it connects"
            )
        result = await self.propose(commands.RequestKeyRotation(node_id))
        count = int(result.value.get("requested", 0))
        log.info("wireguard key rotation requested node=%s count=%d", node_id, count)
        return count

    def list(self, kind: Kind) -> tuple[MeshObject, ...]:
        """Every object of ``kind`` in the local replica, sorted by name."""
        objects = self.state.objects.by_kind[kind]
        return tuple(objects[name] for name in sorted(objects))
