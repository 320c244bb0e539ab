"""The floors hold: the policy, the adapters and the syntax never reach the state machine.

import-linter states the whole order (``make lint``); this test says the same for the arrows that
past code ran backwards (mesh <-> authz, raft/authn importing mesh for its errors), from the real
import graph (grimp, import-linter's own), so it fails in the test run as soon as one comes back.
"""

from __future__ import annotations

import grimp
import pytest

LOWER_FLOORS = (
    "webmesh.authz",
    "webmesh.raft",
    "webmesh.wg",
    "webmesh.dns",
    "webmesh.authn",
    "webmesh.syntax",
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("webmesh")


@pytest.mark.parametrize("floor", LOWER_FLOORS)
def test_no_path_from_a_lower_floor_to_the_state_machine(
    graph: grimp.ImportGraph, floor: str
) -> None:
    chain = graph.find_shortest_chains(importer=floor, imported="webmesh.mesh", as_packages=True)
    assert not chain, f"{floor} reaches webmesh.mesh: {sorted(chain)}"


def test_the_error_tree_imports_nothing_of_webmesh(graph: grimp.ImportGraph) -> None:
    assert not {
        m
        for m in graph.find_modules_directly_imported_by("webmesh.errors")
        if m.startswith("webmesh")
    }


def test_the_check_can_fail(graph: grimp.ImportGraph) -> None:
    """The state machine does import the policy: the same query finds that arrow."""
    assert graph.find_shortest_chains(
        importer="webmesh.mesh", imported="webmesh.authz", as_packages=True
    )
