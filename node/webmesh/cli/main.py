"""``wmctl``: query and administer a webmesh mesh, like kubectl.

Global flags work before or after the subcommand (``wmctl -o json get nodes`` and
``wmctl get nodes -o json`` are the same). Errors are one line on stderr with a distinct exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from webmesh import __version__, errors, logs
from webmesh.cli import (
    admin,
    completion,
    config_cmd,
    connect,
    graph_cmd,
    output,
    snapshot_cmd,
    tools,
)
from webmesh.cli import pki_cmd as pki_cli
from webmesh.client import config
from webmesh.client import mesh_client as client
from webmesh.client.mesh_client import ClientOptions, MeshClient
from webmesh.client.security import ClientSecurity

DEFAULT_SERVER = "127.0.0.1:8443"

EXIT_CODES: dict[type[errors.MeshError], int] = {
    config.ConfigError: 2,
    client.ConnectionFailed: 3,
    errors.Unavailable: 3,
    client.TlsFailed: 7,
    client.LeaderUnavailable: 8,
    errors.NotLeader: 8,
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
  wmctl status node-b                   # asks node-b itself, at its API address
  wmctl get nodes
  wmctl get nodes -o wide
  wmctl get node bootstrap-node -o json
  wmctl get peers node-b
  wmctl get graph -o svg > mesh.svg    # needs Graphviz (apt-get install graphviz)
  wmctl leave node-b
  wmctl get networkacls
  wmctl put networkacls deny-b-c --priority 100 --src-node b --dst-node c --deny
  wmctl delete networkacls deny-b-c
  wmctl pki init --dir ./pki && wmctl pki issue node-a --ca-dir ./pki --out-dir ./pki
  wmctl --server 10.0.0.1:8443 --tls.ca-file ca.crt --auth.mtls.cert-file admin.crt \\
      --auth.mtls.key-file admin.key get nodes
  wmctl --server 203.0.113.7:30443 --tls.server-name demo-headless.ns.svc get nodes
  wmctl config set-context prod --cluster prod --user admin && wmctl config use-context prod
  wmctl genkey | tee private.key | wmctl pubkey
  source <(wmctl completion bash)

configuration:
  ~/.wmctl/config.yaml (or --config, or $WMCTL_CONFIG) holds clusters, users and contexts
  (see `wmctl config --help`). Flags on the command line win over the context (--context, or
  the current one), which wins over the defaults.

exit codes:
  0  success
  1  internal error (a bug: please report it)
  2  usage error, or a bad config file or context
  3  server unreachable: connection refused, unknown host, no answer in time
  4  not found
  5  permission denied, or not authenticated
  6  request rejected: invalid, already exists, or not possible now
  7  TLS failure: wrong CA, the server wants a client certificate, TLS against --insecure,
     the certificate does not name the server (see --tls.server-name)
  8  no leader: the mesh has no reachable Raft leader right now; retry
"""

# Global flags and their defaults. Parsers give them SUPPRESS defaults so that, after parsing,
# we know which were given on the command line (they win over the config file's context).
GLOBAL_DEFAULTS: dict[str, Any] = {
    "server": DEFAULT_SERVER,
    "insecure": False,
    "tls.ca_file": "",
    "auth.mtls.cert_file": "",
    "auth.mtls.key_file": "",
    "auth.basic.username": "",
    "auth.basic.password": "",
    "auth.ldap.username": "",
    "auth.ldap.password": "",
    "tls.insecure_skip_verify": False,
    "tls.server_name": "",
    "output": "table",
    "timeout": 10.0,
    "config": "",
    "context": "",
    "log_level": "warning",
    "log_format": "text",
}


def _global_options(
    formats: tuple[str, ...] = output.FORMATS, default_format: str = "table"
) -> argparse.ArgumentParser:
    """Global flags, on the top parser and every subparser (SUPPRESS defaults never overwrite).

    ``formats``: what -o takes; a command with formats of its own (get graph) widens them."""
    parent = argparse.ArgumentParser(add_help=False)
    quiet = argparse.SUPPRESS
    parent.add_argument(
        "--server", "-s", default=quiet, help=f"API server HOST:PORT (default {DEFAULT_SERVER})"
    )
    parent.add_argument(
        "--insecure",
        action="store_true",
        default=quiet,
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
        parent.add_argument(flag, default=quiet, help=help_)
    parent.add_argument(
        "--tls.server-name",
        default=quiet,
        metavar="NAME",
        help="verify the server's certificate against NAME instead of the host in --server; "
        "for servers behind a load balancer or node port",
    )
    parent.add_argument(
        "--tls.insecure-skip-verify",
        action="store_true",
        default=quiet,
        help="do not verify the server's certificate (unsafe)",
    )
    parent.add_argument(
        "--timeout", type=float, default=quiet, help="seconds to wait for the server (default 10)"
    )
    _file_options(parent, formats, default_format)
    return parent


def _file_options(
    parent: argparse.ArgumentParser | None = None,
    formats: tuple[str, ...] = output.FORMATS,
    default_format: str = "table",
) -> argparse.ArgumentParser:
    """-o, --config and --context: the global flags of commands that talk to no server."""
    parent = parent or argparse.ArgumentParser(add_help=False)
    quiet = argparse.SUPPRESS
    parent.add_argument(
        "--output",
        "-o",
        choices=formats,
        default=quiet,
        help=f"output format (default {default_format})",
    )
    parent.add_argument(
        "--config",
        default=quiet,
        metavar="PATH",
        help=f"wmctl's config file (default ${config_cmd.ENV} or {config_cmd.DEFAULT_PATH})",
    )
    parent.add_argument(
        "--context", default=quiet, metavar="NAME", help="use this context of the config file"
    )
    parent.add_argument(
        "--log-level",
        "--global.log-level",
        dest="log_level",
        choices=logs.LEVELS,
        default=quiet,
        help="what to log on stderr (default warning; debug adds gRPC's own lines)",
    )
    parent.add_argument(
        "--log-format",
        "--global.log-format",
        dest="log_format",
        choices=logs.FORMATS,
        default=quiet,
        help="log lines as key=value text or JSON, as webmesh-node does (default text)",
    )
    return parent


class _Parser(argparse.ArgumentParser):
    """The top parser: records which global flags were given, then fills in the defaults."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        given = vars(parsed)
        parsed.explicit = frozenset(key for key in GLOBAL_DEFAULTS if key in given)
        for key, value in GLOBAL_DEFAULTS.items():
            given.setdefault(key, value)
        return parsed, extras


def _help(help_: str, epilog: str, **kw: Any) -> dict[str, Any]:
    return {
        "help": help_,
        "epilog": epilog,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
        **kw,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wmctl",
        description="Query and administer a webmesh mesh.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_global_options()],
    )
    parser.add_argument("--version", action="version", version=f"wmctl {__version__}")
    # Subparsers are plain parsers: only the top one fills in defaults.
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=argparse.ArgumentParser
    )
    common = [_global_options()]
    status = sub.add_parser(
        "status",
        parents=common,
        **_help(
            "show a node's status: role, Raft, interface and peers",
            "examples:\n  wmctl status                # the server you talk to\n"
            "  wmctl status node-b         # node-b itself, at its API address in the mesh\n"
            "  wmctl status -o json\n",
        ),
    )
    status.add_argument(
        "node", nargs="?", default="", help="ask this node (by id) instead of --server"
    )
    _add_get_parsers(sub, common)
    admin.add_parsers(sub, common)
    leave = sub.add_parser(
        "leave",
        parents=common,
        **_help(
            "remove a node from the mesh (it disappears from every peer)",
            "example:\n  wmctl leave node-b\n",
        ),
    )
    leave.add_argument("id", help="the node id")
    sub.add_parser(
        "rotate-raft-keys",
        parents=common,
        **_help(
            "make every voter and observer replace its Raft key, with no downtime",
            "Each replica registers a new key, both keys are admitted for a few seconds, then\n"
            "the old one opens nothing. Needs 'put raftkeys' (mesh-admin has it).\n\n"
            "example:\n  wmctl rotate-raft-keys\n"
            "  wmctl get nodes -o json     # each node's raftKey changes within seconds\n",
        ),
    )
    rotate_key = sub.add_parser(
        "rotate-key",
        parents=common,
        **_help(
            "give a node a new WireGuard key; its peers switch without dropping the tunnel",
            "The node makes a key, publishes it through the mesh, and moves to it as its peers\n"
            "do (a continuous ping loses at most one packet). Nodes also rotate by themselves\n"
            "every --wireguard.key-rotation-interval (168h by default). A node may rotate its\n"
            "own key; another needs 'put nodes/<id>' (mesh-admin has it).\n\n"
            "examples:\n  wmctl rotate-key node-b\n"
            "  wmctl rotate-key              # the node of the server you talk to\n",
        ),
    )
    rotate_key.add_argument("node", nargs="?", default="", help="the node id")
    connect.add_parser(sub, common)
    snapshot_cmd.add_parser(sub, common)
    config_cmd.add_parser(sub, [_file_options()])
    tools.add_parsers(sub, common)
    shells = sub.add_parser(
        "completion",
        parents=common,
        **_help(
            "print a shell completion script",
            "examples:\n  source <(wmctl completion bash)        # in ~/.bashrc\n"
            "  source <(wmctl completion zsh)         # in ~/.zshrc\n"
            "  wmctl completion fish > ~/.config/fish/completions/wmctl.fish\n",
        ),
    )
    shells.add_argument("shell", choices=completion.SHELLS)
    pki_cli.add_parser(sub)
    return parser


def _add_get_parsers(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    get = sub.add_parser(
        "get",
        parents=common,
        **_help(
            "show mesh objects",
            "examples:\n  wmctl get nodes -o wide\n  wmctl get node node-b -o yaml\n"
            "  wmctl get peers node-b\n  wmctl get graph -o png > mesh.png\n"
            "  wmctl get networkacls\n",
        ),
    )
    get_sub = get.add_subparsers(dest="resource", required=True, metavar="RESOURCE")
    get_sub.add_parser(
        "nodes",
        parents=common,
        **_help(
            "list every node of the mesh",
            "examples:\n  wmctl get nodes\n  wmctl get nodes -o wide\n",
        ),
    )
    node = get_sub.add_parser(
        "node",
        parents=common,
        **_help(
            "show one node", "examples:\n  wmctl get node node-b\n  wmctl get node node-b -o json\n"
        ),
    )
    node.add_argument("id", help="the node id")
    peers = get_sub.add_parser(
        "peers",
        parents=common,
        **_help(
            "show a node's WireGuard peers, as the mesh computes them",
            "examples:\n  wmctl get peers node-b\n  wmctl get peers node-b -o wide\n",
        ),
    )
    peers.add_argument("id", help="the node id")
    graph_cmd.add_parser(get_sub, [_global_options(graph_cmd.FORMATS, "dot")])
    admin.add_get_parsers(get_sub, common)


async def _status(mesh: MeshClient, args: argparse.Namespace) -> str:
    if not args.node:
        status = await mesh.status()
        if args.output in ("json", "yaml"):
            return output.render_data(status, args.output)
        return output.status_text(status)
    node = await mesh.get_node(args.node)
    try:
        own = await _status_of_node(node, args)
    except errors.MeshError as exc:  # a client, or a node that is down: the mesh's view only
        if args.output in ("json", "yaml"):
            return output.render_data(node, args.output)
        return output.presence_text(node) + f"\nIts own status: unavailable ({exc})\n"
    if args.output in ("json", "yaml"):
        return output.render_data(own, args.output)
    return output.presence_text(node) + "\n" + output.status_text(own)


async def _status_of_node(node: Any, args: argparse.Namespace) -> Any:
    """Ask the node itself, at its API address, verifying its certificate by its node id."""
    if not node.api_address:
        raise errors.FailedPrecondition(f"node {node.id} serves no API (a client node)")
    options = ClientOptions(security=security_of(args), timeout=args.timeout)
    async with MeshClient(node.api_address, options, server_name=node.id) as direct:
        return await direct.status()


async def _get(mesh: MeshClient, args: argparse.Namespace) -> str | bytes:
    if args.resource in admin.KIND_OF:
        return await admin.get_command(mesh, args)
    data = args.output in ("json", "yaml")
    wide = args.output == "wide"
    if args.resource == "nodes":
        nodes = await mesh.list_nodes()
        return (
            output.render_data(nodes, args.output) if data else output.nodes_table(nodes, wide=wide)
        )
    if args.resource == "peers":
        peers = await mesh.peers(args.id)
        return (
            output.render_data(peers, args.output) if data else output.peers_table(peers, wide=wide)
        )
    if args.resource == "graph":
        return await graph_cmd.run(mesh, args)
    node = await mesh.get_node(args.id)
    return output.render_data(node, args.output) if data else output.nodes_table([node], wide=wide)


async def _leave(mesh: MeshClient, args: argparse.Namespace) -> str:
    await mesh.leave(args.id)
    return f"node {args.id} removed from the mesh\n"


async def _rotate_key(mesh: MeshClient, args: argparse.Namespace) -> str:
    node_id = args.node or (await mesh.status()).id
    count = await mesh.rotate_wireguard_key(node_id)
    return (
        f"node {node_id} asked for a new WireGuard key (rotation {count}): it switches within "
        "seconds (see its publicKey in 'wmctl get nodes -o wide')\n"
    )


async def _rotate_raft_keys(mesh: MeshClient, args: argparse.Namespace) -> str:
    del args
    epoch = await mesh.rotate_raft_keys()
    return (
        f"raft key epoch is now {epoch}: every replica registers a new key within seconds "
        "(see the raftKey of 'wmctl get nodes -o json')\n"
    )


# What a command returns goes to stdout: text, or bytes (a PNG) as they are.
COMMANDS: dict[str, Callable[[MeshClient, argparse.Namespace], Awaitable[str | bytes]]] = {
    "status": _status,
    "get": _get,
    "leave": _leave,
    "rotate-raft-keys": _rotate_raft_keys,
    "rotate-key": _rotate_key,
    "snapshot": snapshot_cmd.run,
    "put": admin.put_command,
    "delete": admin.delete_command,
}


def _pki(args: argparse.Namespace) -> str:
    pki_cli.run(args)
    return ""


# Commands that need no server (and no context).
LOCAL_COMMANDS: dict[str, Callable[[argparse.Namespace], str]] = {
    "pki": _pki,
    "config": config_cmd.run,
    "genkey": tools.genkey,
    "pubkey": tools.pubkey,
    "version": tools.version,
    "completion": lambda args: completion.script(build_parser(), args.shell),
}


def security_of(args: argparse.Namespace) -> ClientSecurity:
    """The client's TLS and credentials from the global flags."""
    get = vars(args).get
    return ClientSecurity(
        insecure=bool(get("insecure")),
        ca_file=get("tls.ca_file", ""),
        insecure_skip_verify=bool(get("tls.insecure_skip_verify")),
        server_name=get("tls.server_name", ""),
        cert_file=get("auth.mtls.cert_file", ""),
        key_file=get("auth.mtls.key_file", ""),
        basic=(get("auth.basic.username", ""), get("auth.basic.password", "")),
        ldap=(get("auth.ldap.username", ""), get("auth.ldap.password", "")),
    )


def apply_context(args: argparse.Namespace) -> None:
    """Fill the connection settings not given as flags from the config file's context."""
    settings = config_cmd.settings_for(args)
    explicit: frozenset[str] = getattr(args, "explicit", frozenset())
    for key, value in settings.values.items():
        if key not in explicit:
            setattr(args, key, value)


async def run(args: argparse.Namespace) -> str | bytes:
    if args.command in LOCAL_COMMANDS:
        return LOCAL_COMMANDS[args.command](args)
    apply_context(args)
    options = ClientOptions(security=security_of(args), timeout=args.timeout)
    async with MeshClient(args.server, options) as mesh:
        return await COMMANDS[args.command](mesh, args)


def exit_code(error: errors.MeshError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


def _fail(message: str, code: int) -> None:
    print(f"wmctl: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logs.configure(args.log_level, args.log_format)
    try:
        _command(args)
    finally:
        logs.unconfigure()  # the handler lives as long as the command (main may run in-process)


def _print(result: str | bytes) -> None:
    if isinstance(result, str):
        sys.stdout.write(result)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(result)
    sys.stdout.buffer.flush()


def _command(args: argparse.Namespace) -> None:
    """Run the parsed command; every failure becomes one line on stderr and its exit code."""
    try:
        if args.command == "connect":
            apply_context(args)
            sys.exit(connect.run(args, security_of))
        _print(asyncio.run(run(args)))
    except errors.MeshError as exc:
        _fail(f"error: {exc}", exit_code(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("WMCTL_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (a bug; WMCTL_DEBUG=1 shows where)", 1)


if __name__ == "__main__":
    main()
