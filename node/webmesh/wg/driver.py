"""The ``WireGuardDriver`` protocol every backend implements, and ``open_driver`` to pick one.

The reconciler talks to this protocol only, so the kernel module, wireguard-go and the in-memory
fake are interchangeable. ``configure`` is level-triggered: it reads the device, plans the minimal
diff against the desired config, applies only that and returns the plan (for logging).
"""

from __future__ import annotations

import logging
import shutil
from typing import Literal, Protocol, get_args

from webmesh.wg import privileges
from webmesh.wg.config import DeviceConfig, DeviceState
from webmesh.wg.errors import WireGuardError
from webmesh.wg.plan import Plan

log = logging.getLogger(__name__)

Backend = Literal["auto", "kernel", "userspace", "fake"]
BACKENDS: tuple[str, ...] = get_args(Backend)


class WireGuardDriver(Protocol):
    """Manage WireGuard interfaces in the caller's network namespace."""

    async def create(self, iface: str, *, mtu: int) -> None:
        """Create ``iface`` if missing and bring it up with ``mtu``; idempotent."""

    async def configure(self, iface: str, desired: DeviceConfig) -> Plan:
        """Make ``iface`` match ``desired`` with the minimal change; return what was changed."""

    async def apply(self, iface: str, plan: Plan) -> None:
        """Send a plan as it is, without reading the device first (the reconciler's fast path:
        a change costs the same however many peers the device has)."""

    async def show(self, iface: str) -> DeviceState:
        """Read the device as it is now (keys, peers, handshakes, counters)."""

    async def delete(self, iface: str) -> None:
        """Remove ``iface`` (and its wireguard-go, if any); idempotent."""

    async def close(self) -> None:
        """Release the driver's resources (the userspace driver stops its wireguard-go children)."""


def open_driver(backend: str, *, wireguard_go: str = "wireguard-go") -> WireGuardDriver:
    """The driver for ``backend``: ``auto`` picks the kernel module, else wireguard-go.

    Raises ``WireGuardError`` with what to install or change when the backend cannot work here.
    """
    # Imported here so importing the protocol does not import pyroute2.
    from webmesh.wg import kernel  # noqa: PLC0415
    from webmesh.wg.fake import FakeDriver  # noqa: PLC0415
    from webmesh.wg.userspace import UserspaceDriver  # noqa: PLC0415

    if backend not in BACKENDS:
        raise WireGuardError(f"unknown WireGuard backend {backend!r}: use one of {BACKENDS}")
    if backend == "fake":
        return FakeDriver()
    privileges.check(userspace=backend == "userspace")
    if backend in ("auto", "kernel"):
        reason = kernel.unavailable_reason()
        if reason is None:
            return kernel.KernelDriver()
        if backend == "kernel":
            raise WireGuardError(
                f"the WireGuard kernel module is not usable ({reason}): load it "
                "(modprobe wireguard, Linux >= 5.6) or use --backend userspace"
            )
        log.info("wireguard kernel module unusable (%s); trying wireguard-go", reason)
    if shutil.which(wireguard_go) is None:
        raise WireGuardError(
            f"no WireGuard available: the kernel module is not usable and {wireguard_go!r} is "
            "not on PATH; install wireguard-go (Debian: apt-get install wireguard-go) or load "
            "the wireguard kernel module"
            if backend == "auto"
            else f"{wireguard_go!r} is not on PATH: install wireguard-go "
            "(Debian: apt-get install wireguard-go)"
        )
    privileges.check(userspace=True)
    return UserspaceDriver(binary=wireguard_go)
