"""Network ACLs: validation, round trips and evaluation (priorities, ties, groups, CIDRs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webmesh import errors
from webmesh.authz.acl import AclAction, AclView, NetworkACL
from webmesh.authz.model import Group, Subject, SubjectKind

ACCEPT, DENY = AclAction.ACCEPT, AclAction.DENY


def acl(name: str, priority: int, action: AclAction, **kw: Any) -> NetworkACL:
    return NetworkACL(name=name, priority=priority, action=action, **kw)


GROUPS = (
    Group(
        "web",
        (
            Subject(SubjectKind.NODE, "w1"),
            Subject(SubjectKind.NODE, "w2"),
            Subject(SubjectKind.USER, "u"),
        ),
    ),
)


# --- model ------------------------------------------------------------------------------------


def test_roundtrip_and_canonical_cidrs() -> None:
    original = acl(
        "deny-b-c",
        100,
        DENY,
        source_nodes=("b", "group:web"),
        destination_nodes=("*",),
        source_cidrs=("10.0.0.5/24",),
        destination_cidrs=("fd00::1/64",),
    )
    assert original.source_cidrs == ("10.0.0.0/24",)
    assert original.destination_cidrs == ("fd00::/64",)
    assert NetworkACL.from_dict(json.loads(json.dumps(original.to_dict()))) == original
    assert NetworkACL.from_dict(
        {"name": "x", "action": "accept", "source_nodes": ["*"], "destination_nodes": ["*"]}
    ) == acl("x", 0, ACCEPT, source_nodes=("*",), destination_nodes=("*",))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "Bad"}, "invalid network ACL name 'Bad'"),
        ({"priority": 1.5}, "invalid priority"),
        ({"priority": True}, "invalid priority"),
        ({"priority": 2**31}, "invalid priority"),
        ({"action": "drop"}, "invalid ACL action 'drop'"),
        ({"source_nodes": ("no way",)}, "invalid node selector 'no way'"),
        ({"source_nodes": ("group:Web",)}, "invalid group name 'Web'"),
        ({"destination_nodes": "b"}, "destination_nodes must be a list"),
        ({"source_cidrs": ("10.0.0.0/33",)}, "invalid CIDR"),
        ({"source_nodes": (), "source_cidrs": ()}, "has no source"),
        ({"destination_nodes": ()}, "has no destination"),
    ],
)
def test_validation(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "name": "x",
        "priority": 1,
        "action": "deny",
        "source_nodes": ("a",),
        "destination_nodes": ("b",),
    }
    base.update(fields)
    with pytest.raises(errors.InvalidArgument, match=message):
        NetworkACL(**base)


def test_from_dict_malformed() -> None:
    with pytest.raises(errors.InvalidArgument, match="malformed network ACL"):
        NetworkACL.from_dict({"priority": 1})


# --- node-level decisions ---------------------------------------------------------------------

ACLS = (
    acl("deny-b-c", 100, DENY, source_nodes=("b",), destination_nodes=("c",)),
    acl("web-to-db", 50, ACCEPT, source_nodes=("group:web",), destination_nodes=("db",)),
    acl("no-db", 10, DENY, source_nodes=("*",), destination_nodes=("db",)),
    # a tie at 20: deny wins whatever the names
    acl("a-accept-x", 20, ACCEPT, source_nodes=("x",), destination_nodes=("y",)),
    acl("z-deny-x", 20, DENY, source_nodes=("x",), destination_nodes=("y",)),
    # unknown group selects nobody
    acl("ghosts", 99, DENY, source_nodes=("group:ghosts",), destination_nodes=("*",)),
)


@pytest.mark.parametrize(
    ("default", "src", "dst", "allowed", "decider"),
    [
        ("accept", "b", "c", False, "deny-b-c"),
        ("accept", "c", "b", True, None),  # ACLs are directional
        ("accept", "a", "c", True, None),
        ("accept", "w1", "db", True, "web-to-db"),
        ("accept", "w2", "db", True, "web-to-db"),
        ("accept", "u", "db", False, "no-db"),  # users in a group are not nodes
        ("accept", "a", "db", False, "no-db"),
        ("accept", "x", "y", False, "z-deny-x"),
        ("accept", "y", "x", True, None),
        ("deny", "a", "c", False, None),
        ("deny", "w1", "db", True, "web-to-db"),
        ("deny", "b", "c", False, "deny-b-c"),
    ],
)
def test_node_decisions(
    default: str, src: str, dst: str, allowed: bool, decider: str | None
) -> None:
    view = AclView(ACLS, GROUPS, default)
    assert view.allows(src, dst) is allowed
    found = view.deciding_acl(src, dst)
    assert (found.name if found else None) == decider


def test_tie_between_same_actions_is_decided_by_name() -> None:
    view = AclView(
        [
            acl("b-second", 5, ACCEPT, source_nodes=("*",), destination_nodes=("*",)),
            acl("a-first", 5, ACCEPT, source_nodes=("*",), destination_nodes=("*",)),
        ],
        default_policy="deny",
    )
    assert [a.name for a in view.acls] == ["a-first", "b-second"]
    decider = view.deciding_acl("p", "q")
    assert decider is not None and decider.name == "a-first"


def test_no_acls_uses_the_default_policy() -> None:
    assert AclView().allows("a", "b") is True
    assert AclView(default_policy=DENY).allows("a", "b") is False
    with pytest.raises(errors.InvalidArgument, match="invalid default network policy"):
        AclView(default_policy="maybe")


def test_acls_and_groups_accept_mappings() -> None:
    view = AclView({a.name: a for a in ACLS}, {g.name: g for g in GROUPS})
    assert view.allows("w1", "db") and not view.allows("b", "c")


def test_higher_priority_accept_overrides_lower_deny_for_one_pair() -> None:
    view = AclView(
        [
            acl("isolate-c", 10, DENY, source_nodes=("*",), destination_nodes=("c",)),
            acl("but-admin", 11, ACCEPT, source_nodes=("admin",), destination_nodes=("c",)),
        ]
    )
    assert view.allows("admin", "c")
    assert not view.allows("b", "c")
    assert view.allows("c", "b")


# --- CIDRs ------------------------------------------------------------------------------------

B, C = "172.16.0.2/32", "172.16.0.3/32"
C_V6 = "fd00:1:2:3::/64"
ROUTE = "10.0.0.0/16"


@pytest.mark.parametrize(
    ("acls", "default", "prefixes", "expected"),
    [
        # nothing applies: everything, as given
        ((), "accept", (C, C_V6, ROUTE), (C, C_V6, ROUTE)),
        ((), "deny", (C, C_V6, ROUTE), ()),
        # a node deny removes everything
        (
            (acl("n", 1, DENY, source_nodes=("b",), destination_nodes=("c",)),),
            "accept",
            (C, ROUTE),
            (),
        ),
        # a CIDR deny removes the covered prefix only
        (
            (acl("r", 1, DENY, source_nodes=("*",), destination_cidrs=("10.0.0.0/8",)),),
            "accept",
            (C, C_V6, ROUTE),
            (C, C_V6),
        ),
        # a deny inside a route carves it out
        (
            (acl("r", 1, DENY, source_nodes=("b",), destination_cidrs=("10.0.1.0/24",)),),
            "accept",
            (C, ROUTE),
            (
                C,
                "10.0.0.0/24",
                "10.0.2.0/23",
                "10.0.4.0/22",
                "10.0.8.0/21",
                "10.0.16.0/20",
                "10.0.32.0/19",
                "10.0.64.0/18",
                "10.0.128.0/17",
            ),
        ),
        # an accept inside a route under a deny default keeps only it
        (
            (acl("r", 1, ACCEPT, source_nodes=("b",), destination_cidrs=("10.0.1.0/24",)),),
            "deny",
            (C, ROUTE),
            ("10.0.1.0/24",),
        ),
        # IPv6-only CIDRs do not touch IPv4 prefixes
        (
            (acl("v6", 1, DENY, source_nodes=("*",), destination_cidrs=("fd00::/8",)),),
            "accept",
            (C, C_V6),
            (C,),
        ),
        # a destination-node constraint and a CIDR must both match
        (
            (
                acl(
                    "both",
                    1,
                    DENY,
                    source_nodes=("*",),
                    destination_nodes=("other",),
                    destination_cidrs=("0.0.0.0/0",),
                ),
            ),
            "accept",
            (C,),
            (C,),
        ),
        # higher-priority accept of a sub-range wins over a lower deny of the whole
        (
            (
                acl("deny-all", 1, DENY, source_nodes=("*",), destination_cidrs=("10.0.0.0/16",)),
                acl("keep-one", 2, ACCEPT, source_nodes=("b",), destination_cidrs=("10.0.5.0/24",)),
            ),
            "accept",
            (ROUTE, C),
            ("10.0.5.0/24", C),
        ),
        # the carve-outs recombine when a later accept gives back the rest
        (
            (
                acl("d", 1, DENY, source_nodes=("*",), destination_cidrs=("10.0.1.0/24",)),
                acl("a", 2, ACCEPT, source_nodes=("*",), destination_cidrs=("10.0.1.0/25",)),
                acl("a2", 2, ACCEPT, source_nodes=("*",), destination_cidrs=("10.0.1.128/25",)),
            ),
            "accept",
            (ROUTE,),
            (ROUTE,),
        ),
    ],
)
def test_allowed_prefixes(
    acls: tuple[NetworkACL, ...], default: str, prefixes: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    view = AclView(acls, GROUPS, default)
    assert view.allowed_prefixes("b", "c", prefixes) == expected


def test_source_cidrs() -> None:
    view = AclView(
        [acl("from-lab", 1, DENY, source_cidrs=("192.168.0.0/16",), destination_nodes=("*",))]
    )
    assert not view.allows("b", "c", src_cidrs=("192.168.1.0/24",))
    assert view.allows("b", "c", src_cidrs=("172.16.0.2/32",))
    assert view.allows("b", "c")  # no source prefixes given: a CIDR-only source never matches
    assert view.allowed_prefixes("b", "c", (C,), src_cidrs=(B, "192.168.1.0/24")) == ()


def test_allows_with_destination_cidrs_needs_all_of_them() -> None:
    view = AclView([acl("r", 1, DENY, source_nodes=("*",), destination_cidrs=("10.0.1.0/24",))])
    assert view.allows("b", "c", dst_cidrs=(C,))
    assert not view.allows("b", "c", dst_cidrs=(C, ROUTE))
    assert not view.allows("b", "c", dst_cidrs=("10.0.1.7/32",))
    assert view.allows("b", "c")  # node level: CIDR ACLs do not match
    decider = view.deciding_acl("b", "c", dst_cidr="10.0.1.0/25")
    assert decider is not None and decider.name == "r"


def test_many_pairs_use_the_per_source_cache() -> None:
    acls = [
        acl(f"n{i}", i, DENY, source_nodes=(f"s{i}",), destination_nodes=(f"d{i}",))
        for i in range(200)
    ]
    view = AclView(acls, default_policy="accept")
    for i in range(200):
        assert not view.allows(f"s{i}", f"d{i}")
        assert view.allows(f"s{i}", f"d{i + 1}")
    assert len(view._for_source("s5")) == 1
