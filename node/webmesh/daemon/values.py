"""Parsers for the values of webmesh-node settings.

Each parser turns the text of one value (a flag, an environment variable, or a YAML scalar
rendered as text) into a typed value, or raises ``ValueError`` whose message is the *reason*
only (e.g. ``'abc' is not an IPv4 network``). The settings module adds which setting and which
source, so the reasons here stay short and reusable. Everything here is pure and stdlib-only.
"""

from __future__ import annotations

import ipaddress
import pathlib
import re
from collections.abc import Callable
from typing import TypeVar

from webmesh import errors, syntax

_Net = TypeVar("_Net", ipaddress.IPv4Network, ipaddress.IPv6Network)

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INT = re.compile(r"[+-]?[0-9]+")
_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
# Linux refuses names of IFNAMSIZ (16) bytes or more, "." and "..", and any '/', ':' or space.
_IFNAMSIZ = 16
_MAX_PORT = 65535


def parse_bool(text: str) -> bool:
    """Read true/false, 1/0 or yes/no in any case: what operators type in env files and YAML."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true/false, 1/0 or yes/no)")


def int_in_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """Return a parser for a decimal integer in ``[low, high]`` (``high`` None: no upper bound).

    Only plain decimal digits are accepted: ``int()`` alone would also take ``1_000`` and
    surrounding blanks, which hide typos.
    """

    def parse(text: str) -> int:
        if not _INT.fullmatch(text):
            raise ValueError(f"{text!r} is not an integer")
        value = int(text)
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ValueError(f"{value} is out of range: must be {bound}")
        return value

    return parse


_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


def parse_duration(text: str) -> int:
    """Seconds, as ``90``, ``90s``, ``15m``, ``24h`` or ``1h30m`` (Go's units, whole numbers)."""
    word = text.strip()
    if _INT.fullmatch(word) and not word.startswith(("+", "-")):
        return int(word)
    match = _DURATION.fullmatch(word)
    if not word or match is None:
        raise ValueError(f"{text!r} is not a duration (use e.g. 90, 90s, 15m, 24h or 1h30m)")
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def one_of(*choices: str) -> Callable[[str], str]:
    """Return a parser that accepts one of ``choices``, case-insensitively, as lower case."""

    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in choices:
            raise ValueError(f"{text!r} is not one of: {', '.join(choices)}")
        return word

    return parse


def parse_text(text: str) -> str:
    """Accept any text without blanks: ids and names with spaces only cause trouble later."""
    if not text or any(ch.isspace() for ch in text):
        raise ValueError(f"{text!r} must be non-empty and contain no whitespace")
    return text


def parse_optional_id(text: str) -> str:
    """An id without blanks, or the empty string (meaning "not set")."""
    return parse_text(text) if text else ""


def parse_optional_text(text: str) -> str:
    """Accept any text, including the empty string (meaning "not set")."""
    return text


def parse_path(text: str) -> pathlib.Path:
    """Accept a non-empty path; it need not exist yet (the daemon creates it)."""
    if not text:
        raise ValueError("the path must not be empty")
    return pathlib.Path(text)


def parse_domain(text: str) -> str:
    """Accept a DNS name (dot-separated labels of letters, digits, '-' and '_'), lower-cased."""
    name = text.rstrip(".").lower()
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(part) for part in name.split(".")):
        raise ValueError(f"{text!r} is not a valid DNS name")
    return name


def parse_interface_name(text: str) -> str:
    """Accept a name the Linux kernel would accept for a network interface."""
    if not text or text in {".", ".."} or len(text.encode()) >= _IFNAMSIZ:
        raise ValueError(f"{text!r} is not a valid interface name (1 to 15 characters)")
    if any(ch in "/:" or ch.isspace() for ch in text):
        raise ValueError(f"{text!r} is not a valid interface name (no '/', ':' or whitespace)")
    return text


def _check_host(host: str, original: str) -> None:
    """Accept an IP address or a DNS name; brackets must already be stripped."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            parse_domain(host)
        except ValueError:
            raise ValueError(f"{original!r} has an invalid host {host!r}") from None


def split_host_port(text: str, *, allow_zero_port: bool = False) -> tuple[str, int]:
    """Split ``host:port`` (IPv6 as ``[addr]:port``) into the bare host and the port.

    Port 0 ("any free port") is only meaningful for listen addresses, hence ``allow_zero_port``.
    """
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r} is not of the form [ipv6]:port")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r} has an invalid IPv6 address {host!r}") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{text!r} is not of the form host:port")
        if ":" in host:
            raise ValueError(f"{text!r}: write IPv6 addresses in brackets, as [addr]:port")
        _check_host(host, text)
    if not port_text.isdigit() or not (0 if allow_zero_port else 1) <= int(port_text) <= _MAX_PORT:
        raise ValueError(f"{text!r} has an invalid port {port_text!r}")
    return host, int(port_text)


def parse_host_port(text: str) -> str:
    """Accept ``host:port`` with a port 1..65535, unchanged: an address to dial."""
    split_host_port(text)
    return text


def parse_listen_address(text: str) -> str:
    """Accept ``host:port`` where port 0 means "any free port" (handy in tests)."""
    split_host_port(text, allow_zero_port=True)
    return text


def parse_optional_host_port(text: str) -> str:
    """Like :func:`parse_host_port`, but the empty string means "not set"."""
    return parse_host_port(text) if text else ""


def parse_optional_listen_address(text: str) -> str:
    """Like :func:`parse_listen_address`, but the empty string means "use the daemon's default"."""
    return parse_listen_address(text) if text else ""


def parse_backup_url(text: str) -> str:
    """Where backups go: a directory (a path, or ``file:///path``: the path is returned), or
    ``s3://bucket[/prefix]`` (returned as given)."""
    if not text:
        return ""
    if text.startswith("s3://"):
        bucket = text.removeprefix("s3://").split("/", 1)[0]
        if not bucket:
            raise ValueError(f"{text!r} names no bucket: s3://bucket/prefix")
        return text.rstrip("/")
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise ValueError(
            f"{scheme}:// is not supported: give a directory, file:///path or s3://bucket/prefix"
        )
    if not text.startswith("/"):
        raise ValueError(f"{text!r} is not an absolute path")
    return text


def parse_restore_source(text: str) -> str:
    """A snapshot or backup file, or a backup store (``parse_backup_url``'s forms)."""
    return parse_backup_url(text)


def parse_optional_url(text: str) -> str:
    """An http(s) URL, or empty."""
    if text and not text.startswith(("http://", "https://")):
        raise ValueError(f"{text!r} is not an http:// or https:// URL")
    return text


def parse_ip_address(text: str) -> str:
    """An IP address (no port, no name)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


def parse_dns_server(text: str) -> str:
    """``ADDRESS[:PORT]`` (``[ADDRESS]:PORT`` for IPv6 with a port), unchanged."""
    try:
        syntax.parse_dns_server(text)
    except errors.InvalidArgument as exc:
        raise ValueError(str(exc)) from None
    return text


def parse_endpoint(text: str) -> str:
    """Accept ``host:port`` or a bare host (IPv6 bare or in brackets); empty means "not set"."""
    if not text:
        return ""
    try:
        split_host_port(text)
    except ValueError:
        bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        _check_host(bare, text)
    return text


def parse_ipv4_network(max_prefix: int) -> Callable[[str], str]:
    """Return a parser for an IPv4 CIDR with host bits zero and at most ``max_prefix`` bits.

    Networks are kept as canonical text, the form the mesh model and the API carry.
    """

    def parse(text: str) -> str:
        network = _parse_network(text, "an IPv4 network")
        if not isinstance(network, ipaddress.IPv4Network):
            raise ValueError(f"{text!r} is not an IPv4 network")
        return str(_check_size(network, max_prefix, text))

    return parse


def parse_optional_ipv6_network(max_prefix: int) -> Callable[[str], str]:
    """Return a parser for an IPv6 CIDR (at most ``max_prefix`` bits); empty means "not set"."""

    def parse(text: str) -> str:
        if not text:
            return ""
        network = _parse_network(text, "an IPv6 network")
        if not isinstance(network, ipaddress.IPv6Network):
            raise ValueError(f"{text!r} is not an IPv6 network")
        return str(_check_size(network, max_prefix, text))

    return parse


def parse_network(text: str) -> str:
    """Accept an IPv4 or IPv6 CIDR with host bits zero, as canonical text."""
    return str(_parse_network(text, "a network in CIDR notation (address/prefix)"))


def _parse_network(text: str, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse a CIDR strictly, telling "host bits set" apart from plain garbage (not ``what``)."""
    if "/" not in text:
        raise ValueError(f"{text!r} is not {what}")
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not {what}") from None
    raise ValueError(f"{text!r} has host bits set (did you mean {loose}?)")


def _check_size(network: _Net, max_prefix: int, text: str) -> _Net:
    """Refuse networks too small to hold a useful mesh."""
    if network.prefixlen > max_prefix:
        raise ValueError(f"{text!r} is too small: use a /{max_prefix} or larger")
    return network
