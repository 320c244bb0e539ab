"""The single Kubernetes API seam: get, list by labels, server-side apply, delete, status patches.

Everything the operator writes goes through :class:`Cluster`, so the reconcilers can be tested
with an in-memory fake and every call stays within :mod:`webmesh_operator.permissions`.
:class:`ApiCluster` speaks plain JSON through the ``kubernetes`` client's configured HTTP layer
(authentication, CA, token refresh come from the client's config, the same one kopf logs in with);
the client is synchronous, so each request runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import ipaddress
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from kubernetes import client as k8s_client

Manifest = dict[str, Any]

FIELD_MANAGER = "webmesh-operator"
FIRST_NODE_PORT = 30000  # the API server's default service-node-port-range starts here
SERVICE_NETWORK = ipaddress.IPv4Network("10.96.0.0/16")  # MemoryCluster's: kubeadm's default
REQUEST_TIMEOUT = 30.0

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """Where a kind lives in the API: ``/api/v1`` or ``/apis/<group>/<version>``, its plural."""

    name: str
    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        prefix = "/api/" if "/" not in self.api_version else "/apis/"
        middle = f"/namespaces/{quote(namespace)}" if namespace and self.namespaced else ""
        suffix = f"/{quote(name)}" if name else ""
        return f"{prefix}{self.api_version}{middle}/{self.plural}{suffix}"


KINDS: Mapping[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("ConfigMap", "v1", "configmaps"),
        Kind("Secret", "v1", "secrets"),
        Kind("Service", "v1", "services"),
        Kind("StatefulSet", "apps/v1", "statefulsets"),
        Kind("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets"),
        Kind("Lease", "coordination.k8s.io/v1", "leases"),
        Kind("Mesh", "mesh.webmesh.io/v1alpha1", "meshes"),
        Kind("Node", "mesh.webmesh.io/v1alpha1", "nodes"),
    )
}

# The kinds a Mesh or a Node group owns, in the order they are deleted (workload first).
CHILD_KINDS = ("StatefulSet", "PodDisruptionBudget", "Service", "ConfigMap", "Secret")


class ApiError(Exception):
    """A refused or failed request; ``status`` is the HTTP code (0: no answer at all)."""

    def __init__(self, action: str, status: int, message: str) -> None:
        super().__init__(f"{action}: {status} {message}".strip())
        self.action = action
        self.status = status
        self.message = message

    @property
    def retryable(self) -> bool:
        """Worth retrying soon: no answer, a conflict, throttling or a server error."""
        return self.status in (0, 409, 429) or self.status >= 500


class Cluster(Protocol):
    """The operations the operator needs; ``kind`` is a key of :data:`KINDS`."""

    async def get(self, kind: str, namespace: str, name: str) -> Manifest | None:
        """The object, or None when it does not exist."""

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        """The objects of ``kind`` in ``namespace`` that carry all of ``labels``."""

    async def apply(self, manifest: Manifest) -> Manifest:
        """Server-side apply as :data:`FIELD_MANAGER`, forcing conflicts; returns the object."""

    async def create(self, manifest: Manifest) -> Manifest:
        """Create; :class:`ApiError` 409 when it exists."""

    async def replace(self, manifest: Manifest) -> Manifest:
        """Update the whole object (PUT); 409 when its ``resourceVersion`` is stale."""

    async def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete; False when it was already gone."""

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> Manifest:
        """Merge-patch the ``/status`` subresource (a None value removes that field)."""


def kind_of(manifest: Mapping[str, Any]) -> Kind:
    try:
        return KINDS[manifest["kind"]]
    except KeyError:
        raise ValueError(f"the operator does not write kind {manifest.get('kind')!r}") from None


def describe(manifest: Mapping[str, Any]) -> str:
    """``Kind namespace/name``, for log lines and status messages."""
    meta = manifest.get("metadata") or {}
    return f"{manifest.get('kind')} {meta.get('namespace')}/{meta.get('name')}"


def label_selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


class ApiCluster:
    """:class:`Cluster` over a configured ``kubernetes`` :class:`~kubernetes.client.ApiClient`."""

    def __init__(self, api: k8s_client.ApiClient, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self._api = api
        self._timeout = timeout

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    async def served_resources(self, api_version: str) -> set[str]:
        """The resources (plurals) an API group version serves; empty when it is not served.

        Discovery: every authenticated user may read it, so it needs no RBAC rule.
        """
        try:
            answer = await self._request("GET", f"/apis/{api_version}")
        except ApiError as error:
            if error.status == 404:
                return set()
            raise
        return {resource["name"] for resource in answer.get("resources") or []}

    async def get(self, kind: str, namespace: str, name: str) -> Manifest | None:
        try:
            return await self._request("GET", KINDS[kind].path(namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        query = {"labelSelector": label_selector(labels)}
        answer = await self._request("GET", KINDS[kind].path(namespace), query=query)
        items: list[Manifest] = answer.get("items") or []
        for item in items:  # list items come without their kind
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", KINDS[kind].api_version)
        return items

    async def apply(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        path = kind_of(manifest).path(meta.get("namespace"), meta["name"])
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        return await self._request(
            "PATCH", path, body=manifest, query=query, content_type="application/apply-patch+yaml"
        )

    async def create(self, manifest: Manifest) -> Manifest:
        path = kind_of(manifest).path(manifest["metadata"].get("namespace"))
        return await self._request("POST", path, body=manifest)

    async def replace(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        path = kind_of(manifest).path(meta.get("namespace"), meta["name"])
        return await self._request("PUT", path, body=manifest)

    async def delete(self, kind: str, namespace: str, name: str) -> bool:
        body = {"propagationPolicy": "Background"}
        try:
            await self._request("DELETE", KINDS[kind].path(namespace, name), body=body)
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> Manifest:
        path = KINDS[kind].path(namespace, name) + "/status"
        body = {"status": dict(status)}
        return await self._request(
            "PATCH", path, body=body, content_type="application/merge-patch+json"
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Manifest:
        return await asyncio.to_thread(self._request_sync, method, path, body, query, content_type)

    def _request_sync(
        self,
        method: str,
        path: str,
        body: Any,
        query: Mapping[str, str] | None,
        content_type: str,
    ) -> Manifest:
        """The decoded JSON object of a 2xx answer; :class:`ApiError` for anything else."""
        action = f"{method} {path}"
        headers = {"Accept": "application/json", "Content-Type": content_type}
        serialized = self._api.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(*serialized, _request_timeout=self._timeout)
            raw = response.read()  # type: ignore[no-untyped-call]
        except k8s_client.ApiException as error:  # the REST layer raises for no answer
            raise ApiError(action, int(error.status or 0), str(error.reason)) from error
        except Exception as error:  # urllib3 connection, TLS and timeout errors
            cause = getattr(error, "reason", None) or error  # MaxRetryError wraps the real one
            raise ApiError(action, 0, f"no answer: {cause}") from error
        decoded = _decode(raw)
        if not 200 <= response.status < 300:
            message = decoded.get("message", "") if isinstance(decoded, dict) else str(decoded)
            raise ApiError(action, response.status, message)
        if not isinstance(decoded, dict):
            raise ApiError(action, response.status, f"not a JSON object: {str(decoded)[:200]}")
        return decoded


def _decode(raw: bytes | None) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class MemoryCluster:
    """An in-memory :class:`Cluster` for tests and dry runs: a dict of objects, a call log.

    Apply replaces the applied fields (no field ownership), keeps ``status`` and the server's
    metadata, and allocates Services' cluster IPs and node ports; create/replace check existence
    and ``resourceVersion`` like the API server.
    ``failures[(verb, kind)]`` makes the next such calls raise the given :class:`ApiError`.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Manifest] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.failures: dict[tuple[str, str], ApiError] = {}
        self._version = 0
        self._node_port = FIRST_NODE_PORT - 1
        self._cluster_ips = 0

    def put(self, manifest: Manifest) -> Manifest:
        """Store an object as if another client had created it."""
        meta = manifest.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{manifest['kind']}-{meta['name']}")
        return self._store(manifest)

    def find(self, kind: str, namespace: str, name: str) -> Manifest | None:
        return self.objects.get((kind, namespace, name))

    def names(self, kind: str) -> list[str]:
        return sorted(name for (k, _, name) in self.objects if k == kind)

    async def get(self, kind: str, namespace: str, name: str) -> Manifest | None:
        self._record("get", kind, name)
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        self._record("list", kind, label_selector(labels))
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in sorted(self.objects.items())
            if k == kind
            and ns == namespace
            and labels.items() <= (obj["metadata"].get("labels") or {}).items()
        ]

    async def apply(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        self._record("apply", manifest["kind"], meta["name"])
        current = self.objects.get((manifest["kind"], meta.get("namespace", ""), meta["name"]))
        merged = copy.deepcopy(manifest)
        if current is not None:
            server_meta = {
                k: current["metadata"][k]
                for k in ("uid", "creationTimestamp")
                if k in current["metadata"]
            }
            merged["metadata"].update(server_meta)
            if "status" in current:
                merged["status"] = current["status"]
        else:
            merged["metadata"]["uid"] = f"uid-{manifest['kind']}-{meta['name']}"
        if merged["kind"] == "Service":
            self._allocate_cluster_ip(merged, current)
            self._allocate_node_ports(merged, current)
        return self._store(merged)

    async def create(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        self._record("create", manifest["kind"], meta["name"])
        if (manifest["kind"], meta.get("namespace", ""), meta["name"]) in self.objects:
            raise ApiError(f"POST {manifest['kind']}", 409, "already exists")
        return self._store(copy.deepcopy(manifest))

    async def replace(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        self._record("update", manifest["kind"], meta["name"])
        key = (manifest["kind"], meta.get("namespace", ""), meta["name"])
        current = self.objects.get(key)
        if current is None:
            raise ApiError(f"PUT {manifest['kind']}", 404, "not found")
        if meta.get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise ApiError(f"PUT {manifest['kind']}", 409, "the object has been modified")
        return self._store(copy.deepcopy(manifest))

    async def delete(self, kind: str, namespace: str, name: str) -> bool:
        self._record("delete", kind, name)
        return self.objects.pop((kind, namespace, name), None) is not None

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> Manifest:
        self._record("patch_status", kind, name)
        current = self.objects.get((kind, namespace, name))
        if current is None:
            raise ApiError(f"PATCH {kind}/status", 404, "not found")
        merged = dict(current.get("status") or {})
        for key, value in status.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = copy.deepcopy(value)
        current["status"] = merged
        return self._store(current)

    def _allocate_cluster_ip(self, service: Manifest, current: Manifest | None) -> None:
        """As the API server does: a Service that is not headless gets a cluster IP, kept."""
        spec = service.setdefault("spec", {})
        if spec.get("clusterIP"):
            return
        kept = ((current or {}).get("spec") or {}).get("clusterIP")
        if not kept:
            self._cluster_ips += 1
            kept = str(SERVICE_NETWORK[self._cluster_ips])
        spec["clusterIP"] = kept

    def _allocate_node_ports(self, service: Manifest, current: Manifest | None) -> None:
        """As the API server does: NodePort and LoadBalancer Services get a node port per port,
        kept across applies that do not name one."""
        spec = service.get("spec") or {}
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        previous = {
            port.get("name"): port.get("nodePort")
            for port in ((current or {}).get("spec") or {}).get("ports") or []
        }
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                port["nodePort"] = previous.get(port.get("name")) or self._next_node_port()

    def _next_node_port(self) -> int:
        self._node_port += 1
        return self._node_port

    def _record(self, verb: str, kind: str, detail: str) -> None:
        self.calls.append((verb, kind, detail))
        failure = self.failures.get((verb, kind))
        if failure is not None:
            raise failure

    def _store(self, manifest: Manifest) -> Manifest:
        self._version += 1
        meta = manifest["metadata"]
        meta["resourceVersion"] = str(self._version)
        self.objects[(manifest["kind"], meta.get("namespace", ""), meta["name"])] = manifest
        return copy.deepcopy(manifest)
