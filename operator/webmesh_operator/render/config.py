"""The webmesh-node config file (``--config``) of servers and node groups, as nested YAML.

Keys are the node's dotted setting names nested (``global: {insecure: true}``), exactly as
``webmesh.daemon.settings`` reads them; a test loads every rendered file with it. What differs
between the pods of one StatefulSet is not in the file (a ConfigMap is shared): the node id and
the per-pod certificate paths come from environment variables, and whether a server bootstraps
or joins from its entrypoint (see :mod:`webmesh_operator.render.pod`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import yaml

from webmesh_operator.render import backup, names


def _common(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Settings shared by every node of a mesh: security, logging, listeners, data plane."""
    insecure = spec["security"]["mode"] == "insecure"
    global_: dict[str, Any] = {
        "insecure": insecure,
        "no-ipv6": not spec["ipv6"],
        "detect-endpoints": True,
        "detect-private-endpoints": True,
        "log-level": spec["logLevel"],
        "log-format": "json",
    }
    config: dict[str, Any] = {"global": global_}
    if not insecure:
        # The CA is shared; each pod's certificate and key paths are set by the environment.
        ca_file = f"{names.TLS_DIR}/ca.crt"
        global_.update({"tls-ca-file": ca_file, "mtls": True})
        config["tls"] = {"ca-file": ca_file}
    config["raft"] = {"data-dir": names.STORE_DIR}
    config["services"] = {
        "api": {"listen-address": f"[::]:{names.API_PORT}"},
        "metrics": {"listen-address": f"[::]:{names.METRICS_PORT}"},
    }
    config["wireguard"] = {"listen-port": names.WIREGUARD_PORT}
    return config


def server_config(mesh: Mapping[str, Any]) -> dict[str, Any]:
    """The config of the Mesh's servers; ``bootstrap.*`` is only read by the pod that bootstraps.

    No ``global.primary-endpoint``: each server has its own external address (the
    ``<mesh>-endpoints`` ConfigMap), which its entrypoint passes in the environment.

    ``bootstrap.enabled`` and ``mesh.join-address`` are mutually exclusive, so neither is in the
    file: the entrypoint passes one of them as a flag.

    ``spec.restoreFrom`` is ``bootstrap.restore-from`` for the same reason as the rest of
    ``bootstrap.*``: only pod 0 bootstraps, and only while it has no Raft state (a restarted
    pod 0 ignores it; a pod 0 that lost its data while the mesh lives rejoins instead). Every
    server writes the same ``backup.*`` (see :mod:`webmesh_operator.render.backup`).
    """
    name, spec = mesh["metadata"]["name"], mesh["spec"]
    config = _common(spec)
    config["bootstrap"] = {
        "ipv4-network": spec["ipv4Network"],
        "mesh-domain": spec["meshDomain"],
        "default-network-policy": spec["defaultNetworkPolicy"],
        # Every server may join as a voter (pod 0 too: it rejoins if it lost its data).
        "voters": [f"{name}-{ordinal}" for ordinal in range(spec["servers"])],
    }
    if spec.get("restoreFrom"):
        config["bootstrap"]["restore-from"] = spec["restoreFrom"]
    config["mesh"] = {"join-as-voter": True}
    _add_backup(config, spec)
    meshdns = meshdns_config(spec)
    if meshdns:
        config["services"]["meshdns"] = meshdns
    return config


def meshdns_config(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``services.meshdns.*`` of the servers (empty when ``spec.meshDNS`` is off).

    The node listens on its mesh addresses by default; here on every address of the pod
    (``0.0.0.0``, and ``::`` with IPv6), because the ``<mesh>-meshdns`` Service sends to pod IPs.
    Names outside the mesh domain go to the pod's own resolvers (the cluster DNS) unless
    ``forward`` is off. Cluster DNS forwards only the mesh domain here, so there is no loop.
    """
    meshdns = spec["meshDNS"]
    if not meshdns["enabled"]:
        return {}
    config: dict[str, Any] = {
        "enabled": True,
        "listen-port": names.MESHDNS_PORT,
        "listen-addresses": ["0.0.0.0", "::"] if spec["ipv6"] else ["0.0.0.0"],
    }
    if not meshdns["forward"]:
        config["no-forward"] = True
    return config


def node_group_config(node: Mapping[str, Any], mesh: Mapping[str, Any]) -> dict[str, Any]:
    """The config of a Node group's pods: they join the mesh through its headless Service.

    Voters also write the Mesh's backups when they lead; observers never lead, so they do not.
    """
    config = _common(mesh["spec"])
    voter = bool(node["spec"]["voter"])
    config["mesh"] = {
        "join-address": names.join_address(mesh["metadata"]["name"], mesh["metadata"]["namespace"]),
        "join-as-voter": voter,
    }
    if voter:
        _add_backup(config, mesh["spec"])
    return config


def _add_backup(config: dict[str, Any], spec: Mapping[str, Any]) -> None:
    settings = backup.settings(spec)
    if settings:
        config["backup"] = settings


def to_yaml(config: Mapping[str, Any]) -> str:
    """The config file's text: stable key order, block style."""
    return yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)


def checksum(data: Mapping[str, str]) -> str:
    """A digest of a ConfigMap's data; a pod-template annotation, so a change rolls the pods."""
    digest = hashlib.sha256()
    for key in sorted(data):
        digest.update(key.encode() + b"\0" + data[key].encode() + b"\0")
    return digest.hexdigest()
