"""What the CRD schemas cannot say: cross-field and naming rules that would break the mesh or make
the rendered objects invalid, each reported as one sentence naming the field.

Pure, standard library only. Input is the resource as stored, with defaults applied
(``render.mesh_with_defaults`` / ``render.node_with_defaults``); an empty list means valid.

Rules and why:

- ``spec.ipv4Network`` must parse, have no host bits (the node would refuse it at bootstrap) and be
  a /30 or larger (the schema's pattern cannot compare numbers reliably).
- ``spec.externalAccess.advertiseEndpoint`` needs a port in 1..65535 when it has one; its host may
  contain ``{ordinal}`` or ``{pod}`` (one host per server) and no other braces. Each server has its
  own WireGuard key, so each needs its own address: a host without a placeholder is refused for
  more than one server, except with ``NodePort``, where every server gets its own port on it.
- ``NodePort`` needs ``advertiseEndpoint``: the address of a cluster node reachable from outside,
  which the operator cannot know (a node's InternalIP is usually not it). The other types do not:
  servers detect their endpoints (with ``HostNetwork`` the host's addresses), and a load
  balancer's address comes from its Service.
- ``spec.meshDNS`` cannot be on with ``HostNetwork``: the servers would listen on port 53 of every
  address of their hosts (the ``<mesh>-meshdns`` Service sends to pod IPs, which are then the
  hosts' own), a resolver open to whatever reaches the host, and in conflict with a host's own
  DNS server on port 53.
- ``spec.storage.size`` must be more than zero (a zero PVC cannot hold the Raft log).
- ``spec.backup`` (see ``backup_problems``): every backup is encrypted, so ``url`` and
  ``restoreFrom`` need ``keySecret``; a directory ``url`` needs a ``volume`` that outlives the
  pod (not ``emptyDir``/``ephemeral``: a backup lost with the pod is no backup), mounted at the
  directory, which therefore must not be ``/`` or overlap the node's own directories; ``volume``
  and ``s3`` are refused where nothing would use them (a typo should not pass as a setting); a
  path in ``restoreFrom`` must lie in the backup directory, the only files of the pod that exist
  before it starts; ``interval`` must be more than zero (the schema's pattern allows ``0s``).
- Names: pods are named ``<statefulset>-<ordinal>`` and are the nodes' mesh ids and host names, so
  they must be DNS labels (lowercase letters, digits, '-', at most 63). A StatefulSet name longer
  than 52 characters cannot work either: the controller labels pods with
  ``controller-revision-hash: <name>-<10-char hash>``, a label value of at most 63 characters.
  Services (``<mesh>-headless``, ``<mesh>-external``) need DNS-1035 labels: starting with a letter.
- Node groups: app containers share the pod with the node (init) containers, so their names must
  differ from those and from each other; they share its network namespace, so they cannot listen
  on the node's ports; they can only mount the pod's own volumes.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

API_PORT, WIREGUARD_PORT, METRICS_PORT = 8443, 51820, 8080  # mirrors render.names
NODE_CONTAINER, FORWARDING_CONTAINER = "webmesh-node", "ip-forwarding"  # mirrors render.pod
# Volumes app containers may mount: not a voter's backup key or store, which apps have no use for.
POD_VOLUMES = frozenset({"config", "data", "run-wireguard", "dev-net-tun", "tls"})
NODE_PORTS = {(API_PORT, "TCP"), (WIREGUARD_PORT, "UDP"), (METRICS_PORT, "TCP")}

MAX_LABEL = 63
MAX_STATEFULSET_NAME = 52
LONGEST_SERVICE_SUFFIX = "-external-0"  # a server's own Service; 52 + 11 fits 63
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
MIN_PREFIX = 30
_DURATION_RE = re.compile(r"^(?:([0-9]+)|(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?)$")
# Directories of the node container's own mounts (mirrors render.names and render.pod).
NODE_DIRS = ("/etc/webmesh", "/var/lib/webmesh", "/run/wireguard", "/dev/net/tun")
EPHEMERAL_VOLUMES = ("emptyDir", "ephemeral")
S3_SCHEME, FILE_SCHEME = "s3://", "file://"  # mirrors render.backup
ENDPOINT_FIELD = "spec.externalAccess.advertiseEndpoint"
PLACEHOLDERS = ("{ordinal}", "{pod}")  # mirrors render.endpoints


def mesh_problems(mesh: Mapping[str, Any]) -> list[str]:
    """Problems of a ``Mesh`` (defaults applied) that its CRD schema does not catch."""
    spec = mesh["spec"]
    problems = _mesh_name_problems(str(mesh["metadata"]["name"]), spec["servers"])
    problems += _network_problems(str(spec["ipv4Network"]))
    problems += _external_access_problems(spec.get("externalAccess") or {}, spec["servers"])
    problems += _storage_problems(str(spec["storage"]["size"]))
    problems += _meshdns_problems(spec)
    problems += backup_problems(spec)
    return problems


def node_problems(node: Mapping[str, Any]) -> list[str]:
    """Problems of a ``Node`` group (defaults applied) that its CRD schema does not catch."""
    spec = node["spec"]
    group = f"{spec['meshRef']['name']}-{node['metadata']['name']}"
    problems = _statefulset_name_problems(
        group, spec["replicas"], what=f"metadata.name {node['metadata']['name']!r}"
    )
    problems += _container_problems(spec.get("containers") or [])
    return problems


def _mesh_name_problems(name: str, servers: int) -> list[str]:
    problems = _statefulset_name_problems(name, servers, what=f"metadata.name {name!r}")
    if not _DNS1035_RE.match(name):
        problems.append(
            f"metadata.name {name!r} must start with a letter: it names the Services "
            f"{name}-headless and {name}{LONGEST_SERVICE_SUFFIX}"
        )
    return problems


def _statefulset_name_problems(statefulset: str, replicas: int, *, what: str) -> list[str]:
    """The StatefulSet ``statefulset`` and its pods' names (``<statefulset>-<ordinal>``)."""
    if not _LABEL_RE.match(statefulset):
        return [
            f"{what} gives the StatefulSet name {statefulset!r}, which is not a DNS label "
            "(lowercase letters, digits and '-'; no dots): pod names are node ids and host names"
        ]
    problems = []
    if len(statefulset) > MAX_STATEFULSET_NAME:
        problems.append(
            f"{what} gives the StatefulSet name {statefulset!r} ({len(statefulset)} characters); "
            f"at most {MAX_STATEFULSET_NAME} fit the pods' controller-revision-hash label"
        )
    last_pod = f"{statefulset}-{max(replicas - 1, 0)}"
    if len(last_pod) > MAX_LABEL:
        problems.append(
            f"{what} with {replicas} replicas gives the pod name {last_pod!r}, longer than "
            f"{MAX_LABEL} characters"
        )
    return problems


def _network_problems(network: str) -> list[str]:
    field = "spec.ipv4Network"
    try:
        parsed = ipaddress.IPv4Network(network, strict=False)
    except ValueError as exc:
        return [f"{field} {network} is not an IPv4 network: {exc}"]
    problems = []
    if str(parsed) != network:
        problems.append(f"{field} {network} has host bits set; did you mean {parsed}?")
    if parsed.prefixlen > MIN_PREFIX:
        problems.append(
            f"{field} {network} is too small: use a /{MIN_PREFIX} or larger (a shorter prefix)"
        )
    return problems


def _external_access_problems(access: Mapping[str, Any], servers: int) -> list[str]:
    endpoint = str(access.get("advertiseEndpoint") or "")
    access_type = access.get("type", "None")
    if not endpoint:
        if access_type == "NodePort":
            return [
                f"{ENDPOINT_FIELD} is required with type NodePort: the host (or IP) of a "
                "cluster node that outside machines reach; each server gets its own node port"
            ]
        return []
    problems = _endpoint_problems(endpoint)
    if servers > 1 and access_type != "NodePort" and not _templated(endpoint):
        problems.append(
            f"{ENDPOINT_FIELD} {endpoint} would be the one address of {servers} servers, but "
            "each has its own WireGuard key and needs its own address: put {ordinal} or {pod} "
            "in the host (wg-{ordinal}.example.com), or leave it out"
        )
    return problems


def _templated(endpoint: str) -> bool:
    return any(placeholder in endpoint for placeholder in PLACEHOLDERS)


def _endpoint_problems(endpoint: str) -> list[str]:
    field = ENDPOINT_FIELD
    concrete = endpoint  # a placeholder stands for a DNS label: check one server's endpoint
    for placeholder in PLACEHOLDERS:
        concrete = concrete.replace(placeholder, "0")
    if "{" in concrete or "}" in concrete:
        return [f"{field} {endpoint}: the only placeholders are {' and '.join(PLACEHOLDERS)}"]
    if concrete.startswith("["):
        host, _, rest = concrete[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ""
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return [f"{field} {endpoint}: {host!r} in brackets is not an IPv6 address"]
    else:
        _, _, port = concrete.rpartition(":") if ":" in concrete else ("", "", "")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return [f"{field} {endpoint} has port {port}; use a port from 1 to 65535"]
    return []


def _meshdns_problems(spec: Mapping[str, Any]) -> list[str]:
    meshdns = spec.get("meshDNS") or {}
    access_type = (spec.get("externalAccess") or {}).get("type", "None")
    if meshdns.get("enabled") and access_type == "HostNetwork":
        return [
            "spec.meshDNS.enabled cannot be used with spec.externalAccess.type HostNetwork: the "
            "servers would answer DNS on port 53 of every address of their hosts; use "
            "LoadBalancer or NodePort access, or leave MeshDNS off"
        ]
    return []


def backup_problems(spec: Mapping[str, Any]) -> list[str]:
    """Problems of ``spec.backup`` and ``spec.restoreFrom`` (a Mesh's spec, defaults applied).

    Public because a voter Node group carries the same settings: it waits while they are wrong.
    """
    backup = spec.get("backup") or {}
    restore = str(spec.get("restoreFrom") or "")
    url = str(backup.get("url") or "")
    problems = _location_problems("spec.backup.url", url)
    problems += _location_problems("spec.restoreFrom", restore)
    if problems:
        return problems
    problems += _backup_key_problems(backup, url, restore)
    problems += _backup_volume_problems(backup, url)
    problems += _backup_s3_problems(backup, url, restore)
    problems += _restore_problems(restore, url)
    problems += _interval_problems(str(backup.get("interval") or "1h"))
    return problems


def _directory(location: str) -> str:
    """The directory of ``/path`` or ``file:///path``; "" for ``s3://`` (or nothing)."""
    if not location or location.startswith(S3_SCHEME):
        return ""
    return posixpath.normpath(location.removeprefix(FILE_SCHEME))


def _location_problems(field: str, location: str) -> list[str]:
    """The shape the node accepts (the schema's pattern says the same, less clearly)."""
    if not location:
        return []
    if location.startswith(S3_SCHEME):
        bucket = location.removeprefix(S3_SCHEME).split("/", 1)[0]
        return [] if bucket else [f"{field} {location} names no bucket: use s3://bucket/prefix"]
    path = location.removeprefix(FILE_SCHEME)
    if "://" in path:
        return [
            f"{field} {location}: the only schemes are s3:// and file://; give s3://bucket/prefix "
            "or a directory (/path)"
        ]
    if not path.startswith("/"):
        return [f"{field} {location} is not an absolute path (/path or file:///path)"]
    return []


def _backup_key_problems(backup: Mapping[str, Any], url: str, restore: str) -> list[str]:
    if backup.get("keySecret"):
        return []
    problems = []
    if url:
        problems.append(
            "spec.backup.keySecret is required with spec.backup.url: every backup is encrypted "
            "with it (a Secret holding 32 random bytes in base64: head -c 32 /dev/urandom | base64)"
        )
    if restore:
        problems.append(
            "spec.restoreFrom needs spec.backup.keySecret: the key the backups were written with"
        )
    return problems


def _backup_volume_problems(backup: Mapping[str, Any], url: str) -> list[str]:
    directory, volume = _directory(url), backup.get("volume") or {}
    if not directory:
        if volume:
            used = f"spec.backup.url is {url}" if url else "spec.backup.url is not set"
            return [
                "spec.backup.volume is only for a directory spec.backup.url (it is mounted "
                f"there), and {used}"
            ]
        return []
    if not volume:
        return [
            f"spec.backup.url {url} is a directory, so spec.backup.volume is required (e.g. "
            "{persistentVolumeClaim: {claimName: mesh-backups}}): without one the backups stay "
            "in the pod's own filesystem and are lost with it; or use an s3:// URL"
        ]
    problems = _volume_source_problems(volume)
    overlapping = [d for d in NODE_DIRS if _overlap(directory, d)]
    if directory == "/" or overlapping:
        where = ", ".join(overlapping) or "the whole filesystem"
        problems.append(
            f"spec.backup.url {url} overlaps {where} of the node container; use a directory of "
            "its own, such as /backups"
        )
    return problems


def _volume_source_problems(volume: Mapping[str, Any]) -> list[str]:
    sources = sorted(key for key in volume if key != "name")
    if len(sources) != 1:
        return [
            "spec.backup.volume must name exactly one volume source (persistentVolumeClaim, "
            f"nfs, ...); it names {len(sources)}: {', '.join(sources) or 'none'}"
        ]
    if sources[0] in EPHEMERAL_VOLUMES:
        return [
            f"spec.backup.volume.{sources[0]} is deleted with the pod, and the backups with it; "
            "use a volume that outlives it (persistentVolumeClaim, nfs, ...)"
        ]
    return []


def _overlap(path: str, other: str) -> bool:
    return path == other or path.startswith(other + "/") or other.startswith(path + "/")


def _backup_s3_problems(backup: Mapping[str, Any], url: str, restore: str) -> list[str]:
    if not backup.get("s3") or url.startswith(S3_SCHEME) or restore.startswith(S3_SCHEME):
        return []
    return [
        "spec.backup.s3 applies to s3:// URLs only, and neither spec.backup.url nor "
        "spec.restoreFrom is one"
    ]


def _restore_problems(restore: str, url: str) -> list[str]:
    path, directory = _directory(restore), _directory(url)
    if not path or (directory and (path == directory or path.startswith(directory + "/"))):
        return []
    volume = (
        f"spec.backup.url's directory {directory}" if directory else "a directory spec.backup.url"
    )
    return [
        f"spec.restoreFrom {restore} must be in {volume}: its volume is the only part of the "
        "pod's filesystem that holds files before the pod starts; or give an s3:// URL"
    ]


def _interval_problems(interval: str) -> list[str]:
    match = _DURATION_RE.match(interval)
    if not interval or match is None:
        return [
            f"spec.backup.interval {interval!r} is not a duration: use e.g. 90s, 15m, 1h or 1h30m"
        ]
    if not any(int(part) for part in match.groups() if part):
        return [f"spec.backup.interval {interval} must be more than zero"]
    return []


def _storage_problems(size: str) -> list[str]:
    match = _QUANTITY_RE.match(size)
    if match is None:
        return [f"spec.storage.size {size!r} is not a quantity such as 1Gi"]
    if float(match.group(1)) <= 0:
        return [f"spec.storage.size {size} must be more than zero: it holds the Raft log"]
    return []


def _container_problems(containers: Iterable[Mapping[str, Any]]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"spec.containers[{index}]"
        name = str(container.get("name", ""))
        if name in (NODE_CONTAINER, FORWARDING_CONTAINER):
            problems.append(f"{where}.name {name!r} is taken by the pod's own {name} container")
        elif name in seen:
            problems.append(f"{where}.name {name!r} is used by an earlier container")
        seen.add(name)
        problems += _port_problems(where, container.get("ports") or [])
        problems += _mount_problems(where, container.get("volumeMounts") or [])
    return problems


def _port_problems(where: str, ports: Iterable[Mapping[str, Any]]) -> list[str]:
    problems = []
    for index, port in enumerate(ports):
        number, protocol = port.get("containerPort"), str(port.get("protocol") or "TCP")
        if (number, protocol) in NODE_PORTS:
            problems.append(
                f"{where}.ports[{index}].containerPort {number}/{protocol} is the mesh node's; "
                "the app shares the node's network namespace, so pick another port"
            )
    return problems


def _mount_problems(where: str, mounts: Iterable[Mapping[str, Any]]) -> list[str]:
    problems = []
    for index, mount in enumerate(mounts):
        volume = str(mount.get("name", ""))
        if volume not in POD_VOLUMES:
            problems.append(
                f"{where}.volumeMounts[{index}].name {volume!r} is not a volume of the pod "
                f"(it has {', '.join(sorted(POD_VOLUMES))})"
            )
    return problems
