"""The operator's reader (and one writer) of the mesh's own gRPC API, through the node's client.

``observe`` asks one server (through the headless Service: any ready server) for its Raft status
and the node list; ``ensure_voters`` puts node ids into the mesh's ``voters`` group (the RBAC group
whose members may join as Raft voters, seeded at bootstrap with the servers), so that a Node group
with ``voter: true`` can join as voters. The operator authenticates as the mesh's ``admin`` user
with the certificate of the ``<mesh>-admin`` Secret; ``credentials=None`` means plaintext (an
insecure mesh).

The node's ``ClientSecurity`` only takes file paths, so PEMs are written to a private temporary
directory (0700, keys 0600) for as long as it takes to build the channel (the files are read
then), and removed at once.

Raft reports voters by Raft address; they are mapped to node ids with the node list (a voter no
node claims is reported by its address). Each member carries its role and the leader's record
of its presence (``online``; the last-seen time, in whole seconds, only while offline). A mesh
without a leader is an observation with ``leader=""``, not an error: status decides what that
means. Errors are :class:`MeshApiError` whose message says what failed (unreachable, TLS,
permission, no leader) and whose ``reason`` is a CamelCase word for a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from webmesh import errors
from webmesh.client.mesh_client import (
    ClientOptions,
    ConnectionFailed,
    LeaderUnavailable,
    MeshClient,
    TlsFailed,
)
from webmesh.client.security import ClientSecurity
from webmesh.client.wire import ROLE_NAMES, VOTERS, Kind, admin_pb2, types_pb2
from webmesh_operator.status import Member, MeshObservation

CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "tls.crt", "tls.key"  # keys of the <mesh>-admin Secret
NODE_SUBJECT = "node"


@dataclass(frozen=True)
class Credentials:
    """The mesh CA and the operator's client certificate and key, as PEM."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


class MeshApiError(Exception):
    """The mesh API could not be asked or refused; ``reason`` is a CamelCase condition reason."""

    def __init__(self, message: str, *, reason: str = "ApiError") -> None:
        super().__init__(message)
        self.reason = reason


def credentials_from_admin_secret(data: Mapping[str, bytes]) -> Credentials | None:
    """The client credentials in a ``<mesh>-admin`` Secret's data; None for an insecure mesh
    (its Secret holds only ``config.yaml``) or when the certificate entries are incomplete."""
    values = [data.get(key, b"") for key in (CA_FILE, CERT_FILE, KEY_FILE)]
    if not all(values):
        return None
    return Credentials(ca_pem=values[0], cert_pem=values[1], key_pem=values[2])


async def observe(
    address: str,
    credentials: Credentials | None,
    *,
    timeout: float = 5.0,
    server_name: str = "",
) -> MeshObservation:
    """Leader, voters and members of the mesh, as the server at ``address`` sees them.

    ``server_name``: the name to verify the server's certificate against when it is not the host
    in ``address`` (e.g. a node id when dialling an IP).
    """
    async with (
        _bounded(address, timeout),
        _client(address, credentials, timeout, server_name) as client,
    ):
        status = await client.status()
        nodes = await client.list_nodes()
    return _observation(status.raft.leader_id, list(status.raft.voters), nodes)


async def ensure_voters(
    address: str,
    credentials: Credentials | None,
    node_ids: Iterable[str],
    *,
    timeout: float = 5.0,
    server_name: str = "",
) -> None:
    """Add ``node_ids`` to the mesh's voters group; a no-op when all are already in it.

    A read-modify-write of one group: no node code writes it (joining does not), so only an admin
    changing it at the same moment could lose a change.
    """
    wanted = list(dict.fromkeys(node_ids))
    async with (
        _bounded(address, timeout),
        _client(address, credentials, timeout, server_name) as client,
    ):
        group = await _voters_group(client)
        present = {m.name for m in group.members if m.kind == NODE_SUBJECT}
        missing = [node_id for node_id in wanted if node_id not in present]
        if not missing:
            return
        group.members.extend(admin_pb2.Subject(kind=NODE_SUBJECT, name=n) for n in missing)
        await client.put_object(Kind.GROUP, group)


async def _voters_group(client: MeshClient) -> admin_pb2.Group:
    try:
        found = await client.get_object(Kind.GROUP, VOTERS)
    except errors.NotFound:
        return admin_pb2.Group(name=VOTERS)
    if not isinstance(found, admin_pb2.Group):
        raise MeshApiError(f"the mesh API answered a {type(found).__name__} for group {VOTERS}")
    group = admin_pb2.Group()
    group.CopyFrom(found)
    return group


def _observation(
    leader: str, voter_addresses: list[str], nodes: list[types_pb2.MeshNode]
) -> MeshObservation:
    by_raft_address = {n.raft_address: n.id for n in nodes if n.raft_address}
    voters = tuple(by_raft_address.get(address, address) for address in voter_addresses)
    members = tuple(_member(n, voter=n.id in voters) for n in sorted(nodes, key=lambda n: n.id))
    return MeshObservation(leader=leader, voters=tuple(sorted(voters)), members=members)


def _member(node: types_pb2.MeshNode, *, voter: bool) -> Member:
    """The node with its role and presence. ``last_seen`` only while offline, in whole seconds
    (UTC, ``Z``): the precision of Kubernetes' own timestamps, such as the conditions' times."""
    last_seen = ""
    if not node.online and node.HasField("last_seen"):
        seen = node.last_seen.ToDatetime(tzinfo=datetime.UTC)
        last_seen = seen.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Member(
        node.id,
        tuple(a for a in (node.private_ipv4, node.private_ipv6) if a),
        voter,
        role=ROLE_NAMES.get(node.role, "unknown"),
        online=node.online,
        last_seen=last_seen,
        ephemeral=node.ephemeral,
    )


@contextlib.asynccontextmanager
async def _bounded(address: str, timeout: float) -> AsyncIterator[None]:
    """Bound the whole exchange, and turn every failure into a :class:`MeshApiError`."""
    try:
        async with asyncio.timeout(timeout * 2):
            yield
    except TimeoutError as exc:
        raise MeshApiError(f"{address} did not answer in time", reason="ApiUnreachable") from exc
    except LeaderUnavailable as exc:
        raise MeshApiError(f"no leader: {exc}", reason="NoLeader") from exc
    except TlsFailed as exc:
        raise MeshApiError(f"TLS: {exc}", reason="TlsFailed") from exc
    except (ConnectionFailed, errors.Unavailable) as exc:
        raise MeshApiError(f"unreachable: {exc}", reason="ApiUnreachable") from exc
    except (errors.PermissionDenied, errors.Unauthenticated) as exc:
        raise MeshApiError(f"permission: {exc}", reason="PermissionDenied") from exc
    except errors.MeshError as exc:
        raise MeshApiError(f"{address}: {exc}") from exc


@contextlib.asynccontextmanager
async def _client(
    address: str, credentials: Credentials | None, timeout: float, server_name: str
) -> AsyncIterator[MeshClient]:
    security = ClientSecurity()  # plaintext
    with contextlib.ExitStack() as stack:
        if credentials is not None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wm-op-")))
            security = _write_credentials(directory, credentials)
        # ClientSecurity reads the files here; the directory goes when the ExitStack closes.
        client = MeshClient(
            address, ClientOptions(security=security, timeout=timeout), server_name=server_name
        )
    async with client:
        yield client


def _write_credentials(directory: Path, credentials: Credentials) -> ClientSecurity:
    """The PEMs as files in ``directory`` (made 0700 by ``mkdtemp``; the key 0600)."""
    paths = {name: directory / name for name in (CA_FILE, CERT_FILE, KEY_FILE)}
    for name, data in (
        (CA_FILE, credentials.ca_pem),
        (CERT_FILE, credentials.cert_pem),
        (KEY_FILE, credentials.key_pem),
    ):
        fd = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return ClientSecurity(
        insecure=False,
        ca_file=str(paths[CA_FILE]),
        cert_file=str(paths[CERT_FILE]),
        key_file=str(paths[KEY_FILE]),
    )
