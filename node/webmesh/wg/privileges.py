"""What a WireGuard interface needs from the host, checked first, in words a user can act on.

Without CAP_NET_ADMIN wireguard-go says only ``Failed to create TUN device: operation not
permitted`` and the kernel backend a netlink ``EPERM``; neither says what to change. The reading
of ``/proc/self/status`` is pure and unit-tested; :func:`check` reads the real host.
"""

from __future__ import annotations

from pathlib import Path

from webmesh.wg.errors import WireGuardError

CAP_NET_ADMIN = 12  # linux/capability.h
TUN_DEVICE = Path("/dev/net/tun")

GRANT = (
    "run it as root, or grant the capability (docker run --cap-add NET_ADMIN; Kubernetes "
    "securityContext.capabilities.add: [NET_ADMIN]; setcap cap_net_admin+ep on the program)"
)


def has_capability(status_text: str, capability: int) -> bool:
    """Whether the effective set (``CapEff`` of /proc/PID/status) holds ``capability``."""
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> capability & 1)
    return False


def missing(*, status_text: str, tun_exists: bool, userspace: bool) -> list[str]:
    """What is missing for a WireGuard interface, each as a sentence (empty: all there)."""
    problems = []
    if not has_capability(status_text, CAP_NET_ADMIN):
        problems.append(
            "WireGuard needs CAP_NET_ADMIN to create its interface and set its addresses and "
            f"routes: {GRANT}"
        )
    if userspace and not tun_exists:
        problems.append(
            f"wireguard-go needs {TUN_DEVICE}, which does not exist here: mount it into the "
            "container (docker run --device /dev/net/tun; a Kubernetes hostPath volume of type "
            "CharDevice) or load the tun module (modprobe tun)"
        )
    return problems


def check(*, userspace: bool) -> None:
    """Raise :class:`WireGuardError` naming everything this process lacks."""
    status = Path("/proc/self/status").read_text()
    problems = missing(status_text=status, tun_exists=TUN_DEVICE.exists(), userspace=userspace)
    if problems:
        raise WireGuardError("; and ".join(problems))
