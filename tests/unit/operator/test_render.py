"""render: golden manifests of the examples, the config file the node actually loads, and the
properties the handlers rely on (labels, checksums, optional objects, purity)."""

from __future__ import annotations

import ast
import copy
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from webmesh.daemon import settings
from webmesh_operator.render import mesh_with_defaults, names, pod, render_mesh, render_node_group

ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = "demo-ns"
Golden = Callable[[str, str], None]


def example(name: str) -> dict[str, Any]:
    """An example resource as stored in ``NAMESPACE`` (where ``kubectl -n`` would put it)."""
    resource = yaml.safe_load((ROOT / "examples" / name).read_text())
    resource["metadata"]["namespace"] = NAMESPACE
    assert isinstance(resource, dict)
    return resource


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (config files, scripts) as literal blocks, so goldens read well."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def dump(manifests: list[dict[str, Any]]) -> str:
    return yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def by_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def only(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (manifest,) = by_kind(manifests, kind)
    return manifest


def server_config_map(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """The servers' config file ConfigMap (``<mesh>-config``; ``<mesh>-endpoints`` is the other)."""
    (configmap,) = [m for m in by_kind(manifests, "ConfigMap") if names.CONFIG_FILE in m["data"]]
    return configmap


def config_text(configmap: dict[str, Any]) -> str:
    text = configmap["data"][names.CONFIG_FILE]
    assert isinstance(text, str)
    return text


# ---------------------------------------------------------------------------------------------
# Golden files


def test_golden_minimal_mesh(golden: Golden) -> None:
    golden("mesh-minimal.yaml", dump(render_mesh(example("mesh.yaml"))))


def test_golden_ha_mesh(golden: Golden) -> None:
    golden("mesh-ha.yaml", dump(render_mesh(example("mesh-ha.yaml"))))


def test_golden_ha_mesh_behind_node_ports(golden: Golden) -> None:
    """Three servers, each with its own WireGuard node port on the advertised node address."""
    mesh = example("mesh.yaml")
    mesh["spec"] = {"externalAccess": {"type": "NodePort", "advertiseEndpoint": "192.0.2.10"}}
    known = {f"demo-{i}": f"192.0.2.10:{31000 + i}" for i in range(3)}
    golden("mesh-nodeport.yaml", dump(render_mesh(mesh, known)))


def test_golden_mesh_with_backups(golden: Golden) -> None:
    """Backups to S3 with credentials from a Secret, and a restore for the bootstrapping pod."""
    mesh = example("mesh.yaml")
    mesh["spec"] = {
        "backup": {
            "url": "s3://backups/demo",
            "keySecret": {"name": "demo-backup-key", "key": "backup.key"},
            "s3": {
                "endpoint": "http://minio.minio.svc:9000",
                "region": "eu-west-1",
                "credentialsSecret": {"name": "demo-s3"},
            },
        },
        "restoreFrom": "s3://backups/demo",
    }
    golden("mesh-backup.yaml", dump(render_mesh(mesh)))


def test_golden_node_group(golden: Golden) -> None:
    node, mesh = example("node-group-with-app.yaml"), example("mesh.yaml")
    golden("node-group-with-app.yaml", dump(render_node_group(node, mesh)))


def test_golden_round_trips() -> None:
    manifests = render_mesh(example("mesh-ha.yaml"))
    assert list(yaml.safe_load_all(dump(manifests))) == manifests


# ---------------------------------------------------------------------------------------------
# The config file loads in the node


def _load(tmp_path: Path, text: str, *extra: str) -> settings.Settings:
    path = tmp_path / "webmesh.yaml"
    path.write_text(text)
    return settings.load_settings(["--config", str(path), *extra], {}, hostname="demo-0")


def test_server_config_loads(tmp_path: Path) -> None:
    configmap = server_config_map(render_mesh(example("mesh-ha.yaml")))
    loaded = _load(tmp_path, config_text(configmap))
    assert loaded.services.meshdns.enabled, "mesh-ha.yaml turns MeshDNS on"
    assert loaded.global_.mtls
    assert not loaded.global_.insecure
    assert loaded.global_.tls_ca_file == f"{names.TLS_DIR}/ca.crt"
    assert loaded.global_.primary_endpoint == "", "each server's endpoint is its own, not shared"
    assert loaded.bootstrap.ipv4_network == "10.200.0.0/16"
    assert loaded.bootstrap.mesh_domain == "prod.webmesh.internal"
    assert loaded.bootstrap.default_network_policy == "deny"
    assert loaded.bootstrap.voters == tuple(f"prod-{i}" for i in range(5))
    assert loaded.mesh.join_as_voter
    assert str(loaded.raft.data_dir) == names.STORE_DIR
    assert loaded.wireguard.listen_port == names.WIREGUARD_PORT


@pytest.mark.parametrize(
    "extra", [["--bootstrap.enabled"], [f"--mesh.join-address=demo-headless.{NAMESPACE}.svc:8443"]]
)
def test_server_config_loads_with_either_entrypoint(tmp_path: Path, extra: list[str]) -> None:
    configmap = server_config_map(render_mesh(example("mesh.yaml")))
    _load(tmp_path, config_text(configmap), *extra)


def test_insecure_config_loads(tmp_path: Path) -> None:
    mesh = example("mesh.yaml")
    mesh["spec"] = {"servers": 1, "ipv6": False, "security": {"mode": "insecure"}}
    manifests = render_mesh(mesh)
    loaded = _load(tmp_path, config_text(server_config_map(manifests)))
    assert loaded.global_.insecure
    assert loaded.global_.no_ipv6
    assert not loaded.global_.mtls
    statefulset = only(manifests, "StatefulSet")
    pod_spec = statefulset["spec"]["template"]["spec"]
    assert "tls" not in {volume["name"] for volume in pod_spec["volumes"]}
    env = {item["name"] for item in pod_spec["containers"][0]["env"]}
    assert "GLOBAL_TLS_CERT_FILE" not in env


def test_node_group_config_loads(tmp_path: Path) -> None:
    node, mesh = example("node-group-with-app.yaml"), example("mesh.yaml")
    node["spec"]["voter"] = True
    configmap = only(render_node_group(node, mesh), "ConfigMap")
    loaded = _load(tmp_path, config_text(configmap))
    assert loaded.mesh.join_address == f"demo-headless.{NAMESPACE}.svc:8443"
    assert loaded.mesh.join_as_voter
    assert not loaded.bootstrap.enabled


@pytest.mark.parametrize(
    ("meshdns", "ipv6", "listen", "no_forward"),
    [
        ({"enabled": True}, True, ("0.0.0.0", "::"), False),
        ({"enabled": True, "forward": False}, False, ("0.0.0.0",), True),
    ],
)
def test_meshdns_config_loads(
    tmp_path: Path,
    meshdns: dict[str, Any],
    ipv6: bool,
    listen: tuple[str, ...],
    no_forward: bool,
) -> None:
    """Every pod address answers (the Service sends to pod IPs, not to mesh addresses), on the
    port the container and the Service name; the forwarders stay the pod's own resolvers."""
    mesh = example("mesh.yaml")
    mesh["spec"] = {"ipv6": ipv6, "meshDNS": meshdns}
    loaded = _load(tmp_path, config_text(server_config_map(render_mesh(mesh))))
    dns = loaded.services.meshdns
    assert dns.enabled
    assert dns.listen_port == names.MESHDNS_PORT == 53
    assert dns.listen_addresses == listen
    assert dns.forwarders == (), "the pod's resolv.conf: the cluster DNS"
    assert dns.no_forward is no_forward
    assert not loaded.mesh.use_meshdns, "the pod's own resolver is left alone"


def test_meshdns_is_off_by_default(tmp_path: Path) -> None:
    manifests = render_mesh(example("mesh.yaml"))
    text = config_text(server_config_map(manifests))
    assert "meshdns" not in text
    assert not _load(tmp_path, text).services.meshdns.enabled
    assert "demo-meshdns" not in {m["metadata"]["name"] for m in by_kind(manifests, "Service")}
    (container,) = only(manifests, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert [p["name"] for p in container["ports"]] == ["grpc", "wireguard", "metrics"]
    assert container["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]


def test_environment_names_are_settings() -> None:
    """The env the pods get overrides the file only if it uses the settings' own names."""
    known = {option.env for option in settings.OPTIONS}
    container = only(render_mesh(example("mesh.yaml")), "StatefulSet")["spec"]["template"]["spec"][
        "containers"
    ][0]
    ours = {item["name"] for item in container["env"]}
    assert ours - known == {
        "POD_NAME",
        "POD_NAMESPACE",
        "WEBMESH_JOIN_ADDRESS",
        "WEBMESH_HEADLESS_HOST",
    }


# ---------------------------------------------------------------------------------------------
# The server entrypoint: pod 0 bootstraps, the others join


def _run_entrypoint(
    tmp_path: Path,
    pod_name: str,
    *,
    has_data: bool,
    others_ready: bool,
    endpoints: dict[str, str] | None = None,
    node: str = 'echo "$@"',
) -> str:
    """Run the server entrypoint with a fake ``webmesh-node`` (``node``: its body) and the
    endpoints ConfigMap's files (``endpoints``; None: the optional volume is empty)."""
    bin_dir, store, endpoint_dir = tmp_path / "bin", tmp_path / "store", tmp_path / "endpoints"
    bin_dir.mkdir()
    store.mkdir()
    endpoint_dir.mkdir()
    for pod_file, text in (endpoints or {}).items():
        (endpoint_dir / pod_file).write_text(text)
    if has_data:
        (store / "raft.log").write_text("x")
    fakes = {"webmesh-node": node, "getent": "exit 0" if others_ready else "exit 2"}
    for name, body in fakes.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    script = pod.SERVER_ENTRYPOINT.replace(names.STORE_DIR, str(store))
    script = script.replace(names.ENDPOINTS_DIR, str(endpoint_dir))
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "POD_NAME": pod_name,
        "WEBMESH_JOIN_ADDRESS": "demo-headless.ns.svc:8443",
        "WEBMESH_HEADLESS_HOST": "demo-headless.ns.svc",
    }
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


BOOTSTRAP = f"--config {names.CONFIG_PATH} --bootstrap.enabled"
JOIN = f"--config {names.CONFIG_PATH} --mesh.join-address=demo-headless.ns.svc:8443"


@pytest.mark.parametrize(
    ("pod_name", "has_data", "others_ready", "expected"),
    [
        ("demo-0", False, False, BOOTSTRAP),  # a new mesh
        ("demo-0", True, True, BOOTSTRAP),  # a restart: bootstrap is a no-op with state
        ("demo-0", False, True, JOIN),  # lost its volume while the mesh lives: rejoin
        ("demo-1", False, False, JOIN),
        ("demo-10", True, True, JOIN),
        ("demo-20", False, False, JOIN),
    ],
)
def test_entrypoint_chooses_by_ordinal(
    tmp_path: Path, pod_name: str, has_data: bool, others_ready: bool, expected: str
) -> None:
    assert (
        _run_entrypoint(tmp_path, pod_name, has_data=has_data, others_ready=others_ready)
        == expected
    )


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        ({"demo-1": "203.0.113.2:51820"}, "203.0.113.2:51820"),  # its own entry
        ({"demo-0": "203.0.113.1:51820"}, "none"),  # another server's only
        ({"demo-1": ""}, "none"),  # empty: not set
        ({}, "none"),  # the optional ConfigMap does not exist yet
    ],
)
def test_entrypoint_exports_the_pods_own_endpoint(
    tmp_path: Path, endpoints: dict[str, str], expected: str
) -> None:
    node = 'echo "${GLOBAL_PRIMARY_ENDPOINT:-none}"'
    out = _run_entrypoint(
        tmp_path, "demo-1", has_data=False, others_ready=True, endpoints=endpoints, node=node
    )
    assert out == expected


# ---------------------------------------------------------------------------------------------
# Properties


def test_minimal_mesh_objects() -> None:
    manifests = render_mesh(example("mesh.yaml"))
    assert [(m["kind"], m["metadata"]["name"]) for m in manifests] == [
        ("ConfigMap", "demo-config"),
        ("ConfigMap", "demo-endpoints"),
        ("Service", "demo-headless"),
        ("PodDisruptionBudget", "demo"),
        ("StatefulSet", "demo"),
    ]
    for manifest in manifests:
        assert manifest["metadata"]["namespace"] == NAMESPACE
        assert "ownerReferences" not in manifest["metadata"]
        assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "webmesh-operator"
    assert only(manifests, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(
    ("access", "service_type"),
    [
        ("None", None),
        ("HostNetwork", None),
        ("LoadBalancer", "LoadBalancer"),
        ("NodePort", "NodePort"),
    ],
)
def test_external_access(access: str, service_type: str | None) -> None:
    """The API behind one shared Service; WireGuard behind one Service per server."""
    mesh = example("mesh.yaml")
    mesh["spec"] = {"externalAccess": {"type": access, "advertiseEndpoint": "192.0.2.1"}}
    if access != "NodePort":
        mesh["spec"]["externalAccess"]["advertiseEndpoint"] = "wg-{ordinal}.example.com"
    manifests = render_mesh(mesh)
    services = {m["metadata"]["name"]: m for m in by_kind(manifests, "Service")}
    external = sorted(name for name in services if name.startswith("demo-external"))
    wanted = ["demo-external", "demo-external-0", "demo-external-1", "demo-external-2"]
    assert external == (wanted if service_type else [])
    pod_spec = only(manifests, "StatefulSet")["spec"]["template"]["spec"]
    assert pod_spec.get("hostNetwork", False) == (access == "HostNetwork")
    if not service_type:
        return
    ports = {
        name: [(p["port"], p["protocol"]) for p in services[name]["spec"]["ports"]]
        for name in external
    }
    assert ports == {
        "demo-external": [(8443, "TCP")],
        **{f"demo-external-{i}": [(51820, "UDP")] for i in range(3)},
    }
    for ordinal in range(3):
        spec = services[f"demo-external-{ordinal}"]["spec"]
        assert spec["type"] == service_type
        assert spec["selector"] == {
            **names.selector("demo", "server"),
            "statefulset.kubernetes.io/pod-name": f"demo-{ordinal}",
        }
        policy = "Local" if service_type == "LoadBalancer" else "Cluster"
        assert spec["externalTrafficPolicy"] == policy


def test_servers_mount_their_endpoints_and_node_groups_do_not() -> None:
    pod_spec = only(render_mesh(example("mesh.yaml")), "StatefulSet")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
    assert volumes["endpoints"]["configMap"] == {"name": "demo-endpoints", "optional": True}
    mounts = {m["name"]: m for m in pod_spec["containers"][0]["volumeMounts"]}
    assert mounts["endpoints"]["mountPath"] == names.ENDPOINTS_DIR
    group = render_node_group(example("node-group-with-app.yaml"), example("mesh.yaml"))
    group_spec = only(group, "StatefulSet")["spec"]["template"]["spec"]
    assert "endpoints" not in {volume["name"] for volume in group_spec["volumes"]}


def test_endpoints_config_map_holds_the_given_endpoints() -> None:
    given = {"demo-1": "203.0.113.2:51820", "demo-0": "203.0.113.1:51820"}
    configmap = by_kind(render_mesh(example("mesh.yaml"), given), "ConfigMap")[1]
    assert configmap["metadata"]["name"] == "demo-endpoints"
    assert list(configmap["data"].items()) == sorted(given.items())
    assert by_kind(render_mesh(example("mesh.yaml")), "ConfigMap")[1]["data"] == {}


def meshdns_mesh(**spec: Any) -> dict[str, Any]:
    mesh = example("mesh.yaml")
    mesh["spec"] = {"meshDNS": {"enabled": True}, **spec}
    return mesh


def test_meshdns_service_reaches_the_servers_dns_ports() -> None:
    """<mesh>-meshdns: ClusterIP, 53/UDP and 53/TCP to the server containers' named DNS ports,
    selecting exactly the StatefulSet's pods, ready ones only."""
    manifests = render_mesh(meshdns_mesh())
    services = {m["metadata"]["name"]: m for m in by_kind(manifests, "Service")}
    spec = services["demo-meshdns"]["spec"]
    statefulset = only(manifests, "StatefulSet")
    assert spec["type"] == "ClusterIP"
    assert spec["publishNotReadyAddresses"] is False
    assert spec["selector"] == statefulset["spec"]["selector"]["matchLabels"]
    assert spec["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    assert [(p["name"], p["port"], p["protocol"], p["targetPort"]) for p in spec["ports"]] == [
        ("dns-udp", 53, "UDP", "dns-udp"),
        ("dns-tcp", 53, "TCP", "dns-tcp"),
    ]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    container_ports = {p["name"]: (p["containerPort"], p["protocol"]) for p in container["ports"]}
    assert container_ports["dns-udp"] == (53, "UDP")
    assert container_ports["dns-tcp"] == (53, "TCP")
    assert "hostPort" not in str(container["ports"])
    labels = services["demo-meshdns"]["metadata"]["labels"]
    assert labels == services["demo-headless"]["metadata"]["labels"], "pruned with the mesh"


def test_meshdns_servers_may_bind_port_53() -> None:
    """The node runs as root; NET_BIND_SERVICE is stated anyway (a runtime or policy may drop
    the default capabilities), and nothing else is added."""
    statefulset = only(render_mesh(meshdns_mesh()), "StatefulSet")
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    security = container["securityContext"]
    assert security["capabilities"] == {"add": ["NET_ADMIN", "NET_BIND_SERVICE"]}
    assert security["allowPrivilegeEscalation"] is False
    assert "runAsUser" not in security and "runAsNonRoot" not in security


def test_meshdns_is_the_servers_alone() -> None:
    """Node groups join and do not serve DNS: no ports, no capability, no setting."""
    group = render_node_group(example("node-group-with-app.yaml"), meshdns_mesh())
    configmap, statefulset = group
    assert "meshdns" not in config_text(configmap)
    sidecar = statefulset["spec"]["template"]["spec"]["initContainers"][1]
    assert {p["name"] for p in sidecar["ports"]} == {"grpc", "wireguard", "metrics"}
    assert sidecar["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]


def test_turning_meshdns_on_rolls_the_servers() -> None:
    def checksum(mesh: dict[str, Any]) -> str:
        template = only(render_mesh(mesh), "StatefulSet")["spec"]["template"]
        return str(template["metadata"]["annotations"][names.CONFIG_CHECKSUM_ANNOTATION])

    off = checksum(example("mesh.yaml"))
    on = checksum(meshdns_mesh())
    assert on != off
    assert checksum(meshdns_mesh(meshDNS={"enabled": True, "forward": False})) not in (on, off)


def test_single_server_has_no_pdb() -> None:
    mesh = example("mesh.yaml")
    mesh["spec"] = {"servers": 1}
    assert by_kind(render_mesh(mesh), "PodDisruptionBudget") == []


def test_server_pods_get_what_the_node_needs() -> None:
    statefulset = only(render_mesh(example("mesh-ha.yaml")), "StatefulSet")
    spec = statefulset["spec"]
    assert spec["replicas"] == 5
    assert spec["serviceName"] == "prod-headless"
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod_spec = spec["template"]["spec"]
    (container,) = pod_spec["containers"]
    # NET_BIND_SERVICE: mesh-ha.yaml serves MeshDNS on port 53
    assert container["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_BIND_SERVICE"]
    volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
    assert volumes["dev-net-tun"]["hostPath"] == {"path": "/dev/net/tun", "type": "CharDevice"}
    assert volumes["run-wireguard"] == {"name": "run-wireguard", "emptyDir": {}}
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/run/wireguard", "/dev/net/tun", names.DATA_DIR, names.CONFIG_DIR} <= mounts
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["spec"]["storageClassName"] == "standard"
    (init,) = pod_spec["initContainers"]
    assert "ip_forward" in init["command"][-1]
    assert pod_spec["tolerations"][0]["key"] == "dedicated"
    assert container["resources"]["limits"] == {"memory": "512Mi"}


def test_config_change_rolls_pods_and_other_changes_do_not() -> None:
    def checksum(spec: dict[str, Any]) -> str:
        mesh = example("mesh.yaml")
        mesh["spec"] = spec
        statefulset = only(render_mesh(mesh), "StatefulSet")
        value = statefulset["spec"]["template"]["metadata"]["annotations"][
            names.CONFIG_CHECKSUM_ANNOTATION
        ]
        assert isinstance(value, str)
        return value

    base = checksum({})
    assert checksum({}) == base
    assert checksum({"logLevel": "debug"}) != base
    assert checksum({"defaultNetworkPolicy": "deny"}) != base
    assert checksum({"storage": {"size": "9Gi"}}) == base


def test_an_endpoint_change_rolls_the_servers() -> None:
    def checksum(endpoints: dict[str, str]) -> str:
        statefulset = only(render_mesh(example("mesh.yaml"), endpoints), "StatefulSet")
        value = statefulset["spec"]["template"]["metadata"]["annotations"]
        return str(value[names.CONFIG_CHECKSUM_ANNOTATION])

    base = checksum({})
    first = checksum({"demo-0": "203.0.113.1:51820"})
    assert first != base
    assert checksum({"demo-0": "203.0.113.1:51820"}) == first
    assert checksum({"demo-0": "203.0.113.9:51820"}) != first
    assert checksum({"demo-0": "203.0.113.1:51820", "demo-1": "203.0.113.2:51820"}) != first


def test_node_group_pods() -> None:
    node, mesh = example("node-group-with-app.yaml"), example("mesh.yaml")
    configmap, statefulset = render_node_group(node, mesh)
    assert statefulset["metadata"]["name"] == "demo-web"
    assert configmap["metadata"]["name"] == "demo-web-config"
    spec = statefulset["spec"]
    assert spec["replicas"] == 2
    labels = spec["template"]["metadata"]["labels"]
    assert labels[names.MESH_LABEL] == "demo"
    assert labels["app.kubernetes.io/component"] == "node-group"
    pod_spec = spec["template"]["spec"]
    assert [c["name"] for c in pod_spec["containers"]] == ["web"]
    sidecar = pod_spec["initContainers"][1]
    assert (sidecar["name"], sidecar["restartPolicy"]) == ("webmesh-node", "Always")
    assert sidecar["command"] == pod.JOIN_ENTRYPOINT


def test_node_group_without_apps_runs_the_node_as_its_container() -> None:
    node, mesh = example("node-group-with-app.yaml"), example("mesh.yaml")
    del node["spec"]["containers"]
    _, statefulset = render_node_group(node, mesh)
    pod_spec = statefulset["spec"]["template"]["spec"]
    assert [c["name"] for c in pod_spec["containers"]] == ["webmesh-node"]
    assert "restartPolicy" not in pod_spec["containers"][0]
    assert [c["name"] for c in pod_spec["initContainers"]] == ["ip-forwarding"]


def test_render_is_pure() -> None:
    mesh = example("mesh-ha.yaml")
    before = copy.deepcopy(mesh)
    assert render_mesh(mesh) == render_mesh(mesh)
    assert mesh == before
    assert mesh_with_defaults(mesh) != mesh


def test_render_imports_only_the_standard_library_and_yaml() -> None:
    allowed = set(sys.stdlib_module_names) | {"yaml", "webmesh_operator"}
    for path in (ROOT / "operator" / "webmesh_operator" / "render").glob("*.py"):
        for statement in ast.walk(ast.parse(path.read_text())):
            if isinstance(statement, ast.Import):
                modules = [alias.name for alias in statement.names]
            elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
                modules = [statement.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in allowed, f"{path.name} imports {module}"
