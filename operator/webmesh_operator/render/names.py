"""Names, labels and fixed paths shared by every rendered manifest: one place, so they agree."""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]

GROUP = "mesh.webmesh.io"
MANAGED_BY = "webmesh-operator"
CONFIG_CHECKSUM_ANNOTATION = f"{GROUP}/config-checksum"
MESH_LABEL = f"{GROUP}/mesh"
# Set by the StatefulSet controller on every pod: selects one server for its own Service.
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"

API_PORT = 8443
WIREGUARD_PORT = 51820
METRICS_PORT = 8080
MESHDNS_PORT = 53  # MeshDNS (spec.meshDNS), UDP and TCP: port 53, so resolv.conf can name it

CONFIG_DIR = "/etc/webmesh"
CONFIG_FILE = "webmesh.yaml"
CONFIG_PATH = f"{CONFIG_DIR}/{CONFIG_FILE}"
TLS_DIR = "/etc/webmesh/tls"
ENDPOINTS_DIR = "/etc/webmesh/endpoints"
DATA_DIR = "/var/lib/webmesh"
STORE_DIR = f"{DATA_DIR}/store"


def labels(instance: str, component: str, mesh: str) -> dict[str, str]:
    """The labels of every object that belongs to one Mesh (``component``: server, node-group).

    ``instance`` is the owning resource's name (the Mesh's, or the Node group's).
    """
    return {
        "app.kubernetes.io/name": "webmesh",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        MESH_LABEL: mesh,
    }


def selector(instance: str, component: str) -> dict[str, str]:
    """The immutable subset of :func:`labels` that selects one StatefulSet's pods."""
    return {
        "app.kubernetes.io/name": "webmesh",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
    }


def metadata(name: str, namespace: str, object_labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(object_labels)}


def headless_service_name(mesh: str) -> str:
    return f"{mesh}-headless"


def external_service_name(mesh: str) -> str:
    return f"{mesh}-external"


def server_service_name(mesh: str, ordinal: int) -> str:
    """The WireGuard Service of one server (LoadBalancer/NodePort): each has its own key, so its
    own external address."""
    return f"{mesh}-external-{ordinal}"


def meshdns_service_name(mesh: str) -> str:
    """The ClusterIP Service of the servers' MeshDNS (spec.meshDNS): where cluster DNS forwards
    the mesh domain."""
    return f"{mesh}-meshdns"


def server_pod_name(mesh: str, ordinal: int) -> str:
    return f"{mesh}-{ordinal}"


def server_config_map_name(mesh: str) -> str:
    return f"{mesh}-config"


def endpoints_config_map_name(mesh: str) -> str:
    """The servers' external WireGuard endpoints (``<pod>: host:port``), made by the operator."""
    return f"{mesh}-endpoints"


def tls_secret_name(owner: str) -> str:
    """The Secret with ``ca.crt`` and one ``<pod>.crt``/``<pod>.key`` per pod of ``owner``."""
    return f"{owner}-tls"


def join_address(mesh: str, namespace: str) -> str:
    """Where in-cluster nodes join: the headless Service resolves to the ready servers only."""
    return f"{headless_service_name(mesh)}.{namespace}.svc:{API_PORT}"


def ca_secret_name(mesh: str) -> str:
    """The mesh CA (``ca.crt``, ``ca.key``), mTLS only: only the operator reads it."""
    return f"{mesh}-ca"


def admin_secret_name(mesh: str) -> str:
    """An admin wmctl config (``config.yaml``; with mTLS also ``ca.crt``, ``tls.crt``,
    ``tls.key``), for humans and for the operator itself."""
    return f"{mesh}-admin"
