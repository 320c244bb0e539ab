"""webmesh.narrowimport.standing_in: a module lent for the time of one import, and only then."""

from __future__ import annotations

import importlib
import sys
import types

from webmesh import narrowimport


def test_a_stand_in_is_what_an_import_gets_inside_the_block_only() -> None:
    name = "webmesh_test_standin_target"
    stand_in = types.ModuleType(name)
    with narrowimport.standing_in(name, stand_in):
        assert importlib.import_module(name) is stand_in
    assert name not in sys.modules


def test_a_module_already_imported_is_not_replaced() -> None:
    stand_in = types.ModuleType("json")
    real = importlib.import_module("json")
    with narrowimport.standing_in("json", stand_in):
        assert importlib.import_module("json") is real
    assert sys.modules["json"] is real


def test_a_module_the_block_replaced_itself_is_left_in_place() -> None:
    name = "webmesh_test_standin_replaced"
    stand_in, other = types.ModuleType(name), types.ModuleType(name)
    with narrowimport.standing_in(name, stand_in):
        sys.modules[name] = other
    try:
        assert sys.modules[name] is other
    finally:
        del sys.modules[name]
