"""A callback for after the next pass: it sees the peers that pass put on the interface."""

from __future__ import annotations

import asyncio

import pytest

from webmesh.mesh.feed import StaticFeed
from webmesh.mesh.peers import Peer
from webmesh.reconcile.desired import LocalInterface
from webmesh.reconcile.loop import Reconciler
from webmesh.wg.fake import FakeDriver, FakeLinks

LOCAL = LocalInterface(
    name="wm-test", private_key="L" * 43 + "=", listen_port=51820, mtu=1420,
    addresses=("172.16.0.9/12",), networks=("172.16.0.0/12",),
)  # fmt: skip
VOTER = Peer("voter", "V" * 43 + "=", "10.0.0.1:51820", ("172.16.0.1/32",))
OBSERVER = Peer("observer", "O" * 43 + "=", "10.0.0.4:51820", ("172.16.0.4/32",))


async def test_the_callback_runs_once_after_the_next_pass_and_sees_its_peers() -> None:
    feed = StaticFeed([VOTER])  # what a resumed node brings up: the peers that lead to Raft
    driver = FakeDriver()
    reconciler = Reconciler(driver=driver, links=FakeLinks(driver=driver), local=LOCAL, feed=feed)
    await reconciler.bring_up()
    seen: list[set[str]] = []
    reconciler.after_next_pass(lambda: seen.append(set(reconciler.peers)))
    assert not seen, "not before a pass"
    feed.set([VOTER, OBSERVER])  # the replica is loaded: it names every peer
    await reconciler.reconcile_once()
    assert seen == [{"voter", "observer"}]
    await reconciler.reconcile_once()
    assert len(seen) == 1, "once"


async def test_a_failed_pass_keeps_the_callback_for_the_pass_that_retries() -> None:
    feed = StaticFeed([VOTER])
    driver = FakeDriver()
    reconciler = Reconciler(driver=driver, links=FakeLinks(driver=driver), local=LOCAL, feed=feed)
    await reconciler.bring_up()
    calls: list[int] = []
    reconciler.after_next_pass(lambda: calls.append(1))
    feed.set([VOTER, OBSERVER])
    broken = driver.configure

    async def failing(*_: object, **__: object) -> None:
        raise OSError("the UAPI socket went away")

    driver.configure = failing  # type: ignore[method-assign]
    with pytest.raises(OSError):
        await reconciler.reconcile_once()
    assert not calls
    driver.configure = broken  # type: ignore[method-assign]
    await reconciler.reconcile_once()
    assert calls == [1]


async def test_asking_wakes_the_loop() -> None:
    feed = StaticFeed([VOTER])
    driver = FakeDriver()
    reconciler = Reconciler(driver=driver, links=FakeLinks(driver=driver), local=LOCAL, feed=feed)
    await reconciler.bring_up()
    done = asyncio.Event()
    task = asyncio.create_task(reconciler.run())
    try:
        reconciler.after_next_pass(done.set)
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
