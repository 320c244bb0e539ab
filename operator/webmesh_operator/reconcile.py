"""What the operator does for a ``Mesh`` or a ``Node`` group, free of kopf so it can be tested.

Each entry point takes a :class:`Context` (the :class:`~webmesh_operator.k8s.Cluster` seam, the
mesh API client, the clock) and a resource as a plain dict, and either returns (done), raises
:class:`InvalidSpec` (the spec is wrong: retrying cannot help; the handler makes it a
``kopf.PermanentError``) or :class:`RetryLater` (a ``kopf.TemporaryError``). Expected failures
never escape as other exceptions: the API server's answers are mapped here, once.

Reconcile: defaults -> validate -> render (and the Secrets, which keep their generated keys) ->
owner references -> server-side apply -> prune what is no longer desired (never Secrets) -> status.
A Mesh's per-server Services are applied before the rest: their node ports and load-balancer
addresses are the servers' endpoints, which the rest embeds. Status is published only when it
differs from the stored one; the Mesh timer also re-reconciles when those endpoints changed.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, Protocol

from webmesh_operator import k8s, meshapi, secrets, status, validate
from webmesh_operator.render import defaults, endpoints, names, render_mesh, render_node_group
from webmesh_operator.render.mesh import COMPONENT as SERVER_COMPONENT
from webmesh_operator.render.mesh import server_services
from webmesh_operator.render.node_group import COMPONENT as NODE_GROUP_COMPONENT
from webmesh_operator.render.node_group import group_name

Manifest = dict[str, Any]
Resource = Mapping[str, Any]

DEFAULT_MESH_API_ADDRESS = "{name}-headless.{namespace}.svc:8443"
MESH_WAIT_DELAY = 10.0  # a missing Mesh, a CA not generated yet, a mesh API not answering
SLOW_RETRY_DELAY = 60.0  # a refusal (4xx) that needs a human or another controller
API_REFUSED = "ApiRefused"  # the Degraded reason when the API server refuses a child
MESH_INVALID = "MeshInvalid"  # a voter Node group waits for its Mesh's backup settings
PRUNABLE_KINDS = ("StatefulSet", "PodDisruptionBudget", "Service", "ConfigMap")

logger = logging.getLogger(__name__)


class InvalidSpec(Exception):
    """The resource's spec is wrong; its status says why. Retrying cannot help."""


class RetryLater(Exception):
    """Try again later: after ``delay`` seconds, or with the caller's backoff when None."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class MeshApi(Protocol):
    """The mesh's own gRPC API, as far as the operator uses it (see :mod:`.meshapi`)."""

    async def observe(
        self, address: str, credentials: meshapi.Credentials | None
    ) -> status.MeshObservation: ...

    async def ensure_voters(
        self, address: str, credentials: meshapi.Credentials | None, node_ids: Sequence[str]
    ) -> None: ...


class GrpcMeshApi:
    """:class:`MeshApi` through :mod:`.meshapi` (the wmctl client), with a timeout per call."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout

    async def observe(
        self, address: str, credentials: meshapi.Credentials | None
    ) -> status.MeshObservation:
        return await meshapi.observe(address, credentials, timeout=self.timeout)

    async def ensure_voters(
        self, address: str, credentials: meshapi.Credentials | None, node_ids: Sequence[str]
    ) -> None:
        await meshapi.ensure_voters(address, credentials, list(node_ids), timeout=self.timeout)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass
class Context:
    """What every reconcile needs; one per operator process."""

    cluster: k8s.Cluster
    mesh_api: MeshApi = dataclasses.field(default_factory=GrpcMeshApi)
    mesh_api_address: str = DEFAULT_MESH_API_ADDRESS
    clock: Callable[[], datetime.datetime] = utcnow

    def now(self) -> str:
        """The clock as an RFC 3339 timestamp (seconds, ``Z``), as conditions carry it."""
        return self.clock().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def api_address(self, mesh: str, namespace: str) -> str:
        return self.mesh_api_address.format(name=mesh, namespace=namespace)


# --- Mesh ---------------------------------------------------------------------------------------


async def reconcile_mesh(ctx: Context, body: Resource) -> None:
    """Bring a Mesh's children in line with its spec and publish a status."""
    mesh = defaults.mesh_with_defaults(body)
    await _reject_if_invalid(ctx, "Mesh", mesh, validate.mesh_problems(mesh))
    try:
        namespace = mesh["metadata"]["namespace"]
        existing = await read_secrets(ctx.cluster, namespace, secrets.mesh_secret_names(mesh))
        mesh_secrets = secrets.render_mesh_secrets(mesh, existing, now=ctx.clock())
        await apply_owned(ctx, "Mesh", mesh, mesh_secrets)
        known = await apply_server_services(ctx, mesh)
        desired = render_mesh(mesh, endpoints.server_endpoints(mesh, known))
        applied = await apply_owned(ctx, "Mesh", mesh, desired)
        await prune(ctx.cluster, mesh, [*mesh_secrets, *desired], _mesh_labels(mesh))
        await _publish_mesh_status(ctx, mesh, statefulset=_find(applied, "StatefulSet"))
    except k8s.ApiError as error:
        await _api_failure(ctx, "Mesh", mesh, error)


async def delete_mesh(ctx: Context, body: Resource) -> None:
    """Delete every child of a Mesh, Secrets included (kopf's finalizer waits for this)."""
    mesh = defaults.mesh_with_defaults(body)
    try:
        await delete_children(
            ctx.cluster, mesh, _mesh_labels(mesh), secrets.mesh_secret_names(mesh)
        )
    except k8s.ApiError as error:
        raise RetryLater(str(error), None if error.retryable else SLOW_RETRY_DELAY) from error


async def refresh_mesh_status(ctx: Context, body: Resource) -> None:
    """The timer: read the StatefulSet and the mesh API, publish the status if it changed."""
    if _deleting(body):
        return
    mesh = defaults.mesh_with_defaults(body)
    try:
        problems = validate.mesh_problems(mesh)
        if problems:
            await publish_status(ctx, "Mesh", mesh, _invalid(ctx, mesh, problems))
            return
        namespace, name = mesh["metadata"]["namespace"], mesh["metadata"]["name"]
        statefulset = await ctx.cluster.get("StatefulSet", namespace, name)
        if statefulset is not None and await _servers_outdated(ctx.cluster, mesh, statefulset):
            logger.info("the servers of Mesh %s/%s are out of date: reconciling", namespace, name)
            await reconcile_mesh(ctx, body)  # it publishes the status too
            return
        await _publish_mesh_status(ctx, mesh, statefulset=statefulset)
    except k8s.ApiError as error:
        raise RetryLater(str(error), None if error.retryable else SLOW_RETRY_DELAY) from error


async def apply_server_services(ctx: Context, mesh: Manifest) -> dict[str, Manifest]:
    """Apply each server's own WireGuard Service (LoadBalancer/NodePort) before the rest: the
    API server answers with the allocated node ports and any load-balancer address, which the
    endpoints ConfigMap and the pod template's checksum need in this same reconcile."""
    applied = await apply_owned(ctx, "Mesh", mesh, server_services(mesh))
    return {service["metadata"]["name"]: service for service in applied}


async def read_server_services(cluster: k8s.Cluster, mesh: Resource) -> dict[str, Manifest]:
    """Each server's own Service as it is now (``get``: the ones that exist)."""
    if mesh["spec"]["externalAccess"]["type"] not in endpoints.SERVICE_TYPES:
        return {}
    namespace, name = mesh["metadata"]["namespace"], mesh["metadata"]["name"]
    found = {}
    for ordinal in range(mesh["spec"]["servers"]):
        service_name = names.server_service_name(name, ordinal)
        service = await cluster.get("Service", namespace, service_name)
        if service is not None:
            found[service_name] = service
    return found


async def _servers_outdated(cluster: k8s.Cluster, mesh: Manifest, statefulset: Resource) -> bool:
    """Whether the servers' pod template misses what the mesh needs now, typically a load
    balancer's address that arrived after the last reconcile (no spec change announces it):
    the checksum of the template rendered from the Services as they are differs."""
    known = endpoints.server_endpoints(mesh, await read_server_services(cluster, mesh))
    wanted = _find(render_mesh(mesh, known), "StatefulSet")
    return _pod_checksum(wanted) != _pod_checksum(statefulset)


def _pod_checksum(statefulset: Resource | None) -> str | None:
    template = ((statefulset or {}).get("spec") or {}).get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(names.CONFIG_CHECKSUM_ANNOTATION)
    return str(value) if value is not None else None


async def _publish_mesh_status(
    ctx: Context, mesh: Manifest, *, statefulset: Manifest | None
) -> None:
    observation, api_error = await observe_mesh(ctx, mesh)
    new = status.mesh_status(
        mesh,
        workload=status.Workload.from_statefulset(statefulset),
        api=observation,
        api_error=api_error,
        join_address=await external_join_address(ctx.cluster, mesh),
        meshdns_address=await meshdns_address(ctx.cluster, mesh),
        previous=mesh.get("status") or {},
        now=ctx.now(),
    )
    await publish_status(ctx, "Mesh", mesh, new)


def _mesh_labels(mesh: Resource) -> dict[str, str]:
    name = mesh["metadata"]["name"]
    return names.labels(name, SERVER_COMPONENT, name)


# --- Node groups --------------------------------------------------------------------------------


async def reconcile_node(ctx: Context, body: Resource) -> None:
    """Bring a Node group's children in line with its spec and its Mesh; publish a status."""
    node = defaults.node_with_defaults(body)
    await _reject_if_invalid(ctx, "Node", node, validate.node_problems(node))
    try:
        mesh = await _mesh_of(ctx, node)
        backup_problem = _mesh_backup_problem(node, mesh)
        if backup_problem:
            await _wait(ctx, node, MESH_INVALID, backup_problem)
        namespace = node["metadata"]["namespace"]
        secret_names = secrets.node_group_secret_names(node, mesh)
        existing = await read_secrets(ctx.cluster, namespace, secret_names)
        try:
            group_secrets = secrets.render_node_group_secrets(node, mesh, existing, now=ctx.clock())
        except secrets.CaNotReady as error:
            await _wait(ctx, node, "CaNotReady", f"the CA of Mesh {_mesh_name(node)}: {error}")
        desired = [*group_secrets, *render_node_group(node, mesh)]
        applied = await apply_owned(ctx, "Node", node, desired)
        await prune(ctx.cluster, node, desired, _node_labels(node))
        if node["spec"]["voter"]:
            await _ensure_voters(ctx, node, mesh)
        await _publish_node_status(ctx, node, mesh, statefulset=_find(applied, "StatefulSet"))
    except k8s.ApiError as error:
        await _api_failure(ctx, "Node", node, error)


async def delete_node(ctx: Context, body: Resource) -> None:
    """Delete every child of a Node group, its certificate Secret included (never the mesh CA,
    which it only reads)."""
    node = defaults.node_with_defaults(body)
    secret_names = [names.tls_secret_name(group_name(node))]
    try:
        await delete_children(ctx.cluster, node, _node_labels(node), secret_names)
    except k8s.ApiError as error:
        raise RetryLater(str(error), None if error.retryable else SLOW_RETRY_DELAY) from error


async def refresh_node_status(ctx: Context, body: Resource) -> None:
    """The timer of a Node group: its StatefulSet and the mesh API's members."""
    if _deleting(body):
        return
    node = defaults.node_with_defaults(body)
    try:
        problems = validate.node_problems(node)
        if problems:
            await publish_status(ctx, "Node", node, _invalid(ctx, node, problems))
            return
        namespace = node["metadata"]["namespace"]
        mesh = await ctx.cluster.get("Mesh", namespace, _mesh_name(node))
        if mesh is None:
            reason, message = "MeshNotFound", _mesh_not_found(node)
            previous = node.get("status") or {}
            new = status.waiting_status(node, reason, message, previous=previous, now=ctx.now())
            await publish_status(ctx, "Node", node, new)
            return
        mesh = defaults.mesh_with_defaults(mesh)
        backup_problem = _mesh_backup_problem(node, mesh)
        if backup_problem:
            previous = node.get("status") or {}
            new = status.waiting_status(
                node, MESH_INVALID, backup_problem, previous=previous, now=ctx.now()
            )
            await publish_status(ctx, "Node", node, new)
            return
        statefulset = await ctx.cluster.get("StatefulSet", namespace, group_name(node))
        await _publish_node_status(ctx, node, mesh, statefulset=statefulset)
    except k8s.ApiError as error:
        raise RetryLater(str(error), None if error.retryable else SLOW_RETRY_DELAY) from error


async def _publish_node_status(
    ctx: Context, node: Manifest, mesh: Manifest, *, statefulset: Manifest | None
) -> None:
    observation, api_error = await observe_mesh(ctx, mesh)
    new = status.node_group_status(
        node,
        workload=status.Workload.from_statefulset(statefulset),
        api=observation,
        api_error=api_error,
        previous=node.get("status") or {},
        now=ctx.now(),
    )
    await publish_status(ctx, "Node", node, new)


async def _mesh_of(ctx: Context, node: Manifest) -> Manifest:
    mesh = await ctx.cluster.get("Mesh", node["metadata"]["namespace"], _mesh_name(node))
    if mesh is None:
        await _wait(ctx, node, "MeshNotFound", _mesh_not_found(node))
    return defaults.mesh_with_defaults(mesh)


async def _ensure_voters(ctx: Context, node: Manifest, mesh: Manifest) -> None:
    """Add the group's pods as Raft voters; a node must be added before it starts."""
    namespace, mesh_name = node["metadata"]["namespace"], mesh["metadata"]["name"]
    try:
        credentials = await mesh_credentials(ctx.cluster, mesh)
    except CredentialsMissing as error:
        await _wait(ctx, node, "MeshApiUnavailable", str(error))
    pods = [f"{group_name(node)}-{index}" for index in range(node["spec"]["replicas"])]
    try:
        await ctx.mesh_api.ensure_voters(ctx.api_address(mesh_name, namespace), credentials, pods)
    except meshapi.MeshApiError as error:
        await _wait(ctx, node, "MeshApiUnavailable", f"adding voters {', '.join(pods)}: {error}")


def _mesh_backup_problem(node: Resource, mesh: Resource) -> str:
    """Why a voter group cannot be rendered now: it carries its Mesh's backup settings (any
    voter may lead, and the leader writes the backups), and they are wrong; "" otherwise. The
    Mesh's own status says the same; fixing it lets the group go on."""
    if not node["spec"]["voter"]:
        return ""
    problems = validate.backup_problems(mesh["spec"])
    if not problems:
        return ""
    return f"the backup settings of Mesh {_mesh_name(node)} are invalid: {'; '.join(problems)}"


def _mesh_name(node: Resource) -> str:
    return str(node["spec"]["meshRef"]["name"])


def _mesh_not_found(node: Resource) -> str:
    return f"Mesh {_mesh_name(node)} not found in namespace {node['metadata']['namespace']}"


def _node_labels(node: Resource) -> dict[str, str]:
    return names.labels(node["metadata"]["name"], NODE_GROUP_COMPONENT, _mesh_name(node))


# --- shared steps -------------------------------------------------------------------------------


def owner_reference(owner: Resource) -> dict[str, Any]:
    """The controller reference that ties a child to its Mesh or Node group."""
    return {
        "apiVersion": owner.get("apiVersion", "mesh.webmesh.io/v1alpha1"),
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def with_owner(manifest: Manifest, owner: Resource) -> Manifest:
    """A copy of ``manifest`` owned by ``owner`` (the renderer leaves owner references out)."""
    owned = dict(manifest)
    owned["metadata"] = {**manifest["metadata"], "ownerReferences": [owner_reference(owner)]}
    return owned


def owned_by(obj: Resource, owner: Resource) -> bool:
    uid = owner["metadata"].get("uid")
    references = obj.get("metadata", {}).get("ownerReferences") or []
    return any(reference.get("uid") == uid for reference in references)


async def apply_owned(
    ctx: Context, owner_kind: str, owner: Resource, desired: Iterable[Manifest]
) -> list[Manifest]:
    """Server-side apply each manifest, owned by ``owner``; a refusal names the object."""
    applied = []
    for manifest in desired:
        try:
            applied.append(await ctx.cluster.apply(with_owner(manifest, owner)))
        except k8s.ApiError as error:
            action = f"applying {k8s.describe(manifest)}"
            raise k8s.ApiError(action, error.status, error.message) from error
    return applied


async def prune(
    cluster: k8s.Cluster, owner: Resource, desired: Iterable[Manifest], labels: Mapping[str, str]
) -> list[str]:
    """Delete children (found by labels, owned by ``owner``) that are no longer desired.

    Secrets are never pruned: they hold keys that a later spec may need again.
    """
    keep = {(manifest["kind"], manifest["metadata"]["name"]) for manifest in desired}
    namespace = owner["metadata"]["namespace"]
    pruned = []
    for kind in PRUNABLE_KINDS:
        for obj in await cluster.list(kind, namespace, labels):
            name = obj["metadata"]["name"]
            if (kind, name) not in keep and owned_by(obj, owner):
                await cluster.delete(kind, namespace, name)
                logger.info("pruned %s %s/%s", kind, namespace, name)
                pruned.append(f"{kind}/{name}")
    return pruned


async def delete_children(
    cluster: k8s.Cluster, owner: Resource, labels: Mapping[str, str], secret_names: Iterable[str]
) -> list[str]:
    """Delete the owner's children of every kind, then its Secrets by name."""
    namespace = owner["metadata"]["namespace"]
    deleted = []
    for kind in k8s.CHILD_KINDS:
        for obj in await cluster.list(kind, namespace, labels):
            if owned_by(obj, owner) and await cluster.delete(
                kind, namespace, obj["metadata"]["name"]
            ):
                deleted.append(f"{kind}/{obj['metadata']['name']}")
    for name in secret_names:
        if f"Secret/{name}" not in deleted and await cluster.delete("Secret", namespace, name):
            deleted.append(f"Secret/{name}")
    logger.info(
        "deleted the children of %s %s/%s: %s",
        owner["kind"],
        namespace,
        owner["metadata"]["name"],
        ", ".join(deleted) or "none",
    )
    return deleted


async def read_secrets(
    cluster: k8s.Cluster, namespace: str, secret_names: Iterable[str]
) -> dict[str, dict[str, bytes]]:
    """The existing Secrets among ``secret_names``, decoded (so generated keys are kept)."""
    existing = {}
    for name in secret_names:
        secret = await cluster.get("Secret", namespace, name)
        if secret is not None:
            existing[name] = secret_data(secret)
    return existing


def secret_data(secret: Resource) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            logger.warning(
                "ignoring key %s of Secret %s: not base64", key, secret["metadata"]["name"]
            )
    for key, value in (secret.get("stringData") or {}).items():
        data.setdefault(key, str(value).encode())
    return data


class CredentialsMissing(Exception):
    """The admin Secret the operator talks to a mesh with is absent or incomplete (yet)."""


async def mesh_credentials(cluster: k8s.Cluster, mesh: Resource) -> meshapi.Credentials | None:
    """The operator's client credentials for ``mesh`` (defaulted); None for an insecure mesh."""
    namespace, name = mesh["metadata"]["namespace"], mesh["metadata"]["name"]
    secret_name = names.admin_secret_name(name)
    secret = await cluster.get("Secret", namespace, secret_name)
    if secret is None:
        raise CredentialsMissing(f"Secret {secret_name} does not exist yet")
    if mesh["spec"]["security"]["mode"] == "insecure":
        return None
    credentials = meshapi.credentials_from_admin_secret(secret_data(secret))
    if credentials is None:
        raise CredentialsMissing(f"Secret {secret_name} lacks the admin certificate")
    return credentials


async def observe_mesh(
    ctx: Context, mesh: Resource
) -> tuple[status.MeshObservation | None, str | None]:
    """What the mesh API says (leader, voters, members), or why it could not be asked."""
    namespace, name = mesh["metadata"]["namespace"], mesh["metadata"]["name"]
    try:
        credentials = await mesh_credentials(ctx.cluster, mesh)
        return await ctx.mesh_api.observe(ctx.api_address(name, namespace), credentials), None
    except (CredentialsMissing, meshapi.MeshApiError) as error:
        return None, str(error)


async def external_join_address(cluster: k8s.Cluster, mesh: Resource) -> str:
    """Where outside machines join: the shared external Service's load balancer address or node
    port, the advertised host, else the in-cluster address (see
    :func:`webmesh_operator.render.endpoints.join_address`)."""
    namespace, name = mesh["metadata"]["namespace"], mesh["metadata"]["name"]
    service = None
    if mesh["spec"]["externalAccess"]["type"] in endpoints.SERVICE_TYPES:
        service = await cluster.get("Service", namespace, names.external_service_name(name))
    return endpoints.join_address(mesh, service)


async def meshdns_address(cluster: k8s.Cluster, mesh: Resource) -> str:
    """``<clusterIP>:53`` of the ``<mesh>-meshdns`` Service ("" when MeshDNS is off or the
    Service is not there yet): what cluster DNS forwards the mesh domain to."""
    if not mesh["spec"]["meshDNS"]["enabled"]:
        return ""
    namespace, name = mesh["metadata"]["namespace"], mesh["metadata"]["name"]
    service = await cluster.get("Service", namespace, names.meshdns_service_name(name))
    return endpoints.cluster_ip_address(service, names.MESHDNS_PORT)


async def publish_status(
    ctx: Context, kind: str, resource: Resource, new: Mapping[str, Any]
) -> bool:
    """Merge-patch the fields of ``/status`` that differ from ``new``; nothing if none does.

    Fields ``new`` lacks keep their values: :func:`status.invalid_spec_status` and
    :func:`status.waiting_status` only set phase, conditions and observedGeneration.
    """
    previous = resource.get("status") or {}
    patch = {key: value for key, value in new.items() if previous.get(key) != value}
    if not patch:
        return False
    meta = resource["metadata"]
    await ctx.cluster.patch_status(kind, meta["namespace"], meta["name"], patch)
    return True


def _invalid(ctx: Context, resource: Resource, problems: list[str]) -> dict[str, Any]:
    previous = resource.get("status") or {}
    return status.invalid_spec_status(resource, problems, previous=previous, now=ctx.now())


async def _reject_if_invalid(
    ctx: Context, kind: str, resource: Manifest, problems: list[str]
) -> None:
    if not problems:
        return
    try:
        await publish_status(ctx, kind, resource, _invalid(ctx, resource, problems))
    except k8s.ApiError as error:
        logger.warning("could not publish the status of %s: %s", _name(resource), error)
    raise InvalidSpec("; ".join(problems))


async def _wait(ctx: Context, resource: Manifest, reason: str, message: str) -> NoReturn:
    """Publish a waiting status (``reason``) and retry later; never returns."""
    previous = resource.get("status") or {}
    new = status.waiting_status(resource, reason, message, previous=previous, now=ctx.now())
    await publish_status(ctx, resource["kind"], resource, new)
    raise RetryLater(f"{reason}: {message}", MESH_WAIT_DELAY)


async def _api_failure(ctx: Context, kind: str, resource: Manifest, error: k8s.ApiError) -> None:
    """Map the API server's refusal: retry soon (no answer, 409, 429, 5xx), or say so in a
    Degraded status and retry slowly (4xx: RBAC, an invalid child, an admission webhook)."""
    if error.retryable:
        raise RetryLater(str(error)) from error
    try:
        await publish_status(ctx, kind, resource, degraded_status(ctx, resource, str(error)))
    except k8s.ApiError as publish_error:
        logger.warning("could not publish the status of %s: %s", _name(resource), publish_error)
    raise RetryLater(str(error), SLOW_RETRY_DELAY) from error


def degraded_status(ctx: Context, resource: Resource, message: str) -> dict[str, Any]:
    """Degraded with reason :data:`API_REFUSED` (other status fields kept)."""
    previous = resource.get("status") or {}
    return status.degraded_status(resource, API_REFUSED, message, previous=previous, now=ctx.now())


def _find(manifests: Iterable[Manifest], kind: str) -> Manifest | None:
    return next((manifest for manifest in manifests if manifest.get("kind") == kind), None)


def _deleting(body: Resource) -> bool:
    return bool(body.get("metadata", {}).get("deletionTimestamp"))


def _name(resource: Resource) -> str:
    meta = resource["metadata"]
    return f"{resource.get('kind')} {meta.get('namespace')}/{meta.get('name')}"
