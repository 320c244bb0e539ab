"""In-memory WireGuard and host network, shipped for tests and ``--dry-run``.

``FakeDriver`` applies plans to a ``DeviceState`` with the device's real semantics (an allowed IP
belongs to one peer at a time, ``update_only`` does not create peers, zero keys clear), records
every plan it applied, and can simulate what the device learns on its own (roaming, handshakes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from webmesh.wg import keys
from webmesh.wg.config import DeviceConfig, DeviceState, PeerConfig, PeerState
from webmesh.wg.errors import WireGuardError
from webmesh.wg.plan import PeerUpdate, Plan, normalize_cidrs, plan, routes_to_install


def _without(peers: dict[str, PeerState], cidrs: frozenset[str]) -> dict[str, PeerState]:
    """WireGuard's allowed-IP table maps a CIDR to one peer: taking it removes it elsewhere."""
    return {
        k: dataclasses.replace(p, allowed_ips=tuple(c for c in p.allowed_ips if c not in cidrs))
        for k, p in peers.items()
    }


def _with_ips(peers: dict[str, PeerState], peer: PeerState, cidrs: Sequence[str]) -> None:
    normalized = normalize_cidrs(cidrs)
    peers.update(_without(peers, normalized))
    peers[peer.public_key] = dataclasses.replace(peer, allowed_ips=tuple(sorted(normalized)))


def _updated(peer: PeerState, update: PeerUpdate) -> PeerState:
    changes = {name: getattr(update, name) for name in update.changed() if name != "allowed_ips"}
    return dataclasses.replace(peer, **changes)


def _added(peer: PeerConfig) -> PeerState:
    return PeerState(
        public_key=peer.public_key,
        endpoint=peer.endpoint,
        persistent_keepalive=peer.persistent_keepalive,
        preshared_key=peer.preshared_key,
    )


def apply_plan(state: DeviceState, p: Plan) -> DeviceState:
    """The state a real device would be in after applying ``p`` to ``state``."""
    peers = {k: v for k, v in ((x.public_key, x) for x in state.peers) if k not in p.remove}
    for update in p.update:
        if update.public_key in peers:  # update_only: a vanished peer stays vanished
            peer = _updated(peers[update.public_key], update)
            ips = peer.allowed_ips if update.allowed_ips is None else update.allowed_ips
            _with_ips(peers, peer, ips)
    for add in p.add:
        _with_ips(peers, _added(add), add.allowed_ips)
    private = state.private_key if p.private_key is None else p.private_key
    return dataclasses.replace(
        state,
        private_key=private,
        public_key=keys.public_key(private) if private else "",
        listen_port=state.listen_port if p.listen_port is None else p.listen_port,
        fwmark=state.fwmark if p.fwmark is None else p.fwmark,
        peers=tuple(sorted(peers.values(), key=lambda x: x.public_key)),
    )


@dataclass
class FakeDevice:
    state: DeviceState
    mtu: int
    up: bool = True


@dataclass
class FakeDriver:
    """``WireGuardDriver`` in memory. Set ``fail`` to make the next call raise it (once)."""

    devices: dict[str, FakeDevice] = field(default_factory=dict)
    applied: list[tuple[str, Plan]] = field(default_factory=list)
    fail: Exception | None = None
    closed: bool = False

    def _check(self) -> None:
        if self.fail is not None:
            exc, self.fail = self.fail, None
            raise exc

    def _device(self, iface: str) -> FakeDevice:
        self._check()
        if iface not in self.devices:
            raise WireGuardError(f"no WireGuard interface {iface!r}: create() it first")
        return self.devices[iface]

    async def create(self, iface: str, *, mtu: int) -> None:
        self._check()
        device = self.devices.setdefault(iface, FakeDevice(DeviceState(), mtu))
        device.mtu, device.up = mtu, True

    async def show(self, iface: str) -> DeviceState:
        return self._device(iface).state

    async def configure(self, iface: str, desired: DeviceConfig) -> Plan:
        p = plan(desired, self._device(iface).state)
        await self.apply(iface, p)
        return p

    async def apply(self, iface: str, plan: Plan) -> None:
        device = self._device(iface)
        if not plan.empty:
            device.state = apply_plan(device.state, plan)
            self.applied.append((iface, plan))

    async def delete(self, iface: str) -> None:
        self._check()
        self.devices.pop(iface, None)

    async def close(self) -> None:
        self.closed = True

    def observe(self, iface: str, public_key: str, **changes: object) -> None:
        """Simulate what the device learns by itself: ``endpoint`` (roaming), handshakes, bytes."""
        device = self.devices[iface]
        peers = tuple(
            dataclasses.replace(p, **changes) if p.public_key == public_key else p  # type: ignore[arg-type]
            for p in device.state.peers
        )
        device.state = dataclasses.replace(device.state, peers=peers)


@dataclass
class FakeLinks:
    """``Links`` in memory. A link exists if ``driver`` has the device or it is in ``links``."""

    driver: FakeDriver | None = None
    links: set[str] = field(default_factory=set)
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    forwarding: dict[int, bool] = field(default_factory=lambda: {4: False, 6: False})
    host_addresses: list[tuple[str, str]] = field(default_factory=list)
    exit_routing: dict[str, tuple[str, ...]] = field(default_factory=dict)  # iface -> routes
    masquerading: set[str] = field(default_factory=set)  # interfaces masqueraded
    # iface -> its peering export rules ((accepted, exported) per peering)
    peering_filters: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = field(
        default_factory=dict
    )

    async def link_exists(self, iface: str) -> bool:
        return iface in self.links or (self.driver is not None and iface in self.driver.devices)

    async def _require(self, iface: str) -> None:
        if not await self.link_exists(iface):
            raise WireGuardError(f"no network interface named {iface!r} in this namespace")

    async def set_addresses(self, iface: str, prefixes: Sequence[str]) -> None:
        await self._require(iface)
        self.addresses[iface] = tuple(sorted(prefixes))

    async def set_routes(self, iface: str, cidrs: Sequence[str]) -> None:
        await self._require(iface)
        wanted = routes_to_install(cidrs, self.addresses.get(iface, ()))
        self.routes[iface] = tuple(sorted(map(str, wanted)))

    async def enable_forwarding(self, *, ipv4: bool, ipv6: bool, iface: str = "") -> None:
        self.forwarding[4] |= ipv4
        self.forwarding[6] |= ipv6

    async def set_exit_routing(self, iface: str, routes: Sequence[str]) -> None:
        if routes:
            await self._require(iface)
            self.exit_routing[iface] = tuple(sorted(routes))
        else:
            self.exit_routing.pop(iface, None)

    async def set_masquerade(self, iface: str, on: bool) -> None:
        if on:
            self.masquerading.add(iface)
        else:
            self.masquerading.discard(iface)

    async def set_peering_filter(
        self, iface: str, rules: Sequence[tuple[tuple[str, ...], tuple[str, ...]]]
    ) -> None:
        if rules:
            self.peering_filters[iface] = tuple(rules)
        else:
            self.peering_filters.pop(iface, None)

    async def restore_host(self) -> None:
        self.forwarding = {4: False, 6: False}

    async def interface_addresses(self) -> list[tuple[str, str]]:
        configured = [(iface, p.split("/")[0]) for iface, ps in self.addresses.items() for p in ps]
        return [*self.host_addresses, *configured]
