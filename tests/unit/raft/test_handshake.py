"""The handshake's key agreement: both sides derive the same session only with the right keys."""

from __future__ import annotations

import pytest

from webmesh import errors
from webmesh.raft import handshake
from webmesh.raft.credentials import RaftKey, decode_key, encode_key


def _run(
    dialer: RaftKey, listener: RaftKey, dialer_sees: bytes
) -> tuple[handshake.Session, handshake.Session]:
    """Both sides' sessions; the dialer sees ``dialer_sees`` as the listener's static key."""
    d_eph, l_eph = RaftKey.generate(), RaftKey.generate()
    hello_d = handshake.parse_hello(handshake.dialer_hello(dialer, d_eph))
    on_listener = handshake.listener_session(listener, l_eph, hello_d)
    sent = handshake.listener_hello(listener, l_eph, on_listener)
    assert len(sent) == handshake.LISTENER_HELLO
    hello_l = handshake.parse_hello(sent)
    hello_l = handshake.Hello(dialer_sees, hello_l.ephemeral, hello_l.proof)
    return handshake.dialer_session(dialer, d_eph, hello_l), on_listener


def test_both_sides_agree_with_the_right_keys() -> None:
    dialer, listener = RaftKey.generate(), RaftKey.generate()
    on_dialer, on_listener = _run(dialer, listener, listener.public)
    assert on_dialer == on_listener
    assert len({on_dialer.to_listener, on_dialer.to_dialer}) == 2


def test_a_listener_without_the_private_key_cannot_prove_it() -> None:
    """The listener holds another private key than the public one the dialer expects."""
    dialer, impostor, real = RaftKey.generate(), RaftKey.generate(), RaftKey.generate()
    on_dialer, on_listener = _run(dialer, impostor, real.public)
    assert not handshake.proofs_match(on_dialer.listener_proof, on_listener.listener_proof)


def test_sessions_are_fresh() -> None:
    dialer, listener = RaftKey.generate(), RaftKey.generate()
    first, _ = _run(dialer, listener, listener.public)
    second, _ = _run(dialer, listener, listener.public)
    assert first.to_listener != second.to_listener


def test_a_low_order_key_is_a_handshake_error() -> None:
    me, eph = RaftKey.generate(), RaftKey.generate()
    zero = handshake.Hello(bytes(32), bytes(32))
    with pytest.raises(handshake.HandshakeError):
        handshake.listener_session(me, eph, zero)


def test_keys_round_trip_and_bad_text_is_refused() -> None:
    key = RaftKey.generate()
    assert RaftKey.from_text(key.to_text()).public == key.public
    assert decode_key(encode_key(key.public)) == key.public
    for bad in ("not base64!", encode_key(b"short")):
        with pytest.raises(errors.InvalidArgument, match="invalid raft key"):
            decode_key(bad)
