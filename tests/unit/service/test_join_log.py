"""Joins completed in one turn of the event loop share one log line; a lone join keeps its own."""

from __future__ import annotations

import asyncio
import logging

import pytest

from webmesh.mesh.model import Node
from webmesh.service.membership import JoinLog


def node(i: int) -> Node:
    return Node(id=f"n{i}", public_key="k", ipv4=f"172.16.0.{i}/32")


async def test_one_line_per_turn(caplog: pytest.LogCaptureFixture) -> None:
    joins = JoinLog()
    with caplog.at_level(logging.INFO, logger="webmesh.service"):
        for i in (1, 2, 3):
            joins.add(node(i))
        await asyncio.sleep(0)
        joins.add(node(4))
        await asyncio.sleep(0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "nodes joined count=3 nodes=n1:172.16.0.1/32:observer,n2:172.16.0.2/32:observer,"
        "n3:172.16.0.3/32:observer",
        "node joined node=n4 ipv4=172.16.0.4/32 role=observer",
    ]
