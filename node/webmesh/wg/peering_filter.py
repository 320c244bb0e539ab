"""What another mesh may reach through a peering gateway, with nftables: a table of our own.

Traffic from the other mesh arrives on the gateway's WireGuard interface with a source among
the peering's accepted prefixes (WireGuard admits nothing else from that peer). Only the
prefixes this mesh exports may be its destination, whether the gateway forwards it or is the
destination itself; the rest is dropped here, at the trust boundary, whatever the other mesh's
administrators accept on their side.

Each rule is ``(accepted, exported)``: one per peering. The whole table is written in one
``nft -f -`` transaction (``table``, ``flush table``, the content), so applying the same rules
again changes nothing and a change never leaves a moment without a filter; no rules delete the
table, which is all that was added.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from webmesh.wg import nft

log = logging.getLogger(__name__)

TABLE = "webmesh_peering"
Rule = tuple[tuple[str, ...], tuple[str, ...]]  # (accepted prefixes, exported prefixes)
_NEEDED_FOR = "a peering gateway's export filter"


def ruleset(iface: str, rules: Sequence[Rule]) -> str:
    """The nft script for ``rules`` on ``iface`` (pure: unit-tested as text)."""
    lines = [f"table inet {TABLE} {{}}", f"flush table inet {TABLE}", f"table inet {TABLE} {{"]
    statements = [s for accepted, exported in rules for s in _drops(iface, accepted, exported)]
    for chain, hook in (("forward", "forward"), ("input", "input")):
        lines.append(f"  chain {chain} {{")
        lines.append(f"    type filter hook {hook} priority filter; policy accept;")
        lines.extend(f"    {statement}" for statement in statements)
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _drops(iface: str, accepted: Sequence[str], exported: Sequence[str]) -> list[str]:
    """Per address family: from the accepted prefixes, to anything but the exported, drop."""
    statements = []
    for family, word in ((4, "ip"), (6, "ip6")):
        sources = _of_family(accepted, family)
        if not sources:
            continue
        targets = _of_family(exported, family)
        allowed = f" {word} daddr != {{ {', '.join(targets)} }}" if targets else ""
        statements.append(
            f'iifname "{iface}" {word} saddr {{ {", ".join(sources)} }}{allowed} drop'
        )
    return statements


def _of_family(cidrs: Sequence[str], family: int) -> list[str]:
    nets = (ipaddress.ip_network(c, strict=False) for c in cidrs)
    return sorted(str(n) for n in nets if n.version == family)


class PeeringFilter:
    """Keeps the table equal to the rules (``ip netns exec`` when ``netns``)."""

    def __init__(self, *, netns: str | None = None) -> None:
        self._netns = netns
        self._applied: tuple[str, tuple[Rule, ...]] | None = None  # unknown until the first

    async def set(self, iface: str, rules: Sequence[Rule]) -> None:
        wanted = (iface, tuple(rules))
        if wanted == self._applied:
            return
        if rules:
            await nft.run(ruleset(iface, rules), "-f", "-", netns=self._netns,
                          needed_for=_NEEDED_FOR)  # fmt: skip
            log.info("peering export filter iface=%s peerings=%d", iface, len(rules))
        elif self._applied is not None or nft.available():
            await nft.run("", "delete", "table", "inet", TABLE, netns=self._netns,
                          missing_ok=True, needed_for=_NEEDED_FOR)  # fmt: skip
        self._applied = wanted
