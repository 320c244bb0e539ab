"""``wmctl``: query and administer a webmesh mesh, like kubectl.

Global flags work before or after the subcommand (``wmctl -o json get nodes`` and
``wmctl get nodes -o json`` are the same). Errors are one line on stderr with a distinct exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from webmesh import __version__
from webmesh.api.security import ClientSecurity
from webmesh.authn import pki_cli
from webmesh.cli import admin, connect, output
from webmesh.cli.client import ClientOptions, MeshClient
from webmesh.mesh import errors

DEFAULT_SERVER = "127.0.0.1:8443"

EXIT_CODES: dict[type[errors.MeshError], int] = {
    errors.Unavailable: 3,
    errors.NotLeader: 3,
    errors.NotFound: 4,
    errors.PermissionDenied: 5,
    errors.Unauthenticated: 5,
    errors.InvalidArgument: 6,
    errors.AlreadyExists: 6,
    errors.FailedPrecondition: 6,
    errors.Exhausted: 6,
}

EPILOG = """\
examples:
  wmctl --server 10.0.0.1:8443 --insecure status
  wmctl get nodes
  wmctl get nodes -o wide
  wmctl get node bootstrap-node -o json
  wmctl leave node-b
  wmctl get networkacls
  wmctl put networkacls deny-b-c --priority 100 --src-node b --dst-node c --deny
  wmctl delete networkacls deny-b-c
  wmctl pki init --dir ./pki && wmctl pki issue node-a --ca-dir ./pki --out-dir ./pki
  wmctl --server 10.0.0.1:8443 --tls.ca-file ca.crt --auth.mtls.cert-file admin.crt \
      --auth.mtls.key-file admin.key get nodes

exit codes:
  0 success, 1 unexpected error, 2 usage error, 3 server unreachable or no leader,
  4 not found, 5 permission denied or not authenticated, 6 rejected request
"""


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    """Global flags; sub-parsers get them too, with SUPPRESS defaults so they never overwrite."""
    parent = argparse.ArgumentParser(add_help=False)
    default: Any = (lambda value: value) if defaults else (lambda _v: argparse.SUPPRESS)
    parent.add_argument(
        "--server",
        "-s",
        default=default(DEFAULT_SERVER),
        help=f"API server HOST:PORT (default {DEFAULT_SERVER})",
    )
    parent.add_argument(
        "--insecure",
        action="store_true",
        default=default(False),
        help="talk to the server without TLS (test meshes only)",
    )
    for flag, help_ in (
        ("--tls.ca-file", "CA that signed the server's certificate"),
        ("--auth.mtls.cert-file", "client certificate (mTLS)"),
        ("--auth.mtls.key-file", "key of the client certificate"),
        ("--auth.basic.username", "user for Basic authentication"),
        ("--auth.basic.password", "password for Basic authentication"),
        ("--auth.ldap.username", "user for LDAP authentication"),
        ("--auth.ldap.password", "password for LDAP authentication"),
    ):
        parent.add_argument(flag, default=default(""), help=help_)
    parent.add_argument(
        "--tls.insecure-skip-verify",
        action="store_true",
        default=default(False),
        help="do not verify the server's certificate (unsafe)",
    )
    parent.add_argument(
        "--output",
        "-o",
        choices=output.FORMATS,
        default=default("table"),
        help="output format (default table)",
    )
    parent.add_argument(
        "--timeout",
        type=float,
        default=default(10.0),
        help="seconds to wait for the server (default 10)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wmctl",
        description="Query and administer a webmesh mesh.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_global_options(True)],
    )
    parser.add_argument("--version", action="version", version=f"wmctl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_global_options(False)]
    sub.add_parser("status", parents=common, help="show the server's status, Raft and peers")
    get = sub.add_parser("get", parents=common, help="show mesh objects")
    get_sub = get.add_subparsers(dest="resource", required=True, metavar="RESOURCE")
    get_sub.add_parser("nodes", parents=common, help="list every node of the mesh")
    node = get_sub.add_parser("node", parents=common, help="show one node")
    node.add_argument("id", help="the node id")
    admin.add_get_parsers(get_sub, common)
    admin.add_parsers(sub, common)
    leave = sub.add_parser(
        "leave", parents=common, help="remove a node from the mesh (it disappears from every peer)"
    )
    leave.add_argument("id", help="the node id")
    pki_cli.add_parser(sub)
    connect.add_parser(sub, common)
    return parser


async def _status(client: MeshClient, args: argparse.Namespace) -> str:
    status = await client.status()
    if args.output in ("json", "yaml"):
        return output.render_data(status, args.output)
    return output.status_text(status)


async def _get(client: MeshClient, args: argparse.Namespace) -> str:
    if args.resource in admin.KIND_OF:
        return await admin.get_command(client, args)
    if args.resource == "nodes":
        nodes = await client.list_nodes()
        if args.output in ("json", "yaml"):
            return output.render_data(nodes, args.output)
        return output.nodes_table(nodes, wide=args.output == "wide")
    node = await client.get_node(args.id)
    if args.output in ("json", "yaml"):
        return output.render_data(node, args.output)
    return output.nodes_table([node], wide=args.output == "wide")


async def _leave(client: MeshClient, args: argparse.Namespace) -> str:
    await client.leave(args.id)
    return f"node {args.id} removed from the mesh\n"


COMMANDS: dict[str, Callable[[MeshClient, argparse.Namespace], Awaitable[str]]] = {
    "status": _status,
    "get": _get,
    "leave": _leave,
    "put": admin.put_command,
    "delete": admin.delete_command,
}


def security_of(args: argparse.Namespace) -> ClientSecurity:
    """The client's TLS and credentials from the global flags."""
    get = vars(args).get
    return ClientSecurity(
        insecure=bool(get("insecure")),
        ca_file=get("tls.ca_file", ""),
        insecure_skip_verify=bool(get("tls.insecure_skip_verify")),
        cert_file=get("auth.mtls.cert_file", ""),
        key_file=get("auth.mtls.key_file", ""),
        basic=(get("auth.basic.username", ""), get("auth.basic.password", "")),
        ldap=(get("auth.ldap.username", ""), get("auth.ldap.password", "")),
    )


async def run(args: argparse.Namespace) -> str:

    if args.command == "pki":
        pki_cli.run(args)
        return ""
    options = ClientOptions(security=security_of(args), timeout=args.timeout)
    async with MeshClient(args.server, options) as client:
        return await COMMANDS[args.command](client, args)


def exit_code(error: errors.MeshError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "connect":
            sys.exit(connect.run(args, security_of))
        sys.stdout.write(asyncio.run(run(args)))
    except errors.MeshError as exc:
        print(f"wmctl: error: {exc}", file=sys.stderr)
        sys.exit(exit_code(exc))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
