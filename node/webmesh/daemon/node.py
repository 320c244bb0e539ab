"""The composition root of webmesh-node: wire settings, identity, data plane, Raft and the API.

Start-up order matters and is the same for every node:
1. identity (load, or create a key) and membership (bootstrap, join, or resume from the data dir);
2. the WireGuard interface with its mesh addresses and the peers known so far, because Raft runs
   over the mesh: a joiner reaches the voters only through the tunnel;
3. the Raft store (voter or read-only observer), then, on a new mesh, the bootstrap commands;
4. the reconcile loop, the gRPC API and the metrics endpoint.
Shutdown runs it backwards and removes the interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from grpc import aio

from webmesh import __version__, errors, metrics
from webmesh.api import convert
from webmesh.api.forward import LeaderForwarder
from webmesh.api.server import start_api_server
from webmesh.api.v1 import membership_pb2, types_pb2
from webmesh.client import join as joiner
from webmesh.client.mesh_client import ClientOptions, MeshClient
from webmesh.daemon import identity as identity_store
from webmesh.daemon import raft_keys, raft_roster, restore, security, wg_keys
from webmesh.daemon.identity import Identity
from webmesh.daemon.settings import Settings
from webmesh.daemon.values import split_host_port
from webmesh.dns import hostresolver
from webmesh.mesh import endpoints, ipam, peers
from webmesh.mesh.changelog import ChangeLog
from webmesh.mesh.feed import ReplicaFeed
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.state import Effect, MeshState, changed_node_ids
from webmesh.metrics_http import MetricsServer
from webmesh.raft.credentials import KeyRing, RaftCredentials, RaftKey
from webmesh.raft.store import ConsensusStore, SyncMode
from webmesh.raft.syncobj import SyncObjStore
from webmesh.reconcile.desired import LocalInterface, interface_addresses
from webmesh.reconcile.loop import PassResult, Reconciler
from webmesh.service.admin import AdminService
from webmesh.service.leader import NodesByRaftAddress
from webmesh.service.membership import DEFAULT_RAFT_PORT, MembershipService, same_record
from webmesh.service.paths import PathProber, observed_changes
from webmesh.service.presence import PresenceService, PresenceSettings, Streams
from webmesh.service.restore import RestoreService
from webmesh.service.status import InterfaceInfo, NodeStatus
from webmesh.service.watch import StateWatch
from webmesh.wg import hello, keys
from webmesh.wg.config import DeviceState
from webmesh.wg.driver import WireGuardDriver
from webmesh.wg.netlink import Links

if TYPE_CHECKING:
    from webmesh.daemon.meshdns import MeshDns
    from webmesh.service.backup import BackupScheduler
    from webmesh.web.launch import WebView

log = logging.getLogger("webmesh.node")
T = TypeVar("T")

READY_TIMEOUT = 30.0
WILDCARDS = ("", "0.0.0.0", "::")
DEVICE_REFRESH = 5.0
TASK_STOP_TIMEOUT = 5.0
MEMBERSHIP_CHECK = 1.0  # seconds between two looks at whether this node is still a member
CUT_OFF_PROBE = 10.0  # seconds without any Raft connection before asking a server directly


@dataclass
class Plan:
    """What this start of the node will do, decided from settings and the data dir."""

    identity: Identity
    bootstrap: bool  # create the mesh now
    initial_peers: tuple[peers.Peer, ...] = ()
    restore: MeshState | None = None  # with bootstrap: the state to create it from


class NodeDaemon:
    """One webmesh node. ``await run(stop)`` returns the process exit code."""

    def __init__(self, settings: Settings, *, driver: WireGuardDriver, links: Links) -> None:
        self.settings = settings
        self.driver = driver
        self.links = links
        self.machine = MeshMachine()
        self.changes = ChangeLog(self.machine.state)
        self.watch = StateWatch()
        self.security = security.client_security(settings)
        self.forwarder = LeaderForwarder(self.security)
        self.started_at = time.time()
        self.store: ConsensusStore | None = None
        self.reconciler: Reconciler | None = None
        self.server: aio.Server | None = None
        self.metrics_server: MetricsServer | None = None
        self.meshdns: MeshDns | None = None
        self.dashboard: WebView | None = None
        self.paths: PathProber | None = None
        self.backups: BackupScheduler | None = None
        self.device: DeviceState | None = None
        self._device_stale = asyncio.Event()
        self._remembered: tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]] = ((), "", ())
        self._by_raft_address = NodesByRaftAddress()
        self._identity: Identity | None = None
        self._initial_peers: tuple[peers.Peer, ...] = ()
        self._tasks: list[asyncio.Task[None]] = []
        self._advertised: tuple[str, ...] = ()
        self._key_ring: KeyRing | None = None
        self._rotating = False
        self.streams = Streams()  # SubscribePeers streams this server serves (presence)
        self._removed = asyncio.Event()  # set when this node must stop: removed, or rejoining
        self._removed_why = ""
        self._rejoin_why = ""  # why the node stopped to join its mesh again
        self.ready = asyncio.Event()  # set by run() once everything has started

    # ---- identity and membership -------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.raft.data_dir)

    @property
    def identity(self) -> Identity:
        assert self._identity is not None, "identity is loaded first"
        return self._identity

    def _load_identity(self) -> Identity:
        existing = identity_store.load(self.data_dir)
        wanted = self.settings.mesh.node_id
        if existing is None:
            created = Identity(
                node_id=wanted,
                private_key=keys.generate_private_key(),
                raft_key=RaftKey.generate().to_text(),
            )
            identity_store.save(self.data_dir, created)
            log.info("new node identity node=%s data_dir=%s", wanted, self.data_dir)
            return created
        if not existing.raft_key:  # a data dir from before replicas had their own keys
            existing = replace(existing, raft_key=RaftKey.generate().to_text())
            identity_store.save(self.data_dir, existing)
        if existing.node_id != wanted:
            log.warning(
                "keeping the node id stored in the data dir node=%s configured=%s",
                existing.node_id,
                wanted,
            )
        return existing

    async def _endpoints(self, exclude_networks: tuple[str, ...]) -> tuple[str, ...]:
        g = self.settings.global_
        port = self.settings.wireguard.listen_port
        detected: tuple[str, ...] = ()
        if g.detect_endpoints:
            detected = endpoints.detect_endpoints(
                await self.links.interface_addresses(),
                port=port,
                include_private=g.detect_private_endpoints,
                include_ipv6=not g.no_ipv6,
                exclude_interfaces=(self.settings.wireguard.interface_name,),
                # never an address the mesh routes itself: its packets would loop in the tunnel
                exclude_networks=(*exclude_networks, *self.settings.mesh.routes),
            )
        return endpoints.advertised_endpoints(
            primary=g.primary_endpoint, extra=g.endpoints, detected=detected, port=port
        )

    def _raft_port(self) -> int:
        address = self.settings.raft.listen_address
        return split_host_port(address, allow_zero_port=True)[1] if address else DEFAULT_RAFT_PORT

    def _api_port(self) -> int:
        if self.settings.services.api.disabled:
            return 0
        return split_host_port(self.settings.services.api.listen_address, allow_zero_port=True)[1]

    def _explicit_api_address(self) -> str:
        """The API address to advertise when it is not the mesh address (a non-wildcard bind)."""
        if self.settings.services.api.disabled:
            return ""
        address = self.settings.services.api.listen_address
        host, _ = split_host_port(address, allow_zero_port=True)
        return "" if host in WILDCARDS else address

    def _new_mesh(self, ident: Identity) -> Identity:
        b = self.settings.bootstrap
        ipv6_network = ""
        if not self.settings.global_.no_ipv6:
            ipv6_network = b.ipv6_network or ipam.random_ula48(secrets.token_bytes(5))
        ipv4 = ipam.allocate_ipv4(b.ipv4_network, set(), 0)
        ipv6 = ipam.allocate_ipv6(ipv6_network, set(), 0) if ipv6_network else ""
        host = ipam.interface_address(ipv4)
        return ident.with_membership(
            role=NodeRole.VOTER.value,
            network_ipv4=b.ipv4_network,
            network_ipv6=ipv6_network,
            domain=b.mesh_domain,
            ipv4=ipv4,
            ipv6=ipv6,
            voters=(self.settings.raft.listen_address or f"{host}:{self._raft_port()}",),
            bootstrapped_here=True,
        )

    def _join_request(
        self, ident: Identity, endpoints: tuple[str, ...]
    ) -> membership_pb2.JoinRequest:
        s = self.settings
        return membership_pb2.JoinRequest(
            id=ident.node_id,
            public_key=_published_key(ident),
            previous_public_key=_replaced_key(ident),
            wireguard_endpoints=list(endpoints),
            as_voter=s.mesh.join_as_voter or ident.role == NodeRole.VOTER.value,
            as_observer=True,
            raft_port=self._raft_port(),
            api_port=self._api_port(),
            want_ipv6=not s.global_.no_ipv6,
            routes=list(self._advertised_routes()),
            raft_address=s.raft.listen_address,
            api_address=self._explicit_api_address(),
            raft_key=raft_keys.public_of(ident.raft_key),
            raft_key_previous=raft_keys.public_of(ident.raft_key_previous),
            meshdns_port=self._dns_port(),
            wireguard_port=0 if s.global_.no_remote_endpoint_detection else s.wireguard.listen_port,
        )

    async def _join(self, ident: Identity) -> Plan:
        s = self.settings
        request = self._join_request(ident, await self._endpoints(()))
        server, response = await joiner.join(
            [s.mesh.join_address],
            request,
            max_retries=s.mesh.max_join_retries,
            security=self.security,
        )
        log.info(
            "joined the mesh via=%s ipv4=%s ipv6=%s peers=%d leader=%s observed=%s",
            server,
            response.address_ipv4,
            response.address_ipv6 or "-",
            len(response.peers),
            response.leader_id,
            response.observed_endpoint or "-",
        )
        joined = ident.with_membership(
            role=convert.ROLE_NAMES.get(response.role, NodeRole.OBSERVER.value),
            network_ipv4=response.network_ipv4,
            network_ipv6=response.network_ipv6,
            domain=response.mesh_domain,
            ipv4=response.address_ipv4,
            ipv6=response.address_ipv6,
            voters=tuple(response.raft_voters),
            voter_keys=tuple(sorted(response.raft_keys.items())),
            peers=tuple(convert.peer_from_proto(p) for p in response.peers),
        )
        return Plan(identity=joined, bootstrap=False, initial_peers=joined.peers)

    async def _plan(self) -> Plan:
        ident = self._load_identity()
        s = self.settings
        if ident.removed:
            if not s.mesh.rejoin_after_removal:
                raise errors.FailedPrecondition(
                    f"this node was removed from the mesh: {ident.removed}. Start it with "
                    "--mesh.rejoin-after-removal to join again, or delete "
                    f"{self.data_dir / 'node.json'} to join as a new node"
                )
            if not s.mesh.join_address:  # never bootstrap a second mesh by accident
                raise errors.FailedPrecondition(
                    "this node was removed from the mesh: give --mesh.join-address to join again"
                )
            # the old membership is void (its addresses may be another node's by now): join anew
            # as the same node, with the same keys
            ident = Identity(
                node_id=ident.node_id, private_key=ident.private_key, raft_key=ident.raft_key
            )
            log.info("joining again after a removal (--mesh.rejoin-after-removal)")
        if ident.in_mesh:
            # Resume before any rejoin: a rejoin must commit, and when the quorum needs this
            # very node (a restarted voter, a whole mesh restarting) it could never commit.
            log.info("resuming from the data dir node=%s ipv4=%s", ident.node_id, ident.ipv4)
            return Plan(identity=ident, bootstrap=False, initial_peers=ident.peers)
        if s.mesh.join_address:
            return await self._join(ident)
        if s.bootstrap.enabled and s.bootstrap.restore_from:
            snapshot = await restore.load_snapshot(s, self._key_in_file())
            restored = restore.restored_identity(
                ident, snapshot, raft_listen=s.raft.listen_address, raft_port=self._raft_port()
            )
            return Plan(identity=restored, bootstrap=True, restore=snapshot)
        if s.bootstrap.enabled:
            return Plan(identity=self._new_mesh(ident), bootstrap=True)
        raise errors.FailedPrecondition(
            "nothing to do: start a new mesh with --bootstrap.enabled, "
            "or join one with --mesh.join-address=HOST:8443"
        )

    # ---- building blocks ---------------------------------------------------------------------

    def _networks(self) -> Networks:
        i = self.identity
        return Networks(ipv4=i.network_ipv4, ipv6=i.network_ipv6, domain=i.domain)

    def _self_node(self, advertised: tuple[str, ...]) -> Node:
        i = self.identity
        host = ipam.interface_address(i.ipv4)
        api_port = self._api_port()
        return Node(
            id=i.node_id,
            public_key=_published_key(i),
            ipv4=i.ipv4,
            ipv6=i.ipv6,
            endpoints=advertised,
            role=NodeRole(i.role),
            api_address=self._explicit_api_address() or (f"{host}:{api_port}" if api_port else ""),
            raft_address=self._raft_address(),
            routes=self._advertised_routes(),
            raft_key=raft_keys.public_of(i.raft_key),
            raft_key_previous=raft_keys.public_of(i.raft_key_previous),
            dns_address=f"{host}:{self._dns_port()}" if self._dns_port() else "",
        )

    def _dns_port(self) -> int:
        meshdns = self.settings.services.meshdns
        return meshdns.listen_port if meshdns.enabled else 0

    def _raft_address(self) -> str:
        host = ipam.interface_address(self.identity.ipv4)
        return self.settings.raft.listen_address or f"{host}:{self._raft_port()}"

    def _local_interface(self, has_endpoint: bool) -> LocalInterface:
        w = self.settings.wireguard
        nets = self._networks()
        me = Node(
            id=self.identity.node_id,
            public_key="",
            ipv4=self.identity.ipv4,
            ipv6=self.identity.ipv6,
        )
        return LocalInterface(
            name=w.interface_name,
            private_key=self.identity.private_key,
            listen_port=w.listen_port,
            mtu=w.mtu,
            addresses=interface_addresses(me, nets),
            networks=tuple(n for n in (nets.ipv4, nets.ipv6) if n),
            keepalive=w.persistent_keepalive,
            has_endpoint=has_endpoint,
            exit_node=w.use_exit_node,
        )

    def _relays(self) -> bool:
        return peers.forwards_traffic(self.machine.state, self.identity.node_id)

    def _advertised_routes(self) -> tuple[str, ...]:
        """--mesh.routes, plus the default routes of an exit node (--wireguard.exit-node)."""
        exits: tuple[str, ...] = ()
        if self.settings.wireguard.exit_node:
            exits = ("0.0.0.0/0",) if self.settings.global_.no_ipv6 else ("0.0.0.0/0", "::/0")
        return (*self.settings.mesh.routes, *exits)

    def _is_exit_node(self) -> bool:
        """Whether the mesh's record of this node offers exit routes (the flag, or a Route
        object naming it): then it masquerades."""
        state = self.machine.state
        local = state.nodes.get(self.identity.node_id)
        return local is not None and bool(peers.exit_routes_of(state, local))

    def _on_state(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand every new state over to the event loop, in order (called on Raft's thread).

        Under load many entries apply between two turns of the loop: they cross over as one
        batch, with one wake-up of the loop (each wake-up is a syscall and a hand-over of the
        GIL, which cost more than the work itself at a thousand joins a second).
        """
        pending: list[tuple[MeshState, frozenset[str] | None]] = []
        lock = threading.Lock()
        scheduled = False

        def drain() -> None:
            nonlocal scheduled
            with lock:
                batch = pending.copy()
                pending.clear()
                scheduled = False
            self._states_changed(batch)

        def observer(state: MeshState, effects: tuple[Effect, ...]) -> None:
            nonlocal scheduled
            with lock:
                pending.append((state, changed_node_ids(effects)))
                if scheduled:
                    return
                scheduled = True
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(drain)

        self.machine.subscribe(observer)

    def _states_changed(self, batch: list[tuple[MeshState, frozenset[str] | None]]) -> None:
        for state, changed in batch:
            self.changes.record(state, changed)  # every one: peer feeds follow each change
        latest = batch[-1][0]
        if self.reconciler is not None:
            self.reconciler.wake()
        self.watch.notify()
        self._remember_raft_peers(latest)
        self._follow_raft_key_epoch(latest)
        if self.meshdns is not None:
            self.meshdns.state_changed()
        if self.paths is not None:
            self.paths.wake()

    # ---- Raft key rotation (webmesh.daemon.raft_keys) ----------------------------------------

    def _raft_key_view(self, ring: KeyRing) -> raft_keys.Keys:
        i = self.identity
        return raft_keys.Keys(
            current=raft_keys.public_of(i.raft_key),
            previous=raft_keys.public_of(i.raft_key_previous),
            presenting=ring.current.public_text,
        )

    def _follow_raft_key_epoch(self, state: MeshState) -> None:
        ring = self._key_ring
        if self._identity is None or ring is None:
            return
        record = state.nodes.get(self.identity.node_id)
        step = raft_keys.decide(record, state.raft_key_epoch, self._raft_key_view(ring))
        if step is raft_keys.Step.PRESENT_NEW:
            self._present_new_raft_key(ring)
        elif step is raft_keys.Step.START and not self._rotating:
            self._rotating = True
            self._tasks.append(
                asyncio.create_task(self._rotate_raft_key(resume=False), name="raft-key")
            )

    def _present_new_raft_key(self, ring: KeyRing) -> None:
        ring.replace(RaftKey.from_text(self.identity.raft_key))
        log.info("raft key: presenting the new key node=%s", self.identity.node_id)

    async def _rotate_raft_key(self, *, resume: bool) -> None:
        """The three steps of ``webmesh.daemon.raft_keys``; ``resume``: step 1 was saved."""
        self._rotating = True
        try:
            if not resume:
                old = self.identity.raft_key
                self._identity = replace(
                    self.identity, raft_key=RaftKey.generate().to_text(), raft_key_previous=old
                )
                identity_store.save(self.data_dir, self.identity)
                log.info("raft key: registering a new key node=%s", self.identity.node_id)
            await self._keep_registered(self._advertised)  # new + previous: both admitted
            if self._key_ring is not None:  # usually done already, as the record applied
                self._present_new_raft_key(self._key_ring)
            await asyncio.sleep(raft_keys.RETIRE_AFTER)
            self._identity = replace(self.identity, raft_key_previous="")
            identity_store.save(self.data_dir, self.identity)
            await self._keep_registered(self._advertised)  # the old key opens nothing now
            log.info("raft key: rotated node=%s", self.identity.node_id)
        finally:
            self._rotating = False

    def _remember_raft_peers(self, state: MeshState) -> None:
        """Persist the peers that lead to the voters, and the voters' Raft keys, when they change
        (rarely), for resumes. Checked on every state change: O(voters), never O(mesh)."""
        if self.store is None or self._identity is None:
            return
        voters = self.store.voters()
        records = [self._by_raft_address.get(state, address) for address in voters]
        known = tuple(sorted((n.raft_address, n.raft_key) for n in records if n and n.raft_key))
        memo = (voters, state.relay_id, known)
        if memo == self._remembered or self.identity.node_id not in state.nodes:
            return
        self._remembered = memo
        needed = {n.id for n in records if n is not None}
        needed.add(state.relay_id)
        kept = tuple(p for p in peers.peers_of(state, self.identity.node_id) if p.node_id in needed)
        if kept and (kept, known) != (self.identity.peers, self.identity.voter_keys):
            self._identity = self.identity.with_membership(
                peers=kept, voters=voters, voter_keys=known
            )
            identity_store.save(self.data_dir, self.identity)

    def _record_pass(self, result: PassResult) -> None:
        if result.error:
            metrics.RECONCILE_ERRORS.inc()
        else:
            metrics.RECONCILE_DURATION.observe(result.duration)
        if result.changes:
            self._device_stale.set()

    def _make_store(self) -> SyncObjStore:
        i = self.identity
        # Mid-rotation (webmesh.daemon.raft_keys) the old key until the new one is registered.
        self._key_ring = KeyRing(RaftKey.from_text(i.raft_key_previous or i.raft_key))
        observer = i.role != NodeRole.VOTER.value
        self_address = None if observer else self._raft_address()
        voters = [v for v in i.voters if v != self_address]
        return SyncObjStore(
            self.machine,
            self_address=self_address,
            voters=voters,
            credentials=RaftCredentials(
                self._key_ring,
                raft_roster.StateRoster(self.machine, i.node_id, dict(i.voter_keys)),
            ),
            data_dir=None if self.settings.raft.in_memory else self.data_dir / "raft",
            observer=observer,
            sync=SyncMode(self.settings.raft.sync),
        )

    async def status(self) -> NodeStatus:
        """This node's status for Node.GetStatus."""
        state = self.machine.state
        leader = self._leader_id()
        with contextlib.suppress(Exception):
            self.device = await self.driver.show(self.settings.wireguard.interface_name)
        assert self.reconciler is not None
        return NodeStatus(
            node_id=self.identity.node_id,
            version=__version__,
            started_at=self.started_at,
            role=NodeRole(self.identity.role),
            raft=self.store.status() if self.store else None,
            interface=_interface_info(self.reconciler.local, self.device),
            node_count=len(state.nodes),
            leader_id=leader,
            peer_names=self.peer_names(),
            mesh_generation=state.generation,
        )

    def peer_names(self) -> dict[str, str]:
        return {n.public_key: n.id for n in self.machine.state.nodes.values()}

    # ---- life cycle --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Start everything, serve until ``stop`` is set (or the mesh removes this node), then
        shut down cleanly; raise ``errors.Removed`` after a removal."""
        starting = asyncio.create_task(self.start(), name="start")
        stopping = asyncio.create_task(stop.wait(), name="stop")
        removed = asyncio.create_task(self._removed.wait(), name="removed")
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # raise what made start-up fail
                log.info("node ready node=%s", self.identity.node_id)
                self.ready.set()
                await asyncio.wait({stopping, removed}, return_when=asyncio.FIRST_COMPLETED)
            else:  # SIGTERM while still starting (joining, waiting for Raft): stop now
                log.info("stopping during start-up")
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
        finally:
            stopping.cancel()
            removed.cancel()
            await self.shutdown()
        if self._rejoin_why:
            if not self.settings.raft.in_memory:
                restore.discard_replica(self.data_dir / "raft")
            raise errors.Rejoin(self._rejoin_why)
        if self._removed.is_set():
            raise errors.Removed(f"this node was removed from the mesh: {self._removed_why}")

    async def start(self) -> None:
        security.check(self.settings)
        backup_key = self._backup_key()  # a bad backup setting fails now, not after joining
        plan = await self._plan()
        self._identity = plan.identity
        identity_store.save(self.data_dir, plan.identity)
        self._initial_peers = plan.initial_peers
        advertised = await self._endpoints(
            tuple(n for n in (plan.identity.network_ipv4, plan.identity.network_ipv6) if n)
        )
        await self._start_data_plane(advertised)
        await self._start_raft()
        if plan.bootstrap:
            await self._create_mesh(plan.restore, self._self_node(advertised))
        elif self._restore_unfinished():
            await self._resume_restore(self._self_node(advertised))
        await self._start_services()
        await self._start_meshdns()
        self.paths = self._path_prober()
        self._tasks.append(asyncio.create_task(self.paths.run(), name="paths"))
        if backup_key is not None:
            self._start_backups(backup_key)
        self._advertised = advertised
        registration = self._keep_registered(advertised)
        if self.identity.raft_key_previous:  # a rotation was under way when the node stopped
            registration = self._rotate_raft_key(resume=True)
        self._tasks.append(asyncio.create_task(registration, name="registration"))
        self._tasks.append(asyncio.create_task(self._watch_membership(), name="membership"))
        self._tasks.append(asyncio.create_task(self._watch_wireguard_key(), name="wg-key"))

    async def _create_mesh(self, snapshot: MeshState | None, me: Node) -> None:
        """Bootstrap the mesh: empty, or restored from ``snapshot`` (--bootstrap.restore-from)."""
        if snapshot is None:
            await self._membership().bootstrap(
                self._networks(), me, **security.bootstrap_policy(self.settings, me.id)
            )
            return
        assert self.store is not None
        await RestoreService(store=self.store, machine=self.machine).restore(snapshot)
        old = self.machine.state.nodes.get(me.id)  # this node's record before: another key
        replaces = old.public_key if old is not None and old.public_key != me.public_key else ""
        await self._membership().put_own_record(me, replaces_key=replaces)

    def _restore_unfinished(self) -> bool:
        """Whether this server began a restore and stopped before it ended."""
        state = self.machine.state
        begun = self.identity.bootstrapped_here and bool(self.settings.bootstrap.restore_from)
        return self._leads() and (state.restoring or (begun and not state.bootstrapped))

    async def _resume_restore(self, me: Node) -> None:
        """Finish a restore this server began and did not end (it stopped halfway)."""
        if not self.settings.bootstrap.restore_from:
            log.error(
                "the mesh's restore was interrupted: start this server again with the same "
                "--bootstrap.restore-from to finish it"
            )
            return
        log.info("finishing the restore begun before this server stopped")
        await self._create_mesh(await restore.load_snapshot(self.settings, self._key_in_file()), me)

    # ---- WireGuard key rotation --------------------------------------------------------------

    async def _watch_wireguard_key(self) -> None:
        """Rotate when ``wg_keys.due`` says so: asked by the mesh, every
        --wireguard.key-rotation-interval, or resuming one a restart interrupted."""
        if not self.identity.key_created_at:  # the key's age counts from now on
            self._identity = replace(self.identity, key_created_at=time.time())
            identity_store.save(self.data_dir, self.identity)
        interval = float(self.settings.wireguard.key_rotation_interval)
        while True:
            requested = self.machine.state.key_rotations.get(self.identity.node_id, 0)
            if wg_keys.due(self.identity, requested=requested, now=time.time(),
                           interval=interval):  # fmt: skip
                try:
                    await self._rotate_wireguard_key(requested)
                except errors.MeshError as exc:
                    log.warning("wireguard key rotation failed, retrying error=%s", exc)
            await asyncio.sleep(wg_keys.CHECK_EVERY)

    async def _rotate_wireguard_key(self, requested: int) -> None:
        """The steps of ``webmesh.daemon.wg_keys``."""
        resuming = bool(self.identity.private_key_next)
        if not resuming:
            self._identity = replace(self.identity, private_key_next=keys.generate_private_key())
            identity_store.save(self.data_dir, self.identity)
            log.info("wireguard key: publishing a new key node=%s", self.identity.node_id)
        new_key = self.identity.private_key_next
        published = keys.public_key(new_key)
        if not (resuming and await self._mesh_has_key(published)):
            try:
                await self._publish_key()  # committed when it returns
            except errors.Unavailable:
                # The answer may be lost in the tunnel the leader just moved to the new key:
                # try the new key, and go back to the old one unless the mesh confirms it.
                if not await self._try_new_key(new_key, published):
                    raise
                self._finish_rotation(new_key, requested)
                return
        await asyncio.sleep(wg_keys.SWITCH_AFTER)
        await self._use_key(new_key)
        self._finish_rotation(new_key, requested)

    async def _publish_key(self) -> None:
        """Put the new key in this node's record, through the join address when there is one
        (outside the tunnel: the leader moves its peer entry to the new key as soon as it
        commits, before its answer leaves), else as any re-registration."""
        join = self.settings.mesh.join_address
        if join and not self._leads():
            request = self._join_request(self.identity, self._advertised)
            await joiner.join([join], request, max_retries=0, security=self.security)
            return
        await self._register_once(self._advertised)

    async def _use_key(self, private_key: str) -> None:
        assert self.reconciler is not None
        await self.reconciler.switch_private_key(private_key)
        self._greet_peers()

    async def _try_new_key(self, new_key: str, published: str) -> bool:
        """Switch to ``new_key`` and keep it if the mesh confirms it within a few seconds."""
        await self._use_key(new_key)
        deadline = time.monotonic() + wg_keys.CONFIRM_WITHIN
        while time.monotonic() < deadline:
            if await self._mesh_has_key(published):
                return True
            await asyncio.sleep(0.5)
        await self._use_key(self.identity.private_key)
        return False

    def _finish_rotation(self, new_key: str, requested: int) -> None:
        self._identity = replace(
            self.identity,
            private_key=new_key,
            private_key_next="",
            key_created_at=time.time(),
            key_rotations_served=max(requested, self.identity.key_rotations_served),
        )
        identity_store.save(self.data_dir, self.identity)
        log.info(
            "wireguard key rotated node=%s public_key=%s",
            self.identity.node_id,
            keys.public_key(new_key),
        )

    async def _mesh_has_key(self, public_key: str) -> bool:
        """Whether the mesh's record of this node already has ``public_key``: this replica's
        view, else a server's (the join address first: reachable outside the tunnel, which a
        published but unused key breaks for this node, Raft included)."""
        record = self.machine.state.nodes.get(self.identity.node_id)
        if record is not None and record.public_key == public_key:
            return True
        served = await self._ask_a_server(self._own_record_in)
        return served is not None and served.public_key == public_key

    # ---- removal -----------------------------------------------------------------------------

    async def _watch_membership(self) -> None:
        """Notice when the mesh removes this node (``wmctl leave NODE``, or a purge).

        Usually this replica applies its own removal. A removed replica may be cut off first
        (its Raft key is revoked within two seconds), and a removed voter never hears of it: so
        a node with no Raft connection for ``CUT_OFF_PROBE`` asks the servers directly.
        """
        node_id = self.identity.node_id
        member, cut_off_since = False, None
        while True:
            await asyncio.sleep(MEMBERSHIP_CHECK)
            if node_id in self.machine.state.nodes:
                member = True
            elif member:
                await self._on_removed("its record is gone from the mesh's state")
                member = False
                continue
            if self.store is None or self._raft_connected() or not self._other_servers():
                cut_off_since = None
                continue
            now = time.monotonic()
            cut_off_since = cut_off_since or now
            if now - cut_off_since >= CUT_OFF_PROBE:
                cut_off_since = None
                await self._probe_servers()
                if self._rejoin_why:
                    return

    def _raft_connected(self) -> bool:
        """Whether some replica spoke to this one lately (over an authenticated channel)."""
        assert self.store is not None
        now = time.monotonic()
        return any(now - last < CUT_OFF_PROBE / 2 for last in self.store.peer_activity().values())

    def _other_servers(self) -> list[tuple[str, str]]:
        """(API address, node id) of the servers to ask: the join address first (reachable
        outside the tunnel, which the mesh tears down for a removed node), then every other
        server the replica knows."""
        me = self.identity.node_id
        known = [(n.api_address, n.id) for n in self.machine.state.nodes.values()
                 if n.api_address and n.id != me]  # fmt: skip
        join = self.settings.mesh.join_address
        return [(join, ""), *known] if join else known

    async def _ask_a_server(self, ask: Callable[[MeshClient], Awaitable[T]]) -> T | None:
        """``ask`` the servers in turn (``_other_servers``): the first answer, None when no
        server answers."""
        options = ClientOptions(security=self.security, timeout=2.0)
        for address, server_id in self._other_servers():
            try:
                async with MeshClient(address, options, server_name=server_id) as client:
                    return await ask(client)
            except errors.MeshError:
                continue
        return None

    async def _own_record_in(self, client: MeshClient) -> types_pb2.MeshNode | None:
        """The server's record of this node; None when it has none."""
        try:
            return await client.get_node(self.identity.node_id)
        except errors.NotFound:
            return None

    async def _server_view(self, client: MeshClient) -> tuple[types_pb2.MeshNode | None, str]:
        """What a server knows of this node: its record (None: unknown) and, when it knows the
        node, the mesh generation it serves."""
        record = await self._own_record_in(client)
        if record is None:
            return None, ""
        return record, (await client.status()).mesh_generation

    async def _probe_servers(self) -> None:
        """Cut off from Raft: ask a server whether this node was removed, or whether the
        servers now serve a mesh restored from a backup (then rejoin it)."""
        view = await self._ask_a_server(self._server_view)
        if view is None:
            return
        record, generation = view
        if record is None:
            await self._on_removed("the servers no longer know it")
        else:
            self._rejoin_if_restored(generation)

    def _rejoin_if_restored(self, theirs: str) -> None:
        """When the servers serve another generation of the mesh (restored from a backup while
        this replica was cut off), stop to join it again (``_rejoin_why``)."""
        state = self.machine.state
        if not theirs or theirs == state.generation or not state.bootstrapped or self._leads():
            return
        if not self.settings.mesh.join_address:
            log.error(
                "the servers serve a mesh restored from a backup (generation %s, this replica "
                "has %s), and this node has no --mesh.join-address to join it through",
                theirs, state.generation or "-",
            )  # fmt: skip
            return
        log.warning(
            "the servers serve a mesh restored from a backup (generation %s, this replica has "
            "%s): discarding this replica and joining the restored mesh via=%s",
            theirs, state.generation or "-", self.settings.mesh.join_address,
        )  # fmt: skip
        identity_store.save(self.data_dir, restore.fresh_identity(self.identity))
        self._rejoin_why = f"the mesh was restored from a backup (generation {theirs})"
        self._removed.set()

    async def _on_removed(self, why: str) -> None:
        """Record the removal in the data dir and stop (``run`` raises ``errors.Removed``; with
        --mesh.rejoin-after-removal, ``webmesh.daemon.run`` then starts a node that joins
        again)."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._removed_why = f"{why} (noticed {when})"
        then = (
            "joining again (--mesh.rejoin-after-removal)"
            if self.settings.mesh.rejoin_after_removal
            else "start it with --mesh.rejoin-after-removal to join again"
        )
        log.error(
            "this node was removed from the mesh: %s; removing its interface and stopping (%s)",
            why,
            then,
        )
        identity_store.save(self.data_dir, replace(self.identity, removed=self._removed_why))
        self._removed.set()

    async def _keep_registered(self, advertised: tuple[str, ...]) -> None:
        """Make the mesh's record of this node match what it is now (endpoints, routes, ports).

        Needed after a resume from the data dir (the host's addresses may have changed, or the
        node was removed while it was down). Retries with backoff until the record matches.
        """
        backoff = 0.5
        while True:
            try:
                if await self._register_once(advertised):
                    return
            except errors.MeshError as exc:
                log.warning(
                    "cannot update this node's record yet error=%s retry_in=%.0fs", exc, backoff
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _register_once(self, advertised: tuple[str, ...]) -> bool:
        """True when the record matches; otherwise send the update (to the leader) once."""
        wanted = self._self_node(advertised)
        current = self.machine.state.nodes.get(wanted.id)
        if current is not None and same_record(current, wanted):
            return True
        if self._leads():
            await self._membership().put_own_record(
                wanted, replaces_key=_replaced_key(self.identity)
            )
        else:
            leader = self._leader_api()
            options = ClientOptions(security=self.security)
            async with MeshClient(leader.api_address, options, server_name=leader.id) as client:
                await client.join(self._join_request(self.identity, advertised))
        log.info("updated this node's record in the mesh node=%s", wanted.id)
        return False

    async def _start_data_plane(self, advertised: tuple[str, ...]) -> None:
        self._on_state(asyncio.get_running_loop())
        self.reconciler = Reconciler(
            driver=self.driver,
            links=self.links,
            local=self._local_interface(has_endpoint=bool(advertised)),
            feed=ReplicaFeed(self.changes, self.identity.node_id, self._initial_peers),
            forwarding=self._relays,
            masquerade=self._is_exit_node,
            peering_filter=lambda: peers.export_rules(self.machine.state, self.identity.node_id),
            on_pass=self._record_pass,
        )
        await self.reconciler.bring_up()
        self._greet_peers()
        self._tasks.append(asyncio.create_task(self.reconciler.run(), name="reconcile"))
        log.info(
            "interface up iface=%s addresses=%s endpoints=%s",
            self.reconciler.local.name,
            ",".join(self.reconciler.local.addresses),
            ",".join(advertised) or "-",
        )

    def _greet_peers(self, whom: str = "peers", level: int = logging.DEBUG) -> None:
        """Let every peer learn where this node is now (webmesh.wg.hello: a node back on a new
        address is otherwise unknown there until it sends something, and Raft may not)."""
        assert self.reconciler is not None
        addresses = [
            address
            for peer in self.reconciler.peers.values()
            for address in hello.host_addresses(peer.allowed_ips)
        ]
        sent = hello.greet(addresses)
        log.log(
            level, "greeted %s so they learn this endpoint addresses=%d sent=%d",
            whom, len(addresses), sent,
        )  # fmt: skip

    async def _start_raft(self) -> None:
        self.store = self._make_store()
        await self.store.start()
        await self.store.wait_ready(READY_TIMEOUT)
        if self.reconciler is not None:
            # The interface came up with the peers that lead to Raft (node.json), and greeted
            # those. The replica names every other peer: observers and nodes without a way to
            # this node's new address, which never dial a voter's old one back to life (a Node
            # group stayed cut off after the servers rolled twice). Greet them too, once the
            # pass that puts them on the interface is done.
            greet = functools.partial(self._greet_peers, "the replica's peers", logging.INFO)
            self.reconciler.after_next_pass(greet)

    def _membership(self) -> MembershipService:
        assert self.store is not None
        return MembershipService(
            store=self.store,
            machine=self.machine,
            address_quarantine=float(self.settings.mesh.address_quarantine),
        )

    def _admin(self) -> AdminService:
        assert self.store is not None
        return AdminService(store=self.store, machine=self.machine)

    def _presence(self) -> PresenceService:
        assert self.store is not None
        mesh = self.settings.mesh
        return PresenceService(
            node_id=self.identity.node_id,
            streams=self.streams,
            report_to_leader=self._report_presence,
            remove=lambda node_id: self._membership().leave(node_id),
            store=self.store,
            machine=self.machine,
            settings=PresenceSettings(
                purge_after=float(mesh.purge_after), ephemeral_grace=float(mesh.ephemeral_grace)
            ),
        )

    def _backup_key(self) -> bytes | None:
        """The backup key when backups are on (``--backup.url``), else None."""
        b = self.settings.backup
        if not b.url:
            return None
        if not b.key_file:
            raise errors.InvalidArgument(
                "--backup.url needs --backup.key-file: every backup is encrypted (make a key "
                "with: head -c 32 /dev/urandom | base64 > backup.key)"
            )
        return self._key_in_file()

    def _key_in_file(self) -> bytes | None:
        """The key of --backup.key-file, which also opens --bootstrap.restore-from, when one
        is given."""
        if not self.settings.backup.key_file:
            return None
        from webmesh.backup import seal  # noqa: PLC0415 (AES-GCM only where backups are on)

        return seal.read_key(Path(self.settings.backup.key_file))

    def _start_backups(self, key: bytes) -> None:
        from webmesh.backup.store import open_store  # noqa: PLC0415
        from webmesh.service.backup import BackupScheduler  # noqa: PLC0415

        b = self.settings.backup
        self.backups = BackupScheduler(
            target=open_store(b.url, s3_endpoint=b.s3_endpoint, s3_region=b.s3_region),
            key=key,
            interval=float(b.interval),
            retain=b.retain,
            state=lambda: self.machine.state,
            is_leader=self._leads,
        )
        self._tasks.append(asyncio.create_task(self.backups.run(), name="backups"))
        log.info("backups every %ss to %s, keeping %d", b.interval, b.url, b.retain)

    def _path_prober(self) -> PathProber:
        me = self.identity.node_id

        def punched_peers() -> tuple[peers.Peer, ...]:
            state = self.machine.state
            return peers.peers_of(state, me) if me in state.punch_nodes else ()

        async def device() -> DeviceState | None:
            return await self.driver.show(self.settings.wireguard.interface_name)

        return PathProber(
            node_id=me,
            peers=punched_peers,
            paths=lambda: self.machine.state.paths,
            device=device,
            report=self._report_path,
        )

    def _leads(self) -> bool:
        return self.store is not None and self.store.is_leader()

    def _leader_api(self) -> Node:
        """The leader's record, to call its API (this node is not the leader)."""
        leader = self._membership().leader_node()
        if leader is None or not leader.api_address:
            raise errors.Unavailable("no leader known")
        return leader

    async def _report_path(self, peer_id: str, path: str) -> None:
        if self._leads():
            await self._membership().report_path(self.identity.node_id, peer_id, path)
            return
        leader = self._leader_api()
        request = membership_pb2.ReportPathRequest(
            node_id=self.identity.node_id, peer_id=peer_id, path=path
        )
        await self.forwarder.report_path(leader.api_address, leader.id, request)

    async def _report_observed(self, device: DeviceState) -> None:
        """Tell the leader where this node's WireGuard sees nodes behind NAT, when that differs
        from their observed endpoints (``webmesh.service.paths.observed_changes``)."""
        state = self.machine.state
        seen = observed_changes(state, device, time.time(), self.peer_names())
        if not seen:
            return
        if self._leads():
            await self._membership().observe_endpoints(seen)
            return
        leader = self._leader_api()
        await self.forwarder.report_presence(leader.api_address, leader.id, (), seen)

    async def _report_presence(self, node_ids: tuple[str, ...]) -> None:
        leader = self._leader_api()
        await self.forwarder.report_presence(leader.api_address, leader.id, node_ids)

    async def _start_services(self) -> None:
        s = self.settings.services
        if not s.api.disabled:
            presence = self._presence()
            self._tasks.append(asyncio.create_task(presence.run(), name="presence"))
            self.server = await start_api_server(
                listen_address=s.api.listen_address,
                node_id=self.identity.node_id,
                membership=self._membership(),
                admin=self._admin(),
                forwarder=self.forwarder,
                watch=self.watch,
                changes=self.changes,
                status=self.status,
                credentials=security.api_credentials(self.settings),
                guard=security.call_guard(self.settings, lambda: self.changes.latest),
                presence=presence,
                streams=self.streams,
            )
            log.info("api listening address=%s", s.api.listen_address)
        if not s.metrics.disabled:
            await self._start_metrics(s.metrics.listen_address)
        if s.dashboard.enabled:
            await self._start_dashboard(s.dashboard.listen_address)
        self._tasks.append(asyncio.create_task(self._refresh_device(), name="device-stats"))

    async def _start_meshdns(self) -> None:
        s = self.settings
        saved = self.data_dir / hostresolver.BACKUP_NAME
        if saved.exists():  # a run killed with SIGKILL left the host's resolver pointed at MeshDNS
            hostresolver.ResolvConfFile(saved).recover()
        if not (s.services.meshdns.enabled or s.mesh.use_meshdns):
            return
        # dnspython (and what it imports) loads only on nodes that use MeshDNS
        from webmesh.daemon.meshdns import MeshDns  # noqa: PLC0415

        i = self.identity
        self.meshdns = MeshDns(
            s.services.meshdns,
            use_meshdns=s.mesh.use_meshdns,
            state=lambda: self.machine.state,
            node_id=i.node_id,
            interface=s.wireguard.interface_name,
            data_dir=self.data_dir,
        )
        mesh_addresses = tuple(ipam.interface_address(a) for a in (i.ipv4, i.ipv6) if a)
        await self.meshdns.start(mesh_addresses, i.domain)

    async def _start_metrics(self, address: str) -> None:
        host, port = split_host_port(address, allow_zero_port=True)
        collector = metrics.NodeCollector(
            raft=lambda: self.store.status() if self.store else None,
            state=lambda: self.machine.state,
            device=lambda: self.device,
            peer_names=self.peer_names,
            meshdns=lambda: self.meshdns.server if self.meshdns else None,
            backup=lambda: self.backups.status if self.backups else None,
        )
        with contextlib.suppress(ValueError):  # already registered (several nodes in one process)
            metrics.REGISTRY.register(collector)
        self.metrics_server = MetricsServer(metrics.render)
        await self.metrics_server.start(host, port)
        log.info("metrics listening address=%s path=/metrics", address)

    async def _start_dashboard(self, address: str) -> None:
        """The web view, on the API's TLS and authenticators (``webmesh.web``)."""
        # aiohttp and the web package load only on a node that serves the web view
        from webmesh.web import launch, tls  # noqa: PLC0415

        host, port = split_host_port(address, allow_zero_port=True)
        g = self.settings.global_
        secure = not g.insecure
        files = {"cert_file": g.tls_cert_file, "key_file": g.tls_key_file, "ca_file": g.tls_ca_file}
        self.dashboard = await launch.serve(
            host,
            port,
            tls=tls.server_context(**files, client_certificates=g.mtls) if secure else None,
            authenticators=security.authenticators(self.settings) if secure else None,
            state=lambda: self.changes.latest,
            watch=self.watch,
            served_by=self.identity.node_id,
            leader=self._leader_id,
            handshakes=self._handshakes,
        )
        log.info("dashboard listening address=%s", address)

    def _handshakes(self) -> dict[str, float]:
        """This node's last WireGuard handshake with each peer, by key (the web view)."""
        device = self.device
        return {p.public_key: p.last_handshake for p in device.peers} if device else {}

    async def _refresh_device(self) -> None:
        """Keep a recent DeviceState for the metrics endpoint (scrapes must not block on I/O):
        every few seconds, and right after a reconcile pass changed the device."""
        while True:
            self._device_stale.clear()
            with contextlib.suppress(Exception):
                self.device = await self.driver.show(self.settings.wireguard.interface_name)
            if self._advertised and self.device is not None:  # nodes behind NAT dial this one
                with contextlib.suppress(errors.MeshError):
                    await self._report_observed(self.device)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._device_stale.wait(), DEVICE_REFRESH)

    async def shutdown(self) -> None:
        """Stop serving, stop replicating, remove the interface. Safe to call more than once."""
        if self.meshdns is not None:  # first: the host's resolver must never stay pointed here
            await self.meshdns.close()
            self.meshdns = None
        if self.server is not None:
            await self.server.stop(grace=1.0)
            self.server = None
        if self.metrics_server is not None:
            await self.metrics_server.close()
            self.metrics_server = None
        if self.dashboard is not None:
            await self.dashboard.close()
            self.dashboard = None
        await self._stop_tasks()
        await self.forwarder.close()
        if self.store is not None:
            await self.store.close()
            self.store = None
        if self.reconciler is not None:
            with contextlib.suppress(Exception):
                await self.reconciler.tear_down()
                log.info("interface removed iface=%s", self.reconciler.local.name)
            self.reconciler = None

    async def _stop_tasks(self) -> None:
        """Cancel the background tasks and wait for them, bounded: a task stuck in a call that
        ignores cancellation must not hang the shutdown (it is named in the log instead)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=TASK_STOP_TIMEOUT)
            for task in done:  # retrieve outcomes, so none is reported as never retrieved
                if not task.cancelled():
                    task.exception()
            if pending:
                names = ", ".join(sorted(task.get_name() for task in pending))
                log.warning("tasks still running at shutdown tasks=%s", names)
        self._tasks.clear()

    def _leader_id(self) -> str:
        if self.store is None:
            return ""
        found = self._by_raft_address.get(self.machine.state, self.store.leader())
        return found.id if found else ""


def _published_key(identity: Identity) -> str:
    """The public key the node's record should carry: the new one while a rotation runs."""
    return keys.public_key(identity.private_key_next or identity.private_key)


def _replaced_key(identity: Identity) -> str:
    """While a rotation runs, the public key the record holds now (it names the node)."""
    return keys.public_key(identity.private_key) if identity.private_key_next else ""


def _interface_info(local: LocalInterface, device: DeviceState | None) -> InterfaceInfo:
    return InterfaceInfo(name=local.name, addresses=local.addresses, device=device)
