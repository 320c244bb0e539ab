"""Joining, leaving and bootstrapping: the mutations of membership.

Every mutation runs on the leader (``NotLeader`` otherwise; the API forwards it there). The leader
decides addresses and timestamps, then proposes a command; apply re-checks everything, so a proposal
built on a stale view is rejected rather than applied wrongly.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from webmesh import errors
from webmesh.mesh import commands, ipam, names, peers
from webmesh.mesh.machine import MeshMachine
from webmesh.mesh.model import Networks, Node, NodeRole, validate_endpoint, validate_public_key
from webmesh.mesh.objects import Kind, MeshObject, Policy
from webmesh.mesh.state import MeshState
from webmesh.raft.store import ConsensusStore
from webmesh.service.leader import ReplicatedService
from webmesh.syntax import is_address, validate_cidr, validate_node_id

log = logging.getLogger("webmesh.service")

DEFAULT_RAFT_PORT = 9443
# Seconds an address released by a removed node rests before a join may get it: every peer has
# long applied the removal by then, so a peer or an ACL keyed by the address never means
# another machine while an old configuration lingers somewhere.
DEFAULT_ADDRESS_QUARANTINE = 600.0
ADDRESS_RACE_RETRIES = 3
# Seconds a node's observed endpoint stays put after it moved: servers that see it at different
# ports (a NAT that maps each destination anew) would otherwise rewrite it on every report.
OBSERVED_CALM = 60.0


@dataclass(frozen=True, slots=True)
class JoinSpec:
    """What a joining node asks for."""

    node_id: str
    public_key: str
    endpoints: tuple[str, ...] = ()
    as_voter: bool = False
    as_observer: bool = False
    raft_port: int = 0
    api_port: int = 0
    want_ipv6: bool = False
    routes: tuple[str, ...] = ()
    raft_address: str = ""  # explicit, when not the mesh address
    api_address: str = ""  # explicit, when not the mesh address
    raft_key: str = ""  # the joiner's Raft public key: required for a replica, refused otherwise
    raft_key_previous: str = ""  # the key it replaces, while it rotates
    ephemeral: bool = False  # removed soon after it goes offline (webmesh.mesh.presence)
    # The key ``public_key`` replaces: the node rotates its WireGuard key (only its current
    # record's key is accepted here).
    previous_public_key: str = ""
    # The port of its MeshDNS server on its mesh address (0: it serves none); replicas only.
    dns_port: int = 0
    # Its WireGuard listen port, and the address its Join came from (the public side of its
    # NAT, as the first server saw it): its observed endpoint. 0 / "": it opted out.
    wireguard_port: int = 0
    observed_host: str = ""

    @property
    def observed_endpoint(self) -> str:
        if not self.wireguard_port or not self.observed_host:
            return ""
        host = f"[{self.observed_host}]" if ":" in self.observed_host else self.observed_host
        return f"{host}:{self.wireguard_port}"

    @property
    def role(self) -> NodeRole:
        if self.as_voter:
            return NodeRole.VOTER
        return NodeRole.OBSERVER if self.as_observer else NodeRole.CLIENT


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What a joiner needs to come up: its record, the networks, its peers and the Raft members."""

    node: Node
    networks: Networks
    peers: tuple[peers.Peer, ...]
    voters: tuple[str, ...]
    raft_keys: Mapping[str, str]  # raft address -> raft key of each voter ({} for a client)
    leader_id: str
    dns_servers: tuple[str, ...] = ()  # the mesh's MeshDNS servers, the best first


class MembershipService(ReplicatedService):
    """Join, leave and bootstrap over a consensus store."""

    def __init__(
        self,
        *,
        store: ConsensusStore,
        machine: MeshMachine,
        clock: Callable[[], float] = time.time,
        address_quarantine: float = DEFAULT_ADDRESS_QUARANTINE,
    ) -> None:
        super().__init__(store=store, machine=machine)
        self._clock = clock
        self._quarantine = address_quarantine
        self._lock = asyncio.Lock()  # one Raft membership (voter) change at a time
        self._node_locks: dict[str, asyncio.Lock] = {}  # one join per node id at a time
        self._reserved: set[str] = set()  # addresses picked by joins not yet committed
        self._join_log = JoinLog()
        self._observed_at: dict[str, float] = {}  # node id -> when its observed endpoint moved

    async def bootstrap(
        self,
        networks: Networks,
        self_node: Node,
        *,
        policy: Policy | None = None,
        seed: tuple[tuple[Kind, MeshObject], ...] = (),
    ) -> None:
        """Create the mesh with this node as its first voter (a no-op when the state exists)."""
        if not self.state.bootstrapped:
            generation = secrets.token_hex(8)
            await self.propose(commands.Bootstrap(networks, policy or Policy(), seed, generation))
            log.info("mesh bootstrapped ipv4=%s ipv6=%s", networks.ipv4, networks.ipv6 or "-")
        await self.put_own_record(self_node)

    async def put_own_record(self, node: Node, replaces_key: str = "") -> bool:
        """Make the leader's own record ``node`` (its ``joined_at`` and key epoch kept); True
        when it already was. ``replaces_key``: the WireGuard key it rotates away from."""
        state = self.state
        current = state.nodes.get(node.id)
        if current is not None and same_record(current, node):
            return True
        wanted = replace(
            node,
            joined_at=current.joined_at if current else self._clock(),
            raft_key_epoch=key_epoch(state, current, node.raft_key),
            observed_endpoint=current.observed_endpoint if current else "",
        )
        await self.propose(commands.PutNode(wanted, replaces_key=replaces_key))
        return False

    async def observe_endpoints(self, seen: Mapping[str, str]) -> bool:
        """Record where a server's WireGuard sees nodes now (leader only): the ones that differ
        from their observed endpoint, in one command; True when something changed."""
        self.require_leader()
        state = self.state
        now = time.monotonic()
        changed = {
            node_id: endpoint
            for node_id, endpoint in seen.items()
            if (node := state.nodes.get(node_id)) is not None
            and node.observed_endpoint
            and node.observed_endpoint != endpoint
            and now - self._observed_at.get(node_id, -OBSERVED_CALM) >= OBSERVED_CALM
        }
        for endpoint in changed.values():
            validate_endpoint(endpoint)
        if not changed:
            return False
        await self.propose(commands.ObserveEndpoints(changed))
        self._observed_at.update(dict.fromkeys(changed, now))
        log.info("observed endpoints changed %s", " ".join(f"{k}={v}" for k, v in changed.items()))
        return True

    async def report_path(self, node_id: str, peer_id: str, path: str) -> bool:
        """Record what came of ``node_id``'s hole punch with ``peer_id`` (leader only); True
        when it changed the state."""
        if path not in commands.PATH_STATES:
            raise errors.InvalidArgument(f"unknown path {path!r}: expected direct or relayed")
        self.require_leader()
        result = await self.propose(commands.SetPath(node_id, peer_id, path))
        changed = bool(result.value and result.value.get("changed"))
        if changed:
            log.info("path node=%s peer=%s path=%s", node_id, peer_id, path or "punching")
        return changed

    async def join(self, spec: JoinSpec) -> JoinResult:
        """Admit (or re-admit) a node; on the leader only.

        Joins of different nodes run concurrently (their proposals pipeline through Raft): the
        addresses a join picks are reserved until its proposal commits, so two joins in flight
        never pick the same one. Joins of one node id are serialised, and so are voter changes.
        """
        _validate_spec(spec)
        self.require_leader()
        async with self._node_lock(spec.node_id):
            node = await self._put_joiner(spec)
        if node.role is NodeRole.VOTER and node.raft_address not in self._voters():
            async with self._lock:
                if node.raft_address not in self._voters():
                    # Do not wait for the commit: with one voter it needs the new voter running.
                    await self._store.add_voter(node.raft_address, wait_for_commit=False)
                    log.info("voter added node=%s raft=%s", node.id, node.raft_address)
        return self._join_result(node)

    def _node_lock(self, node_id: str) -> asyncio.Lock:
        # Kept for the life of the service: one small lock per node id that ever joined here.
        return self._node_locks.setdefault(node_id, asyncio.Lock())

    async def _put_joiner(self, spec: JoinSpec) -> Node:
        for attempt in range(ADDRESS_RACE_RETRIES):
            node = self._joiner_record(self.state, spec)
            owners = self.state.address_owners  # O(1) lookups: never copy it (O(mesh) per Join)
            reserved = {prefix for prefix in node.addresses() if prefix not in owners}
            self._reserved |= reserved  # no await since the choice: nobody else picked them
            try:
                await self.propose(commands.PutNode(node, replaces_key=spec.previous_public_key))
            except errors.AlreadyExists as exc:
                if "address" not in str(exc) or attempt == ADDRESS_RACE_RETRIES - 1:
                    raise
                continue
            finally:
                self._reserved -= reserved
            self._join_log.add(node)
            return node
        raise AssertionError("unreachable")  # pragma: no cover

    def _joiner_record(self, state: MeshState, spec: JoinSpec) -> Node:
        networks = state.networks
        if networks is None:
            raise errors.FailedPrecondition("the mesh is not bootstrapped yet")
        existing = state.nodes.get(spec.node_id)
        rotating = existing is not None and spec.previous_public_key == existing.public_key
        if existing is not None and existing.public_key != spec.public_key and not rotating:
            raise errors.AlreadyExists(
                f"node id {spec.node_id!r} is taken by a node with another public key; "
                "choose another --mesh.node-id, or remove the old node first"
            )
        taken = _Taken(
            state.address_owners, self._reserved, state.released, self._clock() - self._quarantine
        )
        # reserved addresses whose PutNode is already applied are counted in state.nodes
        # (``set - dict.keys()`` would copy every key: count the few reserved ones instead)
        owners = state.address_owners
        hint = len(state.nodes) + sum(1 for prefix in self._reserved if prefix not in owners)
        ipv4 = existing.ipv4 if existing else ""
        ipv6 = existing.ipv6 if existing else ""
        try:
            if not ipv4:
                ipv4 = ipam.allocate_ipv4(networks.ipv4, taken, hint)
            if spec.want_ipv6 and networks.ipv6 and not ipv6:
                ipv6 = ipam.allocate_ipv6(networks.ipv6, taken, hint)
        except errors.Exhausted as exc:
            resting = taken.resting()
            if not resting:
                raise
            raise errors.Exhausted(
                f"{exc}: {resting} released by nodes that left still rest for up to "
                f"{self._quarantine:g} s (--mesh.address-quarantine)"
            ) from None
        host = ipam.interface_address(ipv4)
        role = spec.role
        raft_address = spec.raft_address or f"{host}:{spec.raft_port or DEFAULT_RAFT_PORT}"
        api_address = spec.api_address or (f"{host}:{spec.api_port}" if spec.api_port else "")
        serves_dns = spec.dns_port and role is not NodeRole.CLIENT
        return Node(
            id=spec.node_id,
            public_key=spec.public_key,
            ipv4=ipv4,
            ipv6=ipv6 if spec.want_ipv6 else "",
            endpoints=spec.endpoints,
            role=role,
            api_address=api_address,
            raft_address=raft_address if role is not NodeRole.CLIENT else "",
            routes=spec.routes,
            joined_at=existing.joined_at if existing else self._clock(),
            raft_key=spec.raft_key if role is not NodeRole.CLIENT else "",
            raft_key_previous=spec.raft_key_previous if role is not NodeRole.CLIENT else "",
            raft_key_epoch=key_epoch(state, existing, spec.raft_key),
            ephemeral=spec.ephemeral,
            dns_address=f"{host}:{spec.dns_port}" if serves_dns else "",
            observed_endpoint=_observed(networks, spec)
            or (existing.observed_endpoint if existing and spec.wireguard_port else ""),
        )

    def _voters(self) -> tuple[str, ...]:
        return self._store.voters()

    def _join_result(self, node: Node) -> JoinResult:
        state = self.state
        assert state.networks is not None
        leader = self.leader_node()
        voters = self._voters()
        raft_keys: dict[str, str] = {}
        if node.role is not NodeRole.CLIENT:
            for address in voters:
                voter = self._by_raft_address.get(state, address)
                if voter is not None and voter.raft_key:
                    raft_keys[address] = voter.raft_key
        return JoinResult(
            node=state.nodes.get(node.id, node),
            networks=state.networks,
            peers=peers.peers_of(state, node.id),
            voters=voters,
            raft_keys=raft_keys,
            leader_id=leader.id if leader else "",
            dns_servers=names.meshdns_servers(state),
        )

    async def leave(self, node_id: str) -> None:
        """Remove a node from the mesh (and from the Raft voters when it votes)."""
        async with self._lock:
            self.require_leader()
            node = self.state.node(node_id)
            if node.raft_address and node.raft_address in self._voters():
                if node.raft_address == self._store.status().self_address:
                    raise errors.FailedPrecondition(
                        "the leader cannot remove itself; transfer leadership first"
                    )
                await self._store.remove_voter(node.raft_address)
            await self.propose(commands.RemoveNode(node_id, at=self._clock()))
            log.info("node left node=%s", node_id)


def key_epoch(state: MeshState, current: Node | None, raft_key: str) -> int:
    """The key epoch a record with ``raft_key`` gets: unchanged for the same key, the mesh's
    current one for a new key (so a node that rotated is up to date)."""
    if current is not None and current.raft_key == raft_key:
        return current.raft_key_epoch
    return state.raft_key_epoch


def same_record(current: Node, wanted: Node) -> bool:
    """Whether the stored record already is what its node wants (the proposer's fields aside)."""

    def mine(node: Node) -> Node:
        return replace(node, joined_at=0, raft_key_epoch=0, observed_endpoint="")

    return mine(current) == mine(wanted)


class JoinLog:
    """The "node joined" lines: one per turn of the event loop, for the joins it completed.

    Under load a line per Join cost the leader about 8% of its Joins (each line is a write, and
    a hand-over of the GIL to Raft's thread around it); a Raft entry completes a few dozen joins
    in one turn, and they now share a line. A join alone still gets its own line, as before.
    """

    def __init__(self) -> None:
        self._pending: list[Node] = []

    def add(self, node: Node) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(node)

    def _flush(self) -> None:
        nodes, self._pending = self._pending, []
        if len(nodes) == 1:
            node = nodes[0]
            log.info("node joined node=%s ipv4=%s role=%s", node.id, node.ipv4, node.role)
        elif nodes:
            log.info(
                "nodes joined count=%d nodes=%s",
                len(nodes),
                ",".join(f"{n.id}:{n.ipv4}:{n.role}" for n in nodes),
            )


@dataclass(frozen=True, slots=True)
class _Taken:
    """Addresses in the state or reserved by joins in flight (a Container for IPAM)."""

    owners: Mapping[str, str]
    reserved: set[str]
    released: Mapping[str, float]  # prefix -> when its last owner was removed
    resting_since: float  # released after this: still resting (the quarantine)

    def __contains__(self, prefix: object) -> bool:
        if prefix in self.owners or prefix in self.reserved:
            return True
        released = self.released.get(prefix) if isinstance(prefix, str) else None
        return released is not None and self._resting(released)

    def _resting(self, released: float) -> bool:
        return released > self.resting_since

    def resting(self) -> int:
        """How many released addresses still rest."""
        return sum(1 for released in self.released.values() if self._resting(released))


def _observed(networks: Networks, spec: JoinSpec) -> str:
    """The joiner's observed endpoint, unless its Join came through the mesh (a node updating
    its record over the tunnel): its mesh address says nothing of its NAT."""
    host = spec.observed_host
    inside = host and any(ipam.contains(n, host) for n in (networks.ipv4, networks.ipv6) if n)
    return "" if inside else spec.observed_endpoint


def _validate_spec(spec: JoinSpec) -> None:
    validate_node_id(spec.node_id)
    validate_public_key(spec.public_key)
    _validate_keys(spec)
    for endpoint in spec.endpoints:
        validate_endpoint(endpoint)
    for route in spec.routes:
        validate_cidr(route)
    for address in (spec.raft_address, spec.api_address):
        if address:
            validate_endpoint(address)
    if spec.observed_host and not is_address(spec.observed_host):
        raise errors.InvalidArgument(f"invalid observed address {spec.observed_host!r}")
    for port in (spec.raft_port, spec.api_port, spec.dns_port, spec.wireguard_port):
        if not 0 <= port < 65536:
            raise errors.InvalidArgument(f"invalid port {port}")


def _validate_keys(spec: JoinSpec) -> None:
    if spec.role is NodeRole.CLIENT:
        if spec.raft_key:
            raise errors.InvalidArgument("a client holds no replica: send no raft key")
    elif not spec.raft_key:
        raise errors.InvalidArgument(
            "a voter or observer needs its raft key (raft_key): replicas admit each other by it"
        )
    else:
        validate_public_key(spec.raft_key, what="raft key")
    if spec.raft_key_previous:
        validate_public_key(spec.raft_key_previous, what="previous raft key")
    if spec.previous_public_key:
        validate_public_key(spec.previous_public_key, what="previous WireGuard public key")
