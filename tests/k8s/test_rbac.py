"""The operator's RBAC: what the chart grants is what the operator uses, no more and no less.

Reads the API server's audit log of this session: every request the operator's ServiceAccount
made while test_operator.py ran (the modules of tests/k8s run in order in one process).
Fails when a request was refused (the chart misses a permission) or when a granted
(apiGroup, resource, verb) was never used and is not listed in ``UNEXERCISED`` with a reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.kubeapi import KubeAPI

pytestmark = pytest.mark.k8s

# (apiGroup, resource, verb) granted by the chart that these tests cannot make the operator use,
# with the reason. Anything granted, not used and not listed here fails the test.
UNEXERCISED: dict[tuple[str, str, str], str] = {}


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    triples = set()
    for rule in rules:
        assert "nonResourceURLs" not in rule, rule
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard {field} in {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                triples |= {(group, resource, verb) for verb in rule["verbs"]}
    return triples


def used(events: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource[/subresource], verb) of every allowed request (an SSA create: create)."""
    triples = set()
    for event in events:
        ref = event.get("objectRef")
        code = event.get("responseStatus", {}).get("code", 0)
        if not ref or code == 403:
            continue
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        key = (ref.get("apiGroup", ""), resource)
        triples.add((*key, event["verb"]))
        if event["verb"] == "patch" and code == 201:  # server-side apply created the object
            triples.add((*key, "create"))
    return triples


def test_the_operator_used_exactly_the_permissions_the_chart_grants(
    kube: KubeAPI, operator_account: Any
) -> None:
    events = kube.audit_events(operator_account.username)
    assert events, (
        f"no audited request of {operator_account.username}: this test reads what the "
        "operator did in test_operator.py; run it together with that module"
    )
    refused = sorted(
        {
            f"{e['verb']} {e['requestURI']}"
            for e in events
            if e.get("responseStatus", {}).get("code") == 403
        }
    )
    assert not refused, f"refused requests (missing from {operator_account.source}): {refused}"
    unused = granted(operator_account.rules) - used(events) - set(UNEXERCISED)
    assert not unused, (
        f"granted by {operator_account.source} but never used (drop them, or list them in "
        f"UNEXERCISED with the reason): {sorted(unused)}"
    )
