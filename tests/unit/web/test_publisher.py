"""The web view's publisher: one build per burst of changes, none while nobody watches, one
encoding per set of rights."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from webmesh.mesh import view
from webmesh.service.watch import StateWatch
from webmesh.web.publisher import Publisher, Snapshot


class Builds:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> view.View:
        self.count += 1
        return {
            "n": self.count,
            "acls": [{"name": "a"}, {"name": "b"}],
            "routes": [],
            "peerings": [],
        }


@pytest.fixture
async def running() -> AsyncIterator[tuple[Publisher, StateWatch, Builds]]:
    watch, builds = StateWatch(), Builds()
    publisher = Publisher(builds, watch, min_interval=0.2, refresh=60.0)
    task = asyncio.create_task(publisher.run())
    try:
        yield publisher, watch, builds
    finally:
        await publisher.close(task)


async def test_a_burst_of_changes_is_one_or_two_builds(
    running: tuple[Publisher, StateWatch, Builds],
) -> None:
    publisher, watch, builds = running
    publisher.readers = 1
    first = publisher.latest()
    for _ in range(50):
        watch.notify()
        await asyncio.sleep(0.002)
    newer = await publisher.next(first.version, timeout=2)
    assert newer is not None
    await asyncio.sleep(0.5)  # let a trailing build, if any, happen
    assert 2 <= builds.count <= 3  # the first, then the coalesced burst (at most split in two)


async def test_nothing_is_built_while_nobody_watches(
    running: tuple[Publisher, StateWatch, Builds],
) -> None:
    publisher, watch, builds = running
    for _ in range(5):
        watch.notify()
        await asyncio.sleep(0.01)
    assert builds.count == 0
    assert publisher.latest().document["n"] == 1  # built on demand
    assert publisher.latest().document["n"] == 1  # and not again within min_interval
    assert builds.count == 1


async def test_next_times_out_without_a_change(
    running: tuple[Publisher, StateWatch, Builds],
) -> None:
    publisher, _, _ = running
    publisher.readers = 1
    current = publisher.latest()
    assert await publisher.next(current.version, timeout=0.05) is None


async def test_the_refresh_rebuilds_while_someone_watches() -> None:
    watch, builds = StateWatch(), Builds()
    publisher = Publisher(builds, watch, min_interval=0.01, refresh=0.05)
    publisher.readers = 1
    task = asyncio.create_task(publisher.run())
    try:
        first = publisher.latest()
        assert await publisher.next(first.version, timeout=2) is not None
    finally:
        await publisher.close(task)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_one_encoding_per_set_of_rights() -> None:
    snapshot = Snapshot(1, Builds()())
    everything = snapshot.encoded()
    assert snapshot.encoded(view.EVERYTHING) is everything
    only_a = view.Readable(acls=frozenset({"a"}))
    restricted = snapshot.encoded(only_a)
    assert snapshot.encoded(view.Readable(acls=frozenset({"a"}))) is restricted
    assert b'"b"' in everything and b'"b"' not in restricted
