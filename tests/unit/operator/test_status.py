"""status: conditions, phase and observed fields of Mesh and Node from what the handler saw."""

from __future__ import annotations

from typing import Any

import pytest

from webmesh_operator.render import mesh_with_defaults, node_with_defaults
from webmesh_operator.status import (
    Member,
    MeshObservation,
    Workload,
    invalid_spec_status,
    mesh_status,
    node_group_status,
    waiting_status,
)

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
JOIN = "demo-headless.ns.svc:8443"


def mesh(servers: int = 3, mode: str = "mtls") -> dict[str, Any]:
    return mesh_with_defaults(
        {
            "kind": "Mesh",
            "metadata": {"name": "demo", "namespace": "ns", "generation": 4},
            "spec": {"servers": servers, "security": {"mode": mode}},
        }
    )


def node(replicas: int = 2, voter: bool = False) -> dict[str, Any]:
    return node_with_defaults(
        {
            "kind": "Node",
            "metadata": {"name": "web", "namespace": "ns", "generation": 2},
            "spec": {"meshRef": {"name": "demo"}, "replicas": replicas, "voter": voter},
        }
    )


def done(n: int) -> Workload:
    return Workload(replicas=n, ready_replicas=n, updated_replicas=n, up_to_date=True)


def observation(
    leader: str = "demo-0", voters: int = 3, extra: tuple[str, ...] = ()
) -> MeshObservation:
    voter_ids = tuple(f"demo-{i}" for i in range(voters))
    members = tuple(
        Member(
            node_id,
            (f"172.16.0.{i + 1}",),
            node_id in voter_ids,
            role="voter" if node_id in voter_ids else "observer",
        )
        for i, node_id in enumerate((*voter_ids, *extra))
    )
    return MeshObservation(leader=leader, voters=voter_ids, members=members)


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def status_of(**kwargs: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "workload": done(3),
        "api": observation(),
        "api_error": None,
        "join_address": JOIN,
        "previous": None,
        "now": T0,
    }
    return mesh_status(mesh(kwargs.pop("servers", 3)), **{**defaults, **kwargs})


def test_ready_mesh() -> None:
    status = status_of()
    assert status["phase"] == "Ready"
    assert conditions(status) == {
        "Ready": ("True", "Ready"),
        "Progressing": ("False", "Ready"),
        "Degraded": ("False", "AsExpected"),
    }
    assert status["leader"] == "demo-0"
    assert status["voters"] == ["demo-0", "demo-1", "demo-2"]
    assert status["nodes"] == 3
    assert status["onlineNodes"] == 3
    assert status["joinAddress"] == JOIN
    assert status["members"] == [
        {
            "nodeId": f"demo-{i}",
            "addresses": [f"172.16.0.{i + 1}"],
            "role": "voter",
            "voter": True,
            "online": True,
        }
        for i in range(3)
    ]
    assert status["caSecretName"] == "demo-ca"
    assert status["adminConfigSecretName"] == "demo-admin"
    assert status["observedGeneration"] == 4
    assert all(c["observedGeneration"] == 4 for c in status["conditions"])
    assert all(c["lastTransitionTime"] == T0 for c in status["conditions"])


def test_insecure_mesh_has_no_ca() -> None:
    status = mesh_status(
        mesh(mode="insecure"),
        workload=done(3),
        api=observation(),
        api_error=None,
        join_address=JOIN,
        previous=None,
        now=T0,
    )
    assert "caSecretName" not in status


@pytest.mark.parametrize(
    ("kwargs", "phase", "reason"),
    [
        ({"workload": None, "api": None, "api_error": "no answer"}, "Pending", "Creating"),
        (
            {"workload": Workload(3, 0, 0, True), "api": None, "api_error": "refused"},
            "Pending",
            "WaitingForApi",
        ),
        (
            {"workload": Workload(3, 1, 3, True), "api": observation(voters=1)},
            "Progressing",
            "RollingOut",
        ),
        ({"workload": Workload(3, 3, 1, False)}, "Progressing", "RollingOut"),
        ({"api": observation(voters=2)}, "Progressing", "WaitingForVoters"),
        ({"api": observation(leader="")}, "Progressing", "WaitingForApi"),
    ],
)
def test_not_ready_yet_is_progressing(kwargs: dict[str, Any], phase: str, reason: str) -> None:
    status = status_of(**kwargs)
    assert status["phase"] == phase
    assert conditions(status) == {
        "Ready": ("False", reason),
        "Progressing": ("True", reason),
        "Degraded": ("False", "AsExpected"),
    }


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"api": None, "api_error": "unreachable: refused"}, "ApiUnreachable"),
        ({"api": observation(leader="")}, "NoLeader"),
    ],
)
def test_api_fault_after_ready_is_degraded(kwargs: dict[str, Any], reason: str) -> None:
    ready = status_of()
    status = status_of(previous=ready, now=T1, **kwargs)
    assert status["phase"] == "Degraded"
    assert conditions(status)["Degraded"] == ("True", reason)
    assert status["leader"] == ""
    if kwargs["api"] is None:  # kept from before: stale but labelled
        assert status["voters"] == ["demo-0", "demo-1", "demo-2"]
        assert status["members"] == ready["members"]
        assert status["onlineNodes"] == ready["onlineNodes"]
        assert "unreachable: refused" in status["conditions"][0]["message"]
    again = status_of(previous=status, now=T1, **kwargs)
    assert again["phase"] == "Degraded", "stays Degraded until the fault clears"
    recovered = status_of(previous=again, now=T1)
    assert recovered["phase"] == "Ready"


def test_mesh_members_include_nodes_outside_the_cluster() -> None:
    status = status_of(api=observation(extra=("laptop", "demo-app-0")))
    assert [m["nodeId"] for m in status["members"]] == [
        "demo-0",
        "demo-1",
        "demo-2",
        "demo-app-0",
        "laptop",
    ]
    assert status["nodes"] == 5
    assert [m["voter"] for m in status["members"]] == [True, True, True, False, False]


LAPTOP = Member(
    "laptop",
    ("172.16.0.9",),
    False,
    role="client",
    online=False,
    last_seen="2026-01-01T00:03:07Z",
    ephemeral=True,
)


def test_members_say_who_is_online_clients_and_offline_nodes_alike() -> None:
    seen = observation()
    app = Member("demo-app-0", ("172.16.0.8",), False, role="observer", last_seen=T0)
    status = status_of(api=MeshObservation(seen.leader, seen.voters, (*seen.members, LAPTOP, app)))
    by_id = {m["nodeId"]: m for m in status["members"]}
    assert by_id["laptop"] == {
        "nodeId": "laptop",
        "addresses": ["172.16.0.9"],
        "role": "client",
        "voter": False,
        "online": False,
        "lastSeen": "2026-01-01T00:03:07Z",
        "ephemeral": True,
    }
    assert by_id["demo-app-0"] == {
        "nodeId": "demo-app-0",
        "addresses": ["172.16.0.8"],
        "role": "observer",
        "voter": False,
        "online": True,  # no lastSeen while online, whatever the observation carried
    }
    assert (status["nodes"], status["onlineNodes"]) == (5, 4)


def test_a_steady_mesh_renders_the_same_status_at_every_poll() -> None:
    seen = observation()
    api = MeshObservation(seen.leader, seen.voters, (*seen.members, LAPTOP))
    first = status_of(api=api, now=T0)
    assert status_of(api=api, previous=first, now=T1) == first, "nothing to publish"


def test_api_gap_during_a_rollout_is_not_degraded() -> None:
    ready = status_of()
    status = status_of(previous=ready, workload=Workload(3, 2, 2, False), api=None, api_error="x")
    assert status["phase"] == "Progressing"


def test_transition_time_kept_while_status_holds() -> None:
    first = status_of(now=T0)
    same = status_of(previous=first, now=T1)
    assert [c["lastTransitionTime"] for c in same["conditions"]] == [T0, T0, T0]
    changed = status_of(previous=same, now=T1, api=observation(voters=2))
    times = {c["type"]: c["lastTransitionTime"] for c in changed["conditions"]}
    assert times == {"Ready": T1, "Progressing": T1, "Degraded": T0}


def test_meshdns_address_is_published_while_there_is_one() -> None:
    """``None`` removes the field from the stored status (a merge patch), e.g. after MeshDNS
    was turned off."""
    assert status_of(meshdns_address="10.96.0.53:53")["meshDNSAddress"] == "10.96.0.53:53"
    assert status_of()["meshDNSAddress"] is None
    assert status_of(meshdns_address="")["meshDNSAddress"] is None


def test_invalid_spec_keeps_observed_fields() -> None:
    ready = status_of()
    status = invalid_spec_status(mesh(), ["a is bad", "b is bad"], previous=ready, now=T1)
    assert status["phase"] == "Degraded"
    assert conditions(status) == {
        "Ready": ("False", "InvalidSpec"),
        "Progressing": ("False", "InvalidSpec"),
        "Degraded": ("True", "InvalidSpec"),
    }
    assert status["conditions"][2]["message"] == "a is bad; b is bad"
    assert status["leader"] == "demo-0"


def test_waiting_node_has_no_phase() -> None:
    status = waiting_status(node(), "MeshNotFound", "no Mesh demo", previous=None, now=T0)
    assert "phase" not in status
    assert conditions(status) == {
        "Ready": ("False", "MeshNotFound"),
        "Progressing": ("True", "MeshNotFound"),
        "Degraded": ("False", "AsExpected"),
    }
    assert status["observedGeneration"] == 2


def node_status(group: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"workload": done(2), "api_error": None, "previous": None, "now": T0}
    return node_group_status(group, **{**defaults, **kwargs})


def test_node_group_ready_when_every_pod_is_a_member() -> None:
    api = observation(extra=("demo-web-1", "demo-web-0", "demo-other-0"))
    status = node_status(node(), api=api)
    assert conditions(status)["Ready"] == ("True", "Ready")
    assert status["replicas"] == 2
    assert status["readyReplicas"] == 2
    common = {"role": "observer", "voter": False, "online": True}
    assert status["members"] == [
        {"nodeId": "demo-web-0", "addresses": ["172.16.0.5"], **common},
        {"nodeId": "demo-web-1", "addresses": ["172.16.0.4"], **common},
    ]


def test_node_group_members_carry_presence() -> None:
    seen = observation(extra=("demo-web-0",))
    gone = Member("demo-web-1", ("172.16.0.5",), False, role="observer", online=False, last_seen=T0)
    status = node_status(
        node(), api=MeshObservation(seen.leader, seen.voters, (*seen.members, gone))
    )
    assert [(m["nodeId"], m["online"], m.get("lastSeen")) for m in status["members"]] == [
        ("demo-web-0", True, None),
        ("demo-web-1", False, T0),
    ]


def test_node_group_waits_for_members_and_voters() -> None:
    missing = node_status(node(), api=observation(extra=("demo-web-0",)))
    assert conditions(missing)["Progressing"] == ("True", "WaitingForMembers")
    assert "demo-web-1" in missing["conditions"][0]["message"]
    voters = node_status(node(voter=True), api=observation(extra=("demo-web-0", "demo-web-1")))
    assert conditions(voters)["Ready"] == ("False", "WaitingForMembers")
    assert "Raft voters" in voters["conditions"][0]["message"]


def test_node_group_keeps_members_when_the_api_is_away() -> None:
    ready = node_status(node(), api=observation(extra=("demo-web-0", "demo-web-1")))
    away = node_status(node(), api=None, api_error="unreachable", previous=ready, now=T1)
    assert away["members"] == ready["members"]
    assert conditions(away)["Degraded"] == ("True", "ApiUnreachable")


def test_empty_node_group_is_ready() -> None:
    status = node_status(node(replicas=0), workload=done(0), api=observation())
    assert conditions(status)["Ready"] == ("True", "Ready")
    assert status["members"] == []


@pytest.mark.parametrize(
    ("sts", "expected"),
    [
        (None, None),
        (
            {
                "metadata": {"generation": 3},
                "spec": {"replicas": 3},
                "status": {
                    "observedGeneration": 3,
                    "readyReplicas": 3,
                    "updatedReplicas": 3,
                    "currentRevision": "a",
                    "updateRevision": "a",
                },
            },
            Workload(3, 3, 3, True),
        ),
        (
            {
                "metadata": {"generation": 4},
                "spec": {"replicas": 3},
                "status": {"observedGeneration": 3, "currentRevision": "a", "updateRevision": "a"},
            },
            Workload(3, 0, 0, False),
        ),
        (
            {
                "metadata": {"generation": 3},
                "spec": {"replicas": 3},
                "status": {"observedGeneration": 3, "currentRevision": "a", "updateRevision": "b"},
            },
            Workload(3, 0, 0, False),
        ),
        ({"metadata": {"generation": 1}, "spec": {"replicas": 1}}, Workload(1, 0, 0, False)),
    ],
)
def test_workload_from_statefulset(sts: dict[str, Any] | None, expected: Workload | None) -> None:
    assert Workload.from_statefulset(sts) == expected
