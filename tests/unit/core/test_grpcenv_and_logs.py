"""gRPC's environment and the shared log format: what every entry point sets up first."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from webmesh import logs
from webmesh.client import grpcenv


def test_prepare_picks_the_os_resolver_and_hides_core_lines() -> None:
    env: dict[str, str] = {}
    grpcenv.prepare(debug=False, environ=env)
    assert env == {"GRPC_DNS_RESOLVER": "native", "GRPC_VERBOSITY": "NONE"}


def test_debug_shows_core_lines() -> None:
    env: dict[str, str] = {}
    grpcenv.prepare(debug=True, environ=env)
    assert env["GRPC_VERBOSITY"] == "INFO"


def test_what_the_user_set_wins() -> None:
    env = {"GRPC_DNS_RESOLVER": "ares", "GRPC_VERBOSITY": "debug"}
    grpcenv.prepare(debug=False, environ=env)
    assert env == {"GRPC_DNS_RESOLVER": "ares", "GRPC_VERBOSITY": "debug"}


def test_prepare_says_when_grpc_was_imported_first() -> None:
    code = (
        "from webmesh.client import grpcenv; a = grpcenv.prepare(debug=False); import grpc; "
        "b = grpcenv.prepare(debug=False); print(a, b)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


@pytest.mark.parametrize(
    ("argv", "debug"),
    [
        (["get", "nodes", "--log-level", "debug"], True),
        (["--global.log-level=DEBUG", "status"], True),
        (["--log-level", "info"], False),
        (["get", "nodes"], False),
        (["--log-levelx", "debug"], False),
    ],
)
def test_debug_requested(argv: list[str], debug: bool) -> None:
    assert grpcenv.debug_requested(argv) is debug


def test_json_lines_carry_level_logger_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        logs.configure("info", "json")
        logging.getLogger("webmesh.test").info("joined node=%s", "b")
        entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert entry["level"] == "info"
        assert entry["logger"] == "webmesh.test"
        assert entry["msg"] == "joined node=b"
        logs.configure("warning", "text")
        logging.getLogger("webmesh.test").warning("hello")
        assert "level=WARNING logger=webmesh.test hello" in capsys.readouterr().err
    finally:
        root = logging.getLogger()
        root.handlers[:] = [h for h in root.handlers if type(h).__module__ != logs.__name__]
        root.setLevel(logging.WARNING)


def test_wmctl_logs_like_the_node() -> None:
    """wmctl's --log-format json is the node's JSON (a real run: an unreachable server)."""
    code = (
        "import sys, logging; from webmesh.cli import entry; "
        "sys.argv = ['wmctl', '--insecure', '--server', '127.0.0.1:1', '--timeout', '1', "
        "'--log-level', 'info', '--log-format', 'json', 'get', 'nodes']; "
        "import webmesh.logs as l; "
        "orig = l.configure; "
        "l.configure = lambda *a: (orig(*a), logging.getLogger('webmesh.probe').info('hi')); "
        "entry.main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    first = done.stderr.splitlines()[0]
    assert json.loads(first) | {"ts": ""} == {
        "ts": "",
        "level": "info",
        "logger": "webmesh.probe",
        "msg": "hi",
    }
    assert done.returncode == 3
