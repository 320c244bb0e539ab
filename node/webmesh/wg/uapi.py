"""The WireGuard cross-platform UAPI text protocol (what wireguard-go speaks on its unix socket).

Pure: it only turns a ``Plan`` into request text and reply text into a ``DeviceState``. See
https://www.wireguard.com/xplatform/. Keys travel as hex on the wire and base64 everywhere else.
A request is ``get=1`` or ``set=1`` followed by ``key=value`` lines and a blank line; every reply
ends with ``errno=N`` (negative on failure, e.g. -22 for a value wireguard-go could not parse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webmesh.wg import keys
from webmesh.wg.config import DeviceState, PeerConfig, PeerState
from webmesh.wg.errors import UapiError
from webmesh.wg.plan import PeerUpdate, Plan

GET_REQUEST = "get=1\n\n"
_ZERO_HEX = "0" * 64


def _key_hex(key_b64: str) -> str:
    """Hex for the wire; "" (no key) becomes the all-zero key, which clears it."""
    return keys.to_hex(key_b64) if key_b64 else _ZERO_HEX


def encode_set(plan: Plan) -> str:
    """The ``set=1`` request for a plan: device keys first, then removals, updates and additions.

    Removals go before additions so an allowed IP moving between peers ends up on its new owner.
    """
    lines = ["set=1"]
    if plan.private_key is not None:
        lines.append(f"private_key={_key_hex(plan.private_key)}")
    if plan.listen_port is not None:
        lines.append(f"listen_port={plan.listen_port}")
    if plan.fwmark is not None:
        lines.append(f"fwmark={plan.fwmark}")
    for public_key in plan.remove:
        lines += [f"public_key={keys.to_hex(public_key)}", "remove=true"]
    for update in plan.update:
        lines += _encode_update(update)
    for peer in plan.add:
        lines += _encode_add(peer)
    return "\n".join(lines) + "\n\n"


def _encode_add(peer: PeerConfig) -> list[str]:
    lines = [f"public_key={keys.to_hex(peer.public_key)}"]
    if peer.preshared_key:
        lines.append(f"preshared_key={keys.to_hex(peer.preshared_key)}")
    if peer.endpoint:
        lines.append(f"endpoint={peer.endpoint}")
    if peer.persistent_keepalive:
        lines.append(f"persistent_keepalive_interval={peer.persistent_keepalive}")
    lines.append("replace_allowed_ips=true")
    lines += [f"allowed_ip={cidr}" for cidr in peer.allowed_ips]
    return lines


def _encode_update(update: PeerUpdate) -> list[str]:
    """``update_only=true`` so a peer removed meanwhile is not resurrected half-configured."""
    lines = [f"public_key={keys.to_hex(update.public_key)}", "update_only=true"]
    if update.preshared_key is not None:
        lines.append(f"preshared_key={_key_hex(update.preshared_key)}")
    if update.endpoint is not None:
        lines.append(f"endpoint={update.endpoint}")
    if update.persistent_keepalive is not None:
        lines.append(f"persistent_keepalive_interval={update.persistent_keepalive}")
    if update.allowed_ips is not None:
        lines.append("replace_allowed_ips=true")
        lines += [f"allowed_ip={cidr}" for cidr in update.allowed_ips]
    return lines


def check_errno(reply: str) -> None:
    """Raise ``UapiError`` unless the reply ends with ``errno=0``."""
    pairs = _pairs(reply)
    if not pairs or pairs[-1][0] != "errno":
        raise UapiError(f"malformed UAPI reply (no errno): {reply[:200]!r}")
    try:
        errno = int(pairs[-1][1])
    except ValueError as exc:
        raise UapiError(f"malformed UAPI errno: {pairs[-1][1]!r}") from exc
    if errno != 0:
        raise UapiError(
            f"wireguard-go rejected the request: errno={errno} (see its log for the reason)",
            errno=errno,
        )


def _pairs(reply: str) -> list[tuple[str, str]]:
    pairs = []
    for line in reply.splitlines():
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise UapiError(f"malformed UAPI line: {line!r}")
        pairs.append((key, value))
    return pairs


@dataclass
class _PeerBuilder:
    public_key: str
    values: dict[str, str] = field(default_factory=dict)
    allowed_ips: list[str] = field(default_factory=list)

    def build(self) -> PeerState:
        v = self.values
        psk = v.get("preshared_key", _ZERO_HEX)
        return PeerState(
            public_key=self.public_key,
            endpoint=v.get("endpoint", ""),
            allowed_ips=tuple(sorted(self.allowed_ips)),
            persistent_keepalive=int(v.get("persistent_keepalive_interval", "0")),
            preshared_key="" if psk == _ZERO_HEX else keys.from_hex(psk),
            last_handshake=int(v.get("last_handshake_time_sec", "0"))
            + int(v.get("last_handshake_time_nsec", "0")) / 1e9,
            rx_bytes=int(v.get("rx_bytes", "0")),
            tx_bytes=int(v.get("tx_bytes", "0")),
        )


def parse_get(reply: str) -> DeviceState:
    """Parse a ``get=1`` reply; raise ``UapiError`` on nonzero errno or malformed text.

    wireguard-go does not report the device's public key, so it is derived from the private key.
    """
    check_errno(reply)
    device: dict[str, str] = {}
    peers: list[_PeerBuilder] = []
    try:
        for key, value in _pairs(reply)[:-1]:
            if key == "public_key":
                peers.append(_PeerBuilder(keys.from_hex(value)))
            elif not peers:
                device[key] = value
            elif key == "allowed_ip":
                peers[-1].allowed_ips.append(value)
            else:
                peers[-1].values[key] = value
        return _device_state(device, [p.build() for p in peers])
    except ValueError as exc:
        raise UapiError(f"malformed UAPI get reply: {exc}") from exc


def _device_state(device: dict[str, str], peers: list[PeerState]) -> DeviceState:
    private_hex = device.get("private_key", _ZERO_HEX)
    private = "" if private_hex == _ZERO_HEX else keys.from_hex(private_hex)
    return DeviceState(
        public_key=keys.public_key(private) if private else "",
        private_key=private,
        listen_port=int(device.get("listen_port", "0")),
        fwmark=int(device.get("fwmark", "0")),
        peers=tuple(sorted(peers, key=lambda p: p.public_key)),
    )
