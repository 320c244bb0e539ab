"""Starting a new mesh from a snapshot (``--bootstrap.restore-from``), on its first server.

The restored state enters Raft as ordinary log entries, so that it is replicated, compacted and
sent to every replica that joins like any other state, and survives a crash of the restoring
server the moment each entry is acknowledged: one ``Restore`` with everything but the nodes,
then ``RestoreNodes`` of at most ``CHUNK_BYTES`` each (a command is at most 1 MiB; a 10,000-node
mesh's records are several). The restored mesh gets a new ``generation``: the replicas of the
mesh before (nodes that survived the disaster) see it and join the restored one
(``webmesh.daemon.node``).

``restore`` picks up where it stopped: a server that died halfway sends only the nodes not yet
restored when it starts again with the same snapshot.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator

from webmesh.mesh import commands
from webmesh.mesh.model import Node
from webmesh.mesh.state import MeshState, to_snapshot
from webmesh.service.leader import ReplicatedService

log = logging.getLogger("webmesh.service")

CHUNK_BYTES = 256 * 1024  # node records per RestoreNodes, well under the 1 MiB a command may be


class RestoreService(ReplicatedService):
    async def restore(self, snapshot: MeshState) -> str:
        """Make the (new, empty) mesh hold ``snapshot``'s state; its new generation."""
        if not self.state.bootstrapped:
            head = {**to_snapshot(snapshot), "nodes": [], "paths": {}}
            head.pop("generation", None)
            head.pop("restoring", None)
            await self.propose(commands.Restore(head, secrets.token_hex(8)))
            log.info(
                "restoring the mesh ipv4=%s nodes=%d from_index=%d",
                self.state.networks.ipv4 if self.state.networks else "-",
                len(snapshot.nodes),
                snapshot.index,
            )
        generation = self.state.generation
        if not self.state.restoring:
            return generation
        missing = [n for _, n in sorted(snapshot.nodes.items()) if n.id not in self.state.nodes]
        chunks = list(_chunks(missing)) or [()]
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            await self.propose(commands.RestoreNodes(generation, chunk, last))
        log.info("mesh restored generation=%s nodes=%d", generation, len(self.state.nodes))
        return generation


def _chunks(nodes: list[Node]) -> Iterator[tuple[Node, ...]]:
    """``nodes`` in runs of at most ``CHUNK_BYTES`` of JSON."""
    run: list[Node] = []
    size = 0
    for node in nodes:
        cost = len(json.dumps(node.to_dict())) + 2
        if run and size + cost > CHUNK_BYTES:
            yield tuple(run)
            run, size = [], 0
        run.append(node)
        size += cost
    if run:
        yield tuple(run)
