"""Network ACLs: which nodes, and which of their prefixes, may exchange traffic.

An ACL *matches* traffic from a source node to a destination prefix of a destination node when
every field it gives matches (an empty field does not constrain):

- ``source_nodes`` / ``destination_nodes``: node ids, ``group:NAME`` (the node members of the
  ``Group`` NAME; putting an ACL that names an unknown group is refused, and a group deleted
  later selects nobody) or ``*`` (every node). Node ids are not checked: an ACL may name a node
  before it joins, and outlives one that leaves;
- ``source_cidrs``: one of the source's prefixes lies within one of them;
- ``destination_cidrs``: the destination prefix lies within one of them.

Each side must give something (``*`` for "any node"), so an ACL is never accidentally universal.

**Deciding.** The matching ACL with the highest priority decides. Among equal priorities a
``deny`` beats an ``accept`` (the safe choice), and then the lexicographically smaller name goes
first (it only changes which ACL is reported as deciding, never the answer). No match: the
mesh's default policy.

**Prefixes.** ``AclView.allowed_prefixes`` splits a destination prefix along the ACL CIDRs that
fall inside it, decides each piece and returns the allowed part (collapsed): a deny on
10.0.1.0/24 carves it out of a 10.0.0.0/16 route, an accept on it under a deny default keeps only
it. That is what a peer's WireGuard AllowedIPs may carry: WireGuard routes to and accepts from a
peer exactly its AllowedIPs, so removing a prefix on both sides stops every packet both ways.

An ``AclView`` compiles the ACLs once (sorted, selectors resolved to node-id sets, CIDRs parsed)
and caches the candidate ACLs per source node, so querying every pair of a mesh costs
O(pairs x ACLs that can match the source) set look-ups. Build a new view when ACLs, groups or the
default policy change.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from webmesh import errors
from webmesh.authz.model import Group, SubjectKind
from webmesh.syntax import (
    as_tuple,
    malformed,
    parse_enum,
    validate_cidr,
    validate_name,
    validate_node_id,
)

ANY_NODE = "*"
GROUP_PREFIX = "group:"
MIN_PRIORITY = -(2**31)
MAX_PRIORITY = 2**31 - 1

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


class AclAction(enum.StrEnum):
    ACCEPT = "accept"
    DENY = "deny"


def validate_selector(selector: object) -> str:
    """A node selector: a node id, ``group:NAME`` or ``*``."""
    if not isinstance(selector, str):
        raise errors.InvalidArgument(f"invalid node selector {selector!r}: not a string")
    if selector == ANY_NODE:
        return selector
    if selector.startswith(GROUP_PREFIX):
        validate_name(selector[len(GROUP_PREFIX) :], what="group")
        return selector
    try:
        return validate_node_id(selector)
    except errors.InvalidArgument as exc:
        raise errors.InvalidArgument(
            f"invalid node selector {selector!r}: expected a node id, 'group:NAME' or '*'"
        ) from exc


@dataclass(frozen=True, slots=True)
class NetworkACL:
    """One network access rule (see the module docstring for how it matches and decides)."""

    name: str
    priority: int
    action: AclAction
    source_nodes: tuple[str, ...] = ()
    destination_nodes: tuple[str, ...] = ()
    source_cidrs: tuple[str, ...] = ()
    destination_cidrs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        validate_name(self.name, what="network ACL")
        if (
            not isinstance(self.priority, int)
            or isinstance(self.priority, bool)
            or not MIN_PRIORITY <= self.priority <= MAX_PRIORITY
        ):
            raise errors.InvalidArgument(
                f"network ACL {self.name}: invalid priority {self.priority!r}: expected an "
                f"integer from {MIN_PRIORITY} to {MAX_PRIORITY} (higher wins)"
            )
        object.__setattr__(self, "action", parse_enum(AclAction, self.action, what="ACL action"))
        for field in ("source_nodes", "destination_nodes"):
            selectors = as_tuple(getattr(self, field), what=field)
            object.__setattr__(self, field, tuple(validate_selector(s) for s in selectors))
        for field in ("source_cidrs", "destination_cidrs"):
            cidrs = as_tuple(getattr(self, field), what=field)
            for cidr in cidrs:
                if not isinstance(cidr, str):
                    raise errors.InvalidArgument(f"invalid CIDR {cidr!r} in {field}")
            object.__setattr__(self, field, tuple(validate_cidr(c) for c in cidrs))
        for side in ("source", "destination"):
            if not getattr(self, f"{side}_nodes") and not getattr(self, f"{side}_cidrs"):
                raise errors.InvalidArgument(
                    f"network ACL {self.name} has no {side}: give {side} nodes ('*' for every "
                    f"node) or {side} CIDRs"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "priority": self.priority,
            "action": self.action.value,
            "source_nodes": list(self.source_nodes),
            "destination_nodes": list(self.destination_nodes),
            "source_cidrs": list(self.source_cidrs),
            "destination_cidrs": list(self.destination_cidrs),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> NetworkACL:
        with malformed("network ACL"):
            return cls(
                name=raw["name"],
                priority=raw.get("priority", 0),
                action=raw["action"],
                source_nodes=as_tuple(raw.get("source_nodes", ()), what="source_nodes"),
                destination_nodes=as_tuple(
                    raw.get("destination_nodes", ()), what="destination_nodes"
                ),
                source_cidrs=as_tuple(raw.get("source_cidrs", ()), what="source_cidrs"),
                destination_cidrs=as_tuple(
                    raw.get("destination_cidrs", ()), what="destination_cidrs"
                ),
            )


# --- evaluation ---------------------------------------------------------------------------


def _within(inner: _Net, outer: _Net) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _exclude(net: _Net, cut: _Net) -> list[_Net]:
    """``net`` minus ``cut`` (``cut`` strictly inside ``net``), as prefixes."""
    if isinstance(net, ipaddress.IPv4Network) and isinstance(cut, ipaddress.IPv4Network):
        return list(net.address_exclude(cut))
    if isinstance(net, ipaddress.IPv6Network) and isinstance(cut, ipaddress.IPv6Network):
        return list(net.address_exclude(cut))
    raise AssertionError("mixed address families")  # pragma: no cover


def _partition(net: _Net, cuts: Iterable[_Net]) -> list[_Net]:
    """Split ``net`` so that each piece lies within, or outside, every cut."""
    pieces = [net]
    for cut in cuts:
        split: list[_Net] = []
        for piece in pieces:
            if cut != piece and _within(cut, piece):
                split.extend(_exclude(piece, cut))
                split.append(cut)
            else:
                split.append(piece)
        pieces = split
    return pieces


def _collapse(pieces: list[_Net]) -> list[_Net]:
    v4 = [p for p in pieces if isinstance(p, ipaddress.IPv4Network)]
    v6 = [p for p in pieces if isinstance(p, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def _parse(cidrs: Iterable[str]) -> tuple[_Net, ...]:
    return tuple(ipaddress.ip_network(validate_cidr(c)) for c in cidrs)


@dataclass(frozen=True, slots=True)
class _Compiled:
    acl: NetworkACL
    accept: bool
    src_nodes: frozenset[str] | None  # None: no node constraint
    dst_nodes: frozenset[str] | None
    src_any: bool
    dst_any: bool
    src_nets: tuple[_Net, ...]
    dst_nets: tuple[_Net, ...]

    def selects_destination(self, node_id: str) -> bool:
        return self.dst_nodes is None or self.dst_any or node_id in self.dst_nodes

    def matches_sources(self, src_nets: tuple[_Net, ...]) -> bool:
        if not self.src_nets:
            return True
        return any(_within(s, allowed) for s in src_nets for allowed in self.src_nets)

    def matches_destination(self, piece: _Net | None) -> bool:
        if not self.dst_nets:
            return True
        return piece is not None and any(_within(piece, d) for d in self.dst_nets)


def _resolve(selectors: tuple[str, ...], groups: Mapping[str, Group]) -> frozenset[str] | None:
    if not selectors:
        return None
    nodes: set[str] = set()
    for selector in selectors:
        if selector.startswith(GROUP_PREFIX):
            group = groups.get(selector[len(GROUP_PREFIX) :])
            if group is not None:
                nodes.update(m.name for m in group.members if m.kind is SubjectKind.NODE)
        elif selector != ANY_NODE:
            nodes.add(selector)
    return frozenset(nodes)


def _compile(acl: NetworkACL, groups: Mapping[str, Group]) -> _Compiled:
    return _Compiled(
        acl=acl,
        accept=acl.action is AclAction.ACCEPT,
        src_nodes=_resolve(acl.source_nodes, groups),
        dst_nodes=_resolve(acl.destination_nodes, groups),
        src_any=ANY_NODE in acl.source_nodes,
        dst_any=ANY_NODE in acl.destination_nodes,
        src_nets=_parse(acl.source_cidrs),
        dst_nets=_parse(acl.destination_cidrs),
    )


def decision_order(acl: NetworkACL) -> tuple[int, int, str]:
    """Sort key: higher priority first, then deny before accept, then by name."""
    return (-acl.priority, 0 if acl.action is AclAction.DENY else 1, acl.name)


def _values(objects: Mapping[str, Any] | Iterable[Any]) -> list[Any]:
    return list(objects.values()) if isinstance(objects, Mapping) else list(objects)


class AclView:
    """Compiled network ACLs with the groups they refer to and the default policy."""

    __slots__ = ("_by_source", "_compiled", "_default_accept", "acls", "default_policy")

    def __init__(
        self,
        acls: Mapping[str, NetworkACL] | Iterable[NetworkACL] = (),
        groups: Mapping[str, Group] | Iterable[Group] = (),
        default_policy: AclAction | str = AclAction.ACCEPT,
    ) -> None:
        by_name = {g.name: g for g in _values(groups)}
        ordered = sorted(_values(acls), key=decision_order)
        self.acls: tuple[NetworkACL, ...] = tuple(ordered)
        self.default_policy = parse_enum(AclAction, default_policy, what="default network policy")
        self._default_accept = self.default_policy is AclAction.ACCEPT
        self._compiled = tuple(_compile(acl, by_name) for acl in ordered)
        # Source node -> the compiled ACLs whose source nodes select it, in decision order.
        # Filled lazily; a race between threads only computes the same entry twice.
        self._by_source: dict[str, tuple[_Compiled, ...]] = {}

    def _for_source(self, src: str) -> tuple[_Compiled, ...]:
        cached = self._by_source.get(src)
        if cached is None:
            cached = tuple(
                c for c in self._compiled if c.src_nodes is None or c.src_any or src in c.src_nodes
            )
            self._by_source[src] = cached
        return cached

    def _for_pair(self, src: str, dst: str, src_nets: tuple[_Net, ...]) -> list[_Compiled]:
        return [
            c
            for c in self._for_source(src)
            if c.selects_destination(dst) and c.matches_sources(src_nets)
        ]

    @staticmethod
    def _first(candidates: list[_Compiled], piece: _Net | None) -> _Compiled | None:
        for c in candidates:
            if c.matches_destination(piece):
                return c
        return None

    def _accepts(self, candidates: list[_Compiled], piece: _Net | None) -> bool:
        decider = self._first(candidates, piece)
        return self._default_accept if decider is None else decider.accept

    def _allowed_pieces(self, candidates: list[_Compiled], net: _Net) -> list[_Net]:
        cuts = [d for c in candidates for d in c.dst_nets if d != net and _within(d, net)]
        pieces = _partition(net, cuts)
        return _collapse([p for p in pieces if self._accepts(candidates, p)])

    def allows(
        self,
        src_node_id: str,
        dst_node_id: str,
        *,
        src_cidrs: Iterable[str] = (),
        dst_cidrs: Iterable[str] = (),
    ) -> bool:
        """Whether ``src`` may send to ``dst``.

        Without ``dst_cidrs`` only node selectors decide (ACLs with destination CIDRs do not
        match); with them, every address of every given prefix must be allowed. ``src_cidrs``
        are the source's prefixes, for ACLs with source CIDRs (without them those never match).
        """
        candidates = self._for_pair(src_node_id, dst_node_id, _parse(src_cidrs))
        nets = _parse(dst_cidrs)
        if not nets:
            return self._accepts(candidates, None)
        return all(self._allowed_pieces(candidates, net) == [net] for net in nets)

    def allowed_prefixes(
        self,
        src_node_id: str,
        dst_node_id: str,
        dst_prefixes: Iterable[str],
        *,
        src_cidrs: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """The parts of ``dst``'s prefixes (addresses and routes) that ``src`` may reach.

        A prefix allowed whole comes back as given; one that an ACL CIDR splits comes back as
        its allowed pieces (canonical, collapsed); one denied whole is dropped. Order is kept.
        """
        candidates = self._for_pair(src_node_id, dst_node_id, _parse(src_cidrs))
        allowed: list[str] = []
        for prefix in dst_prefixes:
            net = ipaddress.ip_network(validate_cidr(prefix))
            pieces = self._allowed_pieces(candidates, net)
            if pieces == [net]:
                allowed.append(prefix)
            else:
                allowed.extend(str(p) for p in pieces)
        return tuple(allowed)

    def deciding_acl(
        self,
        src_node_id: str,
        dst_node_id: str,
        *,
        src_cidrs: Iterable[str] = (),
        dst_cidr: str = "",
    ) -> NetworkACL | None:
        """The ACL that decides for this pair (and destination prefix), None for the default.

        For explaining a decision (logs, wmctl). With ``dst_cidr``, meant for a prefix no ACL
        CIDR splits: ``allowed_prefixes`` is the authority for prefixes.
        """
        candidates = self._for_pair(src_node_id, dst_node_id, _parse(src_cidrs))
        piece = ipaddress.ip_network(validate_cidr(dst_cidr)) if dst_cidr else None
        decider = self._first(candidates, piece)
        return None if decider is None else decider.acl
