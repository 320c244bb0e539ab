"""A real Kubernetes API server (kube-apiserver + etcd, no controllers) for tests.

The binaries come from ``KUBEBUILDER_ASSETS`` (envtest's convention: a directory holding
``kube-apiserver`` and ``etcd``), so the same tests run in CI (``make`` unpacks
``../shared/k8s/assets`` there) and on a laptop (``setup-envtest use 1.32 -p path``).

:func:`start` runs etcd and the API server on free loopback ports with fresh certificates, a
static admin token (group ``system:masters``), RBAC, service-account signing keys (so
TokenRequest works) and an audit log at level ``Metadata``: every request, who made it, its verb,
resource and response code, so tests can check an operator's permissions against what it did.
There is no controller-manager: no default ServiceAccounts, no garbage collection, StatefulSets
never get pods. Tests set child objects' status themselves.

Requests go through :class:`Rest`: plain JSON over the ``kubernetes`` client's HTTP layer (its
typed models would hide the API server's own answers, which these tests are about).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

ASSETS_ENV = "KUBEBUILDER_ASSETS"
BINARIES = ("kube-apiserver", "etcd")
HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
ADMIN_USER = "admin"

Obj = dict[str, Any]


class KubeError(Exception):
    """A non-2xx answer of the API server; ``status`` is the HTTP code, ``body`` its Status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.body = body

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else str(self.body)


def missing_assets() -> str:
    """Why the API server cannot be started here ("" when it can)."""
    assets = os.environ.get(ASSETS_ENV)
    if not assets:
        return (
            f"{ASSETS_ENV} is not set (a dir with kube-apiserver and etcd; see `make k8s-assets`)"
        )
    missing = [name for name in BINARIES if not os.access(Path(assets) / name, os.X_OK)]
    if missing:
        return f"{ASSETS_ENV}={assets} has no executable {', '.join(missing)}"
    return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# --- certificates -------------------------------------------------------------------------------


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    sans: Iterable[x509.GeneralName] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    sans = list(sans)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def write_pki(pki: Path) -> None:
    """CA, serving certificate (loopback and in-cluster names), service-account key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("webmesh-test-ca", ca_key)
    serving_key = ec.generate_private_key(ec.SECP256R1())
    sans = [
        x509.IPAddress(ipaddress.ip_address(HOST)),
        x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes.default.svc"),
    ]
    serving = _certificate("kube-apiserver", serving_key, issuer=(ca, ca_key), sans=sans)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (pki / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (pki / "ca.key").write_bytes(_pem_key(ca_key))
    (pki / "apiserver.crt").write_bytes(serving.public_bytes(serialization.Encoding.PEM))
    (pki / "apiserver.key").write_bytes(_pem_key(serving_key))
    (pki / "sa.key").write_bytes(_pem_key(sa_key))
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    # One event per request, written when the response is complete (it has the code).
    "omitStages": ["RequestReceived", "ResponseStarted", "Panic"],
    "rules": [{"level": "Metadata"}],
}


# --- REST ---------------------------------------------------------------------------------------


class Rest:
    """JSON requests to the API server as one user (a bearer token)."""

    def __init__(self, url: str, token: str, ca_file: Path) -> None:
        configuration = k8s_client.Configuration(host=url)
        configuration.ssl_ca_cert = str(ca_file)
        self.url = url
        self._token = token
        self._api = k8s_client.ApiClient(configuration)

    def close(self) -> None:
        self._api.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float = 30.0,
    ) -> Any:
        """The decoded JSON answer; raises :class:`KubeError` for anything but 2xx."""
        url = self.url + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type  # the client serializes JSON and YAML bodies
        response = self._api.rest_client.request(
            method, url, headers=headers, body=body, _request_timeout=timeout
        )
        raw = response.read()
        try:
            decoded: Any = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode(errors="replace")
        if not 200 <= response.status < 300:
            raise KubeError(method, path, response.status, decoded)
        return decoded

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def create(self, path: str, body: Obj) -> Any:
        return self.request("POST", path, body)

    def merge_patch(self, path: str, body: Obj) -> Any:
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def apply(self, path: str, body: Obj, *, manager: str, force: bool = True) -> Any:
        """Server-side apply of ``body`` (a full object path, with its name) as ``manager``."""
        query = {"fieldManager": manager, "force": "true" if force else "false"}
        return self.request(
            "PATCH", path, body, query=query, content_type="application/apply-patch+yaml"
        )

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True


def resource_path(
    api_version: str, plural: str, *, namespace: str | None = None, name: str | None = None
) -> str:
    """``/api/v1/...`` or ``/apis/group/version/...`` for a collection or one object."""
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    middle = f"/namespaces/{namespace}" if namespace else ""
    suffix = f"/{name}" if name else ""
    return f"{prefix}{middle}/{plural}{suffix}"


# --- the server ---------------------------------------------------------------------------------


@dataclasses.dataclass
class KubeAPI:
    """A running API server: its URL, CA, admin credentials, audit log and helpers."""

    root: Path
    url: str
    admin_token: str
    processes: dict[str, subprocess.Popen[bytes]] = dataclasses.field(default_factory=dict)

    @property
    def ca_file(self) -> Path:
        return self.root / "pki" / "ca.crt"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.log"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.write_kubeconfig(self.root / "admin.kubeconfig", ADMIN_USER, self.admin_token)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.root / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def admin(self) -> Rest:
        return Rest(self.url, self.admin_token, self.ca_file)

    def as_token(self, token: str) -> Rest:
        return Rest(self.url, token, self.ca_file)

    def admin_api_client(self) -> k8s_client.ApiClient:
        """A typed ``kubernetes`` client as the admin (``system:masters``)."""
        return k8s_config.new_client_from_config(config_file=str(self.admin_kubeconfig))

    def write_kubeconfig(self, path: Path, user: str, token: str) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # --- setup helpers --------------------------------------------------------------------------

    def install_crds(self, paths: Iterable[Path], *, timeout: float = 30.0) -> list[str]:
        """Create (or replace) each CRD and wait until the server says it is ``Established``."""
        api = self.admin()
        names = []
        try:
            for path in paths:
                for document in yaml.safe_load_all(path.read_text()):
                    if document:
                        name = document["metadata"]["name"]
                        crd_path = resource_path(
                            "apiextensions.k8s.io/v1", "customresourcedefinitions", name=name
                        )
                        api.apply(crd_path, document, manager="webmesh-tests")
                        names.append(name)
            for name in names:
                _wait_established(api, name, timeout)
        finally:
            api.close()
        return names

    def ensure_namespace(self, name: str) -> None:
        api = self.admin()
        try:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            api.apply(resource_path("v1", "namespaces", name=name), body, manager="webmesh-tests")
        finally:
            api.close()

    def service_account_token(self, namespace: str, name: str, cluster_role: Obj) -> str:
        """A token of ServiceAccount ``namespace/name`` bound to ``cluster_role`` (applied)."""
        self.ensure_namespace(namespace)
        api = self.admin()
        try:
            manager = "webmesh-tests"
            account = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace},
            }
            sa_path = resource_path("v1", "serviceaccounts", namespace=namespace, name=name)
            api.apply(sa_path, account, manager=manager)
            role_name = cluster_role["metadata"]["name"]
            rbac = "rbac.authorization.k8s.io/v1"
            api.apply(
                resource_path(rbac, "clusterroles", name=role_name), cluster_role, manager=manager
            )
            binding = {
                "apiVersion": rbac,
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"{namespace}-{name}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role_name,
                },
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            }
            api.apply(
                resource_path(rbac, "clusterrolebindings", name=f"{namespace}-{name}"),
                binding,
                manager=manager,
            )
            request = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600 * 6},
            }
            answer = api.create(sa_path + "/token", request)
            return str(answer["status"]["token"])
        finally:
            api.close()

    def service_account_kubeconfig(self, namespace: str, name: str, cluster_role: Obj) -> Path:
        """A kubeconfig of ServiceAccount ``namespace/name``, bound to exactly ``cluster_role``."""
        token = self.service_account_token(namespace, name, cluster_role)
        path = self.root / f"{namespace}-{name}.kubeconfig"
        return self.write_kubeconfig(path, f"system:serviceaccount:{namespace}:{name}", token)

    def audit_events(self, user: str | None = None) -> list[Obj]:
        """Every audited request (of ``user``, e.g. ``system:serviceaccount:ns:name``)."""
        if not self.audit_log.exists():
            return []
        events = []
        for line in self.audit_log.read_text().splitlines():
            if not line.strip():
                continue
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if user is None or event.get("user", {}).get("username") == user:
                    events.append(event)
        return events

    # --- lifecycle ------------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str]) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def check_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{self.log_tail(name)}"
                )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        api = self.admin()
        last: object = None
        try:
            while time.monotonic() < deadline:
                self.check_running()
                try:
                    answer = api.request("GET", "/readyz", accept="text/plain", timeout=5)
                    if answer == "ok":
                        return
                    last = answer
                except Exception as error:
                    last = error
                time.sleep(0.2)
        finally:
            api.close()
        raise RuntimeError(
            f"kube-apiserver not ready after {timeout}s (last: {last!r})\n"
            f"--- kube-apiserver ---\n{self.log_tail('kube-apiserver')}\n"
            f"--- etcd ---\n{self.log_tail('etcd')}"
        )

    def stop(self) -> None:
        """Stop the API server, then etcd; kill whatever is left of their process groups."""
        for name in ("kube-apiserver", "etcd"):
            process = self.processes.get(name)
            if process is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def _wait_established(api: Rest, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    path = resource_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name=name)
    conditions: list[Obj] = []
    while time.monotonic() < deadline:
        conditions = (api.get(path).get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise AssertionError(f"CRD {name} not Established after {timeout}s: {conditions}")


def _etcd_argv(assets: Path, root: Path, client_port: int) -> list[str]:
    client = f"http://{HOST}:{client_port}"
    return [
        str(assets / "etcd"),
        f"--data-dir={root / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls=http://{HOST}:{free_port()}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def _apiserver_argv(assets: Path, root: Path, etcd_port: int, port: int) -> list[str]:
    pki = root / "pki"
    return [
        str(assets / "kube-apiserver"),
        f"--etcd-servers=http://{HOST}:{etcd_port}",
        f"--bind-address={HOST}",
        f"--advertise-address={HOST}",
        f"--secure-port={port}",
        f"--cert-dir={pki}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--token-auth-file={root / 'tokens.csv'}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        f"--audit-policy-file={root / 'audit-policy.yaml'}",
        f"--audit-log-path={root / 'audit.log'}",
        "--audit-log-mode=blocking",
        "--audit-log-maxbackup=0",
    ]


@contextlib.contextmanager
def start(root: Path, assets: Path | None = None) -> Iterator[KubeAPI]:
    """Run etcd and kube-apiserver under ``root`` until the block ends (then stop both)."""
    assets = assets or Path(os.environ[ASSETS_ENV])
    root.mkdir(parents=True, exist_ok=True)
    write_pki(root / "pki")
    token = secrets.token_hex(16)
    (root / "tokens.csv").write_text(f'{token},{ADMIN_USER},admin-uid,"system:masters"\n')
    (root / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
    etcd_port, port = free_port(), free_port()
    server = KubeAPI(root=root, url=f"https://{HOST}:{port}", admin_token=token)
    try:
        server.spawn("etcd", _etcd_argv(assets, root, etcd_port))
        server.spawn("kube-apiserver", _apiserver_argv(assets, root, etcd_port, port))
        server.wait_ready()
        yield server
    finally:
        server.stop()


# --- processes under test -----------------------------------------------------------------------


@dataclasses.dataclass
class Process:
    """A child process (an operator, a node) logging to a file, stopped with SIGTERM then KILL."""

    name: str
    log_path: Path
    popen: subprocess.Popen[bytes]

    @classmethod
    def start(
        cls, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None
    ) -> Process:
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        return cls(name, log_path, popen)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        state = "running" if self.alive() else f"exited with {self.popen.returncode}"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- {self.name} ({state}), last {lines} log lines ---\n{tail}"

    def kill(self) -> None:
        """SIGKILL: a crash, leaving whatever it held (a Lease) behind."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.kill()
