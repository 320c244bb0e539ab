"""``webmesh-operator``'s console script: one clear line when the operator extra is missing.

The operator needs kopf and the Kubernetes client, which ``pip install webmesh`` does not bring
(``pip install 'webmesh[operator]'`` does). Without them, say so in one line and exit 2, rather
than a ``ModuleNotFoundError`` traceback. gRPC's environment (:mod:`webmesh.client.grpcenv`) is set
before anything imports grpc: the operator reads each mesh's API through the typed client.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

from webmesh.client import grpcenv

PROG = "webmesh-operator"
EXIT_USAGE = 2
NEEDS = ("kopf", "kubernetes")


def installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a finder that refuses it: as good as missing
        return False


def missing_modules() -> list[str]:
    return [name for name in NEEDS if not installed(name)]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    missing = missing_modules()
    if missing:
        print(
            f"{PROG}: needs the operator extra ({' and '.join(missing)} not installed): "
            "pip install 'webmesh[operator]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    grpcenv.prepare(debug=grpcenv.debug_requested(args))
    from webmesh_operator import main as operator  # noqa: PLC0415  (after grpcenv)

    return operator.main(args)
