"""argparse helpers for ``wmctl pki init`` and ``wmctl pki issue NAME`` (the lead wires them in).

Usage from ``webmesh.cli.main``::

    pki_cli.add_parser(subparsers)          # adds "pki" with "init" and "issue"
    ...
    if args.command == "pki":
        return pki_cli.run(args)            # prints what it wrote; MeshError on failure

Errors are ``webmesh.errors`` (AlreadyExists, InvalidArgument, FailedPrecondition), so the
CLI's usual exit-code table applies.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from webmesh.client import pki

DEFAULT_DIR = "./pki"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``pki {init,issue}`` to argparse sub-parsers; returns the ``pki`` parser."""
    raw = argparse.RawDescriptionHelpFormatter
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pki",
        help="create a mesh CA and certificates for mTLS",
        formatter_class=raw,
        epilog="examples:\n  wmctl pki init --dir ./pki\n"
        "  wmctl pki issue node-a --ca-dir ./pki --out-dir ./pki\n"
        "  wmctl pki issue admin --user --ca-dir ./pki --out-dir ./pki\n",
    )
    commands = parser.add_subparsers(dest="pki_command", required=True, metavar="{init,issue}")
    init = commands.add_parser(
        "init",
        help="create the mesh CA (DIR/ca.crt, DIR/ca.key)",
        formatter_class=raw,
        epilog="example:\n  wmctl pki init --dir ./pki      # keep ./pki/ca.key safe\n",
    )
    init.add_argument("--dir", default=DEFAULT_DIR, help=f"CA directory (default {DEFAULT_DIR})")
    init.add_argument("--name", default="webmesh-ca", help="the CA's common name")
    init.add_argument("--days", type=int, default=3650, help="validity in days (default 3650)")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    issue = commands.add_parser(
        "issue",
        help="issue NAME.crt/NAME.key signed by the mesh CA",
        description="A node certificate (the default) serves and dials; --user makes a client "
        "certificate for a person (wmctl), --server a server-only one.",
        formatter_class=raw,
        epilog="examples:\n  wmctl pki issue node-a --ca-dir ./pki --san node-a.example.com\n"
        "  wmctl pki issue alice --user --ca-dir ./pki --out-dir ~/.wmctl\n",
    )
    issue.add_argument("name", help="node id or user name (the certificate's CN)")
    kind = issue.add_mutually_exclusive_group()
    kind.add_argument("--user", dest="kind", action="store_const", const="user")
    kind.add_argument("--server", dest="kind", action="store_const", const="server")
    issue.add_argument("--ca-dir", default=DEFAULT_DIR, help=f"the CA (default {DEFAULT_DIR})")
    issue.add_argument("--out-dir", default=None, help="where to write (default: the CA dir)")
    issue.add_argument(
        "--san", action="append", default=[], help="extra DNS name or IP address (repeatable)"
    )
    issue.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    issue.add_argument("--force", action="store_true", help="replace existing files")
    return parser


def run(args: argparse.Namespace, *, out: TextIO = sys.stdout) -> int:
    """Execute a parsed ``pki`` command; returns the exit code (errors raise ``MeshError``)."""
    if args.pki_command == "init":
        pair = pki.init_ca(args.dir, name=args.name, days=args.days, force=args.force)
        print(f"wrote {pair.cert} and {pair.key}", file=out)
        print(f"next: wmctl pki issue NODE --ca-dir {args.dir}", file=out)
        return 0
    pair = pki.issue(
        args.out_dir or args.ca_dir,
        args.name,
        ca_dir=args.ca_dir,
        kind=args.kind or "node",
        sans=args.san,
        days=args.days,
        force=args.force,
    )
    print(f"wrote {pair.cert} and {pair.key}", file=out)
    return 0
