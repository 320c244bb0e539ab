"""Answers for the mesh domain: authoritative, short-lived, and refusing what is not a question."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from webmesh.dns.answer import TTL, Addresses, Outcome, Zone, answer, refused, server_failure

DOMAIN = "webmesh.internal"
NODES = {
    "node-a": Addresses(ipv4=("172.16.0.1",), ipv6=("fd00:1:2:1::1",)),
    "v4-only": Addresses(ipv4=("172.16.0.2",)),
    "a.b": Addresses(ipv4=("172.16.0.3",)),
}


def zone(nodes: dict[str, Addresses] | None = None) -> Zone:
    return Zone.of(DOMAIN, (NODES if nodes is None else nodes).get)


def query(name: str, rdtype: str = "A", rdclass: str = "IN") -> dns.message.Message:
    return dns.message.make_query(name, rdtype, rdclass)


def ask(name: str, rdtype: str = "A") -> tuple[dns.message.Message, Outcome]:
    q = query(name, rdtype)
    response, outcome = answer(zone(), q)
    assert response is not None
    assert response.id == q.id
    return response, outcome


def addresses(response: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> set[str]:
    return {rd.to_text() for rrset in response.answer if rrset.rdtype == rdtype for rd in rrset}


def assert_soa_in_authority(response: dns.message.Message) -> None:
    (soa,) = response.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name == dns.name.from_text(DOMAIN)
    assert soa[0].minimum == TTL  # the negative-caching TTL (RFC 2308)


def test_a_query_for_a_node_is_answered_authoritatively_with_its_ipv4() -> None:
    response, outcome = ask("node-a.webmesh.internal.")
    assert outcome is Outcome.ANSWERED
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert response.flags & dns.flags.QR
    (rrset,) = response.answer
    assert rrset.name == dns.name.from_text("node-a.webmesh.internal.")
    assert rrset.rdtype == dns.rdatatype.A
    assert rrset.ttl == TTL == 1
    assert addresses(response, dns.rdatatype.A) == {"172.16.0.1"}
    assert not response.authority


def test_aaaa_query_for_a_node_is_answered_with_its_ipv6() -> None:
    response, outcome = ask("node-a.webmesh.internal.", "AAAA")
    assert outcome is Outcome.ANSWERED
    assert response.flags & dns.flags.AA
    (rrset,) = response.answer
    assert rrset.rdtype == dns.rdatatype.AAAA and rrset.ttl == TTL
    assert addresses(response, dns.rdatatype.AAAA) == {"fd00:1:2:1::1"}


def test_any_query_gives_both_address_families() -> None:
    response, outcome = ask("node-a.webmesh.internal.", "ANY")
    assert outcome is Outcome.ANSWERED
    assert {rrset.rdtype for rrset in response.answer} == {dns.rdatatype.A, dns.rdatatype.AAAA}
    assert addresses(response, dns.rdatatype.A) == {"172.16.0.1"}
    assert addresses(response, dns.rdatatype.AAAA) == {"fd00:1:2:1::1"}


def test_aaaa_for_a_node_without_ipv6_is_nodata_with_the_soa() -> None:
    """NOERROR with no answer (NODATA), not NXDOMAIN: the name exists, its A must keep working."""
    response, outcome = ask("v4-only.webmesh.internal.", "AAAA")
    assert outcome is Outcome.ANSWERED
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert not response.answer
    assert_soa_in_authority(response)


def test_an_unknown_name_in_the_domain_is_nxdomain_with_the_soa() -> None:
    response, outcome = ask("nobody.webmesh.internal.")
    assert outcome is Outcome.NXDOMAIN
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert not response.answer
    assert_soa_in_authority(response)


def test_the_lookup_gets_the_name_below_the_domain_as_asked() -> None:
    asked: list[str] = []

    def lookup(name: str) -> Addresses | None:
        asked.append(name)
        return None

    answer(Zone.of(DOMAIN, lookup), query("Node-A.x.WebMesh.Internal."))
    assert asked == ["Node-A.x"]


def test_a_multi_label_node_id_resolves() -> None:
    response, outcome = ask("a.b.webmesh.internal.")
    assert outcome is Outcome.ANSWERED
    assert addresses(response, dns.rdatatype.A) == {"172.16.0.3"}


def test_the_apex_asked_for_its_soa_answers_it() -> None:
    response, outcome = ask("webmesh.internal.", "SOA")
    assert outcome is Outcome.ANSWERED
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    (soa,) = response.answer
    assert soa.rdtype == dns.rdatatype.SOA and soa.name == dns.name.from_text(DOMAIN)
    assert not response.authority


def test_the_apex_asked_for_an_address_is_nodata() -> None:
    response, outcome = ask("webmesh.internal.", "A")
    assert outcome is Outcome.ANSWERED
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.answer
    assert_soa_in_authority(response)


def test_a_name_outside_the_domain_goes_to_the_forwarder() -> None:
    assert answer(zone(), query("example.com.")) == (None, Outcome.FORWARD)
    # A suffix that is not a label boundary is outside too.
    assert answer(zone(), query("notwebmesh.internal.")) == (None, Outcome.FORWARD)


def test_a_question_of_another_class_is_refused() -> None:
    q = query("node-a.webmesh.internal.", "A", "CH")
    response, outcome = answer(zone(), q)
    assert outcome is Outcome.REFUSED
    assert response is not None and response.rcode() == dns.rcode.REFUSED
    assert response.id == q.id and not response.answer


def test_a_zone_transfer_is_refused() -> None:
    for rdtype in ("AXFR", "IXFR"):
        response, outcome = answer(zone(), query("webmesh.internal.", rdtype))
        assert outcome is Outcome.REFUSED
        assert response is not None and response.rcode() == dns.rcode.REFUSED
        assert not response.answer


def test_opcodes_other_than_query_are_not_implemented() -> None:
    for opcode in (dns.opcode.NOTIFY, dns.opcode.UPDATE):
        q = query("node-a.webmesh.internal.")
        q.set_opcode(opcode)
        response, outcome = answer(zone(), q)
        assert outcome is Outcome.NOTIMP
        assert response is not None and response.rcode() == dns.rcode.NOTIMP
        assert response.id == q.id


def test_two_questions_are_a_format_error() -> None:
    q = query("node-a.webmesh.internal.")
    name = dns.name.from_text("v4-only.webmesh.internal.")
    q.question.append(dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.A))
    response, outcome = answer(zone(), q)
    assert outcome is Outcome.FORMERR
    assert response is not None and response.rcode() == dns.rcode.FORMERR
    assert response.id == q.id and not response.answer


def test_refused_and_server_failure_keep_the_query_id() -> None:
    q = query("example.com.")
    for response, rcode in (
        (refused(q), dns.rcode.REFUSED),
        (server_failure(q), dns.rcode.SERVFAIL),
    ):
        assert response.rcode() == rcode
        assert response.id == q.id
        assert response.flags & dns.flags.QR
        assert response.question == q.question
        assert not response.answer
