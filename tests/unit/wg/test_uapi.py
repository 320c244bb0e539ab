"""UAPI encode/parse, against text captured from wireguard-go 0.0.20220316 on the test machine."""

from __future__ import annotations

import pytest

from webmesh.wg import uapi
from webmesh.wg.config import DeviceState, PeerConfig, PeerState
from webmesh.wg.errors import UapiError
from webmesh.wg.plan import PeerUpdate, Plan

PRIV = "EEXowEQiyBYuGIc/Pexs/nGeUiMXfEmaZJqSEFv+70w="
PRIV_HEX = "1045e8c04422c8162e18873f3dec6cfe719e5223177c499a649a92105bfeef4c"
PUB = "Q/0hCSNy5giwVSDhWR/qFnuo4QtEXW5L/X3Z2WwFeRU="
PEER = "oQvX7rYwVD9jSkDM9KPF8uyZDybtXbJtzxz9jkNQK3E="
PEER_HEX = "a10bd7eeb630543f634a40ccf4a3c5f2ec990f26ed5db26dcf1cfd8e43502b71"
PSK = "dJR7joEIwmcnhdSw+LeWqEr4cQ1tgPV3i26YiBZ/BpE="
PSK_HEX = "74947b8e8108c2672785d4b0f8b796a84af8710d6d80f5778b6e9888167f0691"

# Captured replies (b'...' from the socket, decoded).
REPLY_WITH_PEER = (
    f"private_key={PRIV_HEX}\nlisten_port=51820\nfwmark=7\n"
    f"public_key={PEER_HEX}\npreshared_key={PSK_HEX}\nprotocol_version=1\n"
    "endpoint=[fd00::1]:51821\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
    "tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\n"
    "allowed_ip=10.0.0.2/32\nallowed_ip=fd12::2/128\nerrno=0\n\n"
)
REPLY_FRESH = "listen_port=44703\nerrno=0\n\n"
REPLY_EINVAL = "errno=-22\n\n"


def test_parse_reply_with_peer() -> None:
    assert uapi.parse_get(REPLY_WITH_PEER) == DeviceState(
        public_key=PUB,
        private_key=PRIV,
        listen_port=51820,
        fwmark=7,
        peers=(
            PeerState(
                public_key=PEER,
                endpoint="[fd00::1]:51821",
                allowed_ips=("10.0.0.2/32", "fd12::2/128"),
                persistent_keepalive=25,
                preshared_key=PSK,
            ),
        ),
    )


def test_parse_fresh_device() -> None:
    assert uapi.parse_get(REPLY_FRESH) == DeviceState(listen_port=44703)


def test_parse_handshake_counters_and_zero_psk() -> None:
    reply = (
        f"public_key={PEER_HEX}\npreshared_key={'0' * 64}\nlast_handshake_time_sec=1700000000\n"
        "last_handshake_time_nsec=500000000\ntx_bytes=92\nrx_bytes=180\nerrno=0\n\n"
    )
    (peer,) = uapi.parse_get(reply).peers
    assert peer == PeerState(PEER, last_handshake=1700000000.5, rx_bytes=180, tx_bytes=92)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (REPLY_EINVAL, "errno=-22"),
        ("listen_port=1\n\n", "no errno"),
        ("", "no errno"),
        ("garbage\nerrno=0\n\n", "malformed UAPI line"),
        ("errno=x\n\n", "malformed UAPI errno"),
        ("public_key=zz\nerrno=0\n\n", "malformed UAPI get reply"),
    ],
)
def test_bad_replies_raise(reply: str, message: str) -> None:
    with pytest.raises(UapiError, match=message):
        uapi.parse_get(reply)


def test_errno_is_kept() -> None:
    with pytest.raises(UapiError) as info:
        uapi.check_errno(REPLY_EINVAL)
    assert info.value.errno == -22
    uapi.check_errno("errno=0\n\n")


ENCODE_CASES = [
    ("empty", Plan(), "set=1\n\n"),
    (
        "device keys first",
        Plan(private_key=PRIV, listen_port=51820, fwmark=7),
        f"set=1\nprivate_key={PRIV_HEX}\nlisten_port=51820\nfwmark=7\n\n",
    ),
    ("clear private key", Plan(private_key=""), f"set=1\nprivate_key={'0' * 64}\n\n"),
    ("remove", Plan(remove=(PEER,)), f"set=1\npublic_key={PEER_HEX}\nremove=true\n\n"),
    (
        "add full peer",
        Plan(add=(PeerConfig(PEER, "[fd00::1]:51821", ("10.0.0.2/32", "fd12::2/128"), 25, PSK),)),
        f"set=1\npublic_key={PEER_HEX}\npreshared_key={PSK_HEX}\nendpoint=[fd00::1]:51821\n"
        "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
        "allowed_ip=10.0.0.2/32\nallowed_ip=fd12::2/128\n\n",
    ),
    (
        "add bare peer",
        Plan(add=(PeerConfig(PEER),)),
        f"set=1\npublic_key={PEER_HEX}\nreplace_allowed_ips=true\n\n",
    ),
    (
        "update only what changed",
        Plan(update=(PeerUpdate(PEER, endpoint="10.0.0.1:1", persistent_keepalive=0),)),
        f"set=1\npublic_key={PEER_HEX}\nupdate_only=true\nendpoint=10.0.0.1:1\n"
        "persistent_keepalive_interval=0\n\n",
    ),
    (
        "update clears allowed ips and psk",
        Plan(update=(PeerUpdate(PEER, allowed_ips=(), preshared_key=""),)),
        f"set=1\npublic_key={PEER_HEX}\nupdate_only=true\npreshared_key={'0' * 64}\n"
        "replace_allowed_ips=true\n\n",
    ),
    (
        "removals before updates before additions",
        Plan(
            listen_port=1,
            add=(PeerConfig(PUB),),
            update=(PeerUpdate(PEER, allowed_ips=("10.0.0.2/32",)),),
            remove=(PSK,),
        ),
        f"set=1\nlisten_port=1\npublic_key={PSK_HEX}\nremove=true\n"
        f"public_key={PEER_HEX}\nupdate_only=true\nreplace_allowed_ips=true\n"
        "allowed_ip=10.0.0.2/32\n"
        "public_key=43fd21092372e608b05520e1591fea167ba8e10b445d6e4bfd7dd9d96c057915\n"
        "replace_allowed_ips=true\n\n",
    ),
]


@pytest.mark.parametrize(
    ("p", "text"), [c[1:] for c in ENCODE_CASES], ids=[c[0] for c in ENCODE_CASES]
)
def test_encode_set(p: Plan, text: str) -> None:
    assert uapi.encode_set(p) == text


def test_encode_rejects_bad_key() -> None:
    with pytest.raises(ValueError, match="not base64"):
        uapi.encode_set(Plan(remove=("nope!",)))
