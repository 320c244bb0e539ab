"""What the CRD schemas cannot say: cross-field and naming rules that would break the mesh or make
the rendered objects invalid, each reported as one sentence naming the field.

Pure, standard library only. Input is the resource as stored, with defaults applied
(``render.mesh_with_defaults`` / ``render.node_with_defaults``); an empty list means valid.

Rules and why:

- ``spec.ipv4Network`` must parse, have no host bits (the node would refuse it at bootstrap) and be
  a /30 or larger (the schema's pattern cannot compare numbers reliably).
- ``spec.externalAccess.advertiseEndpoint`` needs a port in 1..65535 when it has one. It is *not*
  required for any access type: the servers detect their endpoints (with ``HostNetwork`` that is the
  host's addresses), and for ``LoadBalancer``/``NodePort`` the address is often known only after
  the Service exists, so requiring it would block the first apply.
- ``spec.storage.size`` must be more than zero (a zero PVC cannot hold the Raft log).
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
import re
from collections.abc import Iterable, Mapping
from typing import Any

API_PORT, WIREGUARD_PORT, METRICS_PORT = 8443, 51820, 8080  # mirrors render.names
NODE_CONTAINER, FORWARDING_CONTAINER = "webmesh-node", "ip-forwarding"  # mirrors render.pod
POD_VOLUMES = frozenset({"config", "data", "run-wireguard", "dev-net-tun", "tls"})
NODE_PORTS = {(API_PORT, "TCP"), (WIREGUARD_PORT, "UDP"), (METRICS_PORT, "TCP")}

MAX_LABEL = 63
MAX_STATEFULSET_NAME = 52
LONGEST_SERVICE_SUFFIX = "-headless"  # "-external" is as long
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
MIN_PREFIX = 30


def mesh_problems(mesh: Mapping[str, Any]) -> list[str]:
    """Problems of a ``Mesh`` (defaults applied) that its CRD schema does not catch."""
    spec = mesh["spec"]
    problems = _mesh_name_problems(str(mesh["metadata"]["name"]), spec["servers"])
    problems += _network_problems(str(spec["ipv4Network"]))
    endpoint = spec.get("externalAccess", {}).get("advertiseEndpoint")
    if endpoint:
        problems += _endpoint_problems(str(endpoint))
    problems += _storage_problems(str(spec["storage"]["size"]))
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
            f"{name}{LONGEST_SERVICE_SUFFIX} and {name}-external"
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


def _endpoint_problems(endpoint: str) -> list[str]:
    field = "spec.externalAccess.advertiseEndpoint"
    if endpoint.startswith("["):
        host, _, rest = endpoint[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ""
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return [f"{field} {endpoint}: {host!r} in brackets is not an IPv6 address"]
    else:
        _, _, port = endpoint.rpartition(":") if ":" in endpoint else ("", "", "")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return [f"{field} {endpoint} has port {port}; use a port from 1 to 65535"]
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
