"""``python -m webmesh_operator``: the same as the ``webmesh-operator`` console script."""

from __future__ import annotations

import sys

from webmesh_operator.entry import main

if __name__ == "__main__":
    sys.exit(main())
