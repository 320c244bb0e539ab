"""The kopf handlers: thin adapters from kopf's calls to :mod:`.reconcile`.

Built into a fresh :class:`kopf.OperatorRegistry` by :func:`build_registry` (not kopf's global
one), so importing this module registers nothing and tests can build as many operators as they
like. Each handler turns the body into a plain dict, calls the reconciler and maps its outcome:
:class:`~.reconcile.InvalidSpec` -> ``kopf.PermanentError``, :class:`~.reconcile.RetryLater` ->
``kopf.TemporaryError`` with the given delay or an exponential backoff. Handlers return nothing:
kopf would store a return value in the status, which the CRDs do not declare.

Status is refreshed often while a resource converges (every ``converging_interval``: a user
waiting for ``kubectl wait --for=condition=Ready`` sees Ready within seconds of it being true) and
every ``status_interval`` once it is Ready (the mesh API is asked less when nothing changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from webmesh_operator import reconcile

GROUP = "mesh.webmesh.io"
VERSION = "v1alpha1"
ANNOTATIONS_PREFIX = GROUP
FINALIZER = f"{GROUP}/cleanup"
MAX_BACKOFF = 60.0
TIMER_EXIT_WAIT = 1.0  # seconds a deletion waits for a status timer, between checks

Reconciler = Callable[[reconcile.Context, Mapping[str, Any]], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Options:
    """How the handlers run (from the command line)."""

    status_interval: float = 15.0  # while Ready
    converging_interval: float = 2.0  # while not Ready: creating, rolling out, recovering

    @property
    def timer_interval(self) -> float:
        return min(self.status_interval, self.converging_interval)

    def refresh_due(self, body: Mapping[str, Any], since_last: float) -> bool:
        """Whether a status timer tick should refresh: always while the resource is not Ready,
        once per ``status_interval`` while it is."""
        return not is_ready(body) or since_last >= self.status_interval - 0.5 * self.timer_interval


def is_ready(body: Mapping[str, Any]) -> bool:
    """The resource's status says Ready."""
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def backoff(retry: int) -> float:
    """1, 2, 4, ... seconds, at most :data:`MAX_BACKOFF`."""
    return float(min(2 ** max(retry, 0), MAX_BACKOFF))


def plain(body: Mapping[str, Any]) -> dict[str, Any]:
    """A deep, plain-dict copy of a kopf body (its views are read-only and live)."""
    return copy.deepcopy({key: body[key] for key in body})


async def run(
    reconciler: Reconciler, ctx: reconcile.Context, body: Mapping[str, Any], retry: int
) -> None:
    """Call ``reconciler`` and translate its outcome into kopf's errors."""
    try:
        await reconciler(ctx, plain(body))
    except reconcile.InvalidSpec as error:
        raise kopf.PermanentError(f"invalid spec: {error}") from None
    except reconcile.RetryLater as error:
        delay = error.delay if error.delay is not None else backoff(retry)
        raise kopf.TemporaryError(str(error), delay=delay) from None


async def until_stopped(work: Awaitable[None], stopped: kopf.DaemonStopped) -> None:
    """Await ``work`` unless kopf stops the timer first (its resource is being deleted, or the
    operator exits): then cancel it, so the deletion is not held up by a status refresh."""

    async def stop() -> None:
        await stopped.wait()

    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    task.result()


def configure(settings: kopf.OperatorSettings) -> None:
    """kopf's settings for this operator: no peering (one leader, by Lease), progress and the
    last-handled spec in annotations under our group, our own finalizer name, warnings as Events,
    and watch timeouts that notice a silently dropped connection."""
    settings.peering.standalone = True
    settings.posting.level = logging.WARNING
    settings.posting.loggers = True  # handler failures become Events on the resource
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATIONS_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATIONS_PREFIX, key="last-handled-configuration"
    )
    # The CRDs are installed before the operator (by the chart); watching CRDs and namespaces
    # would need permissions the operator does not otherwise need.
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60)
    # A deleted resource keeps kopf's finalizer until its status timer has exited. kopf waits
    # ``instant_exit_timeout`` for that and otherwise re-checks every ``cancellation_polling``
    # seconds (60 by default): a deletion that met a timer mid-refresh stalled for a minute.
    settings.background.instant_exit_timeout = TIMER_EXIT_WAIT
    settings.background.cancellation_polling = TIMER_EXIT_WAIT


def build_registry(ctx: reconcile.Context, options: Options) -> kopf.OperatorRegistry:
    """A registry with the Mesh and Node handlers, bound to ``ctx``."""
    registry = kopf.OperatorRegistry()
    _register(
        registry,
        ctx,
        options,
        plural="meshes",
        reconciler=reconcile.reconcile_mesh,
        deleter=reconcile.delete_mesh,
        refresher=reconcile.refresh_mesh_status,
    )
    _register(
        registry,
        ctx,
        options,
        plural="nodes",
        reconciler=reconcile.reconcile_node,
        deleter=reconcile.delete_node,
        refresher=reconcile.refresh_node_status,
    )
    return registry


def _register(
    registry: kopf.OperatorRegistry,
    ctx: reconcile.Context,
    options: Options,
    *,
    plural: str,
    reconciler: Reconciler,
    deleter: Reconciler,
    refresher: Reconciler,
) -> None:
    singular = plural.removesuffix("es") if plural == "meshes" else plural.removesuffix("s")

    async def reconcile_handler(body: kopf.Body, retry: int, **_: Any) -> None:
        await run(reconciler, ctx, body, retry)

    async def delete_handler(body: kopf.Body, retry: int, **_: Any) -> None:
        await run(deleter, ctx, body, retry)

    async def status_handler(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
        now = time.monotonic()
        if not options.refresh_due(body, now - memo.get("status_refreshed", -1e9)):
            return
        memo["status_refreshed"] = now
        refresh = run(refresher, ctx, body, int(kwargs.get("retry") or 0))
        await until_stopped(refresh, kwargs["stopped"])

    resource = (GROUP, VERSION, plural)
    reconcile_id = f"reconcile-{singular}"
    kopf.on.resume(*resource, id=reconcile_id, registry=registry)(reconcile_handler)
    kopf.on.create(*resource, id=reconcile_id, registry=registry)(reconcile_handler)
    kopf.on.update(*resource, id=reconcile_id, field="spec", registry=registry)(reconcile_handler)
    kopf.on.delete(*resource, id=f"delete-{singular}", registry=registry)(delete_handler)
    kopf.timer(
        *resource,
        id=f"status-{singular}",
        interval=options.timer_interval,
        registry=registry,
    )(status_handler)
