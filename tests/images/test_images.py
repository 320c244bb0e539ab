"""`make images` on a machine with no Docker daemon: the node and operator images as OCI archives.

The images are opened again with buildah and their programs run inside them (chroot): the node
image holds webmesh-node, wmctl, wireguard-go, wg and ip, every Python module a server needs
(LDAP included) and nothing of the operator; the operator image runs as uid 65532 without LDAP.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAG = "0.1.0-test"

pytestmark = pytest.mark.slow


def run(*cmd: str, timeout: float = 120) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@contextlib.contextmanager
def container(archive: Path) -> Iterator[str]:
    name = run("buildah", "from", "--quiet", f"oci-archive:{archive}").strip()
    try:
        yield name
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True, check=False)


def inside(name: str, *cmd: str) -> str:
    return run("buildah", "run", "--isolation", "chroot", name, "--", *cmd)


def config(name: str) -> dict[str, object]:
    found: dict[str, object] = json.loads(run("buildah", "inspect", name))["OCIv1"]["config"]
    return found


def test_make_images_builds_both_without_a_docker_daemon() -> None:
    run("make", "-C", str(ROOT), "images", f"IMAGE_TAG={TAG}", timeout=900)
    node, operator = (
        ROOT / f"dist/webmesh-node-{TAG}.tar",
        ROOT / f"dist/webmesh-operator-{TAG}.tar",
    )
    try:
        with container(node) as ctr:
            assert config(ctr)["Entrypoint"] == ["/opt/webmesh/bin/webmesh-node"]
            assert not config(ctr).get("User")  # root: NET_ADMIN reaches root's effective set
            assert inside(ctr, "/opt/webmesh/bin/webmesh-node", "--version").strip() == (
                "webmesh-node 0.1.0"
            )
            assert "usage: wmctl" in inside(ctr, "/opt/webmesh/bin/wmctl", "--help")
            probe = (
                "import importlib.util as u, webmesh.daemon.run, webmesh.authn.ldap; "
                "print([m for m in ('kopf', 'kubernetes') if u.find_spec(m)])"
            )
            assert inside(ctr, "/opt/webmesh/bin/python", "-c", probe).strip() == "[]"
            for tool in (["wireguard-go", "--version"], ["wg", "--version"], ["ip", "-V"]):
                inside(ctr, *tool)
        with container(operator) as ctr:
            assert config(ctr)["User"] == "65532:65532"
            assert "usage: webmesh-operator" in inside(
                ctr, "/opt/webmesh/bin/webmesh-operator", "--help"
            )
            probe = "import importlib.util as u; print(bool(u.find_spec('ldap')))"
            assert inside(ctr, "/opt/webmesh/bin/python", "-c", probe).strip() == "False"
    finally:
        node.unlink(missing_ok=True)
        operator.unlink(missing_ok=True)
