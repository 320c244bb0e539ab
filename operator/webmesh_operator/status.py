"""The ``status`` of ``Mesh`` and ``Node`` resources, from what the handler observed: pure.

Each function returns the whole status object of the CRD (``crds/*.yaml``); the handler writes it
to the ``/status`` subresource. Three conditions, as Kubernetes conventions have them:

- ``Ready``: the workload is rolled out (all replicas ready *and* on the current revision) and the
  mesh API confirms it: a leader, and every server pod among the Raft voters (Mesh); every pod a
  member of the mesh, and a voter if the group votes (Node).
- ``Progressing``: not ready yet, and nothing is wrong: creating, rolling out, waiting for the
  leader or for pods to join.
- ``Degraded``: something is wrong that waiting may not fix: an invalid spec (or a child the API
  server refuses: ``degraded_status``), or the mesh API
  unreachable or without a leader *after* the resource had been Ready and while no rollout is in
  progress (a rollout restarts servers, so a short gap then is expected, not a fault).

``lastTransitionTime`` is kept from ``previous`` while a condition's status stays the same.
Mesh ``phase``: Degraded, else Ready, else Pending (no StatefulSet or no ready pod yet), else
Progressing. When the API cannot be read, ``leader`` is "" and ``nodes``/``onlineNodes``/
``voters``/``members`` (Mesh) or ``members`` (Node) keep their previous values: stale but
labelled by the conditions. Members carry the mesh's presence (``online``; ``lastSeen`` while
offline), so ``kubectl get mesh NAME -o yaml`` says who is in the mesh right now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

READY, PROGRESSING, DEGRADED = "Ready", "Progressing", "Degraded"
CA_SUFFIX, ADMIN_SUFFIX = "-ca", "-admin"  # mirrors render.names: ca/admin_secret_name


@dataclass(frozen=True)
class Member:
    """One node as the mesh API lists it; ``addresses`` are its mesh IPs.

    ``voter``: among the Raft voters now; ``role``: how it joined ("voter", "observer" or
    "client": a ``wmctl connect`` machine). ``last_seen`` (RFC 3339) is set only while the node is
    offline: the leader records it once when the node goes away, so it stays the same from one
    poll to the next and publishes no status change while nothing happens.
    """

    node_id: str
    addresses: tuple[str, ...]
    voter: bool
    _: KW_ONLY
    role: str
    online: bool = True
    last_seen: str = ""
    ephemeral: bool = False


@dataclass(frozen=True)
class MeshObservation:
    """What the mesh API said: the leader ("" when none), voters and members by node id."""

    leader: str
    voters: tuple[str, ...]
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Workload:
    """A StatefulSet's rollout, as far as status is concerned."""

    replicas: int
    ready_replicas: int
    updated_replicas: int
    up_to_date: bool

    @classmethod
    def from_statefulset(cls, sts: Mapping[str, Any] | None) -> Workload | None:
        """None when absent; ``up_to_date`` once the controller saw the latest spec and the
        current revision is the update revision (no update revision yet counts as current)."""
        if sts is None:
            return None
        status = sts.get("status") or {}
        generation = (sts.get("metadata") or {}).get("generation") or 0
        update_revision = status.get("updateRevision") or ""
        seen = (status.get("observedGeneration") or 0) >= generation
        current = not update_revision or status.get("currentRevision") == update_revision
        return cls(
            replicas=int((sts.get("spec") or {}).get("replicas", 0)),
            ready_replicas=int(status.get("readyReplicas") or 0),
            updated_replicas=int(status.get("updatedReplicas") or 0),
            up_to_date=seen and current,
        )

    def rolled_out(self, want: int) -> bool:
        """All ``want`` replicas exist, are ready and run the current revision."""
        return (
            self.replicas == want
            and self.ready_replicas >= want
            and self.up_to_date
            and (want == 0 or self.updated_replicas >= want)
        )


@dataclass(frozen=True)
class _Verdict:
    """The three conditions' status and the reason and message of the one that matters."""

    ready: bool
    degraded: bool
    reason: str
    message: str


def mesh_status(
    mesh: Mapping[str, Any],
    *,
    workload: Workload | None,
    api: MeshObservation | None,
    api_error: str | None,
    join_address: str,
    previous: Mapping[str, Any] | None,
    now: str,
    meshdns_address: str = "",
) -> dict[str, Any]:
    """The status of a Mesh (defaults applied) from its StatefulSet and the mesh API.

    ``meshdns_address`` is the ``<mesh>-meshdns`` Service's ``<clusterIP>:53`` ("" without one):
    ``meshDNSAddress`` is None then, which removes the field from the stored status.
    """
    name, spec = mesh["metadata"]["name"], mesh["spec"]
    servers = int(spec["servers"])
    server_ids = [f"{name}-{ordinal}" for ordinal in range(servers)]

    def confirm(seen: MeshObservation) -> _Verdict:
        missing = [node_id for node_id in server_ids if node_id not in seen.voters]
        if missing:
            message = f"not yet Raft voters: {', '.join(missing)}"
            return _Verdict(False, False, "WaitingForVoters", message)
        return _Verdict(True, False, "Ready", f"{servers} servers ready; {seen.leader} leads")

    verdict = _verdict(
        servers,
        workload,
        api,
        api_error=api_error,
        previous=previous,
        what="server",
        confirm=confirm,
    )
    status = _with_conditions(mesh, verdict, previous, now)
    pending = not verdict.ready and (workload is None or workload.ready_replicas == 0)
    status["phase"] = _phase(verdict, pending=pending)
    old = previous or {}
    status["leader"] = api.leader if api else ""
    status["voters"] = sorted(api.voters) if api else list(old.get("voters") or [])
    status["nodes"] = len(api.members) if api else int(old.get("nodes") or 0)
    online = sum(m.online for m in api.members) if api else int(old.get("onlineNodes") or 0)
    status["onlineNodes"] = online
    status["members"] = _members(api.members) if api else list(old.get("members") or [])
    status["joinAddress"] = join_address
    status["meshDNSAddress"] = meshdns_address or None
    if spec["security"]["mode"] == "mtls":
        status["caSecretName"] = f"{name}{CA_SUFFIX}"
    status["adminConfigSecretName"] = f"{name}{ADMIN_SUFFIX}"
    return status


def _verdict(
    want: int,
    workload: Workload | None,
    api: MeshObservation | None,
    *,
    api_error: str | None,
    previous: Mapping[str, Any] | None,
    what: str,
    confirm: Callable[[MeshObservation], _Verdict],
) -> _Verdict:
    """Shared order of checks: the StatefulSet exists, the API answers with a leader (a fault is
    Degraded only after Ready and outside a rollout), the rollout is done, then ``confirm``."""
    if workload is None:
        return _Verdict(False, False, "Creating", f"the {what}s' StatefulSet does not exist yet")
    rolled_out = workload.rolled_out(want)
    fault = _api_fault(api, api_error)
    if fault is not None:
        reason, message = fault
        degraded = _was_ready(previous) and rolled_out
        return _Verdict(False, degraded, reason if degraded else "WaitingForApi", message)
    if not rolled_out:
        return _Verdict(False, False, *_rollout(workload, want, what))
    assert api is not None  # no fault means an observation
    return confirm(api)


def node_group_status(
    node: Mapping[str, Any],
    *,
    workload: Workload | None,
    api: MeshObservation | None,
    api_error: str | None,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """The status of a Node group (defaults applied) from its StatefulSet and the mesh API."""
    spec = node["spec"]
    group = f"{spec['meshRef']['name']}-{node['metadata']['name']}"
    replicas = int(spec["replicas"])
    pod_ids = [f"{group}-{ordinal}" for ordinal in range(replicas)]
    voter = bool(spec["voter"])

    def confirm(seen: MeshObservation) -> _Verdict:
        members = {m.node_id for m in seen.members}
        missing = [p for p in pod_ids if p not in members or (voter and p not in seen.voters)]
        if missing:
            what = "Raft voters" if voter else "mesh members"
            message = f"not yet {what}: {', '.join(missing)}"
            return _Verdict(False, False, "WaitingForMembers", message)
        return _Verdict(True, False, "Ready", f"{replicas} nodes ready and in the mesh")

    verdict = _verdict(
        replicas,
        workload,
        api,
        api_error=api_error,
        previous=previous,
        what="node",
        confirm=confirm,
    )
    status = _with_conditions(node, verdict, previous, now)
    status["replicas"] = workload.replicas if workload else 0
    status["readyReplicas"] = workload.ready_replicas if workload else 0
    if api is not None:
        wanted = set(pod_ids)
        status["members"] = _members([m for m in api.members if m.node_id in wanted])
    else:
        status["members"] = list((previous or {}).get("members") or [])
    return status


def invalid_spec_status(
    resource: Mapping[str, Any],
    problems: Sequence[str],
    *,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """Degraded with reason InvalidSpec; the message lists every problem."""
    return degraded_status(resource, "InvalidSpec", "; ".join(problems), previous=previous, now=now)


def degraded_status(
    resource: Mapping[str, Any],
    reason: str,
    message: str,
    *,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """Degraded for ``reason`` (InvalidSpec, the API server refusing a child, ...)."""
    return _override(resource, _Verdict(False, True, reason, message), previous, now)


def waiting_status(
    resource: Mapping[str, Any],
    reason: str,
    message: str,
    *,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """Waiting for something outside the resource (e.g. a Node's Mesh, reason MeshNotFound):
    not Ready, Progressing (it will go on by itself once that appears), not Degraded."""
    return _override(resource, _Verdict(False, False, reason, message), previous, now)


# --- helpers ----------------------------------------------------------------------------------


def _members(members: Sequence[Member]) -> list[dict[str, Any]]:
    """Every member by node id: who is in the mesh, in the cluster or outside it, and who of
    them is there now. ``lastSeen`` and ``ephemeral`` only when they say something (offline;
    removed soon after leaving), so a steady mesh renders the same list at every poll."""
    return [_member(m) for m in sorted(members, key=lambda m: m.node_id)]


def _member(member: Member) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "nodeId": member.node_id,
        "addresses": list(member.addresses),
        "role": member.role,
        "voter": member.voter,
        "online": member.online,
    }
    if member.last_seen and not member.online:
        entry["lastSeen"] = member.last_seen
    if member.ephemeral:
        entry["ephemeral"] = True
    return entry


def _api_fault(api: MeshObservation | None, api_error: str | None) -> tuple[str, str] | None:
    if api is None:
        return "ApiUnreachable", f"cannot read the mesh API: {api_error or 'not asked'}"
    if not api.leader:
        return "NoLeader", "the mesh API answers but the mesh has no Raft leader"
    return None


def _rollout(workload: Workload, want: int, what: str) -> tuple[str, str]:
    message = (
        f"{workload.ready_replicas}/{want} {what} pods ready, "
        f"{workload.updated_replicas}/{want} updated"
    )
    if workload.ready_replicas == 0:
        return "WaitingForPods", message
    return "RollingOut", message


def _was_ready(previous: Mapping[str, Any] | None) -> bool:
    """Whether the resource was Ready, or is Degraded for an API fault since it was."""
    conditions = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    ready = conditions.get(READY, {})
    degraded = conditions.get(DEGRADED, {})
    return ready.get("status") == "True" or (
        degraded.get("status") == "True"
        and degraded.get("reason") in ("ApiUnreachable", "NoLeader")
    )


def _phase(verdict: _Verdict, *, pending: bool) -> str:
    if verdict.degraded:
        return "Degraded"
    if verdict.ready:
        return "Ready"
    return "Pending" if pending else "Progressing"


def _override(
    resource: Mapping[str, Any], verdict: _Verdict, previous: Mapping[str, Any] | None, now: str
) -> dict[str, Any]:
    """``previous`` with new conditions (and phase): the observed fields keep their last values,
    whether the handler merges the result into the stored status or replaces it."""
    status = {key: value for key, value in (previous or {}).items() if key != "kopf"}
    status.update(_with_conditions(resource, verdict, previous, now))
    if resource.get("kind") == "Mesh":
        status["phase"] = _phase(verdict, pending=not verdict.degraded)
    return status


def _with_conditions(
    resource: Mapping[str, Any], verdict: _Verdict, previous: Mapping[str, Any] | None, now: str
) -> dict[str, Any]:
    generation = int((resource.get("metadata") or {}).get("generation") or 0)
    progressing = not verdict.ready and not verdict.degraded
    states = ((READY, verdict.ready), (PROGRESSING, progressing), (DEGRADED, verdict.degraded))
    old = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    conditions = []
    for kind, value in states:
        status = "True" if value else "False"
        before = old.get(kind) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        quiet = kind == DEGRADED and not value  # "not degraded" needs no story
        conditions.append(
            {
                "type": kind,
                "status": status,
                "reason": "AsExpected" if quiet else verdict.reason,
                "message": "no faults" if quiet else verdict.message,
                "observedGeneration": generation,
                "lastTransitionTime": since or now,
            }
        )
    return {"observedGeneration": generation, "conditions": conditions}
