"""Raft's append rule (5.3): a follower deletes entries only from a real conflict."""

from __future__ import annotations

from typing import Any

from webmesh.raft.appends import StaleReplies, plan_append


def log_of(terms: dict[int, int]) -> tuple[Any, int]:
    """A follower log as ``term_at`` and its last index: {index: term}."""
    return terms.get, max(terms)


def append(prev: int, prev_term: int, entries: list[tuple[int, int]], commit: int = 0) -> Any:
    return {
        "type": "append_entries",
        "term": 3,
        "commit_index": commit,
        "prevLogIdx": prev,
        "prevLogTerm": prev_term,
        "entries": [(b"cmd", index, term) for index, term in entries],
    }


FOLLOWER = log_of({1: 1, 2: 1, 3: 2, 4: 2, 5: 2, 6: 3})


def test_a_late_append_of_entries_the_follower_holds_deletes_nothing() -> None:
    plan = plan_append(append(2, 1, [(3, 2), (4, 2)], commit=6), *FOLLOWER)
    assert plan.skipped == 2
    assert "prevLogIdx" not in plan.message, "a heartbeat: no log position, nothing deleted"
    assert plan.message["commit_index"] == 4, "commit only what is known to match the leader"
    assert plan.reply == {
        "type": "next_node_idx",
        "next_node_idx": 5,
        "reset": False,
        "success": True,
    }


def test_a_heartbeat_behind_the_follower_deletes_nothing() -> None:
    plan = plan_append(append(3, 2, []), *FOLLOWER)
    assert "prevLogIdx" not in plan.message and plan.reply is not None
    assert plan.reply["next_node_idx"] == 4


def test_new_entries_after_matching_ones_are_appended_after_them() -> None:
    plan = plan_append(append(4, 2, [(5, 2), (6, 3), (7, 3)]), *FOLLOWER)
    assert (plan.message["prevLogIdx"], plan.message["prevLogTerm"]) == (6, 3)
    assert [e[1] for e in plan.message["entries"]] == [7]
    assert plan.reply is None, "pysyncobj replies itself"


def test_a_conflict_is_left_to_pysyncobj_which_deletes_from_it() -> None:
    plan = plan_append(append(4, 2, [(5, 2), (6, 4)]), *FOLLOWER)
    assert (plan.message["prevLogIdx"], plan.message["prevLogTerm"]) == (5, 2)
    assert [(e[1], e[2]) for e in plan.message["entries"]] == [(6, 4)]


def test_a_mismatched_previous_entry_goes_through_unchanged() -> None:
    message = append(4, 9, [(5, 9)])
    assert plan_append(message, *FOLLOWER).message == message


def test_an_append_at_the_end_of_the_log_goes_through() -> None:
    message = append(6, 3, [])
    plan = plan_append(message, *FOLLOWER)
    assert plan.message == message and plan.reply is None


def test_late_failure_replies_do_not_rewind_a_follower_that_confirmed_more() -> None:
    replies = StaleReplies()
    success = {"type": "next_node_idx", "next_node_idx": 10, "reset": False, "success": True}
    late = {"type": "next_node_idx", "next_node_idx": 4, "reset": True, "success": False}
    ahead = {"type": "next_node_idx", "next_node_idx": 12, "reset": True, "success": False}
    assert not replies.is_stale("f", late), "nothing confirmed yet: believed"
    assert not replies.is_stale("f", success)
    assert replies.is_stale("f", late)
    assert not replies.is_stale("f", ahead)
    replies.forget("f")  # a new connection: the follower may have restarted with less
    assert not replies.is_stale("f", late)
