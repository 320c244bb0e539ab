"""What the benchmarks' child processes (``fakenode.py``, ``subscribers.py``) share: their reply
channel (one JSON object per stdout line) and the open-files limit a server or a crowd of
clients needs (a socket per subscriber)."""

from __future__ import annotations

import contextlib
import json
import resource
import sys
from typing import Any


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def raise_nofile_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    with contextlib.suppress(ValueError, OSError):  # an unlimited hard limit may be refused
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
