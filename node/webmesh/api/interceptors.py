"""Server interceptors: map domain errors to status codes and count requests.

``intercept_service`` sees no TLS details (FACTS.md), so everything per call happens in a wrapper
around the handler the servicer registered.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc
from grpc import aio

from webmesh import errors, metrics
from webmesh.authz.principal import Principal
from webmesh.client import status
from webmesh.prometheus import Counter, Histogram

log = logging.getLogger("webmesh.api")


Guard = Callable[[str, Any, Any], Awaitable[Principal | None]]

# The authenticated caller of the call being handled (None in insecure mode or public methods):
# read by the forwarder, which names it to the leader.
CALLER: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("caller", default=None)


class ErrorsAndMetrics(aio.ServerInterceptor):  # type: ignore[misc]
    """Authenticates and authorizes each call (through ``guard``, unless insecure), turns
    MeshError into the table's status code, and records count and latency per method."""

    def __init__(self, guard: Guard | None = None) -> None:
        self._guard = guard
        # The servicers' handlers never change once the server runs: each method's wrapper is
        # built once (building it per call cost about 2% of the leader's CPU at 1,000 Joins/s).
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)  # one per method the servicers serve
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary and inspect.iscoroutinefunction(handler.unary_unary):
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(method, handler.unary_unary, self._guard),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream and inspect.isasyncgenfunction(handler.unary_stream):
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(method, handler.unary_stream, self._guard),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


def prepare_series(methods: Iterable[str]) -> None:
    """Create every method's series at zero before the first call: Prometheus' ``rate`` and
    ``increase`` count from a series' first sample, so a series born at 1 would never count the
    call that created it (a node's first Join would be missing from the dashboard's join rate
    and latency)."""
    for method in methods:
        _series(method, grpc.StatusCode.OK)


@functools.cache
def _series(method: str, code: grpc.StatusCode) -> tuple[Counter, Histogram]:
    """A method's request counter for ``code`` and its latency histogram (``labels`` takes a
    lock and builds its key on every call; the methods and codes are a small, fixed set)."""
    return (
        metrics.GRPC_REQUESTS.labels(method=method, code=code.name),
        metrics.GRPC_DURATION.labels(method=method),
    )


def _record(method: str, code: grpc.StatusCode, started: float) -> None:
    requests, duration = _series(method, code)
    requests.inc()
    duration.observe(time.perf_counter() - started)


async def _abort(context: aio.ServicerContext[Any, Any], exc: errors.MeshError) -> None:
    code = status.code_for(exc)
    if code is grpc.StatusCode.INTERNAL:
        log.error("internal error: %r", exc)
    await context.abort(code, str(exc))


async def _admit(guard: Guard | None, method: str, request: Any, context: Any) -> None:
    CALLER.set(await guard(method, request, context) if guard is not None else None)


def _wrap_unary(
    method: str, inner: Callable[..., Awaitable[Any]], guard: Guard | None
) -> Callable[..., Awaitable[Any]]:
    async def unary(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        try:
            await _admit(guard, method, request, context)
            response = await inner(request, context)
        except errors.MeshError as exc:
            _record(method, status.code_for(exc), started)
            await _abort(context, exc)
            raise AssertionError("unreachable") from exc  # abort always raises
        except Exception:
            _record(method, context.code() or grpc.StatusCode.UNKNOWN, started)
            raise
        _record(method, context.code() or grpc.StatusCode.OK, started)
        return response

    return unary


def _wrap_stream(
    method: str, inner: Callable[..., AsyncIterator[Any]], guard: Guard | None
) -> Callable[..., AsyncIterator[Any]]:
    async def stream(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        started = time.perf_counter()
        code = grpc.StatusCode.CANCELLED  # unless set below: the client hung up, or we stop
        try:
            await _admit(guard, method, request, context)
            async for response in inner(request, context):
                yield response
            code = grpc.StatusCode.OK
        except errors.MeshError as exc:
            code = status.code_for(exc)
            await _abort(context, exc)
        except Exception:
            code = grpc.StatusCode.UNKNOWN
            raise
        finally:
            _record(method, code, started)

    return stream
