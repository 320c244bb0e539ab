"""The syntax every layer shares: ids, object names, identities, CIDRs, enums, list shapes.

The bottom floor above :mod:`webmesh.errors`: the policy layer (:mod:`webmesh.authz`) and the
state machine (:mod:`webmesh.mesh`) both validate with these, so neither has to import the other
for them. Pure: stdlib only; every failure is an ``InvalidArgument`` that says what is expected.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import re
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from webmesh import errors

NODE_ID_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
OBJECT_NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAX_IDENTITY_LENGTH = 256
# A certificate names its kind and identity in a URI SAN "webmesh:<node|user>/<name>": the PKI
# writes it (webmesh.client.pki), mTLS authentication reads it (webmesh.authn.mtls).
IDENTITY_URI_PREFIX = "webmesh:"


def validate_node_id(node_id: str) -> str:
    """Node ids become DNS labels and interface-visible names: keep them boring."""
    if not NODE_ID_PATTERN.match(node_id):
        raise errors.InvalidArgument(
            f"invalid node id {node_id!r}: use letters, digits, '.', '_' or '-' "
            "(at most 253 characters, starting and ending with a letter or digit)"
        )
    return node_id


def is_address(host: str) -> bool:
    """Whether ``host`` is an IP address (a name would need resolving)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_dns_server(text: str) -> tuple[str, int]:
    """``1.1.1.1``, ``1.1.1.1:5353``, ``2001:db8::1``, ``[2001:db8::1]:5353`` -> (host, port).

    An address, never a name: a resolver needs no DNS to be found.
    """
    host, port_text = text, "53"
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise errors.InvalidArgument(f"invalid DNS server {text!r}: expected [ADDRESS]:PORT")
        port_text = rest[1:] if rest else port_text  # "[ADDRESS]:" has an empty port
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not is_address(host.split("%", 1)[0]):
        raise errors.InvalidArgument(f"invalid DNS server {text!r}: expected an IP address")
    # ASCII digits only: str.isdigit() also accepts "²" (int() raises) and other scripts' digits.
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise errors.InvalidArgument(f"invalid port in DNS server {text!r}")
    return host, int(port_text)


def validate_cidr(cidr: str) -> str:
    try:
        return str(ipaddress.ip_network(cidr, strict=False))
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid CIDR {cidr!r}: {exc}") from exc


_E = TypeVar("_E", bound=enum.StrEnum)


def parse_enum(cls: type[_E], value: object, *, what: str) -> _E:
    """``cls(value)``, but a bad value is an InvalidArgument that lists the valid ones."""
    try:
        return cls(value)  # type: ignore[arg-type]  # a non-str raises ValueError too
    except ValueError:
        valid = ", ".join(repr(m.value) for m in cls)
        raise errors.InvalidArgument(f"invalid {what} {value!r}: expected one of {valid}") from None


def as_tuple(value: object, *, what: str) -> tuple[Any, ...]:
    """Accept any list-like (JSON gives lists); refuse a bare string, a classic slip."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise errors.InvalidArgument(f"{what} must be a list, not {value!r}")
    return tuple(value)


@contextlib.contextmanager
def malformed(what: str) -> Iterator[None]:
    """Turn the errors a bad dict causes while decoding into InvalidArgument."""
    try:
        yield
    except errors.MeshError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise errors.InvalidArgument(f"malformed {what}: {exc!r}") from exc


def validate_name(name: object, *, what: str) -> str:
    """Names of stored objects: like a DNS label (lowercase letters, digits, '-', 1-63)."""
    if not isinstance(name, str) or not OBJECT_NAME_PATTERN.match(name):
        raise errors.InvalidArgument(
            f"invalid {what} name {name!r}: use lowercase letters, digits and '-' "
            "(1 to 63 characters, starting and ending with a letter or digit)"
        )
    return name


def validate_identity(name: object, *, what: str) -> str:
    """A user or group name from an authenticator: non-empty, printable, trimmed, bounded."""
    if (
        not isinstance(name, str)
        or not name
        or len(name) > MAX_IDENTITY_LENGTH
        or name != name.strip()
        or not name.isprintable()
    ):
        raise errors.InvalidArgument(
            f"invalid {what} {name!r}: expected 1 to {MAX_IDENTITY_LENGTH} printable characters "
            "without leading or trailing spaces"
        )
    return name
