"""Wake-ups for everyone waiting on the next state change (SubscribePeers streams, reconcilers).

Lives on the event loop: the consensus thread hands changes over with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio


class StateWatch:
    """A broadcast 'something changed' signal; waiters re-read the latest state themselves."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter (call on the loop's thread)."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the next change; False on timeout."""
        event = self._event
        try:
            async with asyncio.timeout(timeout):  # no Task per wait, unlike wait_for
                await event.wait()
        except TimeoutError:
            return False
        return True
