"""Bounded waiting: tests poll a condition with a deadline instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
What = str | Callable[[], str]


def _describe(what: What, condition: object) -> str:
    """``what`` may be a callable so that logs are read when the wait fails, not before."""
    text = what() if callable(what) else what
    return text or str(condition)


def eventually(
    condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.1, what: What = ""
) -> T:
    """Return the first truthy value of ``condition()``; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {_describe(what, condition)}{detail}"
            )
        time.sleep(interval)


async def async_eventually(
    condition: Callable[[], Awaitable[T]],
    *,
    timeout: float = 10.0,
    interval: float = 0.1,
    what: What = "",
) -> T:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = await condition()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {_describe(what, condition)}{detail}"
            )
        await asyncio.sleep(interval)
