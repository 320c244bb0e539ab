"""Source NAT on an exit node, with nftables: a table of our own, added and deleted whole.

An exit node forwards its peers' internet traffic; the internet must see the exit node's own
address, or the replies would be addressed to mesh addresses nobody routes. The rule is the
checked-in ruleset below, applied with ``nft -f -`` in one transaction: ``table`` then
``flush table`` then the table's content, so applying it again changes nothing, and ``delete
table`` removes exactly what was added (no rule of the host's is touched, whatever firewall it
runs: iptables-nft and firewalld keep their own tables).
"""

from __future__ import annotations

import logging

from webmesh.wg import nft

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


class Masquerade:
    """Turns the exit node's masquerading on and off (``ip netns exec`` when ``netns``)."""

    def __init__(self, *, netns: str | None = None) -> None:
        self._netns = netns
        self._on: bool | None = None  # unknown until the first call

    async def set(self, iface: str, on: bool) -> None:
        if on == self._on:
            return
        if on:
            await nft.run(RULESET.format(table=TABLE, iface=iface), "-f", "-",
                          netns=self._netns, needed_for="an exit node's masquerading")  # fmt: skip
            log.info("masquerading traffic from %s out of the other interfaces", iface)
        elif self._on is not None or nft.available():
            await nft.run("", "delete", "table", "inet", TABLE, netns=self._netns,
                          missing_ok=True, needed_for="an exit node's masquerading")  # fmt: skip
        self._on = on
