"""Answers for the mesh domain: ``<node-id>.<domain>`` A and AAAA, from a lookup function.

What the server does with a query is decided here, without I/O: answer it from the mesh
(authoritatively), say it does not exist, hand it to the forwarder (a name outside the mesh
domain), or refuse it. TTLs are short on purpose: a node that joins must resolve within a
second, and one that leaves must stop resolving, even behind a caching resolver.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 1  # seconds, for the records and for negative answers (the SOA's minimum)


@dataclass(frozen=True, slots=True)
class Addresses:
    """What a name resolves to."""

    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()


Lookup = Callable[[str], Addresses | None]
"""The name below the domain (as asked, without the trailing dot) -> its addresses, or None."""


class Outcome(enum.StrEnum):
    """What became of a query (a metrics label)."""

    ANSWERED = "answered"  # a name of the mesh, with records or without (NODATA)
    NXDOMAIN = "nxdomain"  # in the mesh domain, but no such node
    FORWARD = "forward"  # outside the mesh domain: the forwarder's, or refused
    REFUSED = "refused"  # not a question we answer (class, zone transfer, forwarding off)
    NOTIMP = "notimp"  # not a standard query
    FORMERR = "formerr"  # not exactly one question


@dataclass(frozen=True, slots=True)
class Zone:
    """The mesh domain and how to look its names up."""

    domain: dns.name.Name
    lookup: Lookup

    @classmethod
    def of(cls, domain: str, lookup: Lookup) -> Zone:
        return cls(dns.name.from_text(domain), lookup)


_NO_ANSWER_TYPES = frozenset({dns.rdatatype.AXFR, dns.rdatatype.IXFR})


def answer(zone: Zone, query: dns.message.Message) -> tuple[dns.message.Message | None, Outcome]:
    """The response to ``query`` and what it was; None with ``FORWARD`` for other domains."""
    unanswerable = _unanswerable(query)
    if unanswerable is not None:
        return _error(query, unanswerable[0]), unanswerable[1]
    name, rdtype = query.question[0].name, query.question[0].rdtype
    if not name.is_subdomain(zone.domain):
        return None, Outcome.FORWARD
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if name == zone.domain:
        _answer_apex(zone, response, rdtype)
        return response, Outcome.ANSWERED
    found = zone.lookup(name.relativize(zone.domain).to_text(omit_final_dot=True))
    if found is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(_soa(zone))
        return response, Outcome.NXDOMAIN
    records = _address_records(name, rdtype, found)
    if records:
        response.answer.extend(records)
    else:
        response.authority.append(_soa(zone))  # NODATA: the name exists, not with this type
    return response, Outcome.ANSWERED


def _unanswerable(query: dns.message.Message) -> tuple[dns.rcode.Rcode, Outcome] | None:
    """Why no server answers this query, if it is not one plain question of class IN."""
    if query.opcode() != dns.opcode.QUERY:
        return dns.rcode.NOTIMP, Outcome.NOTIMP
    if len(query.question) != 1:
        return dns.rcode.FORMERR, Outcome.FORMERR
    question = query.question[0]
    if question.rdclass != dns.rdataclass.IN or question.rdtype in _NO_ANSWER_TYPES:
        return dns.rcode.REFUSED, Outcome.REFUSED
    return None


def refused(query: dns.message.Message) -> dns.message.Message:
    """REFUSED: forwarding is off, or the forwarder is busy."""
    return _error(query, dns.rcode.REFUSED)


def server_failure(query: dns.message.Message) -> dns.message.Message:
    """SERVFAIL: the upstream resolvers did not answer."""
    return _error(query, dns.rcode.SERVFAIL)


def _error(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    return response


def _address_records(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, found: Addresses
) -> list[dns.rrset.RRset]:
    wanted: list[tuple[dns.rdatatype.RdataType, tuple[str, ...]]] = []
    if rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
        wanted.append((dns.rdatatype.A, found.ipv4))
    if rdtype in (dns.rdatatype.AAAA, dns.rdatatype.ANY):
        wanted.append((dns.rdatatype.AAAA, found.ipv6))
    return [
        dns.rrset.from_text_list(name, TTL, dns.rdataclass.IN, kind, list(addresses))
        for kind, addresses in wanted
        if addresses
    ]


def _answer_apex(zone: Zone, response: dns.message.Message, rdtype: int) -> None:
    if rdtype in (dns.rdatatype.SOA, dns.rdatatype.ANY):
        response.answer.append(_soa(zone))
    else:
        response.authority.append(_soa(zone))


def _soa(zone: Zone) -> dns.rrset.RRset:
    """The zone's SOA: its minimum is the negative-caching TTL (RFC 2308)."""
    domain = zone.domain
    text = f"{domain} hostmaster.{domain} 1 60 60 60 {TTL}"
    return dns.rrset.from_text(domain, TTL, dns.rdataclass.IN, dns.rdatatype.SOA, text)
