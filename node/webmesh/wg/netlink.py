"""Addresses, routes and links of the WireGuard interface, through pyroute2's ``AsyncIPRoute``.

``Links`` is the protocol the reconciler uses; ``NetlinkLinks`` is the real one and
``webmesh.wg.fake.FakeLinks`` the in-memory one. Every setter is level-triggered: it compares
what is there with what is wanted and changes only the difference, so calling it again is free.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from webmesh.wg import masquerade, peering_filter, pyroute
from webmesh.wg.errors import WireGuardError
from webmesh.wg.peering_filter import Rule as PeeringRule
from webmesh.wg.plan import routes_to_install

log = logging.getLogger(__name__)

RT_TABLE_MAIN = 254
RTPROT_KERNEL = 2  # connected routes the kernel adds for addresses: never ours to remove
FORWARDING = {
    4: Path("/proc/sys/net/ipv4/ip_forward"),
    6: Path("/proc/sys/net/ipv6/conf/all/forwarding"),
}
SRC_VALID_MARK = Path("/proc/sys/net/ipv4/conf/all/src_valid_mark")
# Exit routing (wg-quick's scheme): a table and a firewall mark of our own ("wm" = 0x776d), and
# two rules just before the main table's. The host's more specific routes (its LAN, the
# underlay) still win; only its default route is skipped; WireGuard's own packets carry the
# mark and skip the exit table, so the tunnel keeps using the host's routes.
EXIT_TABLE = 0x776D
SUPPRESS_PRIORITY = 32760  # lookup main suppress_prefixlength 0
EXIT_PRIORITY = 32761  # not fwmark EXIT_TABLE lookup EXIT_TABLE
FIB_RULE_INVERT = 2
EXIT_DEFAULTS = ((socket.AF_INET, "0.0.0.0/0"), (socket.AF_INET6, "::/0"))
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Links(Protocol):
    """What the node needs from the host's network stack besides WireGuard itself."""

    async def link_exists(self, iface: str) -> bool:
        """True if a link named ``iface`` exists in this namespace."""

    async def set_addresses(self, iface: str, prefixes: Sequence[str]) -> None:
        """Make the addresses of ``iface`` exactly ``prefixes`` (e.g. ``["172.16.0.1/12"]``)."""

    async def set_routes(self, iface: str, cidrs: Sequence[str]) -> None:
        """Make the routes via ``iface`` exactly ``cidrs`` (minus those its addresses cover)."""

    async def enable_forwarding(self, *, ipv4: bool, ipv6: bool, iface: str = "") -> None:
        """Turn on IP forwarding (and off ICMP redirects out of ``iface``, which would tell
        relayed peers to talk directly, which WireGuard cannot); warn where /proc/sys is
        read-only."""

    async def set_exit_routing(self, iface: str, routes: Sequence[str]) -> None:
        """Send the host's internet traffic (``routes``: "0.0.0.0/0", "::/0" or none) into
        ``iface`` by policy routing, never by touching the main table; none: undo it all."""

    async def set_masquerade(self, iface: str, on: bool) -> None:
        """Source-NAT what arrives on ``iface`` and leaves by another interface (an exit node),
        or stop; exactly undone by ``on=False``."""

    async def set_peering_filter(self, iface: str, rules: Sequence[PeeringRule]) -> None:
        """On a peering gateway: traffic from each other mesh (``rules``: its accepted
        prefixes, and this mesh's exported ones) may only go to what is exported; none: undo."""

    async def restore_host(self) -> None:
        """Put back every sysctl this object changed, as it found them (on shutdown)."""

    async def interface_addresses(self) -> list[tuple[str, str]]:
        """Every ``(iface_name, ip)`` on the host, for endpoint detection."""


def _link_local(iface: Interface) -> bool:
    return iface.version == 6 and iface.ip.is_link_local


class NetlinkLinks:
    """``Links`` over rtnetlink; ``netns`` targets another network namespace (tests, tools)."""

    def __init__(self, *, netns: str | None = None) -> None:
        self._sysctls = Sysctls()
        self._masquerade = masquerade.Masquerade(netns=netns)
        self._peering_filter = peering_filter.PeeringFilter(netns=netns)
        self._kwargs: dict[str, Any] = {"netns": netns} if netns else {}

    def _ipr(self) -> pyroute.AsyncIPRoute:
        return pyroute.AsyncIPRoute(**self._kwargs)

    async def _index(self, ipr: pyroute.AsyncIPRoute, iface: str) -> int:
        indices = await ipr.link_lookup(ifname=iface)
        if not indices:
            raise WireGuardError(f"no network interface named {iface!r} in this namespace")
        return int(indices[0])

    async def link_exists(self, iface: str) -> bool:
        async with self._ipr() as ipr:
            return bool(await ipr.link_lookup(ifname=iface))

    async def set_link_up(self, iface: str, *, mtu: int) -> None:
        """Set the MTU and bring the link up (used by the drivers after creating a device)."""
        async with self._ipr() as ipr:
            await ipr.link("set", index=await self._index(ipr, iface), mtu=mtu, state="up")

    async def delete_link(self, iface: str) -> None:
        """Remove the link if it exists (idempotent)."""
        async with self._ipr() as ipr:
            for index in await ipr.link_lookup(ifname=iface):
                await ipr.link("del", index=index)

    async def _addresses(self, ipr: pyroute.AsyncIPRoute, index: int) -> set[Interface]:
        found = set()
        async for msg in await ipr.addr("dump", match={"index": index}):
            ip = msg.get("local") or msg.get("address")
            found.add(ipaddress.ip_interface(f"{ip}/{msg['prefixlen']}"))
        return found

    async def set_addresses(self, iface: str, prefixes: Sequence[str]) -> None:
        wanted = {ipaddress.ip_interface(p) for p in prefixes}
        async with self._ipr() as ipr:
            index = await self._index(ipr, iface)
            have = await self._addresses(ipr, index)
            for addr in sorted(have - wanted, key=str):
                if not _link_local(addr):  # the kernel's fe80:: address is not ours
                    await ipr.addr(
                        "del", index=index, address=str(addr.ip), prefixlen=addr.network.prefixlen
                    )
            for addr in sorted(wanted - have, key=str):
                await ipr.addr(
                    "add", index=index, address=str(addr.ip), prefixlen=addr.network.prefixlen
                )
            if have != wanted:
                log.info("addresses of %s: %s", iface, sorted(map(str, wanted)))

    async def _routes(self, ipr: pyroute.AsyncIPRoute, index: int) -> set[Network]:
        found = set()
        async for msg in await ipr.route("dump"):
            if msg.get("oif") != index or msg.get("proto") == RTPROT_KERNEL:
                continue
            if msg.get("table") != RT_TABLE_MAIN:
                continue
            default = "0.0.0.0" if msg["family"] == 2 else "::"
            found.add(ipaddress.ip_network(f"{msg.get('dst') or default}/{msg['dst_len']}"))
        return found

    async def set_routes(self, iface: str, cidrs: Sequence[str]) -> None:
        async with self._ipr() as ipr:
            index = await self._index(ipr, iface)
            addresses = [str(a) for a in await self._addresses(ipr, index)]
            wanted = routes_to_install(cidrs, addresses)
            have = await self._routes(ipr, index)
            for net in sorted(have - wanted, key=str):
                await ipr.route("del", dst=str(net), oif=index)
            for net in sorted(wanted - have, key=str):
                await ipr.route("replace", dst=str(net), oif=index)
            if have != wanted:
                log.info("routes via %s: %s", iface, sorted(map(str, wanted)))

    async def enable_forwarding(self, *, ipv4: bool, ipv6: bool, iface: str = "") -> None:
        for version, on in ((4, ipv4), (6, ipv6)):
            if on:
                self._sysctls.set(FORWARDING[version], "1")
        if ipv4:
            # The effective value is "all OR iface": both must be off.
            for scope in ("all", iface):
                if scope:
                    self._sysctls.set(Path(f"/proc/sys/net/ipv4/conf/{scope}/send_redirects"), "0")

    async def set_exit_routing(self, iface: str, routes: Sequence[str]) -> None:
        async with self._ipr() as ipr:
            index = await self._index(ipr, iface) if routes else 0
            for family, default in EXIT_DEFAULTS:
                await self._exit_family(ipr, family, default, index if default in routes else 0)
        if "0.0.0.0/0" in routes:  # replies to marked packets pass the reverse-path filter
            self._sysctls.set(SRC_VALID_MARK, "1")
        else:
            self._sysctls.restore(SRC_VALID_MARK)

    async def _exit_family(
        self, ipr: pyroute.AsyncIPRoute, family: int, default: str, index: int
    ) -> None:
        """One family's exit table and rules: there with ``index`` (the interface), else gone."""
        ours = [
            r async for r in await ipr.rule("dump", family=family)
            if (r.get("priority"), r.get("table")) in
            ((SUPPRESS_PRIORITY, RT_TABLE_MAIN), (EXIT_PRIORITY, EXIT_TABLE))
        ]  # fmt: skip
        if index and len(ours) == 2:
            await ipr.route("replace", dst=default, oif=index, table=EXIT_TABLE, family=family)
            return
        for rule in ours:
            await ipr.rule("del", family=family, priority=rule.get("priority"),
                           table=rule.get("table"))  # fmt: skip
        if not index:
            await _ignore_missing(ipr.route("del", dst=default, table=EXIT_TABLE, family=family))
            return
        await ipr.route("replace", dst=default, oif=index, table=EXIT_TABLE, family=family)
        await ipr.rule("add", family=family, priority=SUPPRESS_PRIORITY, table=RT_TABLE_MAIN,
                       suppress_prefixlen=0)  # fmt: skip
        await ipr.rule("add", family=family, priority=EXIT_PRIORITY, table=EXIT_TABLE,
                       fwmark=EXIT_TABLE, flags=FIB_RULE_INVERT)  # fmt: skip

    async def set_masquerade(self, iface: str, on: bool) -> None:
        await self._masquerade.set(iface, on)

    async def set_peering_filter(self, iface: str, rules: Sequence[PeeringRule]) -> None:
        await self._peering_filter.set(iface, rules)

    async def restore_host(self) -> None:
        self._sysctls.restore_all()

    async def interface_addresses(self) -> list[tuple[str, str]]:
        async with self._ipr() as ipr:
            names = {m["index"]: m.get("ifname") async for m in await ipr.link("dump")}
            return [
                (names.get(m["index"], ""), str(m.get("local") or m.get("address")))
                async for m in await ipr.addr("dump")
            ]


async def _ignore_missing(call: Any) -> None:
    """Await a netlink delete; "no such route" means it is already gone."""
    try:
        await call
    except pyroute.NetlinkError as exc:
        if exc.code not in (errno.ESRCH, errno.ENOENT):
            raise


class Sysctls:
    """Sysctls set by this node, with the value each had before: ``restore`` puts it back, so
    the host ends as the node found it (forwarding turned on for a relay is turned off again)."""

    def __init__(self) -> None:
        self._before: dict[Path, str] = {}

    def set(self, path: Path, value: str) -> None:
        try:
            before = path.read_text().strip()
        except OSError:
            before = None
        if before is not None and before != value and path not in self._before:
            self._before[path] = before
        write_sysctl(path, value)

    def restore(self, path: Path) -> None:
        before = self._before.pop(path, None)
        if before is not None:
            write_sysctl(path, before)

    def restore_all(self) -> None:
        for path in list(self._before):
            self.restore(path)


def write_sysctl(path: Path, value: str) -> bool:
    """Write a sysctl unless it already has ``value``; warn and return False if we cannot."""
    try:
        if path.read_text().strip() == value:
            return True
        path.write_text(value + "\n")
    except OSError as exc:
        log.warning(
            "cannot set %s=%s (%s): set it on the host or in the pod's sysctls", path, value, exc
        )
        return False
    return True
