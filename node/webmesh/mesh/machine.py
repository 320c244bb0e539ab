"""The replicated state machine that a consensus store drives.

``MeshMachine`` holds the current ``MeshState`` and swaps in a new one on every applied entry. A
swap is one reference assignment, so readers on any thread always see a whole state without locks.
Observers are called synchronously, on the consensus thread, after each swap: they must only hand
the news over (for example with ``loop.call_soon_threadsafe``) and return at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from webmesh.mesh import state as mesh_state
from webmesh.mesh.state import Effect, MeshState

Observer = Callable[[MeshState, tuple[Effect, ...]], None]


class MeshMachine:
    """Implements the consensus store's StateMachine protocol over MeshState."""

    def __init__(self, initial: MeshState | None = None) -> None:
        self._state = initial or MeshState()
        self._observers: list[Observer] = []

    @property
    def state(self) -> MeshState:
        return self._state

    def subscribe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def apply(self, entry: bytes) -> bytes:
        """Apply one committed log entry; return the encoded Result for its proposer."""
        transition = mesh_state.apply_encoded(self._state, entry)
        self._state = transition.state
        self._notify(transition.effects)
        return transition.result.encode()

    def snapshot(self) -> bytes:
        return json.dumps(mesh_state.to_snapshot(self._state), separators=(",", ":")).encode()

    def restore(self, data: bytes) -> None:
        self._state = mesh_state.from_snapshot(json.loads(data)) if data else MeshState()
        self._notify((mesh_state.Reset(),))

    def _notify(self, effects: tuple[Effect, ...]) -> None:
        for observer in self._observers:
            observer(self._state, effects)
