"""The desired WireGuard device, addresses and routes: pure functions of the peer list."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from webmesh.mesh import ipam
from webmesh.mesh.model import Networks, Node
from webmesh.mesh.peers import EXIT_ROUTES, Peer
from webmesh.wg.config import DeviceConfig, PeerConfig
from webmesh.wg.netlink import EXIT_TABLE
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
    # The exit node this node sends its internet traffic to (--wireguard.use-exit-node, wmctl
    # connect --exit-node); "" for none. Used only while that node offers exit routes.
    exit_node: str = ""


@dataclass(frozen=True, slots=True)
class Desired:
    device: DeviceConfig
    routes: tuple[str, ...]  # extra CIDRs to route into the interface
    exit_routes: tuple[str, ...] = ()  # default routes sent into it by policy routing


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
    exits = exit_routes_in_use(local, {p.node_id: p for p in peers})
    device = DeviceConfig(
        private_key=local.private_key,
        listen_port=local.listen_port,
        peers=configs,
        fwmark=EXIT_TABLE if exits else 0,
    )
    return Desired(device=device, routes=_extra_routes(local, peers), exit_routes=exits)


def exit_routes_in_use(local: LocalInterface, peers: Mapping[str, Peer]) -> tuple[str, ...]:
    """The default routes this node sends into the tunnel: those its chosen exit node offers
    (IPv6's only when the node has an IPv6 address of its own); () when it chose none, or the
    node offers none (it stopped being an exit node, or left)."""
    chosen = peers.get(local.exit_node) if local.exit_node else None
    return _exit_routes_from(local, chosen) if chosen is not None else ()


def _exit_routes_from(local: LocalInterface, peer: Peer) -> tuple[str, ...]:
    if not local.exit_node or peer.node_id != local.exit_node:
        return ()
    ipv6 = any(":" in address for address in local.addresses)
    return tuple(r for r in peer.exit_routes if ipv6 or ":" not in r)


def _peer_config(local: LocalInterface, peer: Peer) -> PeerConfig:
    keepalive = local.keepalive or peer.keepalive
    if not keepalive and peer.endpoint and not local.has_endpoint:
        keepalive = DEFAULT_KEEPALIVE  # we dial it, possibly from behind NAT: keep the path open
    allowed = peer.allowed_ips
    exits = _exit_routes_from(local, peer)
    if exits:
        allowed = tuple(sorted({*allowed, *exits}))
    return PeerConfig(
        public_key=peer.public_key,
        endpoint=peer.endpoint,
        allowed_ips=allowed,
        persistent_keepalive=keepalive if peer.endpoint or local.keepalive else 0,
    )


def _extra_routes(local: LocalInterface, peers: Sequence[Peer]) -> tuple[str, ...]:
    """Allowed IPs outside the mesh networks need routes of their own into the interface."""
    networks = [ipaddress.ip_network(n) for n in local.networks]
    extra = set()
    for peer in peers:
        for cidr in peer.allowed_ips:
            if cidr in EXIT_ROUTES:  # never into the main table (policy routing instead)
                continue
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
