"""A mesh restored from a backup, from both sides.

On the restoring server (``--bootstrap.enabled --bootstrap.restore-from``): read and check the
snapshot (``load_snapshot``) and decide the server's own membership from it
(``restored_identity``): its networks and domain are the snapshot's, and so are its addresses
when its node id is in the snapshot (a server that replaces one of the lost ones). Its keys are
new, since a backup never holds a private key: the mesh learns its new public key the way it
learns a rotated one.

On a replica that survived the disaster (``fresh_identity``): its Raft log belongs to the mesh
before, which no server serves any more, so it forgets its membership (keeping its id and
keys, so that the restored mesh, which holds its record, gives it the same addresses) and joins
again through its join address.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

from webmesh.daemon.identity import Identity
from webmesh.daemon.settings import Settings
from webmesh.mesh import ipam, snapshotfile
from webmesh.mesh.model import NodeRole
from webmesh.mesh.state import MeshState

log = logging.getLogger("webmesh.node")


async def load_snapshot(settings: Settings, key: bytes | None) -> MeshState:
    """The state in ``--bootstrap.restore-from``; ``InvalidArgument`` when it cannot be trusted
    (corrupted, cut short, another mesh's key, not a snapshot at all)."""
    from webmesh.backup import source  # noqa: PLC0415 (only a restoring server reads backups)

    b = settings.backup
    read = await asyncio.to_thread(
        source.read,
        settings.bootstrap.restore_from,
        key=key,
        s3_endpoint=b.s3_endpoint,
        s3_region=b.s3_region,
    )
    header, state = snapshotfile.decode(read.data, source=read.name)
    log.info(
        "restoring from a snapshot source=%s taken=%s index=%d nodes=%d domain=%s",
        read.name,
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(header.created_at)),
        header.index,
        len(state.nodes),
        header.domain,
    )
    return state


def restored_identity(
    ident: Identity, snapshot: MeshState, *, raft_listen: str, raft_port: int
) -> Identity:
    """``ident`` as the first voter of the mesh restored from ``snapshot`` (its Raft address
    ``raft_listen``, or its mesh address and ``raft_port``)."""
    networks = snapshot.networks
    assert networks is not None  # snapshotfile refuses a snapshot of no mesh
    old = snapshot.nodes.get(ident.node_id)
    if old is not None:
        ipv4, ipv6 = old.ipv4, old.ipv6
    else:
        taken = set(snapshot.address_owners) | set(snapshot.released)
        ipv4 = ipam.allocate_ipv4(networks.ipv4, taken, len(snapshot.nodes))
        ipv6 = ipam.allocate_ipv6(networks.ipv6, taken, 0) if networks.ipv6 else ""
    return ident.with_membership(
        role=NodeRole.VOTER.value,
        network_ipv4=networks.ipv4,
        network_ipv6=networks.ipv6,
        domain=networks.domain,
        ipv4=ipv4,
        ipv6=ipv6,
        voters=(raft_listen or f"{ipam.interface_address(ipv4)}:{raft_port}",),
        bootstrapped_here=True,
    )


def fresh_identity(ident: Identity) -> Identity:
    """``ident`` out of any mesh, with its id and keys: the next start joins again."""
    return Identity(
        node_id=ident.node_id,
        private_key=ident.private_key,
        raft_key=ident.raft_key,
        key_created_at=ident.key_created_at,
    )


def discard_replica(raft_dir: Path) -> None:
    """Delete a replica's Raft files (log, snapshot, voters) of the mesh before a restore."""
    if raft_dir.is_dir():
        shutil.rmtree(raft_dir)
        log.info("discarded the Raft state of the mesh before the restore dir=%s", raft_dir)
