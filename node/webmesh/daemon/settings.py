"""Settings of webmesh-node, read from flags, environment variables and a YAML file.

Every setting is declared once, in :data:`OPTIONS`; the argparse parser, the environment names,
the YAML keys, ``--help`` and :func:`as_dict` are all derived from that table, so they cannot
drift apart. The names are a public contract (documented in the quick start and rendered by the
operator into a ConfigMap), so never rename one without keeping the old name as an alias.

Precedence is flags > environment > file > defaults. Every value is parsed where it is read,
so an error names the setting *and* where its bad value came from; a bad value is an error even
if a higher layer overrides it, because a broken config file should not lie in wait.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import keyword
import pathlib
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import webmesh
from webmesh.daemon import config_file, security_options, values
from webmesh.daemon.option import Option, bool_option

PROG = "webmesh-node"
RAFT_DEFAULT_PORT = 9443
"""The Raft port used when ``raft.listen-address`` is empty (the node's own mesh address)."""


DEFAULT_SOURCE = "default"


class SettingsError(Exception):
    """A setting could not be read; the message is one line naming the setting and its source."""


OPTIONS: tuple[Option, ...] = (
    bool_option("global.insecure", "No TLS and no authentication: for tests and development only."),
    bool_option("global.no-ipv6", "Do not use IPv6 inside the mesh."),
    bool_option("global.detect-endpoints", "Advertise this host's addresses as endpoints."),
    bool_option("global.detect-private-endpoints", "Include private (RFC 1918 / ULA) addresses."),
    bool_option("global.no-remote-endpoint-detection",
                "Do not let the servers record where this node's traffic comes from (the public "
                "side of its NAT, shown by wmctl get nodes): without it, two nodes without an "
                "endpoint never try a direct path to each other (hole punching)."),
    Option("global.primary-endpoint", values.parse_endpoint, "", "Endpoint to advertise first.",
           kind="host or host:port", metavar="HOST[:PORT]"),
    Option("global.endpoints", values.parse_host_port, "", "Additional endpoints to advertise.",
           kind="list of host:port", metavar="HOST:PORT[,...]", is_list=True),
    Option("global.log-level", values.one_of("debug", "info", "warning", "error"), "info",
           "Least severe level logged.", kind="debug|info|warning|error", metavar="LEVEL"),
    Option("global.log-format", values.one_of("text", "json"), "text",
           "Log as key=value text or as JSON lines.", kind="text|json", metavar="FORMAT"),
    bool_option("bootstrap.enabled", "Create a new mesh if this node has no state."),
    Option("bootstrap.ipv4-network", values.parse_ipv4_network(30), "172.16.0.0/12",
           "IPv4 network of the new mesh (/30 or larger).", kind="IPv4 CIDR", metavar="CIDR"),
    Option("bootstrap.ipv6-network", values.parse_optional_ipv6_network(63), "",
           "IPv6 network of the new mesh (/63 or larger); empty: a random ULA /48.",
           kind="IPv6 CIDR", metavar="CIDR"),
    Option("bootstrap.mesh-domain", values.parse_domain, "webmesh.internal",
           "DNS domain of the new mesh.", kind="domain", metavar="DOMAIN"),
    Option("bootstrap.restore-from", values.parse_restore_source, "",
           "Start the new mesh from a snapshot or backup instead of an empty one: a file "
           "(wmctl snapshot save, or a backup: needs --backup.key-file), or a backup store "
           "(a directory, file:///path or s3://bucket/prefix: its newest backup). Nodes keep "
           "their ids, addresses and keys; the networks and domain come from the snapshot.",
           kind="path or URL", metavar="FILE|URL"),
    Option("mesh.node-id", values.parse_text, "", "Unique id of this node in the mesh.",
           kind="string", metavar="ID", default_help="this host's name"),
    Option("mesh.join-address", values.parse_optional_host_port, "",
           "API address of a mesh member to join through.", kind="host:port", metavar="HOST:PORT"),
    bool_option("mesh.join-as-voter", "Join as a Raft voter (otherwise as an observer)."),
    Option("mesh.max-join-retries", values.int_in_range(0), "10",
           "Join attempts before giving up.", kind="int >= 0", metavar="N"),
    Option("mesh.address-quarantine", values.int_in_range(0), "600",
           "Seconds an address released by a removed node rests before this server gives it to "
           "a joining node (0: reuse at once).", kind="seconds >= 0", metavar="SECONDS"),
    Option("mesh.purge-after", values.parse_duration, "24h",
           "On servers: remove a non-voting node once it has been offline this long, and free its "
           "addresses after the quarantine (0: never). Voters are never purged.",
           kind="duration", metavar="DURATION"),
    Option("mesh.ephemeral-grace", values.parse_duration, "30s",
           "On servers: remove a node that joined as ephemeral (wmctl connect --ephemeral) once "
           "it has been offline this long.", kind="duration", metavar="DURATION"),
    bool_option("mesh.rejoin-after-removal",
                "When the mesh removes this node (wmctl leave NODE, or a purge), join again at "
                "once instead of removing the interface and exiting with status 3; also lets a "
                "node that was removed start again."),
    bool_option("mesh.use-meshdns",
                "Send this host's lookups of the mesh domain to MeshDNS (systemd-resolved "
                "per-link DNS where it runs, otherwise a managed /etc/resolv.conf, put back "
                "byte for byte when the node stops)."),
    Option("mesh.routes", values.parse_network, "", "Extra CIDRs this node advertises.",
           kind="list of CIDR", metavar="CIDR[,...]", is_list=True),
    Option("raft.listen-address", values.parse_optional_listen_address, "",
           f"Raft address; empty: this node's mesh address, port {RAFT_DEFAULT_PORT}.",
           kind="host:port", metavar="HOST:PORT"),
    Option("raft.data-dir", values.parse_path, "/var/lib/webmesh/store",
           "Directory of the Raft log and snapshots.", kind="path", metavar="PATH"),
    bool_option("raft.in-memory", "Keep Raft state in memory only (lost on restart)."),
    Option("raft.sync", values.one_of("always", "batch", "off"), "always",
           "When the Raft log reaches the disk: always (before anything that acknowledges it "
           "leaves: survives power loss), batch (every 100 ms: a power loss of a majority can "
           "lose the last 100 ms of acknowledged writes), off (never fsync: survives kill -9, "
           "not power loss).", kind="always|batch|off", metavar="MODE"),
    Option("services.api.listen-address", values.parse_listen_address, "[::]:8443",
           "Address of the gRPC API.", kind="host:port", metavar="HOST:PORT"),
    bool_option("services.api.disabled", "Do not serve the API (a pure client/observer node)."),
    Option("services.metrics.listen-address", values.parse_listen_address, "[::]:8080",
           "Address of the Prometheus metrics endpoint.", kind="host:port", metavar="HOST:PORT"),
    bool_option("services.metrics.disabled", "Do not serve metrics."),
    bool_option("services.meshdns.enabled",
                "Serve MeshDNS (UDP and TCP): <node-id>.<mesh-domain> A/AAAA for every node of "
                "the mesh, other names forwarded to this host's resolvers."),
    Option("services.meshdns.listen-port", values.int_in_range(1, 65535), "53",
           "Port of MeshDNS (--mesh.use-meshdns uses only servers on port 53: resolv.conf "
           "cannot name another port).", kind="int 1..65535", metavar="PORT"),
    Option("services.meshdns.listen-addresses", values.parse_ip_address, "",
           "Addresses MeshDNS listens on; empty: this node's mesh addresses (0.0.0.0 or :: "
           "for every address, e.g. behind a Kubernetes Service).",
           kind="list of IP addresses", metavar="IP[,...]", is_list=True),
    Option("services.meshdns.forwarders", values.parse_dns_server, "",
           "DNS servers that answer names outside the mesh domain; empty: the servers of this "
           "host's /etc/resolv.conf (as it was before webmesh changed it).",
           kind="list of IP[:PORT]", metavar="IP[:PORT][,...]", is_list=True),
    bool_option("services.meshdns.no-forward",
                "Answer only the mesh domain: REFUSED for every other name."),
    bool_option("services.dashboard.enabled",
                "Serve the web view: the mesh graph, the nodes, ACLs, routes and peerings, live. "
                "On the API's TLS and authentication (a browser logs in with Basic or LDAP "
                "credentials, or a client certificate); a reader needs get on nodes (RBAC). "
                "Plain HTTP with no authentication in --global.insecure mode."),
    Option("services.dashboard.listen-address", values.parse_listen_address, "[::]:8444",
           "Address of the web view (HTTPS; HTTP in --global.insecure mode).", kind="host:port",
           metavar="HOST:PORT"),
    Option("backup.url", values.parse_backup_url, "",
           "Where the leader writes encrypted backups of the mesh state: a directory (a mounted "
           "volume), file:///path, or s3://bucket/prefix (credentials as the AWS tools take "
           "them: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, or a role); empty: no "
           "backups.", kind="path or URL", metavar="URL"),
    Option("backup.s3-endpoint", values.parse_optional_url, "",
           "The S3 API to use for s3:// URLs, for S3-compatible stores (MinIO, Ceph, R2...); "
           "empty: AWS.", kind="URL", metavar="URL"),
    Option("backup.s3-region", values.parse_optional_text, "",
           "The S3 region for s3:// URLs; empty: AWS_REGION or us-east-1.", kind="string",
           metavar="REGION"),
    Option("backup.interval", values.parse_duration, "1h",
           "How often the leader writes a backup.", kind="duration", metavar="DURATION"),
    Option("backup.retain", values.int_in_range(1), "24",
           "How many backups to keep (the oldest are deleted).", kind="int >= 1", metavar="N"),
    Option("backup.key-file", values.parse_optional_text, "",
           "The backup key: 32 bytes in base64 (head -c 32 /dev/urandom | base64); needed "
           "with --backup.url (every backup is encrypted and authenticated, AES-256-GCM).",
           kind="path", metavar="PATH"),
    Option("wireguard.interface-name", values.parse_interface_name, "webmesh0",
           "Name of the WireGuard interface.", kind="interface name", metavar="NAME"),
    Option("wireguard.listen-port", values.int_in_range(1, 65535), "51820",
           "UDP port WireGuard listens on.", kind="int 1..65535", metavar="PORT"),
    Option("wireguard.mtu", values.int_in_range(1280, 9000), "1420",
           "MTU of the WireGuard interface.", kind="int 1280..9000", metavar="BYTES"),
    bool_option("wireguard.exit-node",
                "Offer this node as an exit node: it advertises the default routes (0.0.0.0/0, and "
                "::/0 with IPv6) and masquerades (nftables) what other nodes send it for the "
                "internet. Only nodes that opt in (--wireguard.use-exit-node) use it."),
    Option("wireguard.use-exit-node", values.parse_optional_id, "",
           "Send this host's internet traffic through the exit node with this id, by policy "
           "routing (a table and a firewall mark of its own, as wg-quick): the host's own default "
           "route stays, and comes back in use when the exit node goes away or this node stops.",
           kind="node id", metavar="ID"),
    Option("wireguard.key-rotation-interval", values.parse_duration, "168h",
           "Make a new WireGuard key this often (0: never); peers switch to it without dropping "
           "the tunnel. wmctl rotate-key asks for one at any time.",
           kind="duration", metavar="DURATION"),
    Option("wireguard.persistent-keepalive", values.int_in_range(0), "0",
           "Keepalive interval toward peers; 0 = the daemon's default.",
           kind="seconds >= 0", metavar="SECONDS"),
    Option("wireguard.backend", values.one_of("auto", "kernel", "userspace", "fake"), "auto",
           "WireGuard driver: auto (kernel if available), kernel, userspace (wireguard-go), or "
           "fake (in memory, no real interface: for tests).",
           kind="auto|kernel|userspace|fake", metavar="BACKEND"),
)  # fmt: skip

OPTIONS = (*OPTIONS, *security_options.OPTIONS)
OPTIONS_BY_NAME: Mapping[str, Option] = {option.name: option for option in OPTIONS}
_SECTION_NAMES = frozenset(
    ".".join(option.name.split(".")[:depth])
    for option in OPTIONS
    for depth in range(1, option.name.count(".") + 1)
)


@dataclasses.dataclass(frozen=True, slots=True)
class GlobalSettings:
    """``global.*``: security mode, advertised endpoints and logging."""

    insecure: bool
    no_ipv6: bool
    detect_endpoints: bool
    detect_private_endpoints: bool
    no_remote_endpoint_detection: bool
    primary_endpoint: str
    endpoints: tuple[str, ...]
    log_level: str
    log_format: str
    tls_cert_file: str
    tls_key_file: str
    tls_ca_file: str
    mtls: bool


@dataclasses.dataclass(frozen=True, slots=True)
class BootstrapSettings:
    """``bootstrap.*``: how to create a new mesh; only used when this node has no state."""

    enabled: bool
    ipv4_network: str
    ipv6_network: str  # "" means: a random ULA /48, generated at bootstrap
    mesh_domain: str
    restore_from: str  # "" = an empty mesh; else a file, directory or URL (backup.url's forms)
    admin: str
    voters: tuple[str, ...]
    disable_rbac: bool
    default_network_policy: str


@dataclasses.dataclass(frozen=True, slots=True)
class MeshSettings:
    """``mesh.*``: this node's identity and how it joins an existing mesh."""

    node_id: str
    join_address: str
    join_as_voter: bool
    max_join_retries: int
    address_quarantine: int
    purge_after: int
    ephemeral_grace: int
    rejoin_after_removal: bool
    use_meshdns: bool
    routes: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class RaftSettings:
    """``raft.*``: the consensus store."""

    listen_address: str
    data_dir: pathlib.Path
    in_memory: bool
    sync: str


@dataclasses.dataclass(frozen=True, slots=True)
class ListenerSettings:
    """``services.api.*`` and ``services.metrics.*``: one served endpoint."""

    listen_address: str
    disabled: bool


@dataclasses.dataclass(frozen=True, slots=True)
class MeshDnsSettings:
    """``services.meshdns.*``: the DNS server for the mesh domain."""

    enabled: bool
    listen_port: int
    listen_addresses: tuple[str, ...]  # () means: this node's mesh addresses
    forwarders: tuple[str, ...]  # () means: the host's own resolvers
    no_forward: bool


@dataclasses.dataclass(frozen=True, slots=True)
class DashboardSettings:
    """``services.dashboard.*``: the web view (off by default: one more port facing strangers)."""

    enabled: bool
    listen_address: str


@dataclasses.dataclass(frozen=True, slots=True)
class ServicesSettings:
    """``services.*``: the endpoints this node serves."""

    api: ListenerSettings
    metrics: ListenerSettings
    meshdns: MeshDnsSettings
    dashboard: DashboardSettings


@dataclasses.dataclass(frozen=True, slots=True)
class BackupSettings:
    """``backup.*``: scheduled, encrypted backups of the mesh state (written by the leader)."""

    url: str  # "" = off
    interval: int
    retain: int
    key_file: str
    s3_endpoint: str  # "" = AWS
    s3_region: str  # "" = AWS_REGION or us-east-1


@dataclasses.dataclass(frozen=True, slots=True)
class WireGuardSettings:
    """``wireguard.*``: the data-plane interface."""

    interface_name: str
    listen_port: int
    mtu: int
    persistent_keepalive: int
    backend: str
    exit_node: bool
    use_exit_node: str
    key_rotation_interval: int


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """All settings of webmesh-node, as parsed: valid, typed and immutable."""

    global_: GlobalSettings
    bootstrap: BootstrapSettings
    mesh: MeshSettings
    raft: RaftSettings
    services: ServicesSettings
    backup: BackupSettings
    wireguard: WireGuardSettings
    tls: security_options.TlsSettings
    auth: security_options.AuthSettings
    plugins: security_options.PluginSettings


_SECTION_TYPES: Mapping[str, type[Any]] = {
    "global": GlobalSettings,
    "bootstrap": BootstrapSettings,
    "mesh": MeshSettings,
    "raft": RaftSettings,
    "services": ServicesSettings,
    "services.api": ListenerSettings,
    "services.metrics": ListenerSettings,
    "services.meshdns": MeshDnsSettings,
    "services.dashboard": DashboardSettings,
    "backup": BackupSettings,
    "wireguard": WireGuardSettings,
    **security_options.SECTION_TYPES,
}


@dataclasses.dataclass(frozen=True, slots=True)
class _Value:
    """A parsed value and where it came from, for error messages."""

    value: object
    source: str


# ---------------------------------------------------------------------------------------------
# Loading


def load_settings(
    argv: Sequence[str], environ: Mapping[str, str], *, hostname: str | None = None
) -> Settings:
    """Parse ``argv`` (without the program name), ``environ`` and the ``--config`` file.

    ``hostname`` is the default of ``mesh.node-id``; None asks ``socket.gethostname()``.
    ``--help`` and ``--version`` are accepted and ignored here: :func:`parse_or_exit` acts on them.
    Raises :class:`SettingsError`.
    """
    namespace = _parse_argv(argv)
    layers = _defaults(socket.gethostname() if hostname is None else hostname)
    if namespace.config is not None:
        layers.update(_read_file(namespace.config))
    layers.update(_read_env(environ))
    layers.update(_read_flags(namespace))
    _check_combinations(layers)
    _check_installed(layers)
    return _build({name: layer.value for name, layer in layers.items()})


def _convert(option: Option, raw: object, source: str) -> _Value:
    """Parse a raw value (text, a list of texts, or a YAML value) into a typed value."""
    try:
        if option.is_list:
            items = raw if isinstance(raw, list) else [raw]
            texts = [piece.strip() for item in items for piece in _scalar_text(item).split(",")]
            value: object = tuple(option.parse(text) for text in texts if text)
        else:
            value = option.parse(_scalar_text(raw))
    except ValueError as exc:
        raise SettingsError(f"invalid value for {option.flag} (from {source}): {exc}") from None
    return _Value(value, source)


def _scalar_text(raw: object) -> str:
    """Render one YAML scalar as the text a flag would carry (YAML already typed it)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str | int | float):
        return str(raw)
    raise ValueError(f"expected a single value, not a {type(raw).__name__}")


def _defaults(hostname: str) -> dict[str, _Value]:
    """Every setting at its default; the node id defaults to the host name."""
    texts = {option.name: option.default for option in OPTIONS}
    texts["mesh.node-id"] = hostname
    return {option.name: _convert(option, texts[option.name], DEFAULT_SOURCE) for option in OPTIONS}


def _read_env(environ: Mapping[str, str]) -> dict[str, _Value]:
    """Settings from environment variables; an empty variable counts as unset (as in viper)."""
    found: dict[str, _Value] = {}
    for option in OPTIONS:
        text = environ.get(option.env, "")
        if text:
            found[option.name] = _convert(option, text, f"env {option.env}")
    return found


def _read_flags(namespace: argparse.Namespace) -> dict[str, _Value]:
    """Settings given on the command line (argparse leaves the others at None)."""
    given = vars(namespace)
    return {
        option.name: _convert(option, given[option.name], "command line")
        for option in OPTIONS
        if given[option.name] is not None
    }


def _check_combinations(layers: Mapping[str, _Value]) -> None:
    """Reject settings that are valid alone but contradict each other."""
    bootstrap, join = layers["bootstrap.enabled"], layers["mesh.join-address"]
    if bootstrap.value and join.value:
        raise SettingsError(
            "--bootstrap.enabled and --mesh.join-address are mutually exclusive: choose one "
            f"(bootstrap.enabled from {bootstrap.source}, mesh.join-address from {join.source})"
        )


def ldap_installed() -> bool:
    """python-ldap is in ``webmesh[ldap]``, not in the base install (it builds from C)."""
    return importlib.util.find_spec("ldap") is not None


def _check_installed(layers: Mapping[str, _Value]) -> None:
    """Settings that need an optional extra: one line naming what to install (exit 2)."""
    given = [
        f"--{name}"
        for name, layer in layers.items()
        if name.startswith("plugins.ldap.") and layer.source != DEFAULT_SOURCE
    ]
    if given and not ldap_installed():
        raise SettingsError(
            f"{given[0]} needs LDAP support, which is not installed: "
            "pip install 'webmesh[ldap]' (python-ldap; it builds against the OpenLDAP headers)"
        )


def _attribute(segment: str) -> str:
    """The dataclass attribute for one segment of a dotted name (``global`` -> ``global_``)."""
    name = segment.replace("-", "_")
    return f"{name}_" if keyword.iskeyword(name) else name


def _build(parsed: Mapping[str, object]) -> Settings:
    """Assemble the dataclass tree, deepest sections first so their parents can hold them."""
    fields: dict[str, dict[str, Any]] = {section: {} for section in ("", *_SECTION_TYPES)}
    for name, value in parsed.items():
        section, _, key = name.rpartition(".")
        fields[section][_attribute(key)] = value
    for section in sorted(_SECTION_TYPES, key=lambda s: s.count("."), reverse=True):
        parent, _, key = section.rpartition(".")
        fields[parent][_attribute(key)] = _SECTION_TYPES[section](**fields[section])
    return Settings(**fields[""])


# ---------------------------------------------------------------------------------------------
# The YAML file


def _read_file(path: str) -> dict[str, _Value]:
    """Settings from the YAML file: nested sections, dotted keys, or a mix of both."""
    if not path:
        raise SettingsError("--config needs a file path")
    try:
        raw = config_file.read(path, names=OPTIONS_BY_NAME.keys(), sections=_SECTION_NAMES)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    source = f"file {path}"
    return {name: _convert(OPTIONS_BY_NAME[name], value, source) for name, value in raw.items()}


# ---------------------------------------------------------------------------------------------
# Flags and help

_DESCRIPTION = """\
Run a node of a webmesh WireGuard mesh: it joins (or bootstraps) the mesh, replicates its state
with Raft, serves the API and keeps the WireGuard interface in line with the mesh.

Every setting below can also be set by an environment variable (the name upper-cased, with '.'
and '-' as '_': GLOBAL_INSECURE=true) or in the YAML file given by --config (the dotted name
nested, 'global: {insecure: true}', or flat, 'global.insecure: true'). Precedence: flags, then
environment, then the file, then the defaults. Booleans: --flag, --flag=true or --flag=false
(environment: true/false, 1/0, yes/no). Lists: comma-separated; list flags may be repeated."""

_QUICK_START = f"""\
quick start (development mode: no TLS, no authentication):
  # bootstrap a new mesh on the first host
  {PROG} --global.insecure --global.no-ipv6 --global.detect-endpoints \\
      --global.detect-private-endpoints --bootstrap.enabled
  # join it from another host
  {PROG} --global.insecure --global.no-ipv6 --mesh.join-address=<host>:8443"""


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises instead of printing and exiting, so parsing stays pure."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """A fixed width, so ``--help`` reads the same on every terminal and in tests."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=44, width=100)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser derived from :data:`OPTIONS`; one argument group per section."""
    parser = _Parser(
        prog=PROG,
        usage="%(prog)s [--config PATH] [--SECTION.SETTING[=VALUE] ...]",
        description=_DESCRIPTION,
        epilog=_QUICK_START,
        formatter_class=_HelpFormatter,
        add_help=False,
        allow_abbrev=False,
    )
    general = parser.add_argument_group("general")
    general.add_argument("-h", "--help", action="store_true", help="Show this help and exit.")
    general.add_argument("--version", action="store_true", help="Show the version and exit.")
    general.add_argument("--config", metavar="PATH", help="Read settings from this YAML file.")
    groups: dict[str, Any] = {}
    for option in OPTIONS:
        if option.section not in groups:
            groups[option.section] = parser.add_argument_group(option.section)
        groups[option.section].add_argument(
            option.flag,
            dest=option.name,
            metavar=option.metavar,
            help=_help_line(option).replace("%", "%%"),
            **_argument_style(option),
        )
    return parser


def _argument_style(option: Option) -> dict[str, Any]:
    """Bare boolean flags mean true; list flags may repeat; the rest take one value."""
    if option.is_bool:
        return {"nargs": "?", "const": "true"}
    if option.is_list:
        return {"action": "append"}
    return {}


def _help_line(option: Option) -> str:
    """The help of one setting: what it does, its type, its default and its env name."""
    default = option.default_help or option.default or ("none" if option.is_list else '""')
    return f"{option.help} [{option.kind}; default: {default}; env: {option.env}]"


def format_help() -> str:
    """The ``--help`` text: usage, every setting grouped by section, and the quick start."""
    return build_parser().format_help()


def _parse_argv(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the flags; anything unknown is an error that names it."""
    namespace, extras = build_parser().parse_known_args(list(argv))
    if extras:
        first = extras[0]
        if not first.startswith("-"):
            raise SettingsError(f"unexpected argument {first!r} (settings are --section.name)")
        flag = first.partition("=")[0]
        hint = config_file.suggest(flag, [option.flag for option in OPTIONS])
        raise SettingsError(f"unknown flag {flag}{hint}")
    return namespace


# ---------------------------------------------------------------------------------------------
# Showing the effective settings


def as_dict(settings: Settings) -> dict[str, Any]:
    """The settings as nested plain data (str, int, bool, list) keyed like the YAML file.

    Written to a file and passed back through ``--config``, it yields equal settings.
    """
    tree: dict[str, Any] = {}
    for option in OPTIONS:
        *sections, key = option.name.split(".")
        node = tree
        value: object = settings
        for section in sections:
            node = node.setdefault(section, {})
            value = getattr(value, _attribute(section))
        node[key] = _plain(getattr(value, _attribute(key)))
    return tree


def _plain(value: object) -> object:
    """YAML-safe form of a parsed value: tuples as lists, paths as text."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def to_yaml(settings: Settings) -> str:
    """The settings as a YAML document, in the table's order, to log or to write as a file."""
    import yaml  # noqa: PLC0415 (only here and with --config: flags alone need no YAML parser)

    return yaml.safe_dump(as_dict(settings), sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------------------------------------
# The command-line glue


def parse_or_exit(
    argv: Sequence[str], environ: Mapping[str, str], *, hostname: str | None = None
) -> Settings:
    """Load the settings for ``main``: handle ``--help`` and ``--version``, exit 2 on errors.

    ``--help`` wins over any error elsewhere on the command line, as users expect.
    """
    words = list(argv)
    words = words[: words.index("--")] if "--" in words else words
    if "-h" in words or "--help" in words:
        sys.stdout.write(format_help())
        raise SystemExit(0)
    if "--version" in words:
        sys.stdout.write(f"{PROG} {webmesh.__version__}\n")
        raise SystemExit(0)
    try:
        return load_settings(argv, environ, hostname=hostname)
    except SettingsError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        raise SystemExit(2) from None
