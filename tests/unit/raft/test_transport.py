"""What the transport says about refused connections and failed handshakes."""

from __future__ import annotations

import logging

import pytest

from webmesh.raft import transport
from webmesh.raft.channel import Refusal


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_watch_counts_and_rate_limits_warnings(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    watch = transport.HandshakeWatch(clock)
    assert watch.report() == transport.HandshakeReport(0, "", "", None, 0)
    with caplog.at_level(logging.WARNING, logger="webmesh.raft"):
        watch.failed("10.0.0.2:1", "x")
        clock.now += 1
        watch.failed("10.0.0.2:1", "x")  # same peer within 30 s: counted, not logged
        watch.succeeded()
    assert len(caplog.records) == 1
    assert "event=raft_handshake_failed peer=10.0.0.2:1" in caplog.records[0].getMessage()
    assert watch.report() == transport.HandshakeReport(2, "10.0.0.2:1", "x", 0.0, 1)


def test_refusals_count_by_reason_and_log_each_source_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    watch = transport.HandshakeWatch(clock)
    refusals = transport.Refusals(watch, clock)
    with caplog.at_level(logging.WARNING, logger="webmesh.raft"):
        for port in range(5):  # one source, many connections: one line
            refusals(f"10.0.0.9:{4000 + port}", Refusal.OVERSIZED_FRAME, "declared 2147483647")
        refusals("10.0.0.8:1", Refusal.OVERSIZED_FRAME, "x")  # another source: its own line
        refusals("10.0.0.9:9", Refusal.NOT_WEBMESH, "x")  # another reason: its own line
        clock.now += 301
        refusals("10.0.0.9:10", Refusal.OVERSIZED_FRAME, "x")  # 5 minutes later: again
        refusals("10.0.0.7:1", Refusal.BAD_PROOF, "the dialer does not hold its replica key")
    lines = [r.getMessage() for r in caplog.records]
    assert sum("source=10.0.0.9 reason=oversized_frame" in line for line in lines) == 2
    assert sum("source=10.0.0.8 reason=oversized_frame" in line for line in lines) == 1
    assert sum("reason=not_webmesh" in line for line in lines) == 1
    assert refusals.counts() == {"oversized_frame": 7, "not_webmesh": 1, "bad_proof": 1}
    assert watch.report().failures == 1, (
        "a failed proof is a replica key presented by one who lacks it"
    )
