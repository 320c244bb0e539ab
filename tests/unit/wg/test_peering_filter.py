"""The peering gateway's export filter as nft text: from the other mesh's accepted prefixes, to
anything this mesh does not export, drop; per address family, in both the forward and input
hooks; nothing else."""

from __future__ import annotations

from webmesh.wg.peering_filter import TABLE, ruleset


def test_one_peering_drops_what_is_not_exported_in_forward_and_input() -> None:
    text = ruleset("webmesh0", [(("10.20.0.0/16",), ("10.10.0.5/32", "10.10.7.0/24"))])
    drop = (
        'iifname "webmesh0" ip saddr { 10.20.0.0/16 } '
        "ip daddr != { 10.10.0.5/32, 10.10.7.0/24 } drop"
    )
    assert text.count(drop) == 2
    assert "hook forward" in text and "hook input" in text
    assert text.startswith(f"table inet {TABLE} {{}}\nflush table inet {TABLE}\n")
    assert "policy accept" in text  # the host's other traffic is not ours to judge


def test_families_are_kept_apart_and_nothing_exported_drops_everything() -> None:
    text = ruleset("wm", [(("10.20.0.0/16", "fd20::/48"), ("10.10.0.0/16",))])
    assert "ip saddr { 10.20.0.0/16 } ip daddr != { 10.10.0.0/16 } drop" in text
    assert "ip6 saddr { fd20::/48 } drop" in text  # no IPv6 exported: none of it gets in


def test_several_peerings_each_get_their_rule() -> None:
    text = ruleset(
        "wm", [(("10.20.0.0/16",), ("10.10.0.0/16",)), (("10.30.0.0/16",), ("10.10.1.0/24",))]
    )
    assert text.count(" drop") == 4
