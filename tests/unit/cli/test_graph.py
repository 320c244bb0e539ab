"""``wmctl get graph``: the formats it takes, and its pictures drawn by the real Graphviz.

Tests that take ``dot_program`` run Graphviz's ``dot`` (see conftest.py); the rest fake it or
its absence, so the messages are checked on every machine.
"""

from __future__ import annotations

import argparse
import io
import stat
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from webmesh import errors
from webmesh.api import convert
from webmesh.api.v1 import mesh_pb2, types_pb2
from webmesh.cli import graph_cmd, render
from webmesh.cli import main as wmctl

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

NODES = [
    types_pb2.MeshNode(
        id="alpha",
        private_ipv4="172.16.0.1/32",
        role=types_pb2.NODE_ROLE_VOTER,
        is_leader=True,
        online=True,
    ),
    types_pb2.MeshNode(
        id="beta", private_ipv4="172.16.0.2/32", role=types_pb2.NODE_ROLE_OBSERVER, online=True
    ),
    types_pb2.MeshNode(id="gamma", private_ipv4="172.16.0.3/32", role=types_pb2.NODE_ROLE_CLIENT),
]
GRAPH = mesh_pb2.MeshGraph(
    nodes=["alpha", "beta", "gamma"],
    edges=[
        mesh_pb2.MeshEdge(
            source="alpha", target="beta", path="direct", why="alpha has an endpoint"
        ),
        mesh_pb2.MeshEdge(source="alpha", target="gamma", path="direct", why="alpha has one"),
        mesh_pb2.MeshEdge(
            source="beta", target="gamma", relayed_by="alpha", path="relayed", why="no endpoint"
        ),
    ],
)


class FakeMesh:
    """The two reads ``get graph`` makes; counts them, to show a refusal asks nothing."""

    def __init__(self) -> None:
        self.calls = 0

    async def graph(self) -> mesh_pb2.MeshGraph:
        self.calls += 1
        return GRAPH

    async def list_nodes(self) -> list[types_pb2.MeshNode]:
        self.calls += 1
        return NODES


async def get_graph(*flags: str, mesh: FakeMesh | None = None) -> str | bytes:
    args: argparse.Namespace = wmctl.build_parser().parse_args(["get", "graph", *flags])
    fake: Any = mesh or FakeMesh()
    return await wmctl.COMMANDS["get"](fake, args)


def dot_text() -> str:
    return convert.graph_dot(
        list(GRAPH.nodes), GRAPH.edges, details={node.id: node for node in NODES}
    )


def test_svg_is_xml_in_the_svg_namespace_and_names_every_node(dot_program: str) -> None:
    svg = render.render(dot_text(), "svg", program=dot_program)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    words = set(" ".join(root.itertext()).split())
    assert {"alpha", "beta", "gamma", "172.16.0.2", "via"} <= words


def test_png_is_a_png(dot_program: str) -> None:
    assert render.render(dot_text(), "png", program=dot_program).startswith(PNG_SIGNATURE)


async def test_o_svg_prints_the_picture_and_o_png_returns_bytes(dot_program: str) -> None:
    svg = await get_graph("-o", "svg")
    assert isinstance(svg, str)
    assert ET.fromstring(svg.encode()).tag == f"{SVG}svg"
    png = await get_graph("-o", "png")  # stdout is pytest's capture, not a terminal
    assert isinstance(png, bytes)
    assert png.startswith(PNG_SIGNATURE)


async def test_out_writes_the_file_and_says_so(dot_program: str, tmp_path: Path) -> None:
    path = tmp_path / "mesh.png"
    said = await get_graph("-o", "png", "--out", str(path))
    assert said == f"wrote the graph of 3 nodes (png, {path.stat().st_size} bytes) to {path}\n"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


async def test_out_into_a_missing_directory_is_one_clear_error(
    dot_program: str, tmp_path: Path
) -> None:
    with pytest.raises(errors.InvalidArgument, match=r"cannot write .*/nowhere/mesh\.svg"):
        await get_graph("-o", "svg", "--out", str(tmp_path / "nowhere" / "mesh.svg"))


def test_a_dot_failure_is_one_line_with_dots_own_words(dot_program: str) -> None:
    with pytest.raises(render.GraphvizError) as caught:
        render.render("graph webmesh {\n  ]\n", "svg", program=dot_program)
    message = str(caught.value)
    assert message.startswith("dot -Tsvg failed (exit 1): ")
    assert "syntax error" in message
    assert "\n" not in message


def test_a_dot_that_hangs_is_stopped(tmp_path: Path) -> None:
    hanging = tmp_path / "dot"
    hanging.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    hanging.chmod(0o755)
    with pytest.raises(render.GraphvizError, match=r"dot -Tsvg did not finish within 0.2 s"):
        render.render("graph {}", "svg", program=str(hanging), timeout=0.2)


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_without_graphviz_the_message_names_the_package_and_asks_nothing(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit) as exited:  # a server that is not there is never asked
        wmctl.main(["--server", "127.0.0.1:1", "--insecure", "get", "graph", "-o", fmt])
    assert exited.value.code == 6
    err = capsys.readouterr().err
    assert err == (
        f"wmctl: error: -o {fmt} needs Graphviz's dot, which is not on the PATH: apt-get install "
        "graphviz (or dnf install graphviz, or brew install graphviz); -o dot prints the graph "
        "for rendering elsewhere\n"
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_png_is_refused_on_a_terminal_before_asking_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("sys.stdout", Terminal())
    mesh = FakeMesh()
    with pytest.raises(errors.InvalidArgument) as caught:
        await get_graph("-o", "png", mesh=mesh)
    assert str(caught.value) == (
        "-o png writes binary data, not for a terminal: redirect it "
        "(wmctl get graph -o png > mesh.png) or use --out mesh.png"
    )
    assert mesh.calls == 0


def test_binary_goes_to_stdouts_buffer_as_it_is(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    wmctl._print(PNG_SIGNATURE + b"\x00\xff")
    assert capsysbinary.readouterr().out == PNG_SIGNATURE + b"\x00\xff"


@pytest.mark.parametrize(
    ("argv", "fmt"),
    [
        ((), "dot"),
        (("-o", "svg"), "svg"),
        (("-o", "wide"), "table"),
        (("--format", "json"), "json"),
        (("--format", "table", "-o", "yaml"), "yaml"),  # -o wins
    ],
)
def test_the_format_is_o_then_format_then_dot(argv: tuple[str, ...], fmt: str) -> None:
    args = wmctl.build_parser().parse_args(["get", "graph", *argv])
    assert graph_cmd.chosen_format(args) == fmt


def test_only_get_graph_takes_the_picture_formats(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        wmctl.build_parser().parse_args(["get", "nodes", "-o", "svg"])
    assert exited.value.code == 2
    assert "invalid choice: 'svg'" in capsys.readouterr().err


def test_the_dot_boxes_say_address_role_leader_and_presence() -> None:
    lines = dot_text().splitlines()
    assert lines[0] == "graph webmesh {"
    assert (
        '  "alpha" [label="alpha\\n172.16.0.1\\nvoter, leader", fillcolor="#cfe2ff", penwidth=2];'
        in lines
    )
    assert '  "beta" [label="beta\\n172.16.0.2\\nobserver", fillcolor="#d1e7dd"];' in lines
    assert (
        '  "gamma" [label="gamma\\n172.16.0.3\\nclient, offline", style="rounded,dashed", '
        "color=gray50, fontcolor=gray40];" in lines
    )
    assert '  "beta" -- "gamma" [style=dashed, label="via alpha"];' in lines


def test_the_servers_dot_names_the_ids_and_labels_punched_and_punching_edges() -> None:
    edges = [
        mesh_pb2.MeshEdge(source="a", target="b", path="direct", why="hole punched: both NATs"),
        mesh_pb2.MeshEdge(source="a", target="c", relayed_by="r", path="punching", why="trying"),
    ]
    lines = convert.graph_dot(["a", "b", "c"], edges).splitlines()
    assert '  "a";' in lines
    assert '  "a" -- "b" [color="#2f855a", fontcolor="#2f855a", label="punched"];' in lines
    assert '  "a" -- "c" [style=dashed, label="via r (punching)"];' in lines
