"""Errors of the data plane, one small tree so the daemon can map them in one place."""

from __future__ import annotations


class WireGuardError(Exception):
    """A WireGuard device could not be created, configured, read or deleted.

    The message says what to do about it (install a package, pick another interface name, ...),
    because it usually ends up in front of an operator.
    """


class UapiError(WireGuardError):
    """wireguard-go answered a UAPI request with a nonzero errno (or with garbage)."""

    def __init__(self, message: str, *, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno
