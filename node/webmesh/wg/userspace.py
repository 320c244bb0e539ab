"""The userspace backend: one ``wireguard-go -f <iface>`` child per interface, driven over UAPI.

wireguard-go creates the TUN device in the caller's network namespace and listens on
``/var/run/wireguard/<iface>.sock``; that directory is shared by every namespace on the host, so
interface names must be unique per host. We keep each ``Popen`` (``-f`` keeps it in the
foreground; without it the PID is lost), forward its output to our logger, and stop it on
``delete``/``close``. Configuration goes over the socket with asyncio; MTU and link state through
``NetlinkLinks``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from webmesh.wg import uapi
from webmesh.wg.config import DeviceConfig, DeviceState
from webmesh.wg.errors import UapiError, WireGuardError
from webmesh.wg.netlink import NetlinkLinks
from webmesh.wg.plan import Plan, plan

log = logging.getLogger(__name__)

SOCKET_DIR = Path("/var/run/wireguard")
_POLL = 0.02
_READ_LIMIT = 1 << 24  # a get=1 reply grows with peers; asyncio's default 64 KiB is too small


@dataclass
class _Child:
    """A running wireguard-go and the tail of its output (for error messages)."""

    iface: str
    proc: subprocess.Popen[str]
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))
    pump: threading.Thread | None = None

    def start_pump(self) -> None:
        self.pump = threading.Thread(target=self._forward, name=f"wg-go-{self.iface}", daemon=True)
        self.pump.start()

    def _forward(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip()
            if not line or line[0] in "┌│└":  # the "you have a kernel module" banner
                continue
            self.tail.append(line)
            level = logging.WARNING if line.startswith("ERROR") else logging.DEBUG
            log.log(level, "wireguard-go[%s]: %s", self.iface, line)

    def output(self) -> str:
        """The last lines it printed; once it has exited, waits (bounded) for the pump to drain."""
        if self.pump is not None and self.proc.poll() is not None:
            self.pump.join(timeout=1)
        return " | ".join(self.tail) or "(no output)"

    def release(self) -> str:
        """After exit: drain and close the pipe; return the last output for error messages."""
        text = self.output()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return text


class UserspaceDriver:
    """``WireGuardDriver`` over wireguard-go; needs CAP_NET_ADMIN and /dev/net/tun."""

    def __init__(
        self,
        *,
        binary: str = "wireguard-go",
        socket_dir: Path = SOCKET_DIR,
        start_timeout: float = 5.0,
        stop_timeout: float = 5.0,
        request_timeout: float = 5.0,
    ) -> None:
        self._binary = binary
        self._socket_dir = socket_dir
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._request_timeout = request_timeout
        self._children: dict[str, _Child] = {}
        self._links = NetlinkLinks()

    def _socket(self, iface: str) -> Path:
        return self._socket_dir / f"{iface}.sock"

    def pid(self, iface: str) -> int | None:
        """The PID of the wireguard-go serving ``iface``, if this driver started it."""
        child = self._children.get(iface)
        return child.proc.pid if child else None

    async def create(self, iface: str, *, mtu: int) -> None:
        child = self._children.get(iface)
        if child is None and await self._adoptable(iface):
            log.warning(
                "adopting the wireguard-go already serving %s (left by a previous run)", iface
            )
        elif child is None or child.proc.poll() is not None:
            if child is not None:
                log.warning("wireguard-go for %s had died: %s; restarting", iface, child.release())
            await self._remove_stale_socket(iface)
            child = self._spawn(iface)
            await self._wait_for_socket(child)
        await self._links.set_link_up(iface, mtu=mtu)

    def _spawn(self, iface: str) -> _Child:
        try:
            proc = subprocess.Popen(
                [self._binary, "-f", iface],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise WireGuardError(f"cannot start {self._binary!r}: {exc}") from exc
        child = _Child(iface, proc)
        child.start_pump()
        self._children[iface] = child
        log.info("started wireguard-go for %s (pid %d)", iface, proc.pid)
        return child

    async def _adoptable(self, iface: str) -> bool:
        """A live wireguard-go whose interface is in *this* namespace: ours from a previous run
        that was killed without cleaning up (its socket dir is per host, its link per netns)."""
        if not await self._links.link_exists(iface):
            return False
        try:
            await self.request(iface, uapi.GET_REQUEST)
        except WireGuardError:
            return False
        return True

    async def _remove_stale_socket(self, iface: str) -> None:
        """A socket left by a killed wireguard-go is removed; a live one means the name is taken."""
        path = self._socket(iface)
        if not path.exists():
            return
        try:
            _, writer = await asyncio.open_unix_connection(path)
        except (ConnectionRefusedError, FileNotFoundError):
            log.info("removing stale UAPI socket %s", path)
            path.unlink(missing_ok=True)
            return
        writer.close()
        await writer.wait_closed()
        raise WireGuardError(
            f"interface name {iface!r} already in use: a live wireguard-go owns {path} "
            f"(possibly in another network namespace: {self._socket_dir} is shared); "
            "pick another interface name or stop that process"
        )

    async def _wait_for_socket(self, child: _Child) -> None:
        """Poll (bounded) until wireguard-go listens; fail with its output if it exits first."""
        path = self._socket(child.iface)
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                self._children.pop(child.iface, None)
                raise WireGuardError(
                    f"wireguard-go for {child.iface!r} exited with {child.proc.returncode}: "
                    f"{child.release()}"
                )
            if path.exists():
                return
            await asyncio.sleep(_POLL)
        self._children.pop(child.iface, None)
        await self._stop(child)
        raise WireGuardError(
            f"wireguard-go for {child.iface!r} did not open {path} within "
            f"{self._start_timeout:g}s: {child.output()}"
        )

    async def request(self, iface: str, text: str) -> str:
        """One UAPI request/reply over a fresh connection, bounded by ``request_timeout``."""
        path = self._socket(iface)
        try:
            async with asyncio.timeout(self._request_timeout):
                reader, writer = await asyncio.open_unix_connection(path, limit=_READ_LIMIT)
                try:
                    writer.write(text.encode())
                    await writer.drain()
                    reply = await reader.readuntil(b"\n\n")
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise WireGuardError(
                f"no wireguard-go serves {iface!r} ({path}): create it first"
            ) from exc
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            OSError,
        ) as exc:
            raise UapiError(f"UAPI request to {path} failed: {exc!r}") from exc
        return reply.decode()

    async def show(self, iface: str) -> DeviceState:
        return uapi.parse_get(await self.request(iface, uapi.GET_REQUEST))

    async def configure(self, iface: str, desired: DeviceConfig) -> Plan:
        p = plan(desired, await self.show(iface))
        await self.apply(iface, p)
        return p

    async def apply(self, iface: str, plan: Plan) -> None:
        if not plan.empty:
            uapi.check_errno(await self.request(iface, uapi.encode_set(plan)))

    async def delete(self, iface: str) -> None:
        child = self._children.pop(iface, None)
        if child is not None:
            await self._stop(child)
        if await self._links.link_exists(iface):  # e.g. a wireguard-go we did not start
            await self._links.delete_link(iface)
        with contextlib.suppress(WireGuardError):
            await self._remove_stale_socket(iface)

    async def _stop(self, child: _Child) -> None:
        """SIGTERM (wireguard-go removes its socket and TUN), then SIGKILL after a bound."""
        if child.proc.poll() is None:
            child.proc.terminate()
            try:
                await asyncio.to_thread(child.proc.wait, self._stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("wireguard-go for %s ignored SIGTERM; killing it", child.iface)
                child.proc.kill()
                await asyncio.to_thread(child.proc.wait, self._stop_timeout)
        child.release()
        log.info("stopped wireguard-go for %s (exit %s)", child.iface, child.proc.returncode)

    async def close(self) -> None:
        """Stop every wireguard-go this driver started: their interfaces disappear with them."""
        for iface in list(self._children):
            await self.delete(iface)
