"""The desired WireGuard device, addresses and routes: pure functions of the peer list."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from webmesh.mesh import ipam
from webmesh.mesh.model import Networks, Node
from webmesh.mesh.peers import Peer
from webmesh.wg.config import DeviceConfig, PeerConfig
from webmesh.wg.plan import PeerUpdate, Plan

DEFAULT_KEEPALIVE = 25


@dataclass(frozen=True, slots=True)
class LocalInterface:
    """The local node's side of the tunnel: fixed for the life of the interface."""

    name: str
    private_key: str
    listen_port: int
    mtu: int
    addresses: tuple[str, ...]  # on the interface, with the mesh prefix length: "172.16.0.1/12"
    networks: tuple[str, ...]  # the mesh networks (connected routes through the interface)
    keepalive: int = 0  # 0: the default, only toward peers we dial
    has_endpoint: bool = False


@dataclass(frozen=True, slots=True)
class Desired:
    device: DeviceConfig
    routes: tuple[str, ...]  # extra CIDRs to route into the interface


def interface_addresses(node: Node, networks: Networks) -> tuple[str, ...]:
    """The node's addresses with the mesh prefix length, so the kernel adds the mesh routes."""
    result = []
    if node.ipv4:
        length = ipaddress.ip_network(networks.ipv4).prefixlen
        result.append(f"{ipam.interface_address(node.ipv4)}/{length}")
    if node.ipv6 and networks.ipv6:
        length = ipaddress.ip_network(networks.ipv6).prefixlen
        result.append(f"{ipam.interface_address(node.ipv6)}/{length}")
    return tuple(result)


def desired(local: LocalInterface, peers: Sequence[Peer]) -> Desired:
    """The device config and extra routes for this peer list."""
    configs = tuple(sorted((_peer_config(local, p) for p in peers), key=lambda c: c.public_key))
    device = DeviceConfig(
        private_key=local.private_key, listen_port=local.listen_port, peers=configs
    )
    return Desired(device=device, routes=_extra_routes(local, peers))


def _peer_config(local: LocalInterface, peer: Peer) -> PeerConfig:
    keepalive = local.keepalive
    if not keepalive and peer.endpoint and not local.has_endpoint:
        keepalive = DEFAULT_KEEPALIVE  # we dial it, possibly from behind NAT: keep the path open
    return PeerConfig(
        public_key=peer.public_key,
        endpoint=peer.endpoint,
        allowed_ips=peer.allowed_ips,
        persistent_keepalive=keepalive if peer.endpoint or local.keepalive else 0,
    )


def _extra_routes(local: LocalInterface, peers: Sequence[Peer]) -> tuple[str, ...]:
    """Allowed IPs outside the mesh networks need routes of their own into the interface."""
    networks = [ipaddress.ip_network(n) for n in local.networks]
    extra = set()
    for peer in peers:
        for cidr in peer.allowed_ips:
            prefix = ipaddress.ip_network(cidr)
            if not any(
                prefix.version == n.version and prefix.subnet_of(n)  # type: ignore[arg-type]
                for n in networks
            ):
                extra.add(str(prefix))
    return tuple(sorted(extra))


def incremental_plan(
    local: LocalInterface, current: Mapping[str, Peer], changes: Mapping[str, Peer | None]
) -> Plan:
    """The device plan for a batch of peer changes, without reading the device (fast path)."""
    add: list[PeerConfig] = []
    update: list[PeerUpdate] = []
    remove: list[str] = []
    for node_id, new in sorted(changes.items()):
        old = current.get(node_id)
        if new is None or (old is not None and old.public_key != new.public_key):
            if old is not None:
                remove.append(old.public_key)
            old = None
        if new is None:
            continue
        want = _peer_config(local, new)
        if old is None:
            add.append(want)
            continue
        change = _peer_update(_peer_config(local, old), want)
        if change.changed():
            update.append(change)
    return Plan(add=tuple(add), update=tuple(update), remove=tuple(remove))


def _peer_update(have: PeerConfig, want: PeerConfig) -> PeerUpdate:
    return PeerUpdate(
        public_key=want.public_key,
        endpoint=want.endpoint if want.endpoint and want.endpoint != have.endpoint else None,
        allowed_ips=want.allowed_ips if want.allowed_ips != have.allowed_ips else None,
        persistent_keepalive=(
            want.persistent_keepalive
            if want.persistent_keepalive != have.persistent_keepalive
            else None
        ),
    )


def extra_routes(local: LocalInterface, peers: Iterable[Peer]) -> tuple[str, ...]:
    """Routes the interface needs beyond the mesh networks' connected routes."""
    return _extra_routes(local, list(peers))
