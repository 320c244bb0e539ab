"""``webmesh-operator``'s command line: help, flag errors, finding the cluster, kopf's login."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client as k8s_client

from webmesh_operator import k8s, main

TIMEOUT = 60


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webmesh_operator", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )


def clean_env(home: Path) -> dict[str, str]:
    """No kubeconfig, no service account: a machine without a cluster."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
    }
    env["HOME"] = str(home)
    return env


def test_help_explains_itself_with_examples() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in (
        "--namespace",
        "--mesh-api-address",
        "--no-leader-election",
        "--lease-duration",
        "--health-address",
        "--log-format",
        "examples:",
        "KUBECONFIG",
    ):
        assert flag in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus"],
        ["--status-interval", "0"],
        ["--health-address", "nope"],
        ["--mesh-api-address", "{mesh}:8443"],
        ["--log-format", "xml"],
    ],
)
def test_bad_flags_exit_2_with_one_line(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main.parse_args(argv)
    assert exit_.value.code == 2


def test_bad_flag_message_is_one_line(tmp_path: Path) -> None:
    result = run_cli("--status-interval", "-1", env=clean_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--status-interval" in result.stderr


def test_no_cluster_config_exits_1_with_one_line(tmp_path: Path) -> None:
    result = run_cli("--no-leader-election", env=clean_env(tmp_path))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no cluster" in result.stderr


def test_unreachable_cluster_exits_1_with_one_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    env = {**clean_env(tmp_path), "KUBECONFIG": str(kubeconfig)}
    result = run_cli("--no-leader-election", env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("webmesh-operator: cannot reach the API server")


def test_defaults() -> None:
    args = main.parse_args([])
    assert args.namespace == []
    assert args.leader_election is True
    assert args.lease_name == "webmesh-operator"
    assert args.status_interval == 15.0
    assert args.mesh_api_address == "{name}-headless.{namespace}.svc:8443"
    assert main.operator_options(args) == {"clusterwide": True, "namespaces": []}


def test_namespaces_and_health_address_reach_kopf() -> None:
    args = main.parse_args(
        ["-n", "a", "--namespace", "b", "-n", "a", "--health-address", "0.0.0.0:8081"]
    )
    assert main.operator_options(args) == {
        "clusterwide": False,
        "namespaces": ["a", "b"],
        "liveness_endpoint": "http://0.0.0.0:8081/healthz",
    }


def test_lease_namespace_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(main, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    assert main.lease_namespace(main.parse_args([])) == "default"
    (tmp_path / "namespace").write_text("from-file\n")
    assert main.lease_namespace(main.parse_args([])) == "from-file"
    monkeypatch.setenv("POD_NAMESPACE", "from-env")
    assert main.lease_namespace(main.parse_args([])) == "from-env"
    args = main.parse_args(["--leader-election-namespace", "from-flag"])
    assert main.lease_namespace(args) == "from-flag"


def test_identities_differ_between_processes_on_one_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "operator-7f9c")
    first, second = main.identity(), main.identity()
    assert first.startswith("operator-7f9c_") and first != second


def test_kopf_logs_in_with_the_clients_credentials(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("not used")
    configuration = k8s_client.Configuration(host="https://api.example:6443")
    configuration.ssl_ca_cert = str(ca)
    configuration.api_key["BearerToken"] = "Bearer s3cret"
    info = main.connection_info(configuration)
    assert info.server == "https://api.example:6443"
    assert (info.scheme, info.token) == ("Bearer", "s3cret")
    assert info.ca_path == str(ca)
    assert info.insecure is False


def test_kubeconfig_is_found_through_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://10.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    configuration = main.load_cluster_config()
    assert configuration.host == "https://10.0.0.1:6443"
    assert main.connection_info(configuration).token == "abc"


class ServingNothing:
    async def served_resources(self, api_version: str) -> set[str]:
        return set()


async def test_missing_crds_are_fatal() -> None:
    cluster: k8s.ApiCluster = ServingNothing()  # type: ignore[assignment]
    with pytest.raises(main.Fatal, match="CRDs are not installed"):
        await main.check_cluster(cluster)


def test_parse_returns_namespace() -> None:
    assert isinstance(main.parse_args(["--log-level", "debug"]), argparse.Namespace)


def test_without_the_operator_extra_one_line_names_it(tmp_path: Path) -> None:
    """kopf and kubernetes hidden (an import path entry that shadows them with nothing)."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('kopf', 'kubernetes'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{blocker}:{os.environ.get('PYTHONPATH', '')}"}
    done = run_cli("--help", env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "webmesh-operator: needs the operator extra (kopf and kubernetes not installed): "
        "pip install 'webmesh[operator]'"
    )
