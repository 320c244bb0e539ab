"""Where a Join comes from: its connection's address, or, forwarded, what the server saw."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from webmesh.api.forward import FORWARDED_HEADER, OBSERVED_HEADER, observed_host, peer_host
from webmesh.api.interceptors import CALLER
from webmesh.api.security import CALLER_HEADER
from webmesh.authz.model import SubjectKind
from webmesh.authz.principal import Principal


class Context:
    def __init__(self, peer: str, metadata: dict[str, str] | None = None) -> None:
        self._peer, self._metadata = peer, metadata or {}

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._metadata.items())


@pytest.fixture
def authenticated() -> Iterator[None]:
    """A secure-mode call: the guard has set the caller."""
    token = CALLER.set(Principal("node-b", SubjectKind.NODE))
    try:
        yield
    finally:
        CALLER.reset(token)


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("ipv4:198.51.100.7:40000", "198.51.100.7"),
        ("ipv6:[2001:db8::7]:40000", "2001:db8::7"),
        ("ipv6:%5B2001:db8::7%5D:40000", "2001:db8::7"),  # newer gRPC escapes the brackets
        ("unix:/run/webmesh.sock", ""),
        ("ipv4:not-an-address:1", ""),
        ("", ""),
    ],
)
def test_the_host_of_grpcs_peer_string(peer: str, host: str) -> None:
    assert peer_host(peer) == host


def test_a_direct_call_is_observed_at_its_own_address() -> None:
    assert observed_host(Context("ipv4:198.51.100.7:40000")) == "198.51.100.7"  # type: ignore[arg-type]


def test_a_forwarded_call_carries_what_the_first_server_saw() -> None:
    context: Any = Context(
        "ipv4:172.16.0.2:50000", {FORWARDED_HEADER: "1", OBSERVED_HEADER: "198.51.100.7"}
    )
    assert observed_host(context) == "198.51.100.7"  # insecure mode: nothing is authenticated


@pytest.mark.usefixtures("authenticated")
def test_a_forwarded_header_is_believed_only_from_a_server() -> None:
    forged: Any = Context(
        "ipv4:203.0.113.9:50000", {FORWARDED_HEADER: "1", OBSERVED_HEADER: "192.0.2.1"}
    )
    assert observed_host(forged) == ""  # no x-webmesh-caller: not a forwarding server
    vouched: Any = Context(
        "ipv4:172.16.0.2:50000",
        {FORWARDED_HEADER: "1", OBSERVED_HEADER: "198.51.100.7", CALLER_HEADER: "{}"},
    )
    assert observed_host(vouched) == "198.51.100.7"  # the guard checked who sent the header


def test_a_malformed_observed_header_is_ignored() -> None:
    context: Any = Context("ipv4:172.16.0.2:1", {FORWARDED_HEADER: "1", OBSERVED_HEADER: "x"})
    assert observed_host(context) == ""
