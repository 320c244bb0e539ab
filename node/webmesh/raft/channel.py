"""One Raft connection: authenticated before anything is buffered, framed, bounded, encrypted.

pysyncobj's ``TcpConnection`` trusts a frame's declared length, buffers whatever arrives before
its key exchange, never closes a silent connection, and unpickles every frame. ``Channel`` keeps
its interface (pysyncobj's transport drives it unchanged) and replaces all of that:

1. **Handshake first, fixed size** (``webmesh.raft.handshake``): 72 bytes from the dialer, 104
   from the listener, 32 from the dialer. Each side presents its replica key and checks the
   other's against the roster (``webmesh.raft.credentials``) before anything else: a key that is
   no replica's is refused at once, and so is a listener whose key belongs to another address
   than the one dialed. Until the peer has proved it holds its key a channel reads exactly the
   bytes the next step needs, never more, and the whole handshake must end within
   ``handshake_timeout``: a stranger costs 104 bytes and a few seconds.
2. **Frames:** a 4-byte big-endian length, then a ChaCha20-Poly1305 ciphertext of one message of
   ``v1/wire.proto`` (``webmesh.raft.codec``). A declared length above ``max_frame`` closes the
   connection before a byte of the frame is read. Each direction has its own key (from the
   handshake) and a 96-bit counter as nonce: frames cannot be replayed, reordered or moved to
   another connection.
3. **Deadlines:** :meth:`Channel.check_deadlines`, called on every tick, closes a channel whose
   handshake is late or whose peer sent nothing for ``idle_timeout`` (pysyncobj only checked when
   bytes arrived, so a silent connection lived forever). A peer that does not read is cut off
   once ``max_send_buffer`` bytes wait for it. Once a second, an open channel asks the roster
   again whether the peer's key is still admitted: a replica removed from the mesh loses its
   channels within a second of the roster learning it.

Everything runs on pysyncobj's tick thread (its poller calls :meth:`_on_event`).
"""

from __future__ import annotations

import enum
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.tcp_connection import CONNECTION_STATE

from webmesh.raft import codec, handshake
from webmesh.raft.credentials import ANY_ADDRESS, RaftCredentials, RaftKey, Roster
from webmesh.raft.handshake import DIALER_HELLO, LISTENER_HELLO, MAGIC, PROOF_BYTES

HEADER = struct.Struct(">I")
TAG_BYTES = 16  # Poly1305
_READ_CHUNK = 1 << 16
_ROSTER_CHECK_EVERY = 1.0  # seconds between two checks that an open channel's peer is admitted


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    credentials: RaftCredentials
    max_frame: int = 4 << 20  # bytes of one decrypted message
    handshake_timeout: float = 5.0
    idle_timeout: float = 5.0  # no byte from an authenticated peer for this long: dead
    max_send_buffer: int = 64 << 20
    send_buffer_size: int = 1 << 16  # SO_SNDBUF / SO_RCVBUF
    recv_buffer_size: int = 1 << 16


class Refusal(enum.StrEnum):
    """Why a channel was closed on a peer: the label of the refusal metrics."""

    NOT_WEBMESH = "not_webmesh"  # the first bytes are not our protocol's
    UNKNOWN_KEY = "unknown_key"  # a dialer whose key is no replica's in our roster
    WRONG_ADDRESS = "wrong_address"  # a replica's key, claiming another replica's address
    UNEXPECTED_KEY = "unexpected_key"  # the replica we dialed is not the one our state names
    NOT_ADMITTED = "not_admitted"  # the replica we dialed hung up on our hello: our key is unknown
    BAD_PROOF = "bad_proof"  # the peer presented a replica's key without holding it
    REVOKED = "revoked"  # an open channel whose peer the roster no longer admits
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    OVERSIZED_FRAME = "oversized_frame"
    BAD_FRAME = "bad_frame"  # a frame that fails authentication
    NOT_OUR_SCHEMA = "not_our_schema"  # an authentic frame that is not one of our messages
    IDLE = "idle"
    SLOW_READER = "slow_reader"
    TOO_MANY_CONNECTIONS = "too_many_connections"


class _Phase(enum.Enum):
    CLOSED = 0
    CONNECTING = 1  # TCP connect in progress (dialer)
    HANDSHAKE = 2
    OPEN = 3


OnRefused = Callable[[str, Refusal, str], None]  # (peer, reason, detail)


class Channel:
    """A pysyncobj ``TcpConnection`` look-alike (``connect``, ``send``, ``disconnect``,
    ``fileno``, ``state``, the three callbacks) over the protocol above."""

    def __init__(
        self,
        poller: Any,
        settings: ChannelSettings,
        on_refused: OnRefused,
        *,
        sock: socket.socket | None = None,
        peer: str = "",
        expected_address: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.encryptor = None  # read by pysyncobj's transport: we never use its encryption
        self.sendRandKey = self.recvRandKey = None  # likewise
        self._poller = poller
        self._settings = settings
        self._on_refused = on_refused
        self._clock = clock
        self._on_message: Callable[[Any], None] | None = None
        self._on_connected: Callable[[], None] | None = None
        self._on_disconnected: Callable[[], None] | None = None
        self.peer = peer
        self.expected_address = expected_address  # the Raft address we dial: its key's owner
        self.peer_key = b""  # the peer's replica key, once it proved it holds it
        self._reset()
        if sock is not None:  # accepted: we listen, the peer dials
            self._dialer = False
            self._attach(sock)
            self._phase = _Phase.HANDSHAKE
            self._subscribe(read=True)

    def _reset(self) -> None:
        self._sock: socket.socket | None = None
        self._fileno: int | None = None
        self._phase = _Phase.CLOSED
        self._dialer = True
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._static: RaftKey | None = None  # ours, chosen when the handshake starts
        self._ephemeral: RaftKey | None = None
        self._hello_theirs: handshake.Hello | None = None
        self._session: handshake.Session | None = None
        self.peer_key = b""
        self._roster_checked = 0.0
        self._send_cipher: ChaCha20Poly1305 | None = None
        self._recv_cipher: ChaCha20Poly1305 | None = None
        self._send_counter = self._recv_counter = 0
        self._deadline = 0.0
        self._last_read = self._clock()

    # ------------------------------------------------------------- pysyncobj's interface

    @property
    def state(self) -> int:
        if self._phase is _Phase.OPEN:
            return int(CONNECTION_STATE.CONNECTED)
        if self._phase is _Phase.CLOSED:
            return int(CONNECTION_STATE.DISCONNECTED)
        return int(CONNECTION_STATE.CONNECTING)

    def setOnConnectedCallback(self, callback: Callable[[], None]) -> None:
        self._on_connected = callback

    def setOnMessageReceivedCallback(self, callback: Callable[[Any], None]) -> None:
        self._on_message = callback

    def setOnDisconnectedCallback(self, callback: Callable[[], None]) -> None:
        self._on_disconnected = callback

    def fileno(self) -> int | None:
        return self._fileno

    def getSendBufferSize(self) -> int:
        return len(self._outbox)

    def connect(self, host: str, port: int) -> bool:
        """Dial ``host:port`` (non-blocking); the handshake starts when TCP is up."""
        if host is None:
            return False
        self.disconnect(notify=False)
        self._reset()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect((host, port))
        except BlockingIOError:
            pass
        except OSError:
            sock.close()
            return False
        self.peer = f"{host}:{port}"
        self._attach(sock)
        self._phase = _Phase.CONNECTING
        self._subscribe(read=True, write=True)
        return True

    def send(self, message: Any) -> None:
        """Encrypt and queue one pysyncobj message; dropped unless the channel is open."""
        if self._phase is not _Phase.OPEN or self._send_cipher is None:
            return
        plaintext = codec.encode(message)
        nonce = self._send_counter.to_bytes(12, "big")
        self._send_counter += 1
        ciphertext = self._send_cipher.encrypt(nonce, plaintext, None)
        self._outbox += HEADER.pack(len(ciphertext)) + ciphertext
        if len(self._outbox) > self._settings.max_send_buffer:
            self._refuse(Refusal.SLOW_READER, f"{len(self._outbox)} bytes unsent")
            return
        self._flush()

    def disconnect(self, notify: bool = True) -> None:
        was_open = self._phase is not _Phase.CLOSED
        if self._fileno is not None:
            self._poller.unsubscribe(self._fileno)
        if self._sock is not None:
            self._sock.close()
        self._sock, self._fileno = None, None
        self._phase = _Phase.CLOSED
        self._inbox.clear()
        self._outbox.clear()
        if notify and was_open and self._on_disconnected is not None:
            self._on_disconnected()

    # ------------------------------------------------------------------- deadlines

    def check_deadlines(self) -> None:
        """Close a late handshake or a silent peer (called on every tick)."""
        if self._phase in (_Phase.CONNECTING, _Phase.HANDSHAKE):
            if self._clock() > self._deadline:
                self._refuse(Refusal.HANDSHAKE_TIMEOUT, "")
        elif self._phase is _Phase.OPEN:
            now = self._clock()
            if now - self._last_read > self._settings.idle_timeout:
                self._refuse(Refusal.IDLE, f"nothing for {self._settings.idle_timeout:g} s")
            elif now - self._roster_checked >= _ROSTER_CHECK_EVERY:
                self._roster_checked = now
                if self._roster().address_of(self.peer_key) is None:
                    self._refuse(Refusal.REVOKED, "its key is no longer a replica's")

    @property
    def last_read(self) -> float:
        """When the peer last sent anything (its clock: ``time.monotonic`` by default)."""
        return self._last_read

    @property
    def authenticated(self) -> bool:
        return self._phase is _Phase.OPEN

    # ------------------------------------------------------------------- internals

    def _attach(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._settings.send_buffer_size)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._settings.recv_buffer_size)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._fileno = sock, sock.fileno()
        self._deadline = self._clock() + self._settings.handshake_timeout
        self._last_read = self._clock()

    def _subscribe(self, *, read: bool = True, write: bool = False) -> None:
        if self._fileno is None:
            return
        events = POLL_EVENT_TYPE.ERROR
        if read:
            events |= POLL_EVENT_TYPE.READ
        if write:
            events |= POLL_EVENT_TYPE.WRITE
        self._poller.subscribe(self._fileno, self._on_event, events)

    def _refuse(self, reason: Refusal, detail: str) -> None:
        """Count the refusal, then hang up: whoever sees the hang-up finds it counted."""
        self._on_refused(self.peer, reason, detail)
        self.disconnect()

    def _on_event(self, descr: int, event: int) -> None:
        """One poller event. A disconnect calls back into pysyncobj, which may dial again on
        this same channel at once: from then on the event is about a socket that is gone, so
        every step checks that the socket is still the one the event came for."""
        sock = self._sock
        if descr != self._fileno or sock is None:
            self._poller.unsubscribe(descr)
            return
        if event & POLL_EVENT_TYPE.ERROR:
            self.disconnect()
            return
        if self._phase is _Phase.CONNECTING:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self.disconnect()
                return
            self._phase = _Phase.HANDSHAKE
            self._static, self._ephemeral = self._keys()
            self._outbox += handshake.dialer_hello(self._static, self._ephemeral)
        if event & POLL_EVENT_TYPE.WRITE or self._outbox:
            self._flush()
        if self._sock is sock and event & POLL_EVENT_TYPE.READ:
            self._read()
        if self._sock is sock:
            self._subscribe(read=True, write=bool(self._outbox))

    def _flush(self) -> None:
        sock = self._sock
        while self._outbox and sock is not None and self._sock is sock:
            try:
                sent = sock.send(self._outbox)
            except BlockingIOError:
                break
            except OSError:
                self.disconnect()
                return
            if sent <= 0:
                break
            del self._outbox[:sent]
        if self._outbox and self._fileno is not None:
            self._subscribe(read=True, write=True)

    def _read(self) -> None:
        """Read what the current step allows, then act on it, until the socket is drained."""
        sock = self._sock
        while sock is not None and self._sock is sock:
            want = self._wanted()
            try:
                chunk = sock.recv(want)
            except BlockingIOError:
                return
            except OSError:
                self.disconnect()
                return
            if not chunk:
                if self._dialer and self._phase is _Phase.HANDSHAKE and self._static is not None:
                    # A listener hangs up on a hello whose key it does not admit.
                    self._refuse(Refusal.NOT_ADMITTED, "it hung up on our hello")
                    return
                self.disconnect()
                return
            self._last_read = self._clock()
            self._inbox += chunk
            if not self._advance():
                return

    def _wanted(self) -> int:
        """How many more bytes the current step may read: exact during the handshake."""
        if self._phase is not _Phase.HANDSHAKE:
            return _READ_CHUNK
        if self._dialer:
            need = LISTENER_HELLO
        elif self._hello_theirs is None:
            need = DIALER_HELLO
        else:
            need = PROOF_BYTES
        return max(1, need - len(self._inbox))

    def _advance(self) -> bool:
        """Consume complete handshake steps and frames; False once the channel closed."""
        while self._phase is _Phase.HANDSHAKE:
            if not self._handshake_step():
                return self._alive()
        while self._phase is _Phase.OPEN:
            message = self._next_message()
            if message is None:
                return self._alive()
            if self._on_message is not None:
                self._on_message(message)
        return self._alive()

    def _alive(self) -> bool:
        return self._phase is not _Phase.CLOSED

    def _handshake_step(self) -> bool:
        """One step if its bytes are all here; False when waiting or closed."""
        if self._hello_theirs is None and not MAGIC.startswith(bytes(self._inbox[: len(MAGIC)])):
            self._refuse(Refusal.NOT_WEBMESH, "not a webmesh raft peer")  # at the first byte
            return False
        if self._dialer:
            return self._dialer_step()
        if self._hello_theirs is None:
            return self._listener_hello_step()
        return self._listener_proof_step()

    def _take(self, count: int) -> bytes | None:
        if len(self._inbox) < count:
            return None
        taken = bytes(self._inbox[:count])
        del self._inbox[:count]
        return taken

    def _keys(self) -> tuple[RaftKey, RaftKey]:
        """Our replica key for this handshake, and a fresh ephemeral one."""
        return self._settings.credentials.keys.current, RaftKey.generate()

    def _roster(self) -> Roster:
        return self._settings.credentials.roster

    def _dialer_step(self) -> bool:
        """The listener's hello: check its key and proof, answer with ours, open."""
        data = self._take(LISTENER_HELLO)  # its magic was checked as it arrived
        if data is None:
            return False
        hello = handshake.parse_hello(data)
        bound = self._roster().address_of(hello.static)
        if bound is None or bound not in (ANY_ADDRESS, self.expected_address or bound):
            owner = "no replica's" if bound is None else f"the replica at {bound}'s"
            self._refuse(Refusal.UNEXPECTED_KEY, f"the raft key it presents is {owner}")
            return False
        assert self._static is not None and self._ephemeral is not None
        try:
            session = handshake.dialer_session(self._static, self._ephemeral, hello)
        except handshake.HandshakeError as exc:
            self._refuse(Refusal.BAD_PROOF, f"unusable key: {exc}")
            return False
        if not handshake.proofs_match(session.listener_proof, hello.proof):
            self._refuse(Refusal.BAD_PROOF, "the listener does not hold its replica key")
            return False
        self._outbox += session.dialer_proof
        self._open(session, hello.static)
        self._flush()
        if self._on_connected is not None and self._phase is _Phase.OPEN:
            self._on_connected()
        return self._phase is _Phase.OPEN

    def _listener_hello_step(self) -> bool:
        """The dialer's hello: check its key, answer with ours and our proof."""
        data = self._take(DIALER_HELLO)  # its magic was checked as it arrived
        if data is None:
            return False
        hello = handshake.parse_hello(data)
        if self._roster().address_of(hello.static) is None:
            self._refuse(Refusal.UNKNOWN_KEY, "its raft key is no replica's in our mesh state")
            return False
        self._static, self._ephemeral = self._keys()
        try:
            self._session = handshake.listener_session(self._static, self._ephemeral, hello)
        except handshake.HandshakeError as exc:
            self._refuse(Refusal.BAD_PROOF, f"unusable key: {exc}")
            return False
        self._hello_theirs = hello
        self._outbox += handshake.listener_hello(self._static, self._ephemeral, self._session)
        self._flush()
        return self._phase is not _Phase.CLOSED

    def _listener_proof_step(self) -> bool:
        """The dialer's proof: check it and open."""
        proof = self._take(PROOF_BYTES)
        if proof is None:
            return False
        assert self._session is not None and self._hello_theirs is not None
        if not handshake.proofs_match(self._session.dialer_proof, proof):
            self._refuse(Refusal.BAD_PROOF, "the dialer does not hold its replica key")
            return False
        self._open(self._session, self._hello_theirs.static)
        return True

    def _open(self, session: handshake.Session, peer_key: bytes) -> None:
        if self._dialer:
            mine, theirs = session.to_listener, session.to_dialer
        else:
            mine, theirs = session.to_dialer, session.to_listener
        self._send_cipher, self._recv_cipher = ChaCha20Poly1305(mine), ChaCha20Poly1305(theirs)
        self.peer_key = peer_key
        self._roster_checked = self._clock()
        self._phase = _Phase.OPEN

    def _next_message(self) -> Any:
        """The next complete frame's message, or None (incomplete, or refused and closed)."""
        if len(self._inbox) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(self._inbox)
        if length > self._settings.max_frame + TAG_BYTES or length < TAG_BYTES:
            self._refuse(Refusal.OVERSIZED_FRAME, f"declared {length} bytes")
            return None
        if len(self._inbox) < HEADER.size + length:
            return None
        ciphertext = bytes(self._inbox[HEADER.size : HEADER.size + length])
        del self._inbox[: HEADER.size + length]
        assert self._recv_cipher is not None
        nonce = self._recv_counter.to_bytes(12, "big")
        self._recv_counter += 1
        try:
            plaintext = self._recv_cipher.decrypt(nonce, ciphertext, None)
        except Exception:
            self._refuse(Refusal.BAD_FRAME, "a frame failed authentication")
            return None
        try:
            return codec.decode(plaintext)
        except codec.WireError as exc:
            self._refuse(Refusal.NOT_OUR_SCHEMA, str(exc))
            return None
