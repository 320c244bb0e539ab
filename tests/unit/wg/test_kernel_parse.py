"""The kernel backend cannot run here (no module); check what it can: probing and parsing."""

from __future__ import annotations

from typing import Any

from webmesh.wg import kernel, keys
from webmesh.wg.config import DeviceState, PeerConfig, PeerState
from webmesh.wg.plan import PeerUpdate, Plan

PRIV = "EEXowEQiyBYuGIc/Pexs/nGeUiMXfEmaZJqSEFv+70w="
PUB = "Q/0hCSNy5giwVSDhWR/qFnuo4QtEXW5L/X3Z2WwFeRU="
PEER = "oQvX7rYwVD9jSkDM9KPF8uyZDybtXbJtzxz9jkNQK3E="


class Msg:
    """Quacks like a decoded pyroute2 message: get_attr() returns what pyroute2 0.9.7 decodes."""

    def __init__(self, **attrs: Any) -> None:
        self.attrs = attrs

    def get_attr(self, name: str) -> Any:
        return self.attrs.get(name)


def test_probe_does_not_crash() -> None:
    reason = kernel.unavailable_reason()
    assert reason is None or isinstance(reason, str)


def test_state_from_messages_merges_peers() -> None:
    peer = Msg(
        WGPEER_A_PUBLIC_KEY=PEER.encode(),
        WGPEER_A_PRESHARED_KEY=keys.ZERO_KEY.encode(),
        WGPEER_A_ENDPOINT={"addr": "fd00::1", "port": 51821},
        WGPEER_A_LAST_HANDSHAKE_TIME={"tv_sec": 10, "tv_nsec": 500_000_000},
        WGPEER_A_ALLOWEDIPS=[{"addr": "fd12::2/128"}, {"addr": "10.0.0.2/32"}],
        WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL=25,
        WGPEER_A_RX_BYTES=3,
        WGPEER_A_TX_BYTES=4,
    )
    first = Msg(
        WGDEVICE_A_PRIVATE_KEY=PRIV.encode(),
        WGDEVICE_A_PUBLIC_KEY=PUB.encode(),
        WGDEVICE_A_LISTEN_PORT=51820,
        WGDEVICE_A_FWMARK=0,
        WGDEVICE_A_PEERS=[],
    )
    state = kernel.state_from_messages([first, Msg(WGDEVICE_A_PEERS=[peer])])
    assert state == DeviceState(
        PUB,
        PRIV,
        51820,
        0,
        (PeerState(PEER, "[fd00::1]:51821", ("10.0.0.2/32", "fd12::2/128"), 25, "", 10.5, 3, 4),),
    )


def test_peer_requests() -> None:
    p = Plan(
        add=(PeerConfig(PUB, "10.0.0.1:51820", ("172.16.0.1/32",), 25),),
        update=(PeerUpdate(PEER, endpoint="[fd00::1]:1", preshared_key=""),),
        remove=(PRIV,),
    )
    assert kernel.peer_requests(p) == [
        {"public_key": PRIV, "remove": True},
        {
            "public_key": PEER,
            "update_only": True,
            "preshared_key": keys.ZERO_KEY,
            "endpoint_addr": "fd00::1",
            "endpoint_port": 1,
        },
        {
            "public_key": PUB,
            "replace_allowed_ips": True,
            "allowed_ips": ["172.16.0.1/32"],
            "persistent_keepalive": 25,
            "endpoint_addr": "10.0.0.1",
            "endpoint_port": 51820,
        },
    ]
