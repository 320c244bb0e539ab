"""The minimal change from what a device is to what we want: a pure diff (innernet's PeerDiff).

``plan(desired, actual)`` never touches a device; drivers apply the ``Plan`` and the reconciler logs
``Plan.describe()``. Comparisons are on normalized values (CIDR sets, parsed endpoints), so a
device that reports the same thing in another spelling or order yields an empty plan.

Two rules keep a running mesh stable:

* a desired ``listen_port`` of 0 means "any port": the device's (random) port is kept;
* an empty desired endpoint never clears the endpoint a device learned by roaming.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from webmesh.wg.config import DeviceConfig, DeviceState, PeerConfig, PeerState

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class PeerUpdate:
    """Changes to one existing peer; ``None`` means "leave this field as it is"."""

    public_key: str
    endpoint: str | None = None
    allowed_ips: tuple[str, ...] | None = None  # replaces the whole set
    persistent_keepalive: int | None = None
    preshared_key: str | None = None  # "" clears it

    def changed(self) -> tuple[str, ...]:
        """Names of the fields this update sets, in declaration order."""
        return tuple(
            f.name
            for f in fields(self)
            if f.name != "public_key" and getattr(self, f.name) is not None
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What to change on a device; device fields are ``None`` when they already match."""

    private_key: str | None = None
    listen_port: int | None = None
    fwmark: int | None = None
    add: tuple[PeerConfig, ...] = ()
    update: tuple[PeerUpdate, ...] = ()
    remove: tuple[str, ...] = ()  # public keys

    @property
    def device_changes(self) -> tuple[str, ...]:
        """Names of the device-level fields this plan sets."""
        names = ("private_key", "listen_port", "fwmark")
        return tuple(n for n in names if getattr(self, n) is not None)

    @property
    def empty(self) -> bool:
        """True when the device already matches: nothing to send."""
        return not (self.device_changes or self.add or self.update or self.remove)

    def describe(self) -> str:
        """One log line, e.g. ``add 2 peers, update 1 peer (allowed_ips), remove 0 peers``."""
        if self.empty:
            return "no changes"
        parts = [f"set {', '.join(self.device_changes)}"] if self.device_changes else []
        changed = sorted({name for u in self.update for name in u.changed()})
        detail = f" ({', '.join(changed)})" if changed else ""
        parts.append(f"add {_peers(len(self.add))}")
        parts.append(f"update {_peers(len(self.update))}{detail}")
        parts.append(f"remove {_peers(len(self.remove))}")
        return ", ".join(parts)


def _peers(n: int) -> str:
    return f"{n} peer" if n == 1 else f"{n} peers"


def normalize_cidrs(cidrs: Iterable[str]) -> frozenset[str]:
    """CIDRs as a set of canonical network strings (host bits cleared, IPv6 compressed)."""
    return frozenset(str(ipaddress.ip_network(c, strict=False)) for c in cidrs)


def normalize_endpoint(endpoint: str) -> str:
    """``ip:port`` / ``[ip6]:port`` in canonical spelling; anything unparseable is kept as is."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not port.isdigit():
        return endpoint
    try:
        ip = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return endpoint
    return f"[{ip}]:{int(port)}" if ip.version == 6 else f"{ip}:{int(port)}"


def plan(desired: DeviceConfig, actual: DeviceState) -> Plan:
    """The minimal ``Plan`` that makes ``actual`` match ``desired``."""
    current = {p.public_key: p for p in actual.peers}
    wanted = {p.public_key: p for p in desired.peers}
    updates = (_peer_update(wanted[k], current[k]) for k in sorted(wanted.keys() & current.keys()))
    listen_port = desired.listen_port
    return Plan(
        private_key=desired.private_key if desired.private_key != actual.private_key else None,
        listen_port=listen_port if listen_port not in (0, actual.listen_port) else None,
        fwmark=desired.fwmark if desired.fwmark != actual.fwmark else None,
        add=tuple(wanted[k] for k in sorted(wanted.keys() - current.keys())),
        update=tuple(u for u in updates if u.changed()),
        remove=tuple(sorted(current.keys() - wanted.keys())),
    )


def _peer_update(want: PeerConfig, have: PeerState) -> PeerUpdate:
    """Only the fields of ``have`` that differ from ``want``."""
    endpoint = None
    if want.endpoint and normalize_endpoint(want.endpoint) != normalize_endpoint(have.endpoint):
        endpoint = want.endpoint
    allowed = None
    if normalize_cidrs(want.allowed_ips) != normalize_cidrs(have.allowed_ips):
        allowed = want.allowed_ips
    keepalive = want.persistent_keepalive
    psk = want.preshared_key
    return PeerUpdate(
        public_key=want.public_key,
        endpoint=endpoint,
        allowed_ips=allowed,
        persistent_keepalive=keepalive if keepalive != have.persistent_keepalive else None,
        preshared_key=psk if psk != have.preshared_key else None,
    )


def routes_to_install(cidrs: Sequence[str], addresses: Sequence[str]) -> set[Network]:
    """The networks in ``cidrs`` not already covered by a connected route of ``addresses``."""
    connected = [ipaddress.ip_interface(a).network for a in addresses]
    wanted = {ipaddress.ip_network(c, strict=False) for c in cidrs}
    return {
        net
        for net in wanted
        if not any(net.version == c.version and net.subnet_of(c) for c in connected)  # type: ignore[arg-type]
    }
