"""pysyncobj's TCP transport, watched for failed encrypted handshakes (a wrong password).

pysyncobj fails silently when two nodes hold different passwords: the receiver cannot decrypt the
first frame and drops the connection inside a bare ``except:``, the sender sees the connection
close, both retry forever, and nobody logs anything. We detect the two observable symptoms:

1. *Rejected frame*: our Fernet decryption (or its signature check) fails on a frame from a peer.
   Exact: the peer encrypts with another key. We wrap the connection's encryptor to see it.
2. *Dropped handshake*: an outgoing connection is established at TCP level and then closed by the
   peer before its key-exchange reply arrives: what a peer with another password does to us.
   A heuristic: a peer that crashes mid-handshake, or a foreign service on the port, looks alike.

What cannot be told apart: which side has the wrong password (both sides see failures), and an
observer (non-voting, it never listens) only ever sees symptom 2. Counters and the last failing
peer go to ``HandshakeWatch``; the store turns them into ``RaftStatus.problem`` and log lines.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pysyncobj.transport import TCPTransport

logger = logging.getLogger("webmesh.raft")

_LOG_EVERY = 30.0  # seconds between two warnings about the same peer


@dataclass(frozen=True, slots=True)
class HandshakeReport:
    failures: int  # handshake failures since start
    last_failure_peer: str
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
        self._last_at: float | None = None
        self._logged_at: dict[str, float] = {}

    def failed(self, peer: str, why: str) -> None:
        now = self._clock()
        with self._lock:
            self._failures += 1
            self._last_peer, self._last_at = peer, now
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
            "is the raft password the same on every node?",
        )

    def succeeded(self) -> None:
        with self._lock:
            self._successes += 1

    def report(self) -> HandshakeReport:
        with self._lock:
            since = None if self._last_at is None else self._clock() - self._last_at
            return HandshakeReport(self._failures, self._last_peer, since, self._successes)


class _GuardedEncryptor:
    """Delegates to pysyncobj's Fernet; reports a frame that fails to authenticate."""

    def __init__(self, inner: Any, on_reject: Callable[[], None]) -> None:
        self._inner = inner
        self._on_reject = on_reject

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
        return bytes(self._inner.encrypt_at_time(data, current_time))

    def extract_timestamp(self, token: bytes) -> int:
        try:
            return int(self._inner.extract_timestamp(token))
        except Exception:
            self._on_reject()
            raise

    def decrypt(self, token: bytes) -> bytes:
        try:
            return bytes(self._inner.decrypt(token))
        except Exception:
            self._on_reject()
            raise


def _peer_of(conn: Any) -> str:
    """Best effort: the remote ip:port of a pysyncobj TcpConnection (its socket is private)."""
    sock = getattr(conn, "_TcpConnection__socket", None)
    try:
        host, port = sock.getpeername()[:2] if sock is not None else ("?", 0)
    except OSError:
        return "unknown"
    return f"{host}:{port}"


class WatchedTransport(TCPTransport):  # type: ignore[misc]  # pysyncobj is untyped
    """``TCPTransport`` plus handshake bookkeeping; pass it as ``transportClass`` (partial)."""

    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any, *, watch: HandshakeWatch):
        # Set before super().__init__: it calls addNode, which we override.
        self._watch = watch
        self._awaiting_reply: dict[Any, str] = {}  # outgoing conn -> peer, key exchange pending
        super().__init__(syncObj, selfNode, otherNodes)

    def _guard(self, conn: Any, peer: Callable[[], str]) -> None:
        if conn.encryptor is not None and not isinstance(conn.encryptor, _GuardedEncryptor):
            reject = functools.partial(self._rejected, peer)
            conn.encryptor = _GuardedEncryptor(conn.encryptor, reject)

    def _rejected(self, peer: Callable[[], str]) -> None:
        self._watch.failed(peer(), "frame failed decryption")

    def _maybeBind(self) -> None:
        """pysyncobj leaks the socket of a failed bind attempt (ResourceWarning): close it."""
        try:
            super()._maybeBind()
        finally:
            if not self._ready and self._server is not None:
                self._server.unbind()

    def addNode(self, node: Any) -> None:  # pysyncobj's name
        super().addNode(node)
        conn = self._connections.get(node)
        if conn is not None:
            self._guard(conn, functools.partial(str, node.id))

    def _onNewIncomingConnection(self, conn: Any) -> None:
        super()._onNewIncomingConnection(conn)
        self._guard(conn, functools.partial(_peer_of, conn))

    def _onOutgoingConnected(self, conn: Any) -> None:
        node = self._connToNode(conn)
        if self._syncObj.encryptor and node is not None:
            self._awaiting_reply[conn] = str(node.id)
        super()._onOutgoingConnected(conn)

    def _onOutgoingMessageReceived(self, conn: Any, message: Any) -> None:
        self._awaiting_reply.pop(conn, None)
        super()._onOutgoingMessageReceived(conn, message)

    def _onDisconnected(self, conn: Any) -> None:
        peer = self._awaiting_reply.pop(conn, None)
        if peer is not None:
            self._watch.failed(peer, "peer closed the connection during the key exchange")
        super()._onDisconnected(conn)

    def _onNodeConnected(self, node: Any) -> None:
        self._watch.succeeded()
        super()._onNodeConnected(node)

    def _onReadonlyNodeConnected(self, node: Any) -> None:
        self._watch.succeeded()
        super()._onReadonlyNodeConnected(node)

    def dropNode(self, node: Any) -> None:
        conn = self._connections.get(node)
        if conn is not None:
            self._awaiting_reply.pop(conn, None)  # our own hang-up is not a failed handshake
        super().dropNode(node)
