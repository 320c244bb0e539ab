"""pysyncobj's TCP transport on our channels: who may connect, and what we say about refusals.

``SecureTransport`` keeps pysyncobj's ``TCPTransport`` logic (which side dials, how a connection
is matched to a node, reconnects) and swaps what touches sockets: connections are
:class:`~webmesh.raft.channel.Channel` (authenticated, framed, bounded, no pickle) and the
listener is :class:`ChannelServer`, which admits at most ``max_pending_per_source`` connections
still in their handshake from one address and ``max_pending`` in all: a stranger cannot hold
more than a few sockets, each for a few seconds. pysyncobj's own password encryption is off
(``SyncObjConf.password`` is not set): the channel does better.

Messages pass through Raft's append rule on the way in (``webmesh.raft.appends``): a follower
never deletes entries that match the leader's, and a leader ignores late failure replies.

An accepted peer's first message names the Raft address it speaks for (or ``readonly``, an
observer); it must be the address the roster binds its key to, so one replica cannot pose as
another.

Refusals are counted by reason (``Refusals``) and logged once per source address and reason
every 5 minutes. Two refusals mean something about our own mesh rather than a stranger: a
replica we dialed presents a key our state does not know, or a key it does not hold; they also
go to :class:`HandshakeWatch`, which the store turns into ``RaftStatus.problem``.
"""

from __future__ import annotations

import collections
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.tcp_connection import CONNECTION_STATE
from pysyncobj.transport import TCPTransport

from webmesh import logs
from webmesh.raft import appends
from webmesh.raft.channel import Channel, ChannelSettings, Refusal
from webmesh.raft.credentials import ANY_ADDRESS
from webmesh.raft.durability import Barrier

logger = logging.getLogger("webmesh.raft")

_LOG_EVERY = 30.0  # seconds between two warnings about the same peer's failed proofs
_REFUSAL_LOG_EVERY = 300.0  # seconds between two log lines for one source and reason
_REFUSAL_SOURCES = 1024  # sources remembered for that; the oldest is forgotten first
_OUR_PROBLEMS = frozenset({Refusal.BAD_PROOF, Refusal.UNEXPECTED_KEY, Refusal.NOT_ADMITTED})


@dataclass(frozen=True, slots=True)
class HandshakeReport:
    failures: int  # failed proofs since start
    last_failure_peer: str
    last_failure_why: str
    seconds_since_failure: float | None  # None: never failed
    successes: int  # completed handshakes since start


class HandshakeWatch:
    """Thread-safe counters, written on pysyncobj's thread and read on the asyncio one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._successes = 0
        self._last_peer = ""
        self._last_why = ""
        self._last_at: float | None = None
        self._logged_at: dict[str, float] = {}

    def failed(self, peer: str, why: str) -> None:
        now = self._clock()
        with self._lock:
            self._failures += 1
            self._last_peer, self._last_why, self._last_at = peer, why, now
            last_logged = self._logged_at.get(peer)
            if last_logged is not None and now - last_logged < _LOG_EVERY:
                return
            self._logged_at[peer] = now
            count = self._failures
        logger.warning(
            "event=raft_handshake_failed peer=%s why=%s failures=%d hint=%r",
            peer,
            why,
            count,
            "does our mesh state hold this replica's current raft key? (a node removed, "
            "re-created or rotated while this one lagged)",
        )

    def succeeded(self) -> None:
        with self._lock:
            self._successes += 1

    def report(self) -> HandshakeReport:
        with self._lock:
            since = None if self._last_at is None else self._clock() - self._last_at
            return HandshakeReport(
                self._failures, self._last_peer, self._last_why, since, self._successes
            )


class Refusals:
    """Connections closed on a peer, by reason; each source and reason logged now and then."""

    def __init__(self, watch: HandshakeWatch, clock: Callable[[], float] = time.monotonic):
        self._watch = watch
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._throttle = logs.Throttle(
            every=_REFUSAL_LOG_EVERY, capacity=_REFUSAL_SOURCES, clock=clock
        )

    def __call__(self, peer: str, reason: Refusal, detail: str) -> None:
        if reason in _OUR_PROBLEMS:
            self._watch.failed(peer, detail)
        source = peer.rsplit(":", 1)[0]
        with self._lock:
            self._counts[reason.value] += 1
            if not self._throttle.due((source, reason.value)):
                return
        if reason not in _OUR_PROBLEMS:  # already logged by the watch
            logger.warning(
                "event=raft_connection_refused source=%s reason=%s detail=%r",
                source,
                reason.value,
                detail,
            )

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class ChannelServer:
    """pysyncobj's ``TcpServer`` for channels, with admission limits per source and in all."""

    def __init__(
        self,
        poller: Any,
        address: tuple[str, int],
        *,
        on_new_connection: Callable[[Channel], None],
        settings: ChannelSettings,
        refusals: Refusals,
        max_pending: int = 64,
        max_pending_per_source: int = 4,
    ) -> None:
        self._poller = poller
        self._address = address
        self._family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._on_new_connection = on_new_connection
        self._settings = settings
        self._refusals = refusals
        self._max_pending = max_pending
        self._max_per_source = max_pending_per_source
        self._pending: list[tuple[str, Channel]] = []  # accepted, handshake not over
        self._sock: socket.socket | None = None

    def bind(self) -> None:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setblocking(False)
            sock.bind(self._address)
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._poller.subscribe(sock.fileno(), self._on_ready, POLL_EVENT_TYPE.READ)

    def unbind(self) -> None:
        if self._sock is not None:
            self._poller.unsubscribe(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _on_ready(self, descr: int, event: int) -> None:
        if self._sock is None:
            return
        for _ in range(self._max_pending):  # drain the backlog, a bounded number at a time
            try:
                sock, address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._admit(sock, f"{address[0]}:{address[1]}")

    def _admit(self, sock: socket.socket, peer: str) -> None:
        self._pending = [
            (s, c)
            for s, c in self._pending
            if c.state != CONNECTION_STATE.DISCONNECTED and not c.authenticated
        ]
        source = peer.rsplit(":", 1)[0]
        from_source = sum(1 for s, _ in self._pending if s == source)
        if len(self._pending) >= self._max_pending or from_source >= self._max_per_source:
            sock.close()
            self._refusals(peer, Refusal.TOO_MANY_CONNECTIONS, f"{from_source} pending")
            return
        channel = Channel(self._poller, self._settings, self._refusals, sock=sock, peer=peer)
        self._pending.append((source, channel))
        self._on_new_connection(channel)


class SecureTransport(TCPTransport):  # type: ignore[misc]  # pysyncobj is untyped
    """``TCPTransport`` over channels; pass it as ``transportClass`` (a partial with
    ``settings`` and ``refusals``)."""

    def __init__(
        self,
        syncObj: Any,  # pysyncobj's names
        selfNode: Any,
        otherNodes: Any,
        *,
        settings: ChannelSettings,
        refusals: Refusals,
        watch: HandshakeWatch,
        barrier: Barrier | None = None,
    ) -> None:
        # Set before super().__init__: it calls addNode and _createServer, which we override.
        self._settings = settings
        self._refusals = refusals
        self._watch = watch
        self._barrier = barrier
        self._stale = appends.StaleReplies()
        super().__init__(syncObj, selfNode, otherNodes)

    def _createServer(self) -> None:
        """As pysyncobj's, with our listener; the bind address is always given (config)."""
        host, port = self._syncObj.conf.bindAddress.rsplit(":", 1)
        self._server = ChannelServer(
            self._syncObj._poller,
            (host.strip("[]"), int(port)),
            on_new_connection=self._onNewIncomingConnection,
            settings=self._settings,
            refusals=self._refusals,
        )

    def addNode(self, node: Any) -> None:
        """As pysyncobj's, with a channel for the nodes we dial."""
        self._nodes.add(node)
        self._nodeAddrToNode[node.address] = node
        if self._shouldConnect(node):
            conn = Channel(
                self._syncObj._poller,
                self._settings,
                self._refusals,
                expected_address=node.address,
            )
            conn.setOnConnectedCallback(functools.partial(self._onOutgoingConnected, conn))
            conn.setOnMessageReceivedCallback(functools.partial(self._onMessageReceived, node))
            conn.setOnDisconnectedCallback(functools.partial(self._onDisconnected, conn))
            self._connections[node] = conn

    def peer_activity(self) -> dict[bytes, float]:
        """Key of each authenticated peer -> when it last sent anything (``time.monotonic``);
        read from the asyncio thread. ``list()`` of the dict's values is one C call under the
        GIL, so the tick thread cannot change it midway."""
        activity: dict[bytes, float] = {}
        for channel in list(self._connections.values()):
            key, last = channel.peer_key, channel.last_read
            if channel.authenticated and key:
                activity[key] = max(last, activity.get(key, last))
        return activity

    def _onTick(self) -> None:
        super()._onTick()
        for conn in [*self._connections.values(), *self._unknownConnections]:
            conn.check_deadlines()
        if self._barrier is not None:
            self._barrier.release()  # sync what this round wrote, then send what it said

    def send(self, node: Any, message: Any) -> bool:
        """As pysyncobj's; with a barrier, held until the tick's sync (``durability``)."""
        if self._barrier is None:
            return bool(super().send(node, message))
        conn = self._connections.get(node)
        if conn is None or conn.state != CONNECTION_STATE.CONNECTED:
            return False
        self._barrier.hold(functools.partial(TCPTransport.send, self, node, message))
        return True

    def _onMessageReceived(self, node: Any, message: Any) -> None:
        """Raft's append rule before pysyncobj (see ``webmesh.raft.appends``)."""
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "append_entries" and "prevLogIdx" in message:
            accepted = message["term"] >= self._syncObj.raftCurrentTerm
            plan = appends.plan_append(message, self._term_at, self._last_index())
            super()._onMessageReceived(node, plan.message)
            if plan.reply is not None and accepted:
                self.send(node, plan.reply)
            return
        if kind == "next_node_idx" and self._stale.is_stale(node, message):
            return
        super()._onMessageReceived(node, message)

    def _log(self) -> Any:
        return self._syncObj._SyncObj__raftLog  # pysyncobj's journal: (command, index, term)

    def _last_index(self) -> int:
        log = self._log()
        return int(log[len(log) - 1][1])

    def _term_at(self, index: int) -> int | None:
        log = self._log()
        first = int(log[0][1])
        if not first <= index <= first + len(log) - 1:
            return None
        return int(log[index - first][2])

    def _onNodeDisconnected(self, node: Any) -> None:
        self._stale.forget(node)
        super()._onNodeDisconnected(node)

    def _onReadonlyNodeDisconnected(self, node: Any) -> None:
        self._stale.forget(node)
        super()._onReadonlyNodeDisconnected(node)

    def _onNodeConnected(self, node: Any) -> None:
        self._watch.succeeded()
        super()._onNodeConnected(node)

    def _onReadonlyNodeConnected(self, node: Any) -> None:
        self._watch.succeeded()
        super()._onReadonlyNodeConnected(node)

    def _onIncomingMessageReceived(self, conn: Any, message: Any) -> None:
        """The first message names the peer: "readonly", or the address its key is bound to,
        nothing else (no utility commands: pysyncobj's admin protocol is not served)."""
        if not isinstance(message, str):
            conn.disconnect()
            self._unknownConnections.discard(conn)
            return
        if message != "readonly":
            bound = self._settings.credentials.roster.address_of(conn.peer_key)
            if bound not in (ANY_ADDRESS, message):
                self._unknownConnections.discard(conn)
                conn.disconnect()
                self._refusals(conn.peer, Refusal.WRONG_ADDRESS, f"claims {message}, is {bound}")
                return
        super()._onIncomingMessageReceived(conn, message)
