"""Start the web view for the daemon: its gate, its publisher and its listener, as one object
to stop. The daemon hands over what it knows as callables (read at each build), so this
package needs nothing of the daemon, and the daemon nothing of aiohttp."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping, Sequence

from webmesh.authn.types import Authenticator, Chain
from webmesh.mesh import view
from webmesh.mesh.state import MeshState
from webmesh.service.watch import StateWatch
from webmesh.web import server
from webmesh.web.auth import Gate
from webmesh.web.publisher import Publisher


class WebView:
    """A serving web view; :meth:`close` stops it (streams and connections included)."""

    def __init__(self, listener: server.Listener, publisher: Publisher) -> None:
        self.listener = listener
        self.publisher = publisher
        self._task = asyncio.create_task(publisher.run(), name="dashboard")

    @property
    def port(self) -> int:
        return self.listener.port

    async def close(self) -> None:
        await self.publisher.close(self._task)
        await self.listener.close()


async def serve(
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None,
    authenticators: Sequence[Authenticator] | None,
    state: Callable[[], MeshState],
    watch: StateWatch,
    served_by: str,
    leader: Callable[[], str],
    handshakes: Callable[[], Mapping[str, float]],
) -> WebView:
    """Listen on ``host:port``; ``authenticators`` None (and ``tls`` None) is insecure mode."""

    def build() -> view.View:
        return view.build(
            state(), served_by=served_by, leader=leader(), handshakes=handshakes(), at=time.time()
        )

    chain = Chain(authenticators) if authenticators is not None else None
    publisher = Publisher(build, watch)
    dashboard = server.Dashboard(Gate(chain, state), publisher)
    listener = await server.start(dashboard, host, port, tls=tls)
    return WebView(listener, publisher)
