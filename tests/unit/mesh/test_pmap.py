"""PersistentMap behaves as a frozen dict, and a change never alters the map it came from."""

from __future__ import annotations

import random
import zlib

from webmesh.mesh import pmap
from webmesh.mesh.pmap import PersistentMap


def test_random_changes_match_a_dict_and_leave_older_maps_alone() -> None:
    rng = random.Random(14)
    model: dict[str, int] = {}
    current: PersistentMap[int] = PersistentMap()
    history: list[tuple[PersistentMap[int], dict[str, int]]] = []
    for step in range(3000):
        keys = [f"k{rng.randrange(600)}" for _ in range(rng.randrange(1, 4))]
        put = dict.fromkeys(keys[:-1], step)
        remove = keys[-1:] if rng.random() < 0.4 else []
        for k in remove:
            model.pop(k, None)
        model.update(put)
        current = current.changed(put=put, remove=remove)
        history.append((current, dict(model)))
    for snapshot, expected in history[::97]:
        assert dict(snapshot) == expected
        assert len(snapshot) == len(expected)
        assert dict(snapshot.items()) == expected
        assert sorted(snapshot.values()) == sorted(expected.values())
        assert all(snapshot[k] == v and k in snapshot for k, v in expected.items())
        assert snapshot.get("absent") is None and snapshot.get("absent", 7) == 7
        assert "absent" not in snapshot and 3 not in snapshot


def test_iteration_order_is_the_same_in_every_process() -> None:
    """Buckets come from CRC-32, not the per-process salted hash(): replicas agree."""
    keys = [f"node-{i}" for i in range(50)]
    order = list(PersistentMap((k, 0) for k in keys))
    assert order == sorted(keys, key=lambda k: (pmap._slot(k), keys.index(k)))
    assert [pmap._slot(k) for k in ("a", "b")] == [
        zlib.crc32(k.encode()) & (pmap.BUCKETS - 1) for k in ("a", "b")
    ]


def test_a_change_that_changes_nothing_returns_the_same_map() -> None:
    empty: PersistentMap[int] = PersistentMap()
    assert empty.changed(remove=["missing"]) is empty
    assert empty.changed() is empty
    one = empty.changed(put={"a": 1})
    assert (len(empty), len(one), one == {"a": 1}) == (0, 1, True)
    assert len(one.changed(remove=["a", "a"])) == 0  # a key named twice goes once
