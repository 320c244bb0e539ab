"""wmctl's config file: parsing, changes, redaction, precedence; contexts switch servers."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path, PurePath

import pytest
import yaml

from webmesh.cli import config_cmd
from webmesh.cli import main as wmctl
from webmesh.client import config

FILE = {
    "current-context": "prod",
    "clusters": [
        {"name": "prod", "server": "10.0.0.1:8443", "ca-file": "pki/ca.crt"},
        {"name": "lab", "server": "127.0.0.1:8443", "insecure": True},
    ],
    "users": [
        {"name": "admin", "mtls": {"cert-file": "/pki/admin.crt", "key-file": "/pki/admin.key"}},
        {"name": "alice", "basic": {"username": "alice", "password": "s3cret"}},
    ],
    "contexts": [
        {"name": "prod", "cluster": "prod", "user": "admin"},
        {"name": "lab", "cluster": "lab", "user": "alice"},
    ],
}


def test_round_trip_and_redaction() -> None:
    cfg = config.from_dict(FILE)
    assert config.to_dict(cfg) == FILE
    redacted = config.to_dict(cfg, redact=True)
    assert redacted["users"][1]["basic"] == {"username": "alice", "password": "REDACTED"}
    assert config.from_dict(None) == config.Config()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a mapping"),
        ({"clusters": [{"server": "x"}]}, "needs a name"),
        ({"clusters": [{"name": "a"}, {"name": "a"}]}, "same name"),
        ({"clusters": [{"name": "a", "insecure": "yes"}]}, "true or false"),
        ({"users": [{"name": "u", "mtls": "x"}]}, "must be a mapping"),
    ],
)
def test_malformed_files_are_refused(data: object, message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict(data)


def test_resolve_current_or_named_context_with_relative_paths() -> None:
    cfg = config.from_dict(FILE)
    prod = config.resolve(cfg, base=PurePath("/home/me/.wmctl"))
    assert prod.context == "prod"
    assert prod.values == {
        "server": "10.0.0.1:8443",
        "tls.ca_file": "/home/me/.wmctl/pki/ca.crt",
        "auth.mtls.cert_file": "/pki/admin.crt",
        "auth.mtls.key_file": "/pki/admin.key",
    }
    lab = config.resolve(cfg, "lab")
    assert lab.values["insecure"] is True
    assert lab.values["auth.basic.password"] == "s3cret"
    assert config.resolve(config.Config()).values == {}
    with pytest.raises(config.ConfigError, match="known contexts: prod, lab"):
        config.resolve(cfg, "nope")
    broken = config.set_context(cfg, "broken", cluster="gone")
    with pytest.raises(config.ConfigError, match="cluster 'gone'"):
        config.resolve(broken, "broken")


def test_merge_precedence_flags_then_context_then_defaults() -> None:
    merged = config.merge(
        {"server": "flag:1"},
        {"server": "ctx:1", "tls.ca_file": "ctx.crt"},
        {"server": "default:1", "tls.ca_file": "", "timeout": 10.0},
    )
    assert merged == {"server": "flag:1", "tls.ca_file": "ctx.crt", "timeout": 10.0}


def test_set_changes_only_the_given_fields() -> None:
    cfg = config.set_cluster(config.Config(), "a", server="h:1", ca_file="ca.crt")
    cfg = config.set_cluster(cfg, "a", server="h:2", ca_file=None, insecure=None)
    assert cfg.clusters == (config.Cluster("a", server="h:2", ca_file="ca.crt"),)
    cfg = config.set_credentials(cfg, "u", basic_username="u", basic_password="p")
    cfg = config.set_context(cfg, "c", cluster="a", user="u")
    assert config.use_context(cfg, "c").current_context == "c"
    with pytest.raises(config.ConfigError):
        config.use_context(cfg, "nope")


def wmctl_main(*argv: str) -> None:
    wmctl.main(list(argv))


def test_config_commands_write_a_private_file(
    isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wmctl_main("config", "set-cluster", "lab", "--server", "127.0.0.1:1", "--insecure")
    wmctl_main(
        "config", "set-credentials", "alice", "--basic-username", "a", "--basic-password", "pw"
    )
    wmctl_main("config", "set-context", "lab", "--cluster", "lab", "--user", "alice")
    wmctl_main("config", "use-context", "lab")
    assert stat.S_IMODE(isolated_config.stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated_config.parent.stat().st_mode) == 0o700
    capsys.readouterr()
    wmctl_main("config", "view")
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["current-context"] == "lab"
    assert shown["users"][0]["basic"]["password"] == "REDACTED"
    wmctl_main("config", "view", "--raw", "-o", "json")
    assert '"password": "pw"' in capsys.readouterr().out
    wmctl_main("config", "current-context")
    assert capsys.readouterr().out == "lab\n"


def args_for(*argv: str) -> argparse.Namespace:
    args = wmctl.build_parser().parse_args(list(argv))
    wmctl.apply_context(args)
    return args


def test_context_switches_servers_and_flags_win(isolated_config: Path) -> None:
    config_cmd.save(isolated_config, config.from_dict(FILE))
    assert args_for("get", "nodes").server == "10.0.0.1:8443"
    assert args_for("--context", "lab", "get", "nodes").server == "127.0.0.1:8443"
    lab = args_for("get", "nodes", "--context", "lab")
    assert wmctl.security_of(lab).basic == ("alice", "s3cret")
    assert wmctl.security_of(lab).insecure
    # An explicit flag wins even when it equals the default.
    explicit = args_for("--server", wmctl.DEFAULT_SERVER, "get", "nodes")
    assert explicit.server == wmctl.DEFAULT_SERVER
    assert explicit.__dict__["tls.ca_file"] == str(isolated_config.parent / "pki/ca.crt")
    mixed = args_for("get", "nodes", "--auth.mtls.cert-file", "me.crt")
    assert wmctl.security_of(mixed).cert_file == "me.crt"
    assert wmctl.security_of(mixed).key_file == "/pki/admin.key"


def test_no_config_file_means_defaults() -> None:
    args = args_for("status")
    assert (args.server, args.insecure, args.timeout) == (wmctl.DEFAULT_SERVER, False, 10.0)


def test_bad_context_is_exit_2(isolated_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_cmd.save(isolated_config, config.from_dict(FILE))
    with pytest.raises(SystemExit) as exited:
        wmctl_main("--context", "nope", "get", "nodes")
    assert exited.value.code == 2
    assert "no context 'nope'" in capsys.readouterr().err


def test_config_path_flag_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flag = wmctl.build_parser().parse_args(["--config", str(tmp_path / "x.yaml"), "status"])
    assert config_cmd.path_of(flag) == tmp_path / "x.yaml"
    monkeypatch.delenv("WMCTL_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    plain = wmctl.build_parser().parse_args(["status"])
    assert config_cmd.path_of(plain) == tmp_path / ".wmctl" / "config.yaml"


def test_server_name_is_read_written_shown_and_flags_win(
    isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cluster's ``server-name`` (kubectl's tls-server-name): set-cluster writes it, view shows
    it, the context supplies it, and --tls.server-name on the command line wins."""
    wmctl_main("config", "set-cluster", "kube", "--server", "203.0.113.7:30443")
    wmctl_main("config", "set-cluster", "kube", "--server-name", "demo-headless.ns.svc")
    wmctl_main("config", "set-context", "kube", "--cluster", "kube")
    wmctl_main("config", "use-context", "kube")
    capsys.readouterr()
    wmctl_main("config", "view")
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["clusters"] == [
        {"name": "kube", "server": "203.0.113.7:30443", "server-name": "demo-headless.ns.svc"}
    ]
    assert config_cmd.load(isolated_config).cluster("kube") == config.Cluster(
        "kube", server="203.0.113.7:30443", server_name="demo-headless.ns.svc"
    )
    assert wmctl.security_of(args_for("get", "nodes")).server_name == "demo-headless.ns.svc"
    flagged = args_for("get", "nodes", "--tls.server-name", "other.example")
    assert wmctl.security_of(flagged).server_name == "other.example"
    wmctl_main("config", "set-cluster", "kube", "--server-name", "")
    assert config_cmd.load(isolated_config).cluster("kube") == config.Cluster(
        "kube", server="203.0.113.7:30443"
    )
    assert wmctl.security_of(args_for("get", "nodes")).server_name == ""
