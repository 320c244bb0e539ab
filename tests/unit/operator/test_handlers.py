"""The kopf adapters: error mapping, the registry's handlers and kopf's settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits import aioenums  # kopf's own stopper types, as it hands them to timers
from kopf._core.intents import stoppers

from webmesh_operator import handlers, k8s, reconcile


def ctx() -> reconcile.Context:
    return reconcile.Context(cluster=k8s.MemoryCluster())


def failing(error: Exception) -> handlers.Reconciler:
    async def reconciler(_: reconcile.Context, __: Mapping[str, Any]) -> None:
        raise error

    return reconciler


async def test_invalid_spec_becomes_a_permanent_error() -> None:
    with pytest.raises(kopf.PermanentError, match="servers is wrong"):
        await handlers.run(failing(reconcile.InvalidSpec("spec.servers is wrong")), ctx(), {}, 0)


async def test_retry_later_becomes_a_temporary_error_with_its_delay() -> None:
    with pytest.raises(kopf.TemporaryError) as error:
        await handlers.run(failing(reconcile.RetryLater("MeshNotFound", 10.0)), ctx(), {}, 3)
    assert error.value.delay == 10.0


async def test_retry_later_without_delay_backs_off_exponentially() -> None:
    delays = []
    for retry in (0, 1, 2, 10):
        with pytest.raises(kopf.TemporaryError) as error:
            await handlers.run(failing(reconcile.RetryLater("503")), ctx(), {}, retry)
        delays.append(error.value.delay)
    assert delays == [1.0, 2.0, 4.0, handlers.MAX_BACKOFF]


async def test_run_hands_the_reconciler_a_plain_copy() -> None:
    seen: list[Mapping[str, Any]] = []

    async def reconciler(_: reconcile.Context, body: Mapping[str, Any]) -> None:
        seen.append(body)

    raw = {"metadata": {"name": "demo"}, "spec": {"servers": 3}}
    await handlers.run(reconciler, ctx(), kopf.Body(raw), 0)
    assert seen == [raw]
    assert seen[0] is not raw and type(seen[0]) is dict


def test_registry_has_reconcile_delete_and_status_handlers_for_both_kinds() -> None:
    registry = handlers.build_registry(ctx(), handlers.Options(status_interval=7.0))
    changing = {handler.id for handler in registry._changing.get_all_handlers()}
    assert {"reconcile-mesh", "delete-mesh", "reconcile-node", "delete-node"} <= changing
    timers = list(registry._spawning.get_all_handlers())
    assert {timer.id for timer in timers} == {"status-mesh", "status-node"}
    assert {getattr(timer, "interval", None) for timer in timers} == {2.0}
    plurals = {handler.selector.any_name for handler in registry._changing.get_all_handlers()}
    assert plurals == {"meshes", "nodes"}


def test_status_is_refreshed_often_until_ready_then_every_status_interval() -> None:
    options = handlers.Options(status_interval=15.0, converging_interval=2.0)
    converging = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert options.refresh_due({}, since_last=0.1), "a new resource has no status yet"
    assert options.refresh_due(converging, since_last=2.0)
    assert not options.refresh_due(ready, since_last=2.0)
    assert not options.refresh_due(ready, since_last=12.0)
    assert options.refresh_due(ready, since_last=14.0), "ticks are 2 s apart: 14 s is due"
    assert handlers.Options(status_interval=1.0).timer_interval == 1.0


def test_settings_are_standalone_with_our_finalizer_and_annotations() -> None:
    settings = kopf.OperatorSettings()
    handlers.configure(settings)
    assert settings.peering.standalone is True
    assert settings.posting.level == logging.WARNING
    assert settings.persistence.finalizer == handlers.FINALIZER
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.scanning.disabled is True


def test_a_deleted_resource_waits_for_its_timer_at_most_a_second_between_checks() -> None:
    """kopf's default is 60 s, longer than a user waits for ``kubectl delete`` to return."""
    settings = kopf.OperatorSettings()
    handlers.configure(settings)
    assert settings.background.cancellation_polling <= 1.0
    assert settings.background.instant_exit_timeout is not None
    assert settings.background.instant_exit_timeout <= 1.0


async def test_a_stopped_timer_cancels_its_refresh_at_once() -> None:
    setter = aioenums.FlagSetter[stoppers.DaemonStoppingReason]()
    cancelled = asyncio.Event()

    async def slow_refresh() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    waiting = asyncio.ensure_future(
        handlers.until_stopped(slow_refresh(), aioenums.AsyncFlagWaiter(setter))
    )
    await asyncio.sleep(0.05)
    assert not waiting.done()
    setter.set(stoppers.DaemonStoppingReason.RESOURCE_DELETED)
    await asyncio.wait_for(waiting, timeout=2.0)
    assert cancelled.is_set()


async def test_a_refresh_that_finishes_first_reports_its_error() -> None:
    setter = aioenums.FlagSetter[stoppers.DaemonStoppingReason]()

    async def failing_refresh() -> None:
        raise kopf.TemporaryError("mesh API unreachable", delay=1)

    with pytest.raises(kopf.TemporaryError):
        await handlers.until_stopped(failing_refresh(), aioenums.AsyncFlagWaiter(setter))
