"""``wmctl config view|use-context|set-context|set-cluster|set-credentials`` and the file's I/O.

The file is written atomically with mode 0600 (it may hold passwords) in a 0700 directory.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import yaml

from webmesh.client import config

ENV = "WMCTL_CONFIG"
DEFAULT_PATH = "~/.wmctl/config.yaml"

EXAMPLES = """\
examples:
  wmctl config set-cluster prod --server 10.0.0.1:8443 --ca-file ~/pki/ca.crt
  wmctl config set-cluster kube --server 203.0.113.7:30443 --server-name demo-headless.ns.svc
  wmctl config set-credentials admin --mtls-cert ~/pki/admin.crt --mtls-key ~/pki/admin.key
  wmctl config set-context prod --cluster prod --user admin
  wmctl config use-context prod
  wmctl config view
  wmctl --context lab get nodes        # one command against another context

The file is ~/.wmctl/config.yaml, or --config PATH, or $WMCTL_CONFIG. Flags given on the command
line win over the context's values, which win over the defaults.
"""


def path_of(args: argparse.Namespace) -> Path:
    given = getattr(args, "config", "") or os.environ.get(ENV, "") or DEFAULT_PATH
    return Path(given).expanduser()


def load(path: Path) -> config.Config:
    """The config at ``path``; an absent file is an empty config."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return config.Config()
    except OSError as exc:
        raise config.ConfigError(f"cannot read the config {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise config.ConfigError(f"the config {path} is not valid YAML: {exc}") from exc
    try:
        return config.from_dict(data)
    except config.ConfigError as exc:
        raise config.ConfigError(f"the config {path}: {exc}") from exc


def save(path: Path, cfg: config.Config) -> None:
    """Write atomically, readable by the owner only (0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = yaml.safe_dump(config.to_dict(cfg), sort_keys=False, default_flow_style=False)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    tmp.replace(path)


def settings_for(args: argparse.Namespace) -> config.Settings:
    """The current (or ``--context``) context's settings from the config file."""
    path = path_of(args)
    cfg = load(path)
    return config.resolve(cfg, getattr(args, "context", "") or "", base=path.parent)


def _help(**kw: Any) -> dict[str, Any]:
    return {"formatter_class": argparse.RawDescriptionHelpFormatter, **kw}


def add_parser(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """``common``: the parents with --config and -o (not --server: set-cluster has its own)."""
    parser = sub.add_parser(
        "config",
        parents=common,
        help="show or change wmctl's config file (clusters, users, contexts)",
        description="wmctl's kubeconfig-like file: clusters, users and contexts.",
        **_help(epilog=EXAMPLES),
    )
    csub = parser.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    view = csub.add_parser(
        "view",
        parents=common,
        help="print the config (passwords redacted)",
        **_help(epilog="examples:\n  wmctl config view\n  wmctl config view --raw -o json\n"),
    )
    view.add_argument("--raw", action="store_true", help="show passwords too")
    csub.add_parser(
        "get-contexts",
        parents=common,
        help="list the contexts (* marks the current one)",
        **_help(epilog="example:\n  wmctl config get-contexts\n"),
    )
    csub.add_parser(
        "current-context",
        parents=common,
        help="print the current context's name",
        **_help(epilog="example:\n  wmctl config current-context\n"),
    )
    use = csub.add_parser(
        "use-context",
        parents=common,
        help="make a context the current one",
        **_help(epilog="example:\n  wmctl config use-context prod\n"),
    )
    use.add_argument("name", help="the context")
    ctx = csub.add_parser(
        "set-context",
        parents=common,
        help="create or change a context (a cluster with a user)",
        **_help(epilog="example:\n  wmctl config set-context prod --cluster prod --user admin\n"),
    )
    ctx.add_argument("name", help="the context")
    ctx.add_argument("--cluster", default=None, help="the cluster (see set-cluster)")
    ctx.add_argument("--user", default=None, help="the user (see set-credentials)")
    _add_set_cluster(csub, common)
    _add_set_credentials(csub, common)


def _add_set_cluster(csub: Any, common: list[argparse.ArgumentParser]) -> None:
    cluster = csub.add_parser(
        "set-cluster",
        parents=common,
        help="create or change a cluster (a server and how to trust it)",
        **_help(
            epilog="examples:\n  wmctl config set-cluster prod --server 10.0.0.1:8443 "
            "--ca-file ./pki/ca.crt\n  wmctl config set-cluster lab --server 127.0.0.1:8443 "
            "--insecure\n  wmctl config set-cluster kube --server 203.0.113.7:30443 "
            "--ca-file ./ca.crt --server-name demo-headless.ns.svc\n"
        ),
    )
    cluster.add_argument("name", help="the cluster")
    cluster.add_argument("--server", dest="cluster_server", default=None, metavar="HOST:PORT")
    cluster.add_argument("--ca-file", dest="cluster_ca_file", default=None, metavar="FILE")
    cluster.add_argument(
        "--server-name",
        dest="cluster_server_name",
        default=None,
        metavar="NAME",
        help="verify the server's certificate against NAME instead of the host in --server "
        "(a server behind a load balancer or node port); '' clears it",
    )
    for flag, dest, help_ in (
        ("insecure", "cluster_insecure", "without TLS (test meshes only)"),
        ("insecure-skip-verify", "cluster_skip_verify", "do not verify the server (unsafe)"),
    ):
        cluster.add_argument(
            f"--{flag}", dest=dest, default=None, action=argparse.BooleanOptionalAction, help=help_
        )


_CREDENTIAL_FLAGS = (
    ("--mtls-cert", "mtls_cert_file", "client certificate file (mTLS)"),
    ("--mtls-key", "mtls_key_file", "its key file"),
    ("--basic-username", "basic_username", "user for Basic authentication"),
    ("--basic-password", "basic_password", "password for Basic authentication"),
    ("--ldap-username", "ldap_username", "user for LDAP authentication"),
    ("--ldap-password", "ldap_password", "password for LDAP authentication"),
)


def _add_set_credentials(csub: Any, common: list[argparse.ArgumentParser]) -> None:
    user = csub.add_parser(
        "set-credentials",
        parents=common,
        help="create or change a user's credentials",
        **_help(
            epilog="examples:\n  wmctl config set-credentials admin --mtls-cert ./pki/admin.crt "
            "--mtls-key ./pki/admin.key\n  wmctl config set-credentials alice "
            "--basic-username alice --basic-password s3cret\n"
        ),
    )
    user.add_argument("name", help="the user")
    for flag, attribute, help_ in _CREDENTIAL_FLAGS:
        user.add_argument(flag, dest=f"user_{attribute}", default=None, help=help_)


def _render(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def _contexts_table(cfg: config.Config) -> str:
    from webmesh.cli import output  # noqa: PLC0415 - keeps this module light for completion

    rows = [
        ["*" if c.name == cfg.current_context else "", c.name, c.cluster, c.user]
        for c in cfg.contexts
    ]
    return output.table(["CURRENT", "NAME", "CLUSTER", "USER"], rows)


def run(args: argparse.Namespace) -> str:
    path = path_of(args)
    cfg = load(path)
    command = args.config_command
    if command == "view":
        return _render(config.to_dict(cfg, redact=not args.raw), args.output)
    if command == "get-contexts":
        return _contexts_table(cfg)
    if command == "current-context":
        if not cfg.current_context:
            raise config.ConfigError(f"no current context in {path}; set one with use-context")
        return cfg.current_context + "\n"
    if command == "use-context":
        cfg = config.use_context(cfg, args.name)
        message = f'Switched to context "{args.name}".\n'
    elif command == "set-context":
        cfg = config.set_context(cfg, args.name, cluster=args.cluster, user=args.user)
        message = f'Context "{args.name}" set.\n'
    elif command == "set-cluster":
        cfg = config.set_cluster(
            cfg,
            args.name,
            server=args.cluster_server,
            ca_file=args.cluster_ca_file,
            insecure=args.cluster_insecure,
            insecure_skip_verify=args.cluster_skip_verify,
            server_name=args.cluster_server_name,
        )
        message = f'Cluster "{args.name}" set.\n'
    else:
        changes = {a: getattr(args, f"user_{a}") for _, a, _ in _CREDENTIAL_FLAGS}
        cfg = config.set_credentials(cfg, args.name, **changes)
        message = f'User "{args.name}" set.\n'
    save(path, cfg)
    return message
