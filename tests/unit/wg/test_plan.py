"""plan(): table tests of the minimal diff, and describe() for logs."""

from __future__ import annotations

import pytest

from webmesh.wg.config import DeviceConfig, DeviceState, PeerConfig, PeerState
from webmesh.wg.plan import (
    PeerUpdate,
    Plan,
    normalize_endpoint,
    plan,
    routes_to_install,
)

PRIV = "EEXowEQiyBYuGIc/Pexs/nGeUiMXfEmaZJqSEFv+70w="
PUB = "Q/0hCSNy5giwVSDhWR/qFnuo4QtEXW5L/X3Z2WwFeRU="
A = "A" * 43 + "="
B = "B" * 43 + "="
C = "C" * 43 + "="
PSK = "dJR7joEIwmcnhdSw+LeWqEr4cQ1tgPV3i26YiBZ/BpE="


def device(*peers: PeerState, port: int = 51820, fwmark: int = 0) -> DeviceState:
    return DeviceState(PUB, PRIV, port, fwmark, peers)


def config(*peers: PeerConfig, port: int = 51820, fwmark: int = 0) -> DeviceConfig:
    return DeviceConfig(PRIV, port, peers, fwmark)


PA = PeerConfig(A, "10.0.0.1:51820", ("172.16.0.1/32",), 25)
SA = PeerState(A, "10.0.0.1:51820", ("172.16.0.1/32",), 25, last_handshake=1.0, rx_bytes=5)

CASES = [
    ("in sync", config(PA), device(SA), Plan()),
    ("empty both", config(), device(), Plan()),
    ("fresh device", config(PA), DeviceState(listen_port=4000), Plan(PRIV, 51820, None, (PA,))),
    ("port 0 keeps random port", config(port=0), device(port=4711), Plan()),
    ("port change", config(port=51821), device(), Plan(listen_port=51821)),
    ("fwmark", config(fwmark=7), device(), Plan(fwmark=7)),
    ("fwmark cleared", config(), device(fwmark=7), Plan(fwmark=0)),
    ("add", config(PA), device(), Plan(add=(PA,))),
    ("remove", config(), device(SA), Plan(remove=(A,))),
    (
        "allowed_ips set differs",
        config(PeerConfig(A, "10.0.0.1:51820", ("172.16.0.1/32", "fd12::1/128"), 25)),
        device(SA),
        Plan(update=(PeerUpdate(A, allowed_ips=("172.16.0.1/32", "fd12::1/128")),)),
    ),
    (
        "allowed_ips same set, other order and spelling",
        config(PeerConfig(A, "10.0.0.1:51820", ("fd12:0::1/128", "172.16.0.1/32"), 25)),
        device(PeerState(A, "10.0.0.1:51820", ("172.16.0.1/32", "fd12::1/128"), 25)),
        Plan(),
    ),
    (
        "no desired endpoint keeps the roamed one",
        config(PeerConfig(A, "", ("172.16.0.1/32",), 25)),
        device(SA),
        Plan(),
    ),
    (
        "endpoint changed",
        config(PeerConfig(A, "10.0.0.9:51820", ("172.16.0.1/32",), 25)),
        device(SA),
        Plan(update=(PeerUpdate(A, endpoint="10.0.0.9:51820"),)),
    ),
    (
        "ipv6 endpoint spelled differently",
        config(PeerConfig(A, "[FD00:0::1]:51820")),
        device(PeerState(A, "[fd00::1]:51820")),
        Plan(),
    ),
    (
        "keepalive and psk",
        config(PeerConfig(A, "10.0.0.1:51820", ("172.16.0.1/32",), 0, PSK)),
        device(SA),
        Plan(update=(PeerUpdate(A, persistent_keepalive=0, preshared_key=PSK),)),
    ),
    (
        "psk cleared",
        config(PeerConfig(A)),
        device(PeerState(A, preshared_key=PSK)),
        Plan(update=(PeerUpdate(A, preshared_key=""),)),
    ),
    (
        "mixed, sorted by key",
        config(PeerConfig(C), PeerConfig(B), PA),
        device(PeerState("D" * 43 + "="), SA),
        Plan(add=(PeerConfig(B), PeerConfig(C)), remove=("D" * 43 + "=",)),
    ),
    ("private key cleared", DeviceConfig("", 51820), device(), Plan(private_key="")),
]


@pytest.mark.parametrize(
    ("desired", "actual", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan(desired: DeviceConfig, actual: DeviceState, expected: Plan) -> None:
    assert plan(desired, actual) == expected
    assert plan(desired, actual).empty == (expected == Plan())


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (Plan(), "no changes"),
        (
            Plan(add=(PA, PeerConfig(B)), update=(PeerUpdate(C, allowed_ips=()),)),
            "add 2 peers, update 1 peer (allowed_ips), remove 0 peers",
        ),
        (
            Plan(
                private_key=PRIV,
                listen_port=1,
                update=(PeerUpdate(A, endpoint="1.2.3.4:5"), PeerUpdate(B, allowed_ips=())),
                remove=(C,),
            ),
            "set private_key, listen_port, add 0 peers, update 2 peers (allowed_ips, endpoint), "
            "remove 1 peer",
        ),
    ],
)
def test_describe(p: Plan, text: str) -> None:
    assert p.describe() == text


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("10.0.0.1:51820", "10.0.0.1:51820"),
        ("[FD00:0:0::1]:0051820", "[fd00::1]:51820"),
        ("example.com:51820", "example.com:51820"),
        ("", ""),
        ("garbage", "garbage"),
    ],
)
def test_normalize_endpoint(raw: str, normal: str) -> None:
    assert normalize_endpoint(raw) == normal


def test_routes_covered_by_connected_routes_are_skipped() -> None:
    got = routes_to_install(
        ["172.16.0.5/32", "10.1.0.0/16", "fd12::5/128", "fd99::/64", "0.0.0.0/0"],
        ["172.16.0.1/12", "fd12::1/48"],
    )
    assert sorted(map(str, got)) == ["0.0.0.0/0", "10.1.0.0/16", "fd99::/64"]
