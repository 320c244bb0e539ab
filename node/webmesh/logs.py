"""Logging for every program of ours: ``key=value`` text or one JSON object per line.

webmesh-node (``--global.log-level``, ``--global.log-format``) and wmctl (``--log-level``,
``--log-format``, or the node's spellings) log in the same format, configured here.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
import time
from collections.abc import Callable, Hashable

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


TEXT_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (tests swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(level: str, fmt: str) -> None:
    """Log ``level`` and up to stderr in ``fmt``, replacing only a handler installed here before."""
    handler = _StderrHandler()
    formatter: logging.Formatter = (
        JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    unconfigure()
    root.addHandler(handler)
    root.setLevel(level.upper())
    # pysyncobj logs its own chatter at INFO/DEBUG; keep warnings and up unless debugging.
    if level.lower() != "debug":
        logging.getLogger("pysyncobj").setLevel(logging.WARNING)


def unconfigure() -> None:
    """Remove the handler :func:`configure` installed (records go where they went before)."""
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StderrHandler)]


class Throttle:
    """Whether to log about a key (a source address and a reason) now: at most once per
    ``every`` seconds per key, remembering the ``capacity`` most recent keys. A port that faces
    strangers logs each refusal this way: a flood of junk cannot flood the log."""

    def __init__(
        self,
        *,
        every: float = 60.0,
        capacity: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._every = every
        self._capacity = capacity
        self._clock = clock
        self._last: collections.OrderedDict[Hashable, float] = collections.OrderedDict()

    def due(self, key: Hashable) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self._capacity:
            self._last.popitem(last=False)
        return True
