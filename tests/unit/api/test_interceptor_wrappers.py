"""The interceptor wraps each method's handler once and keeps counting every call."""

from __future__ import annotations

from typing import Any

import grpc

from webmesh import metrics
from webmesh.api.interceptors import ErrorsAndMetrics

METHOD = "/webmesh.test.Wrappers/Probe"


class Details:
    method = METHOD


async def answer(request: Any, context: Any) -> str:
    return f"answer to {request}"


class Context:
    def code(self) -> grpc.StatusCode | None:
        return None


def requests_ok() -> float:
    value = metrics.REGISTRY.get_sample_value(
        "webmesh_grpc_requests_total", {"method": METHOD, "code": "OK"}
    )
    return value or 0.0


async def test_a_method_is_wrapped_once_and_every_call_is_counted() -> None:
    handler = grpc.unary_unary_rpc_method_handler(answer)
    interceptor = ErrorsAndMetrics()

    async def continuation(_: Any) -> grpc.RpcMethodHandler:
        return handler

    first = await interceptor.intercept_service(continuation, Details())
    second = await interceptor.intercept_service(continuation, Details())
    assert first is second, "the wrapper is built once per method, not per call"
    assert first is not handler, "but it does wrap the servicer's handler"

    before = requests_ok()
    for n in range(3):
        assert await first.unary_unary(n, Context()) == f"answer to {n}"
    assert requests_ok() == before + 3


async def test_a_new_handler_for_a_method_gets_a_new_wrapper() -> None:
    """A server whose servicers were registered again serves the new ones, not the cached."""
    interceptor = ErrorsAndMetrics()
    handlers = iter(
        [grpc.unary_unary_rpc_method_handler(answer), grpc.unary_unary_rpc_method_handler(answer)]
    )
    current = next(handlers)

    async def continuation(_: Any) -> grpc.RpcMethodHandler:
        return current

    old = await interceptor.intercept_service(continuation, Details())
    current = next(handlers)
    assert await interceptor.intercept_service(continuation, Details()) is not old
