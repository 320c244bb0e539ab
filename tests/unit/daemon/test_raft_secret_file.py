"""``bootstrap.raft-secret-file``: a new mesh's Raft password from a file (the operator's Secret).

The file is read only when a mesh is bootstrapped; an unusable file stops the node with exit 2
and one line that names the setting, like a bad flag.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from webmesh.daemon.node import bootstrap_raft_secret
from webmesh.daemon.settings import SettingsError, load_settings

FLAG = "--bootstrap.raft-secret-file"


def test_the_setting_is_read_from_the_config_file(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "webmesh.yaml"
    config.write_text("bootstrap:\n  raft-secret-file: /etc/webmesh/raft/secret\n")
    settings = load_settings(["--config", str(config)], {}, hostname="n1")
    assert settings.bootstrap.raft_secret_file == "/etc/webmesh/raft/secret"


def test_without_a_file_a_random_secret_is_generated() -> None:
    first, second = bootstrap_raft_secret(""), bootstrap_raft_secret("")
    assert first != second
    assert len(first) >= 32


def test_the_secret_is_the_file_stripped(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "secret"
    path.write_text("  s3cret-from-k8s\n\n")
    assert bootstrap_raft_secret(str(path)) == "s3cret-from-k8s"


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), ("", "is empty"), (" \n\t\n", "is empty")],
)
def test_a_missing_or_empty_file_is_a_settings_error(
    tmp_path: pathlib.Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError) as caught:
        bootstrap_raft_secret(str(path))
    message = str(caught.value)
    assert FLAG in message
    assert str(path) in message
    assert reason in message
    assert "\n" not in message


def test_an_unreadable_file_is_a_settings_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError, match=r"cannot read --bootstrap\.raft-secret-file"):
        bootstrap_raft_secret(str(tmp_path))  # a directory cannot be read as text


def test_the_node_exits_2_with_one_line_naming_the_setting(tmp_path: pathlib.Path) -> None:
    """The whole program: bootstrap with an empty secret file stops before any network setup."""
    secret = tmp_path / "secret"
    secret.write_text("\n")
    argv = [
        "--bootstrap.enabled",
        "--global.insecure",
        "--wireguard.backend=fake",
        "--raft.in-memory",
        f"--raft.data-dir={tmp_path / 'store'}",
        f"{FLAG}={secret}",
        "--services.metrics.disabled",
        "--services.api.disabled",
        "--global.log-level=error",
    ]
    code = "import sys; from webmesh.daemon.main import main; main(sys.argv[1:])"
    command = [sys.executable, "-c", code, *argv]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [f"webmesh-node: error: {FLAG} {secret} is empty"], result.stderr
