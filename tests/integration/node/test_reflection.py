"""gRPC server reflection on a node's API (what grpcurl uses), served by the lazy stand-in.

The stand-in (``webmesh.api.reflection``) builds grpcio-reflection's servicer on the first
stream: these check that what comes back is grpcio-reflection's answer, for every service the
node serves, on the first stream and on later ones.
"""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2
from grpc import aio
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from integration.node.meshlab import Cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVED = {
    "webmesh.v1.Membership",
    "webmesh.v1.Mesh",
    "webmesh.v1.Node",
    "webmesh.v1.Admin",
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
}


async def ask(
    address: str, *requests: reflection_pb2.ServerReflectionRequest
) -> list[reflection_pb2.ServerReflectionResponse]:
    async with aio.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        return [r async for r in stub.ServerReflectionInfo(iter(requests), timeout=10)]


async def test_every_served_service_is_listed_and_described(cluster: Cluster) -> None:
    for member in (cluster.bootstrap, cluster.observer):
        listed, described = await ask(
            member.api,
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="webmesh.v1.Membership"),
        )
        names = {s.name for s in listed.list_services_response.service}
        assert names == SERVED
        files = [
            descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in described.file_descriptor_response.file_descriptor_proto
        ]
        methods = {
            m.name for f in files for s in f.service if s.name == "Membership" for m in s.method
        }
        assert {"Join", "Leave"} <= methods


async def test_an_unknown_symbol_is_not_found_and_the_stream_goes_on(cluster: Cluster) -> None:
    missing, listed = await ask(
        cluster.voter.api,
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Service"),
        reflection_pb2.ServerReflectionRequest(list_services=""),
    )
    assert missing.error_response.error_code == 5  # NOT_FOUND
    assert {s.name for s in listed.list_services_response.service} == SERVED
