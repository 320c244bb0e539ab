"""``webmesh-operator``: the command line, cluster login, leader election and kopf's run.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 when the cluster cannot be found or reached,
the CRDs are missing, or leadership is lost (the pod restarts, as with controller-runtime), 2 for
bad flags. Every failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import kopf
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from webmesh_operator import election, handlers, k8s, reconcile

PROG = "webmesh-operator"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CRD_API_VERSION = "mesh.webmesh.io/v1alpha1"
STOP_TIMEOUT = 20.0

DESCRIPTION = """\
Reconcile webmesh Mesh and Node resources (mesh.webmesh.io/v1alpha1) into StatefulSets,
Services, ConfigMaps, Secrets and PodDisruptionBudgets, and publish each mesh's health (leader,
members, Ready/Progressing/Degraded) in their status.
"""

EPILOG = """\
examples:
  # against the cluster of the current kubectl context, all namespaces, one replica
  webmesh-operator --no-leader-election

  # only two namespaces, JSON logs, kopf's liveness probe on :8081/healthz
  webmesh-operator --namespace team-a --namespace team-b --log-format json \\
      --health-address 0.0.0.0:8081

  # as deployed by the chart: several replicas, one leads (Lease webmesh-operator)
  webmesh-operator --leader-election-namespace webmesh-system

The cluster is found as kubectl finds it: $KUBECONFIG, else ~/.kube/config, else the pod's
service account. The CRDs (crds/ or the chart) must be installed before the operator starts.
"""


class UsageError(Exception):
    """A bad flag value (exit 2)."""


class ClusterNotFound(Exception):
    """No usable kubeconfig and no service account, or the API server does not answer (exit 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + error
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    add(
        "--mesh-api-address",
        default=reconcile.DEFAULT_MESH_API_ADDRESS,
        metavar="TEMPLATE",
        help="where the operator reaches a mesh's gRPC API; {name} is the Mesh, {namespace} its "
        "namespace (default: %(default)s)",
    )
    add(
        "--status-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how often each resource's status is refreshed (default: %(default)s)",
    )
    add(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="hold a Lease before reconciling, so only one replica acts (default: on)",
    )
    add(
        "--leader-election-namespace",
        default=None,
        metavar="NS",
        help="namespace of the Lease (default: $POD_NAMESPACE, else the service account's "
        "namespace, else 'default')",
    )
    add(
        "--lease-name",
        default="webmesh-operator",
        metavar="NAME",
        help="name of the Lease (default: %(default)s)",
    )
    add(
        "--lease-duration",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long a Lease lasts without renewal; renewed every third of it "
        "(default: %(default)s)",
    )
    add(
        "--health-address",
        default="",
        metavar="HOST:PORT",
        help="serve kopf's liveness probe at http://HOST:PORT/healthz (default: off)",
    )
    add(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="(default: %(default)s)",
    )
    add("--log-format", default="text", choices=["text", "json"], help="(default: %(default)s)")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_args(args)
    except UsageError as error:
        parser.error(str(error))
    return args


def check_args(args: argparse.Namespace) -> None:
    if args.status_interval <= 0:
        raise UsageError("--status-interval must be positive")
    if args.lease_duration < 1:
        raise UsageError("--lease-duration must be at least 1 second")
    try:
        args.mesh_api_address.format(name="mesh", namespace="ns")
    except (KeyError, IndexError, ValueError) as error:
        raise UsageError(f"--mesh-api-address: only {{name}} and {{namespace}} ({error})") from None
    if args.health_address:
        host, _, port = args.health_address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"--health-address {args.health_address!r} is not HOST:PORT")


def lease_namespace(args: argparse.Namespace) -> str:
    if args.leader_election_namespace:
        return str(args.leader_election_namespace)
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    with contextlib.suppress(OSError):
        namespace = (SERVICE_ACCOUNT_DIR / "namespace").read_text().strip()
        if namespace:
            return namespace
    return "default"


def identity() -> str:
    """Pod (or host) name plus a random suffix: two processes on one host are two candidates."""
    base = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{base}_{uuid.uuid4().hex[:8]}"


def load_cluster_config() -> k8s_client.Configuration:
    """The cluster as kubectl finds it: $KUBECONFIG, ~/.kube/config, then the service account."""
    configuration = k8s_client.Configuration()
    kubeconfig = os.environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in kubeconfig.split(os.pathsep) if p]
    if not paths:
        paths = [Path("~/.kube/config").expanduser()]
    try:
        if any(path.is_file() for path in paths):
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.pathsep.join(str(p) for p in paths if p.is_file()),
                client_configuration=configuration,
            )
        elif (
            os.environ.get("KUBERNETES_SERVICE_HOST") and (SERVICE_ACCOUNT_DIR / "token").is_file()
        ):
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        else:
            where = f"KUBECONFIG={kubeconfig}" if kubeconfig else "~/.kube/config"
            raise ClusterNotFound(
                f"no cluster: {where} does not exist and this is not a pod with a service account"
            )
    except k8s_config.ConfigException as error:
        raise ClusterNotFound(f"cannot load the cluster config: {error}") from None
    return configuration


def configure_logging(args: argparse.Namespace) -> None:
    log_format = kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(log_format=log_format, log_prefix=args.log_format == "text")
    logging.getLogger().setLevel(args.log_level.upper())
    # urllib3 warns on every retry; the failure itself is reported once, by us.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class Fatal(Exception):
    """The operator cannot start or must stop (exit 1)."""


def connection_info(configuration: k8s_client.Configuration) -> Any:
    """kopf's credentials from the ``kubernetes`` client's config (one source for both)."""
    header = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    scheme, token = None, header or None
    if header and " " in header:
        scheme, token = header.split(" ", 1)
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


async def check_cluster(cluster: k8s.ApiCluster) -> None:
    """Fail early, in one line, when the API server does not answer or lacks the CRDs (kopf
    would wait silently: with scanning off it looks for the resources once)."""
    try:
        served = await cluster.served_resources(CRD_API_VERSION)
    except k8s.ApiError as error:
        raise Fatal(f"cannot reach the API server: {error}") from None
    missing = {"meshes", "nodes"} - served
    if missing:
        raise Fatal(
            f"the CRDs are not installed ({CRD_API_VERSION} serves no "
            f"{', '.join(sorted(missing))}); apply crds/ first"
        )


def operator_options(args: argparse.Namespace) -> dict[str, Any]:
    """kopf.operator()'s scope and probe arguments."""
    namespaces = list(dict.fromkeys(args.namespace))
    options: dict[str, Any] = {"clusterwide": not namespaces, "namespaces": namespaces}
    if args.health_address:
        options["liveness_endpoint"] = f"http://{args.health_address}/healthz"
    return options


def build_operator(
    args: argparse.Namespace, configuration: k8s_client.Configuration, cluster: k8s.Cluster
) -> tuple[Any, Any]:
    """kopf's registry (our handlers plus a login from ``configuration``) and settings."""
    ctx = reconcile.Context(cluster=cluster, mesh_api_address=args.mesh_api_address)
    registry = handlers.build_registry(ctx, handlers.Options(status_interval=args.status_interval))

    def login(**_: Any) -> Any:
        return connection_info(configuration)

    kopf.on.login(registry=registry)(login)
    settings = kopf.OperatorSettings()
    handlers.configure(settings)
    return registry, settings


async def run(
    args: argparse.Namespace,
    configuration: k8s_client.Configuration,
    *,
    identity: str,
    lease_namespace: str,
) -> int:
    """Lead (if electing), then run kopf until a signal, its end, or the loss of the Lease."""
    cluster = k8s.ApiCluster(k8s_client.ApiClient(configuration))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    _handle_signals(stop)
    try:
        await check_cluster(cluster)
        elector = None
        if args.leader_election:
            elector = election.LeaderElector(
                cluster,
                election.Config(
                    namespace=lease_namespace,
                    name=args.lease_name,
                    identity=identity,
                    lease_duration=args.lease_duration,
                    renew_interval=args.lease_duration / 3,
                    retry_interval=max(args.lease_duration / 7, 0.2),
                ),
            )
            if not await _first(elector.acquire(), stop.wait()):
                return 0
        try:
            return await _operate(args, configuration, cluster, elector, stop)
        finally:
            if elector is not None:
                await elector.release()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        cluster.close()


async def _operate(
    args: argparse.Namespace,
    configuration: k8s_client.Configuration,
    cluster: k8s.Cluster,
    elector: election.LeaderElector | None,
    stop: asyncio.Event,
) -> int:
    registry, settings = build_operator(args, configuration, cluster)
    kopf_stop, kopf_ready = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=settings,
            stop_flag=kopf_stop,
            ready_flag=kopf_ready,
            **operator_options(args),
        )
    )
    waits = {operator, asyncio.create_task(stop.wait())}
    holding = asyncio.create_task(elector.hold()) if elector is not None else None
    if holding is not None:
        waits.add(holding)
    await _first(kopf_ready.wait(), asyncio.wait(set(waits), return_when=asyncio.FIRST_COMPLETED))
    # kopf replaced our signal handlers with its own, which stop it without setting its stop
    # flag, and it then waits 5 s for its flag waiter: take the signals back.
    _handle_signals(stop)
    done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    code = 1 if holding in done else 0
    kopf_stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(operator), STOP_TIMEOUT)
    except TimeoutError:
        operator.cancel()
        logging.getLogger(__name__).warning("kopf did not stop in %.0f s", STOP_TIMEOUT)
    except Exception as error:  # kopf's own failure: one line, exit 1
        logging.getLogger(__name__).error("the operator failed: %s", error)
        code = 1
    for task in waits:
        task.cancel()
    return code


def _handle_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, signum, stop)


def _on_signal(signum: int, stop: asyncio.Event) -> None:
    if not stop.is_set():
        logging.getLogger(__name__).info("%s: stopping", signal.Signals(signum).name)
    stop.set()


async def _first(wanted: Any, stopping: Any) -> bool:
    """Await ``wanted`` unless ``stopping`` completes first; True when ``wanted`` did."""
    wanted_task, stop_task = asyncio.create_task(wanted), asyncio.create_task(stopping)
    done, pending = await asyncio.wait(
        {wanted_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    return wanted_task in done


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse, find the cluster, run; returns the exit code."""
    args = parse_args(argv)
    try:
        configuration = load_cluster_config()
    except ClusterNotFound as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    configure_logging(args)
    try:
        return asyncio.run(
            run(args, configuration, identity=identity(), lease_namespace=lease_namespace(args))
        )
    except Fatal as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
