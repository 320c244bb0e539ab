"""wmctl commands that need no server: ``genkey``, ``pubkey`` and ``version``."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any, TextIO

import yaml

from webmesh import __version__, errors
from webmesh.wg import keys


def _help(epilog: str) -> dict[str, Any]:
    return {"epilog": epilog, "formatter_class": argparse.RawDescriptionHelpFormatter}


def add_parsers(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "genkey",
        parents=common,
        help="print a new WireGuard private key (like `wg genkey`)",
        **_help("examples:\n  wmctl genkey > private.key\n  wmctl genkey | wmctl pubkey\n"),
    )
    sub.add_parser(
        "pubkey",
        parents=common,
        help="read a WireGuard private key on stdin, print its public key (like `wg pubkey`)",
        **_help("examples:\n  wmctl pubkey < private.key\n  wmctl genkey | tee k | wmctl pubkey\n"),
    )
    sub.add_parser(
        "version",
        parents=common,
        help="print wmctl's version",
        **_help("examples:\n  wmctl version\n  wmctl version -o json\n"),
    )


def genkey(_args: argparse.Namespace) -> str:
    return keys.generate_private_key() + "\n"


def pubkey(_args: argparse.Namespace, stdin: TextIO | None = None) -> str:
    private = (stdin or sys.stdin).read().strip()
    try:
        return keys.public_key(private) + "\n"
    except ValueError as exc:
        raise errors.InvalidArgument(
            "stdin is not a WireGuard private key (44 base64 characters, as `wmctl genkey` prints)"
        ) from exc


def version(args: argparse.Namespace) -> str:
    data = {"clientVersion": __version__, "python": platform.python_version()}
    if args.output == "json":
        return json.dumps(data, indent=2) + "\n"
    if args.output == "yaml":
        return str(yaml.safe_dump(data, sort_keys=False))
    return f"wmctl {__version__} (Python {data['python']})\n"
