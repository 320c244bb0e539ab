"""Handshake bookkeeping used to detect a wrong raft password."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import InvalidToken
from pysyncobj.encryptor import getEncryptor

from webmesh.raft import transport


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_watch_counts_and_rate_limits_warnings(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    watch = transport.HandshakeWatch(clock)
    assert watch.report() == transport.HandshakeReport(0, "", None, 0)
    with caplog.at_level(logging.WARNING, logger="webmesh.raft"):
        watch.failed("10.0.0.2:1", "x")
        clock.now += 1
        watch.failed("10.0.0.2:1", "x")  # same peer within 30 s: counted, not logged
        watch.succeeded()
    assert len(caplog.records) == 1
    assert "event=raft_handshake_failed peer=10.0.0.2:1" in caplog.records[0].getMessage()
    assert watch.report() == transport.HandshakeReport(2, "10.0.0.2:1", 0.0, 1)


def test_guarded_encryptor_reports_frames_from_another_password() -> None:
    rejected: list[bool] = []
    ours = transport._GuardedEncryptor(getEncryptor("right"), lambda: rejected.append(True))
    theirs = getEncryptor("wrong")
    token = ours.encrypt_at_time(b"hello", 1)
    assert ours.decrypt(token) == b"hello"
    assert ours.extract_timestamp(token) == 1
    assert rejected == []
    foreign = theirs.encrypt_at_time(b"hello", 1)
    with pytest.raises(InvalidToken):
        ours.extract_timestamp(foreign)
    with pytest.raises(InvalidToken):
        ours.decrypt(foreign)
    assert rejected == [True, True]
