"""webmesh.wg.hello: one empty datagram per peer address, to its own host addresses only."""

from __future__ import annotations

import socket

import pytest

from webmesh.wg import hello


def test_only_single_host_entries_are_greeted() -> None:
    allowed = ("10.0.0.0/24", "172.16.0.0/12", "172.16.0.2/32", "fdc9::/64", "fdc9::2/128")
    assert hello.host_addresses(allowed) == ["172.16.0.2", "fdc9::2"]


def test_a_datagram_reaches_each_address(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        monkeypatch.setattr(hello, "DISCARD_PORT", listener.getsockname()[1])
        assert hello.greet(["127.0.0.1", "127.0.0.1"]) == 2
        assert listener.recvfrom(16)[0] == b""
        assert listener.recvfrom(16)[0] == b""


def test_an_unreachable_address_is_skipped_not_raised() -> None:
    assert hello.greet(["::ffff:300.1.1.1"]) == 0
