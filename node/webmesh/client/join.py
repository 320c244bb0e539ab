"""Joining an existing mesh through one of its servers, with bounded retries and backoff."""

from __future__ import annotations

import asyncio
import logging

from webmesh import errors
from webmesh.api.v1 import membership_pb2
from webmesh.client.mesh_client import ClientOptions, MeshClient
from webmesh.client.security import ClientSecurity

log = logging.getLogger("webmesh.join")

# Errors that another try can fix: the server is down or busy, or there is no leader right now.
RETRYABLE = (errors.Unavailable, errors.FailedPrecondition, errors.NotLeader)
MAX_BACKOFF = 5.0


async def join(
    servers: list[str],
    request: membership_pb2.JoinRequest,
    *,
    max_retries: int,
    security: ClientSecurity | None = None,
) -> tuple[str, membership_pb2.JoinResponse]:
    """Send Join to each server in turn until one answers; retry ``max_retries`` rounds.

    Returns the server that answered and its response. Errors that a retry cannot fix (invalid
    key, id taken, address pool exhausted, permission denied) are raised at once.
    """
    backoff = 0.5
    last_error: errors.MeshError = errors.Unavailable("no join server given")
    for attempt in range(max_retries + 1):
        for server in servers:
            try:
                options = ClientOptions(security=security or ClientSecurity())
                async with MeshClient(server, options) as client:
                    return server, await client.join(request)
            except RETRYABLE as exc:
                last_error = exc
                log.warning(
                    "join failed server=%s attempt=%d/%d error=%s",
                    server,
                    attempt + 1,
                    max_retries + 1,
                    exc,
                )
        if attempt < max_retries:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
    raise type(last_error)(
        f"could not join the mesh after {max_retries + 1} attempts: {last_error}"
    ) from last_error
