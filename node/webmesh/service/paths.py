"""Hole punching, the node's side: notice what came of a punch and tell the leader.

Two nodes without an endpoint that the servers have seen from outside put each other in their
peers at the observed address with no AllowedIPs (``webmesh.mesh.peers``): WireGuard keeps
trying handshakes (the keepalive starts them), and each side's attempts open its own NAT for
the other's. This watches the device:

- a punching peer whose handshake completed: the path works, report it ``direct`` (both nodes
  then move the other's prefixes onto it when they apply that commit);
- a punching peer without a handshake after ``PUNCH_TIMEOUT``: report ``relayed`` (a NAT that
  maps each destination anew, or filters: the relay carries the pair), and after a backoff
  report ``""`` so that both punch again;
- a direct peer that has sent nothing for ``DIRECT_SILENT`` (both ends keep the path alive with a
  keepalive every 25 s, so silence means the path stopped working: a NAT forgot the mapping, an
  address changed), or whose last handshake is older than ``STALE_DIRECT``: report ``relayed``;
  traffic falls back to the relay as soon as that commits, and the pair punches again after the
  backoff.

Every report goes through the leader as a replicated ``SetPath``, so both ends (and the graph)
agree; an unchanged report is not repeated for ``REPORT_AGAIN`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from webmesh import errors
from webmesh.mesh.peers import DIRECT, PUNCHING, RELAYED, Peer
from webmesh.mesh.state import MeshState, pair_key
from webmesh.wg.config import DeviceState

log = logging.getLogger("webmesh.paths")

CHECK_EVERY = 0.25  # seconds between two looks at the device while a path is being decided
WATCH_EVERY = 5.0  # seconds between two looks while every punched path is decided
PUNCH_TIMEOUT = 20.0  # seconds of punching without a handshake: the pair stays relayed
STALE_DIRECT = 180.0  # seconds since a direct path's last handshake (WireGuard rekeys at 120)
DIRECT_SILENT = 60.0  # seconds without a byte from a direct peer: two keepalives missed
RETRY_AFTER = (30.0, 60.0, 120.0, 300.0, 900.0)  # relayed this long, then punch again
REPORT_AGAIN = 5.0


def observed_changes(
    state: MeshState, device: DeviceState, now: float, keys: Mapping[str, str]
) -> dict[str, str]:
    """Where this server's WireGuard sees nodes now, for those whose observed endpoint differs:
    the nodes that punch holes (replicas without an endpoint of their own, which dial us from
    behind their NAT, observed once: they did not opt out), with a handshake recent enough to
    be current. Clients (``wmctl connect``) never punch: where they are seen matters to nobody,
    and behind a NAT that maps each server anew, every server would report another port.
    ``keys``: public key -> node id."""
    found = {}
    for peer in device.peers:
        node = state.nodes.get(keys.get(peer.public_key, ""))
        if node is None or node.id not in state.punch_nodes or not peer.endpoint:
            continue
        if now - peer.last_handshake < STALE_DIRECT and peer.endpoint != node.observed_endpoint:
            found[node.id] = peer.endpoint
    return found


class PathProber:
    """Decides, from the device, what this node reports about its punched paths."""

    def __init__(
        self,
        *,
        node_id: str,
        peers: Callable[[], Sequence[Peer]],
        paths: Callable[[], Mapping[str, str]],
        device: Callable[[], Awaitable[DeviceState | None]],
        report: Callable[[str, str], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._node_id = node_id
        self._peers = peers
        self._paths = paths
        self._device = device
        self._report = report
        self._clock = clock
        self._punching_since: dict[str, float] = {}
        self._direct_since: dict[str, float] = {}
        self._received: dict[str, tuple[int, float]] = {}  # peer -> (rx bytes, when they grew)
        self._relayed_since: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._reported: dict[str, tuple[str, float]] = {}
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Look every ``CHECK_EVERY`` while a path is undecided, else every ``WATCH_EVERY`` or
        soon after a state change (which may start a punch), never more often."""
        while True:
            self._wake.clear()
            deciding = True
            try:
                deciding = await self.pass_once()
            except (errors.MeshError, OSError) as exc:
                log.debug("cannot judge or report a path yet error=%s", exc)
            await asyncio.sleep(CHECK_EVERY)
            if not deciding:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), WATCH_EVERY - CHECK_EVERY)

    def wake(self) -> None:
        """Look again soon: the state changed (a pair may have started punching)."""
        self._wake.set()

    async def pass_once(self) -> bool:
        """Judge every punched path once; True while one is still being decided (punching),
        when the next look should come soon."""
        punched = {p.node_id: p for p in self._peers() if p.path in (PUNCHING, DIRECT)}
        relayed = self._relayed_peers()
        self._forget_gone(punched, relayed)
        if punched:
            device = await self._device()
            seen = {p.public_key: p for p in device.peers} if device else {}
            for peer in punched.values():
                state = seen.get(peer.public_key)
                if state is None:
                    await self._judge(peer, 0.0, 0)
                else:
                    await self._judge(peer, state.last_handshake, state.rx_bytes)
        for peer_id in relayed:
            await self._maybe_retry(peer_id)
        return any(p.path == PUNCHING for p in punched.values())

    def _relayed_peers(self) -> list[str]:
        me = self._node_id
        found = []
        for key, path in self._paths().items():
            a, _, b = key.partition(" ")
            if path == RELAYED and me in (a, b):
                found.append(b if a == me else a)
        return found

    def _forget_gone(self, punched: Mapping[str, Peer], relayed: Sequence[str]) -> None:
        for since, path in ((self._punching_since, PUNCHING), (self._direct_since, DIRECT)):
            for peer_id in list(since):
                if punched.get(peer_id) is None or punched[peer_id].path != path:
                    del since[peer_id]
                    self._received.pop(peer_id, None)
        for peer_id in list(self._relayed_since):
            if peer_id not in relayed:
                del self._relayed_since[peer_id]

    async def _judge(self, peer: Peer, last_handshake: float, rx_bytes: int) -> None:
        now = self._clock()
        if peer.path == PUNCHING:
            since = self._punching_since.setdefault(peer.node_id, now)
            if last_handshake and now - last_handshake < STALE_DIRECT:
                self._failures.pop(peer.node_id, None)
                await self._send(peer.node_id, DIRECT)
            elif now - since > PUNCH_TIMEOUT:
                await self._send(peer.node_id, RELAYED)
        else:  # direct: counted from when it became direct at the earliest (a peer entry made
            # anew has no handshake and no bytes yet)
            since = self._direct_since.setdefault(peer.node_id, now)
            if now - max(last_handshake, since) > STALE_DIRECT or self._silent(peer, rx_bytes):
                await self._send(peer.node_id, RELAYED)

    def _silent(self, peer: Peer, rx_bytes: int) -> bool:
        """Whether the direct peer has sent nothing for ``DIRECT_SILENT``."""
        now = self._clock()
        count, grew = self._received.get(peer.node_id, (-1, now))
        if rx_bytes != count:
            self._received[peer.node_id] = (rx_bytes, now)
            return False
        return now - max(grew, self._direct_since.get(peer.node_id, now)) > DIRECT_SILENT

    async def _maybe_retry(self, peer_id: str) -> None:
        now = self._clock()
        since = self._relayed_since.setdefault(peer_id, now)
        failures = self._failures.get(peer_id, 0)
        if now - since >= RETRY_AFTER[min(failures, len(RETRY_AFTER) - 1)]:
            self._failures[peer_id] = failures + 1
            await self._send(peer_id, "")

    async def _send(self, peer_id: str, path: str) -> None:
        now = self._clock()
        last = self._reported.get(peer_id)
        if last is not None and last[0] == path and now - last[1] < REPORT_AGAIN:
            return
        self._reported[peer_id] = (path, now)
        log.info(
            "path event=%s peer=%s pair=%r",
            path or "punch-again",
            peer_id,
            pair_key(self._node_id, peer_id),
        )
        await self._report(peer_id, path)
