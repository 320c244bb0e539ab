"""Lease-based leader election over the in-memory cluster, with a controllable clock."""

from __future__ import annotations

import asyncio

import pytest

from webmesh_operator import election, k8s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(cluster: k8s.MemoryCluster, identity: str, clock: Clock) -> election.LeaderElector:
    config = election.Config(
        namespace="ops",
        name="webmesh-operator",
        identity=identity,
        lease_duration=3.0,
        renew_interval=0.01,
        retry_interval=0.01,
    )
    return election.LeaderElector(cluster, config, monotonic=clock)


def holder(cluster: k8s.MemoryCluster) -> str:
    lease = cluster.find("Lease", "ops", "webmesh-operator")
    assert lease is not None
    return str(lease["spec"]["holderIdentity"])


async def test_first_candidate_creates_the_lease_and_leads() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first = elector(cluster, "a", clock)
    assert await first.try_acquire_or_renew()
    assert first.leading
    assert holder(cluster) == "a"
    lease = cluster.find("Lease", "ops", "webmesh-operator")
    assert lease is not None and lease["spec"]["leaseDurationSeconds"] == 3


async def test_second_candidate_waits_until_the_lease_expires() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first, second = elector(cluster, "a", clock), elector(cluster, "b", clock)
    assert await first.try_acquire_or_renew()
    assert not await second.try_acquire_or_renew()
    clock.now += 2.0
    assert not await second.try_acquire_or_renew()  # unchanged for 2 s of 3
    clock.now += 1.5
    assert await second.try_acquire_or_renew()
    assert holder(cluster) == "b"
    lease = cluster.find("Lease", "ops", "webmesh-operator")
    assert lease is not None and lease["spec"]["leaseTransitions"] == 1


async def test_a_renewing_leader_keeps_the_lease() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first, second = elector(cluster, "a", clock), elector(cluster, "b", clock)
    assert await first.try_acquire_or_renew()
    for _ in range(5):
        assert not await second.try_acquire_or_renew()
        clock.now += 2.0
        assert await first.try_acquire_or_renew()  # renews: the record changes
    assert holder(cluster) == "a"


async def test_stale_update_loses_the_race() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first = elector(cluster, "a", clock)
    assert await first.try_acquire_or_renew()
    lease = cluster.find("Lease", "ops", "webmesh-operator")
    assert lease is not None
    stale = {**lease, "metadata": {**lease["metadata"], "resourceVersion": "0"}}
    with pytest.raises(k8s.ApiError) as refused:
        await cluster.replace(stale)
    assert refused.value.status == 409


async def test_hold_returns_when_another_candidate_took_over() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first = elector(cluster, "a", clock)
    await asyncio.wait_for(first.acquire(), 2)
    lease = cluster.find("Lease", "ops", "webmesh-operator")
    assert lease is not None
    lease["spec"]["holderIdentity"] = "intruder"
    await asyncio.wait_for(first.hold(), 2)
    assert not first.leading


async def test_hold_returns_when_renewal_fails_for_a_lease_duration() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first = elector(cluster, "a", clock)
    await asyncio.wait_for(first.acquire(), 2)
    cluster.failures[("get", "Lease")] = k8s.ApiError("GET lease", 0, "connection refused")
    clock.now += 3.5
    await asyncio.wait_for(first.hold(), 2)
    assert not first.leading


async def test_release_lets_the_next_candidate_in_at_once() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first, second = elector(cluster, "a", clock), elector(cluster, "b", clock)
    await asyncio.wait_for(first.acquire(), 2)
    await first.release()
    assert holder(cluster) == ""
    assert await second.try_acquire_or_renew()
    assert holder(cluster) == "b"


async def test_acquire_waits_for_the_holder() -> None:
    cluster, clock = k8s.MemoryCluster(), Clock()
    first, second = elector(cluster, "a", clock), elector(cluster, "b", clock)
    await asyncio.wait_for(first.acquire(), 2)
    waiting = asyncio.create_task(second.acquire())
    try:
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await first.release()
        await asyncio.wait_for(waiting, 2)
        assert second.leading
    finally:
        waiting.cancel()
