"""Real ``NodeDaemon``s in one process, on loopback, with the in-memory WireGuard driver.

Imported by the tests as ``integration.node.meshlab`` (pytest's pythonpath includes ``tests/``).
Each node gets free ports (bound to port 0, then released), its own data dir and its own
``FakeDriver``; ``Lab.close`` shuts every node down, newest first.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import REGISTRY

from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import membership_pb2
from webmesh.client.mesh_client import MeshClient
from webmesh.daemon.node import NodeDaemon
from webmesh.daemon.settings import Settings, load_settings
from webmesh.wg import keys
from webmesh.wg.fake import FakeDriver, FakeLinks

IFACE = "webmesh0"
HOST = "127.0.0.1"

# (endpoint, allowed IPs) of a WireGuard peer, keyed by public key.
PeerView = dict[str, tuple[str, tuple[str, ...]]]


def free_port() -> int:
    """A port nobody listens on right now (TCP on loopback; the fake driver binds no UDP)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def new_public_key() -> str:
    return keys.public_key(keys.generate_private_key())


@dataclass
class Member:
    """One running (or stopped) node and what the test chose for it."""

    node_id: str
    argv: tuple[str, ...]
    settings: Settings
    daemon: NodeDaemon
    driver: FakeDriver
    links: FakeLinks

    @property
    def api(self) -> str:
        return self.settings.services.api.listen_address

    @property
    def raft(self) -> str:
        return self.settings.raft.listen_address

    @property
    def wg_port(self) -> int:
        return self.settings.wireguard.listen_port

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.wg_port}"

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.raft.data_dir)

    @property
    def public_key(self) -> str:
        return keys.public_key(self.daemon.identity.private_key)

    @property
    def ipv4(self) -> str:
        return self.daemon.identity.ipv4

    def client(self) -> MeshClient:
        return MeshClient(self.api)

    def device_peers(self) -> PeerView:
        """The peers the fake WireGuard device has right now."""
        device = self.driver.devices.get(IFACE)
        if device is None:
            return {}
        return {p.public_key: (p.endpoint, p.allowed_ips) for p in device.state.peers}

    def is_leader(self) -> bool:
        store = self.daemon.store
        return store is not None and store.is_leader()


def node_argv(
    node_id: str,
    data_dir: Path,
    *,
    join: str = "",
    voter: bool = False,
    extra: tuple[str, ...] = (),
) -> tuple[str, ...]:
    wg_port = free_port()
    argv = [
        "--global.insecure",
        "--global.no-ipv6",
        f"--mesh.node-id={node_id}",
        f"--raft.listen-address={HOST}:{free_port()}",
        f"--services.api.listen-address={HOST}:{free_port()}",
        "--services.metrics.disabled",
        "--wireguard.backend=fake",
        f"--raft.data-dir={data_dir}",
        f"--wireguard.listen-port={wg_port}",
        f"--global.primary-endpoint={HOST}:{wg_port}",
    ]
    argv.append(f"--mesh.join-address={join}" if join else "--bootstrap.enabled")
    if voter:
        argv.append("--mesh.join-as-voter")
    return (*argv, *extra)


@dataclass
class Lab:
    """Starts nodes under ``root`` and shuts them all down on ``close``."""

    root: Path
    members: list[Member] = field(default_factory=list)

    def member(self, node_id: str, argv: tuple[str, ...]) -> Member:
        settings = load_settings(argv, environ={}, hostname=node_id)
        driver = FakeDriver()
        links = FakeLinks(driver=driver)
        daemon = NodeDaemon(settings, driver=driver, links=links)
        return Member(node_id, argv, settings, daemon, driver, links)

    async def start(
        self,
        node_id: str,
        *,
        join: Member | str | None = None,
        voter: bool = False,
        extra: tuple[str, ...] = (),
    ) -> Member:
        """Bootstrap a mesh (no ``join``) or join one through ``join``'s API."""
        address = join.api if isinstance(join, Member) else (join or "")
        argv = node_argv(node_id, self.root / node_id, join=address, voter=voter, extra=extra)
        return await self.run(self.member(node_id, argv))

    async def run(self, member: Member) -> Member:
        self.members.append(member)
        await member.daemon.start()
        return member

    async def restart(self, member: Member) -> Member:
        """Stop ``member`` and start a new daemon on the same settings and data dir."""
        await member.daemon.shutdown()
        return await self.run(self.member(member.node_id, member.argv))

    async def close(self) -> None:
        for member in reversed(self.members):
            await member.daemon.shutdown()
        self.members.clear()


@dataclass
class Cluster:
    """A bootstrap voter, a second voter and an observer, in the order they joined."""

    lab: Lab
    bootstrap: Member
    voter: Member
    observer: Member

    @property
    def members(self) -> list[Member]:
        return [self.bootstrap, self.voter, self.observer]

    def expected_peers(self, member: Member) -> PeerView:
        """Every other node, dialled at its endpoint, routed to its own /32 (all have endpoints)."""
        return {m.public_key: (m.endpoint, (m.ipv4,)) for m in self.members if m is not member}


def leader_of(members: list[Member]) -> Member | None:
    leaders = [m for m in members if m.is_leader()]
    return leaders[0] if len(leaders) == 1 else None


async def wait_for_leader(members: list[Member]) -> Member:
    """The one member that leads, once there is exactly one."""

    async def one_leader() -> Member | None:
        return leader_of(members)

    leader = await async_eventually(one_leader, timeout=15, what="exactly one raft leader")
    assert leader is not None
    return leader


@contextlib.asynccontextmanager
async def peer_stream(
    client: MeshClient, node_id: str
) -> AsyncIterator[AsyncIterator[membership_pb2.PeerList]]:
    """``client.subscribe_peers(node_id)``, closed (the client hangs up) on exit."""
    stream = client.subscribe_peers(node_id)
    try:
        yield stream
    finally:
        assert isinstance(stream, AsyncGenerator)
        await stream.aclose()


def join_request(node_id: str, public_key: str, endpoint: str = "") -> membership_pb2.JoinRequest:
    """What a synthetic joiner (a test, no daemon behind it) sends: an observer, one endpoint."""
    return membership_pb2.JoinRequest(
        id=node_id,
        public_key=public_key,
        wireguard_endpoints=[endpoint] if endpoint else [],
        as_observer=True,
        raft_key=new_public_key(),  # an X25519 public key, as a replica's Raft key is
    )


async def leave_quietly(member: Member, node_id: str) -> None:
    """Clean-up: remove a node if it is still there."""
    with contextlib.suppress(errors.NotFound):
        async with member.client() as client:
            await client.leave(node_id)


def requests_served(method: str, code: str) -> float:
    """``webmesh_grpc_requests_total`` for one method and code, in this process."""
    value = REGISTRY.get_sample_value(
        "webmesh_grpc_requests_total", {"method": method, "code": code}
    )
    return value or 0.0


def requests_by_code(method: str) -> dict[str, float]:
    """Every ``webmesh_grpc_requests_total`` sample of one method, by code."""
    return {
        sample.labels["code"]: sample.value
        for family in REGISTRY.collect()
        if family.name == "webmesh_grpc_requests"
        for sample in family.samples
        if sample.name == "webmesh_grpc_requests_total" and sample.labels["method"] == method
    }
