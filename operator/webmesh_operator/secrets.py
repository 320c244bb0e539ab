"""The Secrets of a Mesh and its Node groups: generated once, then kept.

Each ``render_*`` function takes the decoded data of the Secrets that exist (``existing``) and
returns the full desired Secret manifests. Whatever exists and is still valid is returned
byte for byte, so re-applying is a no-op; only missing or invalid entries are (re)generated.
No Kubernetes client here: the handler reads and applies. The clock is a parameter (``now``).

Secrets of Mesh ``demo`` (namespace ``ns``):

- ``demo-ca`` (``ca.crt``, ``ca.key``), mTLS only: the mesh CA, ECDSA P-256 (gRPC refuses
  Ed25519; see ``webmesh.client.pki``), valid 10 years. Only the operator reads it. It is replaced
  when unreadable or within 30 days of expiry; every certificate is then re-issued and the pods
  roll, which disturbs the mesh once a decade.
- ``demo-tls``, mTLS only: ``ca.crt`` and ``<pod>.crt``/``<pod>.key`` of each server pod
  ``demo-0..``: *node* certificates (CN = node id, URI SAN ``webmesh:node/<pod>``, server and
  client auth), so the node's mTLS authenticator takes them for that node. DNS SANs: ``<pod>``
  (followers verify the leader by node id), ``<pod>.demo-headless.ns.svc[.cluster.local]`` and
  ``demo-headless.ns.svc`` (what joining nodes and the operator dial). Valid one year, re-issued
  within 30 days of expiry. Certificates of pods beyond ``servers`` are kept (a scale-up brings
  those pods back).
- ``demo-admin``: ``config.yaml``, a wmctl config whose cluster is ``demo-headless.ns.svc:8443``
  (with mTLS verified as ``server-name: demo-headless.ns.svc``, so that ``--server`` may name an
  external address: a LoadBalancer or NodePort) and whose user is ``admin`` (the node's default
  ``bootstrap.admin``, bound to ``mesh-admin``); with mTLS also ``ca.crt``, ``tls.crt``,
  ``tls.key``, a *user* certificate (URI SAN ``webmesh:user/admin``). wmctl resolves relative
  paths against the config file's directory, so the file names ``ca.crt``, ``tls.crt``,
  ``tls.key`` as they are: mount the Secret as a directory (or extract it into one) and run
  ``wmctl --config <dir>/config.yaml``.

No Raft secret: each replica generates its own Raft key in its data directory, and replicas
admit each other by the keys recorded in the mesh state.

Node group ``web`` of ``demo``: ``demo-web-tls`` (mTLS only), like ``demo-tls`` for its pods
``demo-web-0..``, signed by the CA in ``demo-ca`` (:class:`CaNotReady` until that exists).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webmesh.client import config as wmctl_config
from webmesh.client import pki
from webmesh_operator.render import defaults, names
from webmesh_operator.render.mesh import COMPONENT as SERVER_COMPONENT
from webmesh_operator.render.names import Manifest
from webmesh_operator.render.node_group import COMPONENT as NODE_GROUP_COMPONENT
from webmesh_operator.render.node_group import group_name

Existing = Mapping[str, Mapping[str, bytes]]  # secret name -> decoded data; absent = not there yet
Kind = Literal["node", "user"]

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)
CLUSTER_DOMAIN = "cluster.local"
ADMIN_USER = "admin"  # the node's default --bootstrap.admin
CA_CERT, CA_KEY = pki.CA_CERT, pki.CA_KEY
ADMIN_CONFIG, ADMIN_CERT, ADMIN_KEY = "config.yaml", "tls.crt", "tls.key"


class CaNotReady(Exception):
    """The mesh CA Secret is absent or invalid: the Mesh's handler has not made it yet."""


@dataclass(frozen=True)
class _Ca:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_pem: bytes
    key_pem: bytes


# --- public API ---------------------------------------------------------------------------------


def mesh_secret_names(mesh: Mapping[str, Any]) -> list[str]:
    """The Secrets :func:`render_mesh_secrets` makes (and so reads back)."""
    name = mesh["metadata"]["name"]
    found = [names.admin_secret_name(name)]
    if _mtls(mesh):
        found = [names.ca_secret_name(name), names.tls_secret_name(name), *found]
    return found


def render_mesh_secrets(
    mesh: Mapping[str, Any], existing: Existing, *, now: datetime.datetime
) -> list[Manifest]:
    """The Mesh's Secrets, in apply order: CA, server certificates, admin config."""
    mesh = defaults.mesh_with_defaults(mesh)
    name, namespace = mesh["metadata"]["name"], mesh["metadata"]["namespace"]
    labels = names.labels(name, SERVER_COMPONENT, name)
    admin_name = names.admin_secret_name(name)
    if not _mtls(mesh):
        admin = {ADMIN_CONFIG: _admin_config(mesh, insecure=True)}
        return [_manifest(admin_name, namespace, labels, admin)]
    ca_name, tls_name = names.ca_secret_name(name), names.tls_secret_name(name)
    ca = _valid_ca(existing.get(ca_name) or {}, now) or _new_ca(name, now)
    pods = [f"{name}-{ordinal}" for ordinal in range(mesh["spec"]["servers"])]
    tls = _tls_data(mesh, pods, ca, existing.get(tls_name) or {}, now=now, server=True)
    admin = _admin_data(mesh, ca, existing.get(admin_name) or {}, now)
    return [
        _manifest(ca_name, namespace, labels, {CA_CERT: ca.cert_pem, CA_KEY: ca.key_pem}),
        _manifest(tls_name, namespace, labels, tls),
        _manifest(admin_name, namespace, labels, admin),
    ]


def node_group_secret_names(node: Mapping[str, Any], mesh: Mapping[str, Any]) -> list[str]:
    """The Secrets :func:`render_node_group_secrets` reads: the mesh CA and the group's own."""
    if not _mtls(mesh):
        return []
    return [names.ca_secret_name(mesh["metadata"]["name"]), names.tls_secret_name(group_name(node))]


def render_node_group_secrets(
    node: Mapping[str, Any],
    mesh: Mapping[str, Any],
    existing: Existing,
    *,
    now: datetime.datetime,
) -> list[Manifest]:
    """The group's certificate Secret (mTLS only), signed by the mesh CA, which it never writes."""
    node, mesh = defaults.node_with_defaults(node), defaults.mesh_with_defaults(mesh)
    if not _mtls(mesh):
        return []
    ca_name = names.ca_secret_name(mesh["metadata"]["name"])
    ca = _valid_ca(existing.get(ca_name) or {}, now)
    if ca is None:
        raise CaNotReady(f"the mesh CA Secret {ca_name} does not exist yet (or is invalid)")
    group, namespace = group_name(node), node["metadata"]["namespace"]
    labels = names.labels(node["metadata"]["name"], NODE_GROUP_COMPONENT, mesh["metadata"]["name"])
    pods = [f"{group}-{ordinal}" for ordinal in range(node["spec"]["replicas"])]
    tls_name = names.tls_secret_name(group)
    tls = _tls_data(mesh, pods, ca, existing.get(tls_name) or {}, now=now, server=False)
    return [_manifest(tls_name, namespace, labels, tls)]


# --- Secret data -------------------------------------------------------------------------------


def _mtls(mesh: Mapping[str, Any]) -> bool:
    return bool(defaults.mesh_with_defaults(mesh)["spec"]["security"]["mode"] == "mtls")


def _manifest(
    name: str, namespace: str, labels: dict[str, str], data: Mapping[str, bytes]
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": names.metadata(name, namespace, labels),
        "data": {key: base64.b64encode(data[key]).decode("ascii") for key in sorted(data)},
    }


def _tls_data(
    mesh: Mapping[str, Any],
    pods: Sequence[str],
    ca: _Ca,
    existing: Mapping[str, bytes],
    *,
    now: datetime.datetime,
    server: bool,
) -> dict[str, bytes]:
    """``ca.crt`` and a node certificate per pod; other pods' entries are kept as they are."""
    data = {key: value for key, value in existing.items() if key.endswith((".crt", ".key"))}
    data[CA_CERT] = ca.cert_pem
    for pod in pods:
        sans = _pod_sans(mesh, pod, server=server)
        cert_key, key_key = f"{pod}.crt", f"{pod}.key"
        pair = (existing.get(cert_key, b""), existing.get(key_key, b""))
        if not _valid_leaf(*pair, ca=ca, name=pod, kind="node", sans=sans, now=now):
            pair = _issue(ca, pod, kind="node", sans=sans, now=now)
        data[cert_key], data[key_key] = pair
    return data


def _admin_data(
    mesh: Mapping[str, Any], ca: _Ca, existing: Mapping[str, bytes], now: datetime.datetime
) -> dict[str, bytes]:
    pair = (existing.get(ADMIN_CERT, b""), existing.get(ADMIN_KEY, b""))
    if not _valid_leaf(*pair, ca=ca, name=ADMIN_USER, kind="user", sans=(), now=now):
        pair = _issue(ca, ADMIN_USER, kind="user", sans=(), now=now)
    return {
        ADMIN_CONFIG: _admin_config(mesh, insecure=False),
        CA_CERT: ca.cert_pem,
        ADMIN_CERT: pair[0],
        ADMIN_KEY: pair[1],
    }


def _admin_config(mesh: Mapping[str, Any], *, insecure: bool) -> bytes:
    """A wmctl config file; paths are relative to the file (the Secret's mount directory)."""
    name, namespace = mesh["metadata"]["name"], mesh["metadata"]["namespace"]
    server = names.join_address(name, namespace)
    context = f"{namespace}/{name}"
    if insecure:
        cluster = wmctl_config.Cluster(name=context, server=server, insecure=True)
    else:
        # Verified by the Service's name, a SAN of every server certificate, so that the same
        # file works from outside with --server <external address> (a LoadBalancer, a NodePort).
        cluster = wmctl_config.Cluster(
            name=context, server=server, ca_file=CA_CERT, server_name=_service_host(mesh)
        )
    user = wmctl_config.User(
        name=f"{context}/{ADMIN_USER}",
        mtls_cert_file="" if insecure else ADMIN_CERT,
        mtls_key_file="" if insecure else ADMIN_KEY,
    )
    config = wmctl_config.Config(
        clusters=(cluster,),
        users=(user,),
        contexts=(wmctl_config.Context(name=context, cluster=context, user=user.name),),
        current_context=context,
    )
    text = yaml.safe_dump(wmctl_config.to_dict(config), sort_keys=False)
    return text.encode("utf-8")


def _pod_sans(mesh: Mapping[str, Any], pod: str, *, server: bool) -> tuple[str, ...]:
    """How a pod is dialled: by node id, by its name under the headless Service, and (servers
    only: it lists only them) through the Service itself, the join address."""
    service = _service_host(mesh)
    sans = (pod, f"{pod}.{service}", f"{pod}.{service}.{CLUSTER_DOMAIN}")
    return (*sans, service) if server else sans


def _service_host(mesh: Mapping[str, Any]) -> str:
    """``<mesh>-headless.<ns>.svc``: the join address's host, and a SAN of every server."""
    name, namespace = mesh["metadata"]["name"], mesh["metadata"]["namespace"]
    return f"{names.headless_service_name(name)}.{namespace}.svc"


# --- certificates ------------------------------------------------------------------------------


def _valid_ca(data: Mapping[str, bytes], now: datetime.datetime) -> _Ca | None:
    """The CA in ``data`` if it is a CA, its key matches, and it is not about to expire."""
    cert_pem, key_pem = data.get(CA_CERT, b""), data.get(CA_KEY, b"")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not constraints.ca:
        return None
    if cert.public_key() != key.public_key() or not _current(cert, now):
        return None
    return _Ca(cert, key, cert_pem, key_pem)


def _valid_leaf(
    cert_pem: bytes,
    key_pem: bytes,
    *,
    ca: _Ca,
    name: str,
    kind: Kind,
    sans: Sequence[str],
    now: datetime.datetime,
) -> bool:
    """Whether a kept certificate still does its job: same CA, name, kind, SANs; not expiring."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        cert.verify_directly_issued_by(ca.cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    common_names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return (
        cert.public_key() == key.public_key()
        and common_names == [name]
        and list(san) == pki.san_entries(name, kind, sans)
        and _current(cert, now)
    )


def _current(cert: x509.Certificate, now: datetime.datetime) -> bool:
    """Not expiring within :data:`RENEW_BEFORE`. ``notBefore`` is not checked: a clock behind
    the one that issued the certificate must not make the operator replace a whole CA."""
    return now + RENEW_BEFORE < cert.not_valid_after_utc


def _new_ca(mesh: str, now: datetime.datetime) -> _Ca:
    cert, key = pki.make_ca(name=f"{mesh}-ca", days=CA_DAYS, now=now)
    return _Ca(cert, key, pki.cert_pem(cert), pki.key_pem(key))


def _issue(
    ca: _Ca, name: str, *, kind: Kind, sans: Sequence[str], now: datetime.datetime
) -> tuple[bytes, bytes]:
    """A leaf exactly as ``wmctl pki issue`` makes it, in memory."""
    cert, key = pki.make_leaf(ca.cert, ca.key, name, kind=kind, sans=sans, days=LEAF_DAYS, now=now)
    return pki.cert_pem(cert), pki.key_pem(key)
