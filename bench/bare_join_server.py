"""A grpc.aio server whose ``Membership.Join`` answers an empty ``JoinResponse`` at once.

    python bench/bare_join_server.py HOST:PORT

What gRPC alone costs per Join on this machine: the same library, the same messages and the same
client as ``raft_commit``, and nothing of webmesh behind the call. Prints ``{"event": "ready"}``
once it listens; stops on ``{"cmd": "stop"}`` or when stdin closes (``bench/child.py``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "node"))

from grpc import aio

from child import reply, requests
from webmesh.api.v1 import membership_pb2, membership_pb2_grpc


class EmptyJoin(membership_pb2_grpc.MembershipServicer):
    async def Join(  # the gRPC method's name
        self, request: membership_pb2.JoinRequest, context: aio.ServicerContext
    ) -> membership_pb2.JoinResponse:
        return membership_pb2.JoinResponse()


async def serve(address: str) -> None:
    server = aio.server()
    membership_pb2_grpc.add_MembershipServicer_to_server(EmptyJoin(), server)
    server.add_insecure_port(address)
    await server.start()
    reply({"event": "ready"})
    async for request in requests():
        reply({"error": f"unknown command {request.get('cmd')!r}"})
    await server.stop(grace=None)


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
