"""Frozen descriptions of a WireGuard device: what we want (config) and what we read (state)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """One desired peer. Keys are base64, as ``wg`` shows them; allowed_ips are normalized CIDRs."""

    public_key: str
    endpoint: str = ""  # "ip:port" or "[ip6]:port"; "" when the peer has no known endpoint
    allowed_ips: tuple[str, ...] = ()  # sorted, normalized
    persistent_keepalive: int = 0  # seconds; 0 disables
    preshared_key: str = ""


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """The whole desired configuration of one interface. peers are sorted by public_key."""

    private_key: str
    listen_port: int
    peers: tuple[PeerConfig, ...] = ()
    fwmark: int = 0


@dataclass(frozen=True, slots=True)
class PeerState:
    """One peer as the device reports it."""

    public_key: str
    endpoint: str = ""
    allowed_ips: tuple[str, ...] = ()
    persistent_keepalive: int = 0
    preshared_key: str = ""
    last_handshake: float = 0.0  # unix seconds; 0 = never
    rx_bytes: int = 0
    tx_bytes: int = 0


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A device as it is: read back from the kernel or wireguard-go."""

    public_key: str = ""
    private_key: str = ""
    listen_port: int = 0
    fwmark: int = 0
    peers: tuple[PeerState, ...] = ()
