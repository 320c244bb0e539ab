"""A Raft peer by hand, over a blocking socket: to attack a voter as an insider (one who holds
a replica's Raft key) or as a stranger who speaks the first steps of the protocol.

It uses the channel's own handshake (``webmesh.raft.handshake``), so what it sends is exactly
what a real replica would, up to the point where the test makes it misbehave.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from webmesh.raft import channel, codec, handshake
from webmesh.raft.credentials import RaftKey


class RaftPeer:
    """A dialer that has completed the handshake (or tried to)."""

    def __init__(self, port: int, key: RaftKey, *, timeout: float = 2.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._key = key
        self._ephemeral = RaftKey.generate()
        self._counter = 0
        self._cipher: ChaCha20Poly1305 | None = None
        self._reply_cipher: ChaCha20Poly1305 | None = None
        self._reply_counter = 0

    def hello(self) -> None:
        """The dialer's hello only (the listener answers, or hangs up on an unknown key)."""
        self.sock.sendall(handshake.dialer_hello(self._key, self._ephemeral))

    def handshake(self) -> None:
        """Hello, check the listener's proof, send ours: the channel is open after this."""
        self.hello()
        data = self._read_exactly(handshake.LISTENER_HELLO)
        assert data.startswith(handshake.MAGIC), data[:16]
        hello = handshake.parse_hello(data)
        session = handshake.dialer_session(self._key, self._ephemeral, hello)
        assert hello.proof == session.listener_proof, "the listener's proof does not match"
        self.sock.sendall(session.dialer_proof)
        self._cipher = ChaCha20Poly1305(session.to_listener)
        self._reply_cipher = ChaCha20Poly1305(session.to_dialer)

    def send(self, message: Any) -> None:
        """One pysyncobj message, as a replica sends it."""
        self.send_plaintext(codec.encode(message))

    def receive(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of type ``kind`` from the listener (others are skipped)."""
        assert self._reply_cipher is not None, "handshake first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            (length,) = channel.HEADER.unpack(self._read_exactly(channel.HEADER.size))
            ciphertext = self._read_exactly(length)
            nonce = self._reply_counter.to_bytes(12, "big")
            self._reply_counter += 1
            message = codec.decode(self._reply_cipher.decrypt(nonce, ciphertext, None))
            if isinstance(message, dict) and message.get("type") == kind:
                return message
        raise TimeoutError(f"no {kind} within {timeout} s")

    def send_plaintext(self, plaintext: bytes) -> None:
        """One frame, encrypted as the channel would: whatever bytes the test chooses."""
        assert self._cipher is not None, "handshake first"
        nonce = self._counter.to_bytes(12, "big")
        self._counter += 1
        ciphertext = self._cipher.encrypt(nonce, plaintext, None)
        self.sock.sendall(channel.HEADER.pack(len(ciphertext)) + ciphertext)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def closed_by_peer(self, timeout: float) -> bool:
        """Whether the listener hangs up within ``timeout`` (what it sends meanwhile is read
        and dropped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def received_before_hangup(self, timeout: float) -> int:
        """How many bytes the listener sent before it hung up (-1: it did not, in time)."""
        self.sock.settimeout(timeout)
        received = 0
        try:
            while chunk := self.sock.recv(65536):
                received += len(chunk)
        except TimeoutError:
            return -1
        except ConnectionResetError:
            pass
        return received

    def close(self) -> None:
        self.sock.close()

    def _read_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError(f"closed after {len(data)} of {count} bytes")
            data += chunk
        return data
