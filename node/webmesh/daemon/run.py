"""Run a node with parsed settings until SIGTERM or SIGINT (webmesh-node after its flags).

Imported by :mod:`webmesh.daemon.main` only once the settings are known and gRPC's environment
is prepared (:mod:`webmesh.client.grpcenv`): this module pulls in grpc, pyroute2 and the rest.
"""

from __future__ import annotations

import asyncio
import signal

from webmesh import errors
from webmesh.daemon.node import NodeDaemon
from webmesh.daemon.settings import Settings
from webmesh.wg.driver import WireGuardDriver, open_driver
from webmesh.wg.fake import FakeDriver, FakeLinks
from webmesh.wg.netlink import Links, NetlinkLinks


def links_for(driver: WireGuardDriver) -> Links:
    """The host's links, or in-memory ones with the fake backend (no interface to address)."""
    if isinstance(driver, FakeDriver):
        return FakeLinks(driver=driver)
    return NetlinkLinks()


async def serve(settings: Settings) -> None:
    """Run a node until SIGTERM or SIGINT. When the mesh removes it, ``errors.Removed`` ends
    this, unless --mesh.rejoin-after-removal: then a new node with the same identity joins. A
    node whose mesh was restored from a backup (``errors.Rejoin``) always joins it again."""
    driver = open_driver(settings.wireguard.backend)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        while True:
            daemon = NodeDaemon(settings, driver=driver, links=links_for(driver))
            try:
                await daemon.run(stop)
                return
            except errors.Rejoin:
                if stop.is_set():
                    return
            except errors.Removed:
                if not settings.mesh.rejoin_after_removal or stop.is_set():
                    raise
    finally:
        await driver.close()
