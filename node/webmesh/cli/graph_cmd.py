"""``wmctl get graph``: who peers with whom, as DOT, a picture, a table or data.

The DOT that wmctl prints and renders is built here, from the graph and the node list (two
reads, both open to any authenticated caller), so that each box shows the node's address,
role and presence: ``wmctl get graph | dot -Tsvg`` and ``wmctl get graph -o svg`` draw the
same picture. The server's own ``MeshGraph.dot`` names only the ids.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from webmesh import errors, files
from webmesh.api import convert
from webmesh.api.v1 import mesh_pb2
from webmesh.cli import output, render
from webmesh.client.mesh_client import MeshClient

# -o for this command: the usual ones, and the graph's own.
FORMATS = (*output.FORMATS, "dot", *render.PICTURES)
LEGACY_FORMATS = ("dot", "json", "table", *render.PICTURES)  # --format, from before -o took them
EPILOG = """\
examples:
  wmctl get graph                        # Graphviz DOT
  wmctl get graph -o svg > mesh.svg      # a picture (needs Graphviz: apt-get install graphviz)
  wmctl get graph -o png --out mesh.png
  wmctl get graph -o json                # nodes and edges
  wmctl get graph -o table               # each pair: direct, relayed or punching, and why
Boxes are nodes (blue voters, green observers, yellow clients; a thick border for the leader,
dashed for an offline node); lines are direct WireGuard links (green: punched through two
NATs), dashed ones go through the relay they name.
"""


def add_parser(get_sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``parents`` carry the global flags, with -o taking this command's FORMATS."""
    graph = get_sub.add_parser(
        "graph",
        parents=parents,
        help="show who peers with whom (Graphviz DOT by default, or a picture)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    graph.add_argument(
        "--format",
        choices=LEGACY_FORMATS,
        default="",
        help="the same as -o, for older scripts",
    )
    graph.add_argument(
        "--out",
        default="",
        metavar="FILE",
        help="write the output to FILE instead of stdout (for -o png on a terminal)",
    )


def chosen_format(args: argparse.Namespace) -> str:
    """-o when given, else --format, else DOT: what a bare ``get graph`` printed before -o."""
    if "output" in getattr(args, "explicit", frozenset()):
        fmt = str(args.output)
    else:
        fmt = args.format or "dot"
    return "table" if fmt == "wide" else fmt


async def run(mesh: MeshClient, args: argparse.Namespace) -> str | bytes:
    """The graph in the chosen format: text, or bytes for a binary picture."""
    fmt = chosen_format(args)
    # Refuse before asking the server: the answer would be thrown away.
    program = render.dot_program(fmt) if fmt in render.PICTURES else ""
    if not args.out:
        render.refuse_terminal(fmt, sys.stdout)
    graph = await mesh.graph()
    if fmt in ("dot", *render.PICTURES):
        text = await dot(mesh, graph)
        result: str | bytes = text
        if program:
            picture = render.render(text, fmt, program=program)
            result = picture if fmt in render.BINARY else picture.decode()
    elif fmt in ("json", "yaml"):
        result = output.graph_json(graph) if fmt == "json" else output.render_data(graph, fmt)
    else:
        result = output.graph_table(graph)
    return _write(Path(args.out), result, graph, fmt) if args.out else result


async def dot(mesh: MeshClient, graph: mesh_pb2.MeshGraph) -> str:
    """The graph's DOT, each node with its address, role and presence (from ``ListNodes``)."""
    details = {node.id: node for node in await mesh.list_nodes()}
    return convert.graph_dot(list(graph.nodes), graph.edges, details=details)


def _write(path: Path, result: str | bytes, graph: mesh_pb2.MeshGraph, fmt: str) -> str:
    data = result.encode() if isinstance(result, str) else result
    try:
        files.write_atomically(path, data, mode=0o644)
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot write {path}: {exc.strerror or exc}") from exc
    return f"wrote the graph of {len(graph.nodes)} nodes ({fmt}, {len(data)} bytes) to {path}\n"
