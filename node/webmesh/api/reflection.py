"""gRPC server reflection (what ``grpcurl`` lists and describes), loaded on its first call.

grpcio-reflection's servicer imports ``google.protobuf.descriptor_pb2`` and adds descriptor.proto
to the descriptor pool: 0.66 MB of every node's memory (``bench/idle_node.py``) for a service
that people call now and then while debugging. So the API registers this stand-in, which needs
only the service's messages, and it builds grpcio-reflection's own servicer when the first
reflection stream arrives; from then on every stream is that servicer's.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable

from grpc import aio
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

SERVICE_NAME = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name


class LazyReflection(reflection_pb2_grpc.ServerReflectionServicer):  # type: ignore[misc]
    """``ServerReflection`` served by grpcio-reflection's asyncio servicer, created on first use."""

    def __init__(self, service_names: Iterable[str]) -> None:
        self._service_names = tuple(service_names)
        self._servicer: reflection_pb2_grpc.ServerReflectionServicer | None = None

    async def ServerReflectionInfo(  # the gRPC method's name
        self,
        request_iterator: AsyncIterable[reflection_pb2.ServerReflectionRequest],
        context: aio.ServicerContext,
    ) -> AsyncIterator[reflection_pb2.ServerReflectionResponse]:
        if self._servicer is None:
            upstream = importlib.import_module("grpc_reflection.v1alpha._async")
            self._servicer = upstream.ReflectionServicer(self._service_names)
        async for response in self._servicer.ServerReflectionInfo(request_iterator, context):
            yield response


def enable(service_names: Iterable[str], server: aio.Server) -> None:
    """Serve reflection for ``service_names`` (and itself) on ``server``."""
    names = (*service_names, SERVICE_NAME)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(LazyReflection(names), server)
