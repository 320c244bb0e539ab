"""``webmesh-node``: parse the settings, run the node until SIGTERM or SIGINT, exit cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from webmesh.daemon import logs
from webmesh.daemon.node import NodeDaemon
from webmesh.daemon.settings import PROG, Settings, SettingsError, parse_or_exit
from webmesh.mesh import errors
from webmesh.wg.driver import WireGuardDriver, open_driver
from webmesh.wg.errors import WireGuardError
from webmesh.wg.fake import FakeDriver, FakeLinks
from webmesh.wg.netlink import Links, NetlinkLinks

log = logging.getLogger("webmesh.node")

EXIT_FAILURE = 1
EXIT_USAGE = 2  # a setting is unusable: the same code as a bad flag


def links_for(driver: WireGuardDriver) -> Links:
    """The host's links, or in-memory ones with the fake backend (no interface to address)."""
    if isinstance(driver, FakeDriver):
        return FakeLinks(driver=driver)
    return NetlinkLinks()


async def serve(settings: Settings) -> None:
    driver = open_driver(settings.wireguard.backend)
    daemon = NodeDaemon(settings, driver=driver, links=links_for(driver))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await daemon.run(stop)
    finally:
        await driver.close()


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_or_exit(sys.argv[1:] if argv is None else argv, os.environ)
    logs.configure(settings.global_.log_level, settings.global_.log_format)
    try:
        asyncio.run(serve(settings))
    except SettingsError as exc:  # a setting read late, e.g. --bootstrap.raft-secret-file
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except (errors.MeshError, WireGuardError, OSError) as exc:
        log.error("node stopped: %s", exc)
        print(f"webmesh-node: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        pass
    except Exception:
        log.exception("node crashed: this is a bug, please report it with the log above")
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
