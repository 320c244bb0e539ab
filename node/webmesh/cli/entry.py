"""``wmctl``'s console script: gRPC's environment first, then the command line.

gRPC reads its resolver and verbosity from the environment once, at import
(:mod:`webmesh.client.grpcenv`), so the log level is looked up here, before :mod:`webmesh.cli.main`
and grpc are imported; the full parser (with ``--help`` for these flags) comes after.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from webmesh.client import grpcenv


def main(argv: Sequence[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    grpcenv.prepare(debug=grpcenv.debug_requested(args))
    from webmesh.cli import main as wmctl  # noqa: PLC0415  (after grpcenv)

    wmctl.main(args)
