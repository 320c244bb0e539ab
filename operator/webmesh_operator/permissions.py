"""Every Kubernetes API call the operator makes, as RBAC rules.

One list, three uses: the Helm chart's ClusterRole must grant exactly these rules (a unit test
renders the chart and compares), the operator run against a real API server with a token bound
to that ClusterRole must never be refused and must use every verb listed here (the API server's
audit log is the witness), and the docs print it. Adding a call to the operator means adding it
here, so the chart follows.
"""

from __future__ import annotations

import dataclasses

GROUP = "mesh.webmesh.io"


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One RBAC policy rule, and why the operator needs it."""

    api_group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str

    def as_policy_rule(self) -> dict[str, list[str]]:
        """The rule as a ClusterRole's ``rules[]`` item."""
        return {
            "apiGroups": [self.api_group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


# Children are written with server-side apply (PATCH; the API server also authorises `create`
# when the object does not exist yet), `list` finds children to prune by label, `delete` prunes
# and cleans up; `get` only where the operator reads an object back.
_WRITE_VERBS = ("list", "create", "patch", "delete")
_READ_WRITE_VERBS = ("get", *_WRITE_VERBS)

RULES: tuple[Rule, ...] = (
    Rule(
        GROUP,
        ("meshes",),
        ("get", "list", "watch", "patch"),
        "kopf lists, watches and patches (finalizer, progress annotations); a Node group reads "
        "its Mesh",
    ),
    Rule(GROUP, ("nodes",), ("list", "watch", "patch"), "kopf lists, watches and patches"),
    Rule(
        GROUP,
        ("meshes/status", "nodes/status"),
        ("patch",),
        "publish phase, conditions, leader and members",
    ),
    Rule("", ("configmaps",), _WRITE_VERBS, "the node config file"),
    Rule(
        "",
        ("services",),
        _READ_WRITE_VERBS,
        "the headless, external and MeshDNS Services; read back for a load balancer's address "
        "and MeshDNS's cluster IP",
    ),
    Rule(
        "",
        ("secrets",),
        _READ_WRITE_VERBS,
        "the mesh CA, per-pod certificates and the admin wmctl config; read back so generated "
        "keys are kept",
    ),
    Rule(
        "apps",
        ("statefulsets",),
        _READ_WRITE_VERBS,
        "servers and Node groups; read back for their readiness",
    ),
    Rule("policy", ("poddisruptionbudgets",), _WRITE_VERBS, "keep a Raft quorum during drains"),
    Rule("", ("events",), ("create",), "kopf reports handler outcomes as Events"),
    Rule(
        "coordination.k8s.io",
        ("leases",),
        ("get", "create", "update"),
        "leader election between operator replicas",
    ),
)


def as_policy_rules() -> list[dict[str, list[str]]]:
    """:data:`RULES` as a ClusterRole's ``rules``."""
    return [rule.as_policy_rule() for rule in RULES]
