"""wmctl genkey/pubkey/version/completion, and help that explains itself with examples."""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import subprocess

import pytest

from webmesh.cli import completion, tools
from webmesh.cli import main as wmctl
from webmesh.wg import keys


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        wmctl.main(list(argv))
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_genkey_and_pubkey_match_wg(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, private, _ = run_main(capsys, "genkey")
    assert code == 0 and len(private) == 45 and private.endswith("\n")
    keys.validate(private.strip())
    monkeypatch.setattr("sys.stdin", io.StringIO(private))
    code, public, _ = run_main(capsys, "pubkey")
    assert (code, public) == (0, keys.public_key(private.strip()) + "\n")
    # RFC 7748's test vector (Alice), as `wg pubkey` prints it.
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    out = tools.pubkey(argparse.Namespace(), io.StringIO(base64.b64encode(alice).decode()))
    expected = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert out == base64.b64encode(expected).decode() + "\n"


def test_pubkey_rejects_garbage_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("not a key\n"))
    code, _, err = run_main(capsys, "pubkey")
    assert code == 6 and err.count("\n") == 1 and "wmctl genkey" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "version")
    assert code == 0 and out.startswith("wmctl ")
    code, out, _ = run_main(capsys, "version", "-o", "json")
    assert json.loads(out)["clientVersion"]


def test_completion_tree_knows_every_command() -> None:
    levels = completion.tree(wmctl.build_parser())
    assert {"status", "get", "put", "config", "genkey", "completion", "pki"} <= set(
        levels[""].commands
    )
    assert {"nodes", "peers", "graph", "networkacls"} <= set(levels["get"].commands)
    assert "--server" in levels["get nodes"].valued
    assert "--insecure" not in levels["get nodes"].valued
    assert "set-cluster" in levels["config"].commands


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["wmctl", ""], "status"),
        (["wmctl", "--server", "h:1", "get", "n"], "nodes node networkacls networkacl"),
        (["wmctl", "-o", "json", "config", "set-c"], "set-context set-cluster set-credentials"),
        (["wmctl", "get", "nodes", "--ser"], "--server"),
    ],
)
def test_bash_completion_script(words: list[str], expected: str) -> None:
    script = completion.script(wmctl.build_parser(), "bash")
    quoted = " ".join(f'"{w}"' for w in words)
    probe = f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _wmctl\n"
    probe += 'echo "${COMPREPLY[@]}"\n'
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert set(expected.split()) <= set(result.stdout.split())


def test_zsh_and_fish_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    code, zsh, _ = run_main(capsys, "completion", "zsh")
    assert code == 0 and zsh.startswith("#compdef wmctl") and "bashcompinit" in zsh
    code, fish, _ = run_main(capsys, "completion", "fish")
    assert code == 0 and "complete -c wmctl" in fish
    assert "-a 'nodes node peers graph" in fish


def _subcommand_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, child in action.choices.items():
                if id(child) not in seen:  # aliases share a parser
                    seen.add(id(child))
                    found += _subcommand_paths(child, (*path, name))
    return found


PATHS = _subcommand_paths(wmctl.build_parser())


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "wmctl" for p in PATHS])
def test_every_help_has_examples(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, *path, "--help")
    assert code == 0
    assert "example" in out, f"`wmctl {' '.join(path)} --help` has no example"
    assert "wmctl " in out.split("example", 1)[1]


def test_top_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_main(capsys, "--help")
    documented = out.split("exit codes:", 1)[1]
    for code in sorted(set(wmctl.EXIT_CODES.values()) | {0, 1, 2}):
        assert f"  {code}  " in documented
