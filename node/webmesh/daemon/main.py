"""``webmesh-node``: parse the settings, run the node until SIGTERM or SIGINT, exit cleanly.

The settings are parsed before anything imports grpc: gRPC reads its resolver and verbosity from
the environment once (:mod:`webmesh.client.grpcenv`), and a node that only prints ``--help`` or
refuses a flag should not pay for loading grpc, pyroute2 and the rest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from webmesh import errors, logs
from webmesh.client import grpcenv
from webmesh.daemon.settings import PROG, SettingsError, parse_or_exit
from webmesh.wg.errors import WireGuardError

log = logging.getLogger("webmesh.node")

EXIT_FAILURE = 1
EXIT_USAGE = 2  # a setting is unusable: the same code as a bad flag
EXIT_REMOVED = 3  # the mesh removed this node (wmctl leave NODE, or a purge)


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_or_exit(sys.argv[1:] if argv is None else argv, os.environ)
    logs.configure(settings.global_.log_level, settings.global_.log_format)
    grpcenv.prepare(debug=settings.global_.log_level == "debug")
    from webmesh.daemon import run  # noqa: PLC0415  (after grpcenv: see the module docstring)

    try:
        asyncio.run(run.serve(settings))
    except errors.Removed as exc:  # logged where it was noticed; the interface is gone
        if settings.global_.log_format != "json":
            print(f"{PROG}: {exc}", file=sys.stderr)
        sys.exit(EXIT_REMOVED)
    except SettingsError as exc:  # a setting found wrong only when used
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except (errors.MeshError, WireGuardError, OSError) as exc:
        if settings.global_.log_format == "json":  # a collector reads JSON lines only
            log.error("node stopped: %s", exc)
        else:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        pass
