"""A node without CAP_NET_ADMIN says so, in one line a user can act on, and leaves nothing behind.

Run as root in a network namespace of its own, with CAP_NET_ADMIN taken out of the bounding and
inheritable sets (setpriv), as a container without ``--cap-add NET_ADMIN`` would run it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.netns


def test_without_cap_net_admin_the_node_names_the_capability(tmp_path: Path) -> None:
    assert shutil.which("setpriv"), "setpriv (util-linux) drops the capability"
    node = [
        str(BIN / "webmesh-node"),
        "--global.insecure",
        "--global.no-ipv6",
        "--bootstrap.enabled",
        f"--raft.data-dir={tmp_path / 'data'}",
        "--wireguard.interface-name=wmcap0",
    ]
    drop = ["setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin", "--"]
    done = subprocess.run(
        ["unshare", "--net", "--", *drop, *node],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("webmesh-node: error: WireGuard needs CAP_NET_ADMIN"), done.stderr
    assert "--cap-add NET_ADMIN" in last
    assert "Traceback" not in done.stderr
    assert "Failed to create TUN device" not in done.stderr  # we checked before wireguard-go ran
    assert not Path("/run/wireguard/wmcap0.sock").exists()
