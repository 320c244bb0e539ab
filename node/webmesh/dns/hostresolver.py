"""Pointing the host's resolver at MeshDNS, and putting it back exactly as it was.

Two ways, chosen by what the host runs:

- **systemd-resolved** (``/etc/resolv.conf`` links into ``/run/systemd/resolve/`` and
  ``resolvectl`` exists): per-link DNS on the WireGuard interface for ``~<mesh-domain>`` only,
  so only names of the mesh go to MeshDNS. Nothing of the host's own configuration changes;
  ``resolvectl revert`` (and the interface's removal) undoes it.
- **a managed resolv.conf** otherwise: MeshDNS first, then the host's own servers (glibc takes
  three), search and options lines kept. MeshDNS forwards every other name to the host's own
  servers, and glibc falls through to them when MeshDNS refuses or does not answer.

The file is rewritten in place (truncate and write, the same inode), never renamed over:
containers bind-mount resolv.conf, and a rename over a mount point fails. Before the first
change the original bytes are saved in the data directory (written and fsynced first), so a
node killed with SIGKILL puts them back at its next start (``recover``). ``restore`` writes the
original bytes back only when the file is still what the node wrote: if something else
rewrote it meanwhile (a DHCP client), that is the host's newer truth, and it stays.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from webmesh import files

log = logging.getLogger("webmesh.meshdns")

RESOLV_CONF = Path("/etc/resolv.conf")
RESOLVED_DIR = "/run/systemd/resolve/"
MAXNS = 3  # glibc reads at most three nameserver lines
BACKUP_NAME = "resolv.conf.webmesh-saved"  # in the data directory, while the file is managed
HEADER = "# Written by webmesh: MeshDNS for the mesh domain; restored when the node stops.\n"


class HostResolver(Protocol):
    """The host's resolver: send the mesh domain's names to MeshDNS, and stop doing so."""

    def point_at(self, servers: Sequence[str], domain: str) -> None: ...

    def restore(self) -> None: ...


def resolv_conf_servers(addresses: Sequence[str]) -> tuple[str, ...]:
    """The MeshDNS servers ("ip:port") a resolv.conf can name: those on port 53, as "ip"."""
    servers = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        if port == "53":
            servers.append(host.strip("[]"))
    return tuple(servers)


def nameservers(text: str) -> tuple[str, ...]:
    """The ``nameserver`` addresses of a resolv.conf, in order."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            found.append(fields[1])
    return tuple(found)


def managed_text(original: str, servers: Sequence[str]) -> str:
    """``original`` with ``servers`` (addresses, port 53) as the first nameservers; the host's
    own servers fill the rest of glibc's three, every other line stays."""
    own = [s for s in nameservers(original) if s not in servers]
    chosen = [*servers, *own][: max(MAXNS, len(servers))]
    kept = [
        line
        for line in original.splitlines()
        if line.split()[:1] != ["nameserver"] and not line.startswith(HEADER.strip())
    ]
    body = [f"nameserver {server}" for server in chosen] + kept
    return HEADER + "\n".join(body) + "\n"


class ResolvConfFile:
    """The managed resolv.conf (see the module docstring)."""

    def __init__(self, backup: Path, *, path: Path = RESOLV_CONF) -> None:
        self.path = path
        self.backup = backup

    def original(self) -> str:
        """The host's own resolv.conf: the saved copy while the node manages the file."""
        source = self.backup if self.backup.exists() else self.path
        try:
            return source.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def recover(self) -> None:
        """Put back what a node that died left behind (its saved copy still exists)."""
        if self.backup.exists():
            log.info("an earlier run left the host's resolver pointed at MeshDNS: restoring it")
            self.restore()

    def point_at(self, servers: Sequence[str], domain: str) -> None:
        del domain  # resolv.conf has no per-domain servers: MeshDNS forwards the rest
        if not self.backup.exists():  # saved durably before the file is first touched
            self.backup.parent.mkdir(parents=True, exist_ok=True)
            files.write_atomically(
                self.backup, _read(self.path) or b"", mode=0o644, sync_directory=True
            )
        wanted = managed_text(self.original(), servers).encode()
        if wanted != _read(self.path):
            _write_in_place(self.path, wanted)
            servers_text = ",".join(servers)
            log.info("host resolver points at MeshDNS path=%s servers=%s", self.path, servers_text)

    def restore(self) -> None:
        if not self.backup.exists():
            return
        current = _read(self.path)
        if current is not None and current.startswith(HEADER.encode()):
            _write_in_place(self.path, self.backup.read_bytes())
            log.info("host resolver restored path=%s", self.path)
        else:
            log.warning(
                "the host's resolver config was changed by something else while MeshDNS was in "
                "use: left as it is path=%s",
                self.path,
            )
        self.backup.unlink()


Runner = Callable[[Sequence[str]], None]


def _run(cmd: Sequence[str]) -> None:
    """Run a command; its failure is an OSError that says what it printed."""
    try:
        subprocess.run(list(cmd), check=True, capture_output=True, text=True, timeout=10)
    except subprocess.CalledProcessError as exc:
        raise OSError(f"{' '.join(cmd)} failed: {exc.stderr.strip()}") from exc
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"{' '.join(cmd)} did not finish in 10 s") from exc


class ResolvedLink:
    """systemd-resolved: DNS servers and a routing-only domain on the WireGuard link."""

    def __init__(self, interface: str, *, run: Runner = _run) -> None:
        self.interface = interface
        self._run = run
        self._set = False

    def point_at(self, servers: Sequence[str], domain: str) -> None:
        self._run(["resolvectl", "dns", self.interface, *servers])
        self._run(["resolvectl", "domain", self.interface, f"~{domain}"])
        self._set = True
        log.info("systemd-resolved sends ~%s to MeshDNS link=%s", domain, self.interface)

    def restore(self) -> None:
        if self._set:
            self._run(["resolvectl", "revert", self.interface])
            self._set = False


def uses_resolved(path: Path = RESOLV_CONF) -> bool:
    """Whether the host resolves through systemd-resolved (and resolvectl can configure it)."""
    try:
        target = os.readlink(path)
    except OSError:
        return False
    return RESOLVED_DIR in os.path.join(str(path.parent), target) and bool(
        shutil.which("resolvectl")
    )


def for_host(interface: str, backup: Path, *, path: Path = RESOLV_CONF) -> HostResolver:
    return ResolvedLink(interface) if uses_resolved(path) else ResolvConfFile(backup, path=path)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write_in_place(path: Path, data: bytes) -> None:
    """Replace the file's bytes keeping its inode, mode and owner (it may be a mount point)."""
    flags = os.O_WRONLY | os.O_CREAT
    descriptor = os.open(path, flags, 0o644)
    try:
        os.ftruncate(descriptor, 0)
        written = 0
        while written < len(data):
            written += os.write(descriptor, data[written:])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
