"""Source NAT on an exit node, with nftables: a table of our own, added and deleted whole.

An exit node forwards its peers' internet traffic; the internet must see the exit node's own
address, or the replies would be addressed to mesh addresses nobody routes. The rule is the
checked-in ruleset below, applied with ``nft -f -`` in one transaction: ``table`` then
``flush table`` then the table's content, so applying it again changes nothing, and ``delete
table`` removes exactly what was added (no rule of the host's is touched, whatever firewall it
runs: iptables-nft and firewalld keep their own tables).
"""

from __future__ import annotations

import asyncio
import logging
import shutil

from webmesh.wg.errors import WireGuardError

log = logging.getLogger(__name__)

TABLE = "webmesh_exit"
RULESET = """table inet {table} {{}}
flush table inet {table}
table inet {table} {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    iifname "{iface}" oifname != "{iface}" masquerade
  }}
}}
"""
NFT_TIMEOUT = 10.0


class Masquerade:
    """Turns the exit node's masquerading on and off (``ip netns exec`` when ``netns``)."""

    def __init__(self, *, netns: str | None = None) -> None:
        self._netns = netns
        self._on: bool | None = None  # unknown until the first call

    async def set(self, iface: str, on: bool) -> None:
        if on == self._on:
            return
        if on:
            await self._nft(RULESET.format(table=TABLE, iface=iface), "-f", "-")
            log.info("masquerading traffic from %s out of the other interfaces", iface)
        elif self._on is not None or shutil.which("nft"):
            await self._nft("", "delete", "table", "inet", TABLE, missing_ok=True)
        self._on = on

    async def _nft(self, stdin: str, *args: str, missing_ok: bool = False) -> None:
        nft = shutil.which("nft")
        if nft is None:
            raise WireGuardError("an exit node masquerades with nft: install nftables")
        prefix = ("ip", "netns", "exec", self._netns) if self._netns else ()
        process = await asyncio.create_subprocess_exec(
            *prefix, nft, *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            _, err = await asyncio.wait_for(process.communicate(stdin.encode()), NFT_TIMEOUT)
        except TimeoutError:
            process.kill()
            raise WireGuardError(f"nft did not answer within {NFT_TIMEOUT:g} s") from None
        message = err.decode(errors="replace").strip()
        if process.returncode and not (missing_ok and "No such file" in message):
            raise WireGuardError(f"nft {' '.join(args)} failed: {message}")
