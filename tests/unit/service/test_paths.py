"""The node's side of hole punching: what it reports, from what its device shows, and when.

A fake clock and device; the peers and paths come from real states built through apply.
"""

from __future__ import annotations

import base64

from webmesh.mesh import commands
from webmesh.mesh.model import Networks, Node, NodeRole
from webmesh.mesh.peers import peers_of
from webmesh.mesh.state import MeshState, apply
from webmesh.service import paths
from webmesh.service.paths import PathProber, observed_changes
from webmesh.wg.config import DeviceState, PeerState

NETWORKS = Networks("172.16.0.0/12", "", "webmesh.internal")


def key(n: int) -> str:
    return base64.b64encode(bytes([n + 1]) * 32).decode()


def node(node_id: str, n: int, *, endpoint: str = "", observed: str = "") -> Node:
    return Node(
        id=node_id,
        public_key=key(n),
        ipv4=f"172.16.0.{n + 1}/32",
        endpoints=(endpoint,) if endpoint else (),
        role=NodeRole.OBSERVER,
        observed_endpoint=observed,
    )


def run(state: MeshState, command: commands.Command) -> MeshState:
    transition = apply(state, command)
    assert transition.result.ok, transition.result
    return transition.state


def mesh() -> MeshState:
    state = run(MeshState(), commands.Bootstrap(NETWORKS))
    for item in (
        node("relay", 0, endpoint="10.0.0.1:51820"),
        node("a", 1, observed="198.51.100.1:51820"),
        node("b", 2, observed="198.51.100.2:51820"),
    ):
        state = run(state, commands.PutNode(item))
    return state


class Harness:
    """A prober for node "a" over a state the test changes, a device and a clock it sets."""

    def __init__(self) -> None:
        self.state = mesh()
        self.now = 1000.0
        self.handshakes: dict[str, float] = {}
        self.received: dict[str, int] = {}
        self.reports: list[tuple[str, str]] = []
        self.prober = PathProber(
            node_id="a",
            peers=lambda: peers_of(self.state, "a"),
            paths=lambda: self.state.paths,
            device=self.device,
            report=self.report,
            clock=lambda: self.now,
        )

    async def device(self) -> DeviceState:
        return DeviceState(
            peers=tuple(
                PeerState(k, last_handshake=t, rx_bytes=self.received.get(k, 0))
                for k, t in self.handshakes.items()
            )
        )

    async def report(self, peer_id: str, path: str) -> None:
        self.reports.append((peer_id, path))
        self.state = run(self.state, commands.SetPath("a", peer_id, path))

    async def after(self, seconds: float) -> list[tuple[str, str]]:
        self.now += seconds
        self.reports.clear()
        await self.prober.pass_once()
        return list(self.reports)


async def test_a_completed_handshake_is_reported_direct() -> None:
    h = Harness()
    assert await h.after(0) == []  # punching, no handshake yet
    h.handshakes[key(2)] = h.now + 0.4
    assert await h.after(0.5) == [("b", "direct")]
    assert h.state.paths == {"a b": "direct"}
    assert await h.after(1) == []  # nothing new to say


async def test_no_handshake_in_time_is_relayed_then_punched_again_with_backoff() -> None:
    h = Harness()
    await h.after(0)
    assert await h.after(paths.PUNCH_TIMEOUT - 1) == []
    assert await h.after(2) == [("b", "relayed")]
    assert await h.after(0) == []  # relayed: the retry clock starts
    assert await h.after(paths.RETRY_AFTER[0] - 1) == []
    assert await h.after(2) == [("b", "")]  # forgotten: both punch again
    await h.after(0)
    assert await h.after(paths.PUNCH_TIMEOUT + 1) == [("b", "relayed")]
    await h.after(0)
    assert await h.after(paths.RETRY_AFTER[0] + 1) == []  # the second wait is longer
    assert await h.after(paths.RETRY_AFTER[1]) == [("b", "")]


async def test_a_direct_path_without_handshakes_falls_back_to_the_relay() -> None:
    h = Harness()
    h.handshakes[key(2)] = h.now
    await h.after(0.5)
    assert h.state.paths == {"a b": "direct"}
    for _ in range(int(paths.STALE_DIRECT // 20) - 1):  # keepalives keep arriving
        h.received[key(2)] = h.received.get(key(2), 0) + 32
        assert await h.after(20) == []
    h.handshakes[key(2)] = h.now  # WireGuard rekeyed: still alive
    for _ in range(int(paths.STALE_DIRECT // 20)):
        h.received[key(2)] += 32
        assert await h.after(20) == []
    h.received[key(2)] += 32
    assert await h.after(20) == [("b", "relayed")]  # no handshake for over STALE_DIRECT


async def test_a_direct_path_gone_silent_falls_back_within_a_minute() -> None:
    h = Harness()
    h.handshakes[key(2)] = h.now
    await h.after(0.5)
    h.received[key(2)] = 96
    assert await h.after(1) == []
    assert await h.after(paths.DIRECT_SILENT - 5) == []  # keepalives are 25 s apart
    assert await h.after(10) == [("b", "relayed")]


def test_a_server_reports_where_its_wireguard_sees_nodes_behind_nat() -> None:
    state = mesh()
    names = {n.public_key: n.id for n in state.nodes.values()}
    device = DeviceState(
        peers=(
            PeerState(key(1), endpoint="198.51.100.1:51820", last_handshake=990.0),  # as known
            PeerState(key(2), endpoint="198.51.100.9:40000", last_handshake=990.0),  # moved
            PeerState(key(0), endpoint="10.0.0.9:51820", last_handshake=990.0),  # has endpoint
        )
    )
    assert observed_changes(state, device, 1000.0, names) == {"b": "198.51.100.9:40000"}
    stale = 1000.0 + paths.STALE_DIRECT
    assert observed_changes(state, device, stale, names) == {}  # an old handshake says nothing


async def test_a_pass_says_whether_a_path_is_still_being_decided() -> None:
    """While a pair punches the prober looks four times a second; once decided, rarely."""
    h = Harness()
    assert await h.prober.pass_once() is True  # punching
    h.handshakes[key(2)] = h.now
    assert await h.prober.pass_once() is True  # reported direct during this pass
    assert h.state.paths == {"a b": "direct"}
    assert await h.prober.pass_once() is False  # decided: watch only
