"""The settings contract of webmesh-node: names, types, defaults, sources and their precedence."""

from __future__ import annotations

import dataclasses
import pathlib
import socket
import typing
from collections.abc import Callable

import pytest
import yaml

from webmesh.daemon import security_options as sec
from webmesh.daemon import settings as s
from webmesh.daemon.settings import SettingsError, load_settings, parse_or_exit


def load(*argv: str, env: dict[str, str] | None = None, hostname: str = "node-1") -> s.Settings:
    return load_settings(argv, env or {}, hostname=hostname)


def error(*argv: str, env: dict[str, str] | None = None, hostname: str = "node-1") -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(argv, env or {}, hostname=hostname)
    message = str(caught.value)
    assert "\n" not in message
    return message


WriteConfig = Callable[[str], str]


@pytest.fixture
def config(tmp_path: pathlib.Path) -> WriteConfig:
    """Write a YAML config file and return its path as text."""

    def write(text: str) -> str:
        path = tmp_path / "webmesh.yaml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


# ---- defaults and the shape of Settings -----------------------------------------------------


def test_defaults() -> None:
    assert load() == s.Settings(
        global_=s.GlobalSettings(
            insecure=False,
            no_ipv6=False,
            detect_endpoints=False,
            detect_private_endpoints=False,
            no_remote_endpoint_detection=False,
            primary_endpoint="",
            endpoints=(),
            log_level="info",
            log_format="text",
            tls_cert_file="",
            tls_key_file="",
            tls_ca_file="",
            mtls=False,
        ),
        bootstrap=s.BootstrapSettings(
            enabled=False,
            ipv4_network="172.16.0.0/12",
            ipv6_network="",
            mesh_domain="webmesh.internal",
            restore_from="",
            admin="admin",
            voters=(),
            disable_rbac=False,
            default_network_policy="accept",
        ),
        mesh=s.MeshSettings(
            node_id="node-1",
            join_address="",
            join_as_voter=False,
            max_join_retries=10,
            address_quarantine=600,
            purge_after=86400,
            ephemeral_grace=30,
            rejoin_after_removal=False,
            use_meshdns=False,
            routes=(),
        ),
        raft=s.RaftSettings(
            listen_address="",
            data_dir=pathlib.Path("/var/lib/webmesh/store"),
            in_memory=False,
            sync="always",
        ),
        services=s.ServicesSettings(
            api=s.ListenerSettings(listen_address="[::]:8443", disabled=False),
            metrics=s.ListenerSettings(listen_address="[::]:8080", disabled=False),
            meshdns=s.MeshDnsSettings(
                enabled=False,
                listen_port=53,
                listen_addresses=(),
                forwarders=(),
                no_forward=False,
            ),
            dashboard=s.DashboardSettings(enabled=False, listen_address="[::]:8444"),
        ),
        backup=s.BackupSettings(
            url="", interval=3600, retain=24, key_file="", s3_endpoint="", s3_region=""
        ),
        wireguard=s.WireGuardSettings(
            interface_name="webmesh0",
            listen_port=51820,
            mtu=1420,
            persistent_keepalive=0,
            backend="auto",
            exit_node=False,
            use_exit_node="",
            key_rotation_interval=604800,
        ),
        tls=sec.TlsSettings(ca_file="", insecure_skip_verify=False, server_name=""),
        auth=sec.AuthSettings(
            mtls=sec.MtlsCredentials(cert_file="", key_file=""),
            basic=sec.PasswordCredentials(username="", password=""),
            ldap=sec.PasswordCredentials(username="", password=""),
        ),
        plugins=sec.PluginSettings(
            basic_auth=sec.BasicAuthPlugin(htpasswd_file=""),
            ldap=sec.LdapPlugin(
                server="",
                bind_dn="",
                bind_password="",
                user_base_dn="",
                user_id_attribute="uid",
                group_attribute="memberOf",
                ca_file="",
            ),
        ),
    )
    assert s.RAFT_DEFAULT_PORT == 9443


def test_node_id_defaults_to_the_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "box-7")
    assert load_settings([], {}).mesh.node_id == "box-7"


def test_an_unusable_hostname_is_reported_as_the_default() -> None:
    assert error(hostname="") == (
        "invalid value for --mesh.node-id (from default): '' must be non-empty "
        "and contain no whitespace"
    )


def test_settings_are_frozen() -> None:
    settings = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.mesh.node_id = "other"  # type: ignore[misc]


def _leaf_paths(cls: type, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            paths |= _leaf_paths(kind, f"{prefix}{field.name}.")
        else:
            paths.add(f"{prefix}{field.name}")
    return paths


def test_every_option_has_exactly_one_attribute() -> None:
    from_options = {
        ".".join(s._attribute(part) for part in option.name.split(".")) for option in s.OPTIONS
    }
    assert from_options == _leaf_paths(s.Settings)


# ---- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "env"),
    [
        ("global.insecure", "GLOBAL_INSECURE"),
        ("global.detect-endpoints", "GLOBAL_DETECT_ENDPOINTS"),
        ("global.detect-private-endpoints", "GLOBAL_DETECT_PRIVATE_ENDPOINTS"),
        ("mesh.join-address", "MESH_JOIN_ADDRESS"),
        ("services.api.listen-address", "SERVICES_API_LISTEN_ADDRESS"),
        ("wireguard.persistent-keepalive", "WIREGUARD_PERSISTENT_KEEPALIVE"),
        ("tls.server-name", "TLS_SERVER_NAME"),
    ],
)
def test_env_names(name: str, env: str) -> None:
    assert s.OPTIONS_BY_NAME[name].env == env


def test_the_documented_names_exist() -> None:
    documented = {
        "global.insecure", "global.no-ipv6", "global.detect-endpoints",
        "global.detect-private-endpoints", "global.primary-endpoint", "global.endpoints",
        "global.log-level", "global.log-format", "bootstrap.enabled", "bootstrap.ipv4-network",
        "bootstrap.ipv6-network", "bootstrap.mesh-domain", "mesh.node-id", "mesh.join-address",
        "mesh.join-as-voter", "mesh.max-join-retries", "mesh.routes", "mesh.address-quarantine",
        "mesh.purge-after", "mesh.ephemeral-grace", "mesh.rejoin-after-removal",
        "wireguard.exit-node", "wireguard.use-exit-node", "wireguard.key-rotation-interval",
        "raft.listen-address",
        "raft.data-dir", "raft.in-memory", "raft.sync", "services.api.listen-address",
        "services.api.disabled",
        "services.metrics.listen-address", "services.metrics.disabled",
        "wireguard.interface-name", "wireguard.listen-port", "wireguard.mtu",
        "wireguard.persistent-keepalive", "wireguard.backend",
        # security (issue 4)
        "global.tls-cert-file", "global.tls-key-file", "global.tls-ca-file", "global.mtls",
        "tls.ca-file", "tls.insecure-skip-verify", "auth.mtls.cert-file", "auth.mtls.key-file",
        "auth.basic.username", "auth.basic.password", "auth.ldap.username", "auth.ldap.password",
        "plugins.basic-auth.htpasswd-file", "plugins.ldap.server", "plugins.ldap.bind-dn",
        "plugins.ldap.bind-password", "plugins.ldap.user-base-dn",
        "plugins.ldap.user-id-attribute", "plugins.ldap.group-attribute", "plugins.ldap.ca-file",
        "bootstrap.admin", "bootstrap.voters", "bootstrap.disable-rbac",
        "bootstrap.default-network-policy",
        # Kubernetes (issue 6)
        "tls.server-name",
        # MeshDNS (issue 17)
        "services.meshdns.enabled", "services.meshdns.listen-port",
        "services.meshdns.listen-addresses", "services.meshdns.forwarders",
        "services.meshdns.no-forward", "mesh.use-meshdns", "global.no-remote-endpoint-detection",
        # backups (issue 18)
        "backup.url", "backup.interval", "backup.retain", "backup.key-file",
        "backup.s3-endpoint", "backup.s3-region", "bootstrap.restore-from",
        # the web view (issue 19)
        "services.dashboard.enabled", "services.dashboard.listen-address",
    }  # fmt: skip
    assert set(s.OPTIONS_BY_NAME) == documented


# One non-default value per setting: the text to give, and the parsed value to expect.
SAMPLES: dict[str, tuple[str, object]] = {
    "global.insecure": ("true", True),
    "global.no-ipv6": ("true", True),
    "global.detect-endpoints": ("true", True),
    "global.detect-private-endpoints": ("true", True),
    "global.primary-endpoint": ("203.0.113.1:51820", "203.0.113.1:51820"),
    "global.endpoints": ("a.example:1,b.example:2", ("a.example:1", "b.example:2")),
    "global.log-level": ("debug", "debug"),
    "global.log-format": ("json", "json"),
    "bootstrap.enabled": ("true", True),
    "bootstrap.ipv4-network": ("10.10.0.0/16", "10.10.0.0/16"),
    "bootstrap.ipv6-network": ("fd00:10::/48", "fd00:10::/48"),
    "bootstrap.mesh-domain": ("corp.example", "corp.example"),
    "mesh.node-id": ("n2", "n2"),
    "mesh.join-address": ("seed.example:8443", "seed.example:8443"),
    "mesh.join-as-voter": ("true", True),
    "mesh.max-join-retries": ("3", 3),
    "mesh.routes": ("10.2.0.0/16", ("10.2.0.0/16",)),
    "raft.listen-address": ("[::]:9444", "[::]:9444"),
    "raft.data-dir": ("/srv/raft", pathlib.Path("/srv/raft")),
    "raft.in-memory": ("true", True),
    "raft.sync": ("batch", "batch"),
    "mesh.address-quarantine": ("30", 30),
    "mesh.purge-after": ("1h30m", 5400),
    "mesh.ephemeral-grace": ("45s", 45),
    "mesh.rejoin-after-removal": ("true", True),
    "wireguard.exit-node": ("true", True),
    "wireguard.use-exit-node": ("gateway-1", "gateway-1"),
    "wireguard.key-rotation-interval": ("72h", 259200),
    "services.api.listen-address": ("0.0.0.0:9000", "0.0.0.0:9000"),
    "services.api.disabled": ("true", True),
    "services.metrics.listen-address": ("127.0.0.1:9100", "127.0.0.1:9100"),
    "services.metrics.disabled": ("true", True),
    "wireguard.interface-name": ("wg-test", "wg-test"),
    "wireguard.listen-port": ("51821", 51821),
    "wireguard.mtu": ("1380", 1380),
    "wireguard.persistent-keepalive": ("25", 25),
    "wireguard.backend": ("userspace", "userspace"),
    "global.tls-cert-file": ("/etc/wm/tls.crt", "/etc/wm/tls.crt"),
    "global.tls-key-file": ("/etc/wm/tls.key", "/etc/wm/tls.key"),
    "global.tls-ca-file": ("/etc/wm/ca.crt", "/etc/wm/ca.crt"),
    "global.mtls": ("true", True),
    "tls.ca-file": ("/etc/wm/ca.crt", "/etc/wm/ca.crt"),
    "tls.insecure-skip-verify": ("true", True),
    "tls.server-name": ("demo-headless.ns.svc", "demo-headless.ns.svc"),
    "auth.mtls.cert-file": ("/c.crt", "/c.crt"),
    "auth.mtls.key-file": ("/c.key", "/c.key"),
    "auth.basic.username": ("alice", "alice"),
    "auth.basic.password": ("s3cret", "s3cret"),
    "auth.ldap.username": ("bob", "bob"),
    "auth.ldap.password": ("hunter2", "hunter2"),
    "plugins.basic-auth.htpasswd-file": ("/etc/htpasswd", "/etc/htpasswd"),
    "plugins.ldap.server": ("ldap://dir:389", "ldap://dir:389"),
    "plugins.ldap.bind-dn": ("cn=svc,dc=x", "cn=svc,dc=x"),
    "plugins.ldap.bind-password": ("pw", "pw"),
    "plugins.ldap.user-base-dn": ("ou=people,dc=x", "ou=people,dc=x"),
    "plugins.ldap.user-id-attribute": ("cn", "cn"),
    "plugins.ldap.group-attribute": ("isMemberOf", "isMemberOf"),
    "plugins.ldap.ca-file": ("/ldap-ca.crt", "/ldap-ca.crt"),
    "bootstrap.admin": ("root", "root"),
    "bootstrap.voters": ("a,b", ("a", "b")),
    "bootstrap.disable-rbac": ("true", True),
    "bootstrap.default-network-policy": ("deny", "deny"),
    "services.meshdns.enabled": ("true", True),
    "services.meshdns.listen-port": ("5353", 5353),
    "services.meshdns.listen-addresses": ("0.0.0.0,::", ("0.0.0.0", "::")),
    "services.meshdns.forwarders": (
        "10.0.0.2,10.0.0.3:5353,[fd00::53]:53",
        ("10.0.0.2", "10.0.0.3:5353", "[fd00::53]:53"),
    ),
    "services.meshdns.no-forward": ("true", True),
    "mesh.use-meshdns": ("true", True),
    "global.no-remote-endpoint-detection": ("true", True),
    "backup.url": ("file:///srv/backups", "/srv/backups"),
    "backup.interval": ("15m", 900),
    "backup.retain": ("7", 7),
    "backup.key-file": ("/etc/webmesh/backup.key", "/etc/webmesh/backup.key"),
    "backup.s3-endpoint": ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    "backup.s3-region": ("eu-west-1", "eu-west-1"),
    "bootstrap.restore-from": ("s3://backups/mesh", "s3://backups/mesh"),
    "services.dashboard.enabled": ("true", True),
    "services.dashboard.listen-address": ("127.0.0.1:9444", "127.0.0.1:9444"),
}


def _get(settings: s.Settings, name: str) -> object:
    value: object = settings
    for part in name.split("."):
        value = getattr(value, s._attribute(part))
    return value


def test_every_setting_has_a_sample() -> None:
    assert set(SAMPLES) == set(s.OPTIONS_BY_NAME)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_setting_from_every_source(config: WriteConfig, name: str) -> None:
    text, expected = SAMPLES[name]
    option = s.OPTIONS_BY_NAME[name]
    assert _get(load(), name) != expected
    assert _get(load(f"{option.flag}={text}"), name) == expected
    assert _get(load(env={option.env: text}), name) == expected
    flat = config(yaml.safe_dump({name: text}))
    assert _get(load("--config", flat), name) == expected
    nested: dict[str, object] = {}
    *sections, key = name.split(".")
    node = nested
    for section in sections:
        node = node.setdefault(section, {})  # type: ignore[assignment]
    node[key] = s._plain(expected)  # typed as YAML types it: bool, int, list, text
    assert _get(load("--config", config(yaml.safe_dump(nested))), name) == expected


# ---- precedence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "file", "expected"),
    [
        (None, None, None, 1420),
        (None, None, "1400", 1400),
        (None, "1300", "1400", 1300),
        ("1500", "1300", "1400", 1500),
        ("1500", None, "1400", 1500),
        ("1500", "1300", None, 1500),
    ],
)
def test_precedence_flag_env_file_default(
    config: WriteConfig, flag: str | None, env: str | None, file: str | None, expected: int
) -> None:
    argv = [f"--wireguard.mtu={flag}"] if flag else []
    if file:
        argv += ["--config", config(f"wireguard:\n  mtu: {file}\n")]
    environ = {"WIREGUARD_MTU": env} if env else {}
    assert load(*argv, env=environ).wireguard.mtu == expected


def test_a_flag_can_turn_off_a_boolean_set_by_env_and_file(config: WriteConfig) -> None:
    path = config("global: {insecure: true}\n")
    got = load("--config", path, "--global.insecure=false", env={"GLOBAL_INSECURE": "true"})
    assert got.global_.insecure is False


def test_an_empty_env_variable_counts_as_unset(config: WriteConfig) -> None:
    path = config("mesh: {node-id: from-file}\n")
    assert load("--config", path, env={"MESH_NODE_ID": ""}).mesh.node_id == "from-file"


def test_a_bad_value_is_an_error_even_when_overridden() -> None:
    message = error("--wireguard.mtu=1400", env={"WIREGUARD_MTU": "huge"})
    assert message.startswith("invalid value for --wireguard.mtu (from env WIREGUARD_MTU)")


# ---- booleans ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
     ("false", False), ("False", False), ("0", False), ("no", False), ("NO", False)],
)  # fmt: skip
def test_booleans_in_flags_and_env(text: str, expected: bool) -> None:
    assert load(f"--global.no-ipv6={text}").global_.no_ipv6 is expected
    assert load(env={"GLOBAL_NO_IPV6": text}).global_.no_ipv6 is expected


def test_a_bare_boolean_flag_means_true() -> None:
    got = load("--global.insecure", "--global.no-ipv6", "--raft.in-memory")
    assert (got.global_.insecure, got.global_.no_ipv6, got.raft.in_memory) == (True, True, True)


def test_a_boolean_flag_takes_a_separate_value_too() -> None:
    assert load("--global.insecure", "false").global_.insecure is False


@pytest.mark.parametrize("text", ["maybe", "on", "2", ""])
def test_bad_booleans(text: str) -> None:
    assert error(f"--global.insecure={text}") == (
        f"invalid value for --global.insecure (from command line): {text!r} is not a boolean "
        "(use true/false, 1/0 or yes/no)"
    )


# ---- numbers and choices -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "text", "attribute", "expected"),
    [
        ("--wireguard.listen-port", "1", "listen_port", 1),
        ("--wireguard.listen-port", "65535", "listen_port", 65535),
        ("--wireguard.mtu", "1280", "mtu", 1280),
        ("--wireguard.mtu", "9000", "mtu", 9000),
        ("--wireguard.persistent-keepalive", "25", "persistent_keepalive", 25),
    ],
)
def test_integers(flag: str, text: str, attribute: str, expected: int) -> None:
    assert getattr(load(f"{flag}={text}").wireguard, attribute) == expected


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ("--wireguard.listen-port=0", "0 is out of range: must be between 1 and 65535"),
        ("--wireguard.listen-port=65536", "65536 is out of range: must be between 1 and 65535"),
        ("--wireguard.mtu=1279", "1279 is out of range: must be between 1280 and 9000"),
        ("--wireguard.mtu=9001", "9001 is out of range: must be between 1280 and 9000"),
        ("--wireguard.mtu=1_420", "'1_420' is not an integer"),
        ("--wireguard.mtu=14.2", "'14.2' is not an integer"),
        ("--mesh.max-join-retries=-1", "-1 is out of range: must be at least 0"),
        ("--wireguard.persistent-keepalive=abc", "'abc' is not an integer"),
    ],
)
def test_bad_integers(argv: str, reason: str) -> None:
    assert error(argv).endswith(f"(from command line): {reason}")


def test_max_join_retries_may_be_zero() -> None:
    assert load("--mesh.max-join-retries=0").mesh.max_join_retries == 0


def test_choices_are_case_insensitive() -> None:
    got = load("--global.log-level=DEBUG", "--global.log-format=Json", "--wireguard.backend=fake")
    assert (got.global_.log_level, got.global_.log_format, got.wireguard.backend) == (
        "debug",
        "json",
        "fake",
    )


def test_a_bad_choice_lists_the_choices() -> None:
    assert error(env={"WIREGUARD_BACKEND": "ebpf"}) == (
        "invalid value for --wireguard.backend (from env WIREGUARD_BACKEND): "
        "'ebpf' is not one of: auto, kernel, userspace, fake"
    )


# ---- networks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "attribute", "expected"),
    [
        ("--bootstrap.ipv4-network=10.0.0.0/8", "ipv4_network", "10.0.0.0/8"),
        ("--bootstrap.ipv4-network=192.168.1.0/30", "ipv4_network", "192.168.1.0/30"),
        ("--bootstrap.ipv6-network=fd00:1::/48", "ipv6_network", "fd00:1::/48"),
        ("--bootstrap.ipv6-network=FD00:0:0:2::/63", "ipv6_network", "fd00:0:0:2::/63"),
        ("--bootstrap.ipv6-network=", "ipv6_network", ""),
    ],
)
def test_bootstrap_networks(argv: str, attribute: str, expected: str) -> None:
    assert getattr(load(argv).bootstrap, attribute) == expected


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ("--bootstrap.ipv4-network=abc", "'abc' is not an IPv4 network"),
        ("--bootstrap.ipv4-network=10.0.0.0", "'10.0.0.0' is not an IPv4 network"),
        ("--bootstrap.ipv4-network=fd00::/48", "'fd00::/48' is not an IPv4 network"),
        (
            "--bootstrap.ipv4-network=10.0.0.1/8",
            "'10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)",
        ),
        ("--bootstrap.ipv4-network=10.0.0.0/31", "'10.0.0.0/31' is too small: use a /30 or larger"),
        ("--bootstrap.ipv6-network=10.0.0.0/8", "'10.0.0.0/8' is not an IPv6 network"),
        ("--bootstrap.ipv6-network=fd00::/64", "'fd00::/64' is too small: use a /63 or larger"),
        (
            "--bootstrap.ipv6-network=fd00::1/48",
            "'fd00::1/48' has host bits set (did you mean fd00::/48?)",
        ),
    ],
)
def test_bad_bootstrap_networks(argv: str, reason: str) -> None:
    flag = argv.partition("=")[0]
    assert error(argv) == f"invalid value for {flag} (from command line): {reason}"


def test_the_error_from_the_brief() -> None:
    assert error(env={"BOOTSTRAP_IPV4_NETWORK": "abc"}) == (
        "invalid value for --bootstrap.ipv4-network (from env BOOTSTRAP_IPV4_NETWORK): "
        "'abc' is not an IPv4 network"
    )


# ---- lists -----------------------------------------------------------------------------------


def test_lists_from_commas_and_repeated_flags() -> None:
    got = load("--global.endpoints=a.example:1, b.example:2", "--global.endpoints", "[::1]:3")
    assert got.global_.endpoints == ("a.example:1", "b.example:2", "[::1]:3")


def test_lists_from_env() -> None:
    got = load(env={"MESH_ROUTES": "10.1.0.0/16,fd01::/64,", "GLOBAL_ENDPOINTS": "h:1"})
    assert got.mesh.routes == ("10.1.0.0/16", "fd01::/64")
    assert got.global_.endpoints == ("h:1",)


def test_a_flag_list_replaces_the_env_list() -> None:
    got = load("--mesh.routes=10.9.0.0/16", env={"MESH_ROUTES": "10.1.0.0/16"})
    assert got.mesh.routes == ("10.9.0.0/16",)


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ("--mesh.routes=10.0.0.0/8,x", "'x' is not a network in CIDR notation (address/prefix)"),
        ("--mesh.routes=10.0.0.1/8", "'10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)"),
        ("--global.endpoints=h", "'h' is not of the form host:port"),
    ],
)
def test_bad_list_items(argv: str, reason: str) -> None:
    assert error(argv).endswith(f"(from command line): {reason}")


# ---- addresses and names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["host.example:8443", "10.0.0.1:8443", "[fd00::1]:8443", "[::]:1", "node_1:65535"],
)
def test_good_join_addresses(address: str) -> None:
    assert load(f"--mesh.join-address={address}").mesh.join_address == address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("host", "'host' is not of the form host:port"),
        (":8443", "':8443' is not of the form host:port"),
        ("host:0", "'host:0' has an invalid port '0'"),
        ("host:65536", "'host:65536' has an invalid port '65536'"),
        ("host:http", "'host:http' has an invalid port 'http'"),
        ("fd00::1:8443", "'fd00::1:8443': write IPv6 addresses in brackets, as [addr]:port"),
        ("[fd00::1]", "'[fd00::1]' is not of the form [ipv6]:port"),
        ("[10.0.0.1]:1", "'[10.0.0.1]:1' has an invalid IPv6 address '10.0.0.1'"),
        ("bad host:1", "'bad host:1' has an invalid host 'bad host'"),
    ],
)
def test_bad_join_addresses(address: str, reason: str) -> None:
    assert error(f"--mesh.join-address={address}") == (
        f"invalid value for --mesh.join-address (from command line): {reason}"
    )


def test_listen_addresses_may_use_port_zero() -> None:
    got = load("--services.api.listen-address=127.0.0.1:0", "--raft.listen-address=[::1]:0")
    assert (got.services.api.listen_address, got.raft.listen_address) == ("127.0.0.1:0", "[::1]:0")


@pytest.mark.parametrize("endpoint", ["1.2.3.4", "1.2.3.4:51820", "fd00::1", "[fd00::1]", "h.io"])
def test_primary_endpoint_is_a_host_with_an_optional_port(endpoint: str) -> None:
    assert load(f"--global.primary-endpoint={endpoint}").global_.primary_endpoint == endpoint


@pytest.mark.parametrize("name", ["wg0", "a" * 15, "webmesh-test_1"])
def test_good_interface_names(name: str) -> None:
    assert load(f"--wireguard.interface-name={name}").wireguard.interface_name == name


@pytest.mark.parametrize("name", ["", "a" * 16, "a/b", "a:b", "a b", ".", ".."])
def test_bad_interface_names(name: str) -> None:
    assert "is not a valid interface name" in error(f"--wireguard.interface-name={name}")


def test_paths_and_domains() -> None:
    got = load("--raft.data-dir=/tmp/x", "--bootstrap.mesh-domain=Mesh.Example.")
    assert (got.raft.data_dir, got.bootstrap.mesh_domain) == (
        pathlib.Path("/tmp/x"),
        "mesh.example",
    )
    assert "is not a valid DNS name" in error("--bootstrap.mesh-domain=a..b")
    assert "path must not be empty" in error("--raft.data-dir=")


# ---- flags -----------------------------------------------------------------------------------


def test_unknown_flags_are_named_with_a_suggestion() -> None:
    assert (
        error("--global.insecur")
        == "unknown flag --global.insecur (did you mean '--global.insecure'?)"
    )
    assert error("--nonsense=1") == "unknown flag --nonsense"
    assert error("stray") == "unexpected argument 'stray' (settings are --section.name)"


def test_flags_are_not_abbreviated() -> None:
    assert error("--global.insec").startswith("unknown flag --global.insec")


def test_a_flag_without_its_value() -> None:
    assert error("--mesh.node-id") == "argument --mesh.node-id: expected one argument"


# ---- the YAML file ---------------------------------------------------------------------------


def test_file_nested_flat_and_underscores(config: WriteConfig) -> None:
    path = config(
        "global:\n  insecure: true\n  no_ipv6: yes\n"
        "mesh: {join-address: 'x.example:8443'}\n"
        "bootstrap.mesh_domain: m.example\n"
        "services:\n  api.disabled: true\n  metrics:\n    listen-address: '[::1]:9090'\n"
        "wireguard:\n  listen_port: 51000\n"
        "global.endpoints: [a.example:1, 'b.example:2']\n"
    )
    got = load("--config", path)
    assert got.global_.insecure and got.global_.no_ipv6
    assert got.mesh.join_address == "x.example:8443"
    assert got.bootstrap.mesh_domain == "m.example"
    assert got.services.api.disabled
    assert got.services.metrics.listen_address == "[::1]:9090"
    assert got.wireguard.listen_port == 51000
    assert got.global_.endpoints == ("a.example:1", "b.example:2")


def test_file_scalars_are_converted_like_text(config: WriteConfig) -> None:
    path = config(
        "mesh: {node-id: 1234, routes: '10.0.0.0/8, 10.1.0.0/16'}\nraft: {in-memory: 1}\n"
    )
    got = load("--config", path)
    assert got.mesh.node_id == "1234"
    assert got.mesh.routes == ("10.0.0.0/8", "10.1.0.0/16")
    assert got.raft.in_memory is True


@pytest.mark.parametrize("text", ["", "# nothing\n", "global:\n", "global: {}\n"])
def test_empty_files_and_sections(config: WriteConfig, text: str) -> None:
    assert load("--config", config(text)) == load()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "global: {insecurity: true}\n",
            "unknown key 'global.insecurity' in config file {path} "
            "(did you mean 'global.insecure'?)",
        ),
        ("network: {mtu: 1}\n", "unknown key 'network' in config file {path}"),
        ("global.zzzzzzzz: 1\n", "unknown key 'global.zzzzzzzz' in config file {path}"),
        (
            "wireguard: {mtu: {value: 1}}\n",
            "invalid value for --wireguard.mtu (from file {path}): "
            "expected a single value, not a dict",
        ),
        (
            "wireguard: {mtu: [1400]}\n",
            "invalid value for --wireguard.mtu (from file {path}): "
            "expected a single value, not a list",
        ),
        (
            "wireguard: {mtu: 10}\n",
            "invalid value for --wireguard.mtu (from file {path}): "
            "10 is out of range: must be between 1280 and 9000",
        ),
        (
            "wireguard: {mtu: 1400}\nwireguard.mtu: 1400\n",
            "key 'wireguard.mtu' is given twice in config file {path}",
        ),
        ("- global.insecure\n", "config file {path} must hold a mapping of settings, not a list"),
        ("1: x\n", "invalid key 1 in config file {path}: keys must be text"),
        (
            "global: [\n",
            "config file {path} is not valid YAML: "
            "expected the node content, but found '<stream end>' at line 2, column 1",
        ),
    ],
)
def test_file_errors(config: WriteConfig, text: str, message: str) -> None:
    path = config(text)
    assert error("--config", path) == message.format(path=path)


def test_a_missing_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "absent.yaml"
    assert error("--config", str(path)) == (
        f"cannot read config file {path}: No such file or directory"
    )


def test_an_empty_config_path() -> None:
    assert error("--config=") == "--config needs a file path"


# ---- combinations ----------------------------------------------------------------------------


def test_bootstrap_and_join_are_mutually_exclusive() -> None:
    assert error("--bootstrap.enabled", env={"MESH_JOIN_ADDRESS": "h:8443"}) == (
        "--bootstrap.enabled and --mesh.join-address are mutually exclusive: choose one "
        "(bootstrap.enabled from command line, mesh.join-address from env MESH_JOIN_ADDRESS)"
    )


def test_neither_bootstrap_nor_join_is_left_to_the_daemon() -> None:
    got = load()
    assert not got.bootstrap.enabled and not got.mesh.join_address


@pytest.mark.parametrize(
    "argv",
    [
        ["--global.insecure", "--global.no-ipv6", "--global.detect-endpoints",
         "--global.detect-private-endpoints", "--bootstrap.enabled"],
        ["--global.insecure", "--global.no-ipv6", "--mesh.join-address=10.0.0.1:8443"],
    ],
)  # fmt: skip
def test_the_quick_start_command_lines(argv: list[str]) -> None:
    load(*argv)


# ---- showing and round-tripping --------------------------------------------------------------


def test_round_trip_through_a_file(config: WriteConfig) -> None:
    original = load(
        "--global.insecure",
        "--global.endpoints=a.example:1,[fd00::1]:2",
        "--global.primary-endpoint=1.2.3.4",
        "--global.log-format=json",
        "--bootstrap.enabled",
        "--bootstrap.ipv6-network=fd00:1::/48",
        "--mesh.routes=10.1.0.0/16,fd02::/64",
        "--mesh.max-join-retries=0",
        "--raft.listen-address=[::]:9443",
        "--raft.data-dir=/data",
        "--services.metrics.disabled",
        "--wireguard.mtu=1380",
        "--wireguard.backend=fake",
        hostname="original-host",
    )
    path = config(s.to_yaml(original))
    assert load("--config", path, hostname="other-host") == original


def test_round_trip_of_the_defaults(config: WriteConfig) -> None:
    assert load("--config", config(s.to_yaml(load())), hostname="other") == load()


def test_as_dict_uses_the_file_keys() -> None:
    tree = s.as_dict(load())
    assert tree["mesh"]["join-address"] == ""
    assert tree["services"]["api"]["listen-address"] == "[::]:8443"
    assert tree["raft"]["data-dir"] == "/var/lib/webmesh/store"
    assert tree["global"]["endpoints"] == []


# ---- help, version and the exit code ---------------------------------------------------------


def test_help_lists_every_setting_with_its_env_name() -> None:
    text = s.format_help()
    for option in s.OPTIONS:
        assert f"{option.flag} " in text
        assert option.env in text
    for section in ("global:", "bootstrap:", "mesh:", "raft:", "services.api:", "wireguard:"):
        assert f"\n{section}\n" in text
    assert "--global.detect-private-endpoints --bootstrap.enabled" in text
    assert "webmesh-node --global.insecure --global.no-ipv6 --mesh.join-address=<host>:8443" in text
    assert "default: 172.16.0.0/12" in text


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_parse_or_exit_help(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_or_exit(["--bogus", flag], {})
    assert caught.value.code == 0
    assert capsys.readouterr().out == s.format_help()


def test_parse_or_exit_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_or_exit(["--version"], {})
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("webmesh-node ")


def test_parse_or_exit_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_or_exit(["--wireguard.mtu=1"], {}, hostname="h")
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "webmesh-node: error: invalid value for --wireguard.mtu (from command line): "
        "1 is out of range: must be between 1280 and 9000\n"
    )


def test_parse_or_exit_success() -> None:
    assert parse_or_exit(["--global.insecure"], {}, hostname="h").global_.insecure


def test_ldap_flags_without_python_ldap_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s, "ldap_installed", lambda: False)
    with pytest.raises(
        SettingsError,
        match=r"--plugins\.ldap\.server needs LDAP support.*"
        r"pip install 'webmesh\[ldap\]'",
    ):
        load("--plugins.ldap.server=ldap://dir:389")
    load("--global.insecure")  # no LDAP setting: nothing to install


def test_ldap_settings_from_the_environment_count_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s, "ldap_installed", lambda: False)
    with pytest.raises(SettingsError, match=r"--plugins\.ldap\.bind-dn"):
        load(env={"PLUGINS_LDAP_BIND_DN": "cn=svc"})
