"""``wmctl get graph -o svg|png`` draws a real 5-node mesh in namespaces with Graphviz.

Two voters, three observers; the last two have no endpoint, so their pair goes through a relay
or a punched hole. ``WEBMESH_UPDATE_PICTURES=1`` also writes the pictures to
docs/images/mesh-graph.svg and .png, the README's picture of the graph.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from support.netlab import BIN, QUICKSTART_FLAGS, Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

PICTURES = Path(__file__).resolve().parents[2] / "docs" / "images"
SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = [f"node-{i}" for i in range(1, 6)]
NO_ENDPOINT = ("--global.insecure", "--global.no-ipv6")  # the quick start's flags, no endpoint
PAIRS = len(NAMES) * (len(NAMES) - 1) // 2


@pytest.fixture(autouse=True)
def graphviz() -> None:
    if shutil.which("dot") is None:  # a netns test must run in CI; elsewhere say what to install
        message = "Graphviz's dot is missing: apt-get install graphviz"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"GRAPH PICTURE TEST SKIPPED: {message}")


def start_mesh(lab: Lab) -> list[Host]:
    hosts = [lab.add_host(name) for name in NAMES]
    hosts[0].node(*QUICKSTART_FLAGS, "--bootstrap.enabled")
    hosts[0].wait_port(8443)
    join = "--mesh.join-address=node-1:8443"
    hosts[1].node(*QUICKSTART_FLAGS, join, "--mesh.join-as-voter")
    hosts[2].node(*QUICKSTART_FLAGS, join)
    for host in hosts[3:]:
        host.node(*NO_ENDPOINT, join)
    return hosts


def settled(host: Host) -> bool:
    """Every node online and every pair linked, none still punching: the picture to keep."""
    nodes = host.wmctl("--insecure", "get", "nodes", "-o", "json", check=False)
    graph = host.wmctl("--insecure", "get", "graph", "-o", "json", check=False)
    if nodes.returncode or graph.returncode:
        return False
    online = {n["id"] for n in json.loads(nodes.stdout) if n.get("online")}
    edges = json.loads(graph.stdout)["edges"]
    return (
        online == set(NAMES) and len(edges) == PAIRS and all(e["path"] != "punching" for e in edges)
    )


def test_wmctl_draws_the_mesh_as_svg_and_png(tmp_path: Path) -> None:
    with Lab() as lab:
        hosts = start_mesh(lab)
        eventually(
            lambda: settled(hosts[0]), timeout=90, what=lambda: f"a settled mesh\n{lab.logs()}"
        )
        svg = hosts[0].wmctl("--insecure", "get", "graph", "-o", "svg").stdout
        (tmp_path / "mesh-graph.svg").write_text(svg)
        hosts[2].wmctl("--insecure", "get", "graph", "-o", "png", "--out", f"{tmp_path}/a.png")
        wmctl = ("ip", "netns", "exec", hosts[4].netns, str(BIN / "wmctl"), "--insecure")
        with (tmp_path / "mesh-graph.png").open("wb") as redirected:  # wmctl ... > mesh-graph.png
            subprocess.run(
                [*wmctl, "get", "graph", "-o", "png"], stdout=redirected, check=True, timeout=30
            )

    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    words = set(" ".join(root.itertext()).split())
    assert set(NAMES) <= words
    for png in ("a.png", "mesh-graph.png"):
        assert (tmp_path / png).read_bytes().startswith(PNG_SIGNATURE)
    if os.environ.get("WEBMESH_UPDATE_PICTURES") == "1":
        PICTURES.mkdir(parents=True, exist_ok=True)
        for picture in ("mesh-graph.svg", "mesh-graph.png"):
            shutil.copyfile(tmp_path / picture, PICTURES / picture)
