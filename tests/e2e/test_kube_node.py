"""End to end on a real Kubernetes node, as a user would do it.

The first test installs the operator from the static manifest (`kubectl apply -f
dist/webmesh.yaml`), then: `examples/mesh.yaml` (three mTLS servers, the operator's CA) becomes
Ready and its pods reach each other over WireGuard; `examples/node-group-with-app.yaml` joins and
its application container reaches another pod's mesh address; MeshDNS is turned on and a pod
resolves `<node-id>.webmesh.internal` (UDP and TCP) through the `<mesh>-meshdns` Service, other
names forwarded to the cluster DNS; the Mesh gets NodePort access and a workstation outside the
cluster joins with `wmctl connect`, reaches the pods and MeshDNS over the mesh and appears in the
Mesh status; the leader's pod is deleted and comes back with its identity, nobody lost; a second
build of the node image rolls through every pod with no member lost; deleting the resources
removes what they owned; deleting the manifest uninstalls the operator, leaving nothing behind.
The second test installs and uninstalls the chart through the Helm SDK and runs a Mesh with it.

Each test is one sequence of steps: each needs the previous one, every wait is bounded, and a
failure names its step and prints the namespace's pods, events and container logs. The measured
times are printed (and collected by bench/kube_node_e2e.py).
"""

from __future__ import annotations

import base64
import contextlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from kubernetes import client as k8s_client

from support import netlab
from support.kubectl import (
    GROUP,
    KUBECONFIG,
    ROOT,
    STATIC_MANIFEST,
    VERSION,
    apply_objects,
    build_images,
    condition,
    custom,
    delete_objects,
    diagnose,
    exec_in,
    exists,
    get_mesh,
    import_image,
    manifest_objects,
    mesh_ipv4,
    record,
    rolled_out,
    run,
    step,
)
from support.wait import eventually

SYSTEM_NS = "webmesh-system"
NS = "webmesh-e2e"
MESH = "demo"
GROUP_NAME = "web"  # examples/node-group-with-app.yaml
APP_PORT = 8000  # what its app container serves
NODE_IP = "10.250.0.1"  # the Kubernetes node's address (../shared/kube-node)
WORKSTATION = "laptop"
ROLLOUT_TAG = "0.1.0-e2e.2"  # the second build of the node image
SERVERS = [f"{MESH}-{i}" for i in range(3)]
APPS = [f"{MESH}-{GROUP_NAME}-{i}" for i in range(2)]
MEMBERS = 3 + 2 + 1  # servers, the Node group, the workstation


@dataclass
class Run:
    """What the steps share: the API client, the mesh addresses seen, the workstation."""

    api: k8s_client.ApiClient
    addresses: dict[str, str] = field(default_factory=dict)
    lab: netlab.Lab | None = None
    laptop: netlab.Host | None = None
    uninstalled: bool = False  # step 9 ran to its end

    @property
    def apps(self) -> k8s_client.AppsV1Api:
        return k8s_client.AppsV1Api(self.api)

    @property
    def core(self) -> k8s_client.CoreV1Api:
        return k8s_client.CoreV1Api(self.api)

    def mesh(self) -> dict[str, Any]:
        return get_mesh(self.api, NS, MESH)

    def why(self, what: str, namespace: str = NS) -> Any:
        return lambda: (
            f"{what}\n{diagnose(self.api, namespace)}\n{self.laptop_logs()}\n"
            f"{self.wireguard_in_pods(namespace)}\n{udp_conntrack()}"
        )

    def wireguard_in_pods(self, namespace: str) -> str:
        """Every mesh pod's WireGuard peers (endpoint, last handshake, AllowedIPs): which pair
        stopped talking, and to which address it still sends."""
        parts = []
        for pod in (*SERVERS, *APPS):
            try:
                code, out = exec_in(
                    self.api, namespace, pod, "webmesh-node", ["wg", "show", "all", "dump"]
                )
            except Exception as exc:  # the diagnosis must not hide the failure it explains
                code, out = -1, repr(exc)
            parts.append(f"--- {pod}: wg show all dump (exit {code})\n{out}")
        return "\n".join(parts)

    def laptop_logs(self) -> str:
        if self.laptop is None:
            return ""
        return f"{self.laptop.logs()}\n{wireguard_view(self.laptop)}"

    def exec(self, pod: str, container: str, *command: str) -> tuple[int, str]:
        return exec_in(self.api, NS, pod, container, list(command))

    def pings(self, source: str, target: str, container: str = "webmesh-node") -> bool:
        code, _ = self.exec(source, container, "ping", "-c", "1", "-W", "2", self.addresses[target])
        return code == 0

    def ping(self, source: str, target: str, container: str = "webmesh-node") -> None:
        address = self.addresses[target]
        code, out = self.exec(source, container, "ping", "-c", "1", "-W", "2", address)
        assert code == 0, f"{source} -> {target} ({address}): {out}"


def udp_conntrack() -> str:
    """The host's conntrack entries for WireGuard traffic: a NodePort flow still translated to a
    pod that is gone would show here."""
    try:
        out = netlab.run("conntrack", "-L", "-p", "udp", check=False, timeout=10)
    except Exception as exc:  # the diagnosis must not hide the failure it explains
        return f"--- conntrack -L -p udp: {exc!r}"
    lines = [line for line in out.stdout.splitlines() if "51820" in line]
    return "--- conntrack -L -p udp (WireGuard, port 51820)\n" + "\n".join(lines[:80])


def wireguard_view(host: netlab.Host) -> str:
    """The workstation's WireGuard peers (endpoint, last handshake, AllowedIPs) and routes: what
    an unanswered ping needs. Its UAPI socket is in its own /run/wireguard, as on a host."""
    show = f"mount --bind {host.run_dir} /run/wireguard && wg show all dump"
    parts = []
    for title, command in (
        ("wg show all dump", ("unshare", "--mount", "sh", "-c", show)),
        ("ip route", ("ip", "netns", "exec", host.netns, "ip", "route")),
    ):
        try:
            out = netlab.run(*command, check=False, timeout=10)
            parts.append(f"--- {host.name}: {title}\n{out.stdout}{out.stderr}")
        except Exception as exc:  # the diagnosis must not hide the failure it explains
            parts.append(f"--- {host.name}: {title}: {exc!r}")
    return "\n".join(parts)


@pytest.mark.timeout(2400)  # the session fixture builds the images and starts the node first
def test_static_manifest_operator_mesh_workstation_rollout_and_uninstall(
    cluster: k8s_client.ApiClient,
) -> None:
    run_ = Run(cluster)
    try:
        operator_from_static_manifest(run_)
        mesh_becomes_ready(run_)
        node_group_app_reaches_another_pod(run_)
        meshdns_answers_through_its_service(run_)
        workstation_joins_through_node_ports(run_)
        leader_pod_comes_back(run_)
        new_image_rolls_through_every_pod(run_)
        deleting_resources_removes_children(run_)
        uninstalling_the_manifest_leaves_nothing(run_)
        run_.uninstalled = True
    finally:
        if run_.lab is not None:
            run_.lab.close()
        if not run_.uninstalled:  # a failed step: leave the cluster to the next test clean
            with contextlib.suppress(Exception):
                uninstalling_the_manifest_leaves_nothing(run_)


def operator_from_static_manifest(run_: Run) -> None:
    step("1. the operator, from the static manifest, runs in the cluster")
    started = time.monotonic()
    apply_objects(run_.api, manifest_objects(STATIC_MANIFEST))
    eventually(
        lambda: (
            (run_.apps.read_namespaced_deployment("webmesh", SYSTEM_NS).status.ready_replicas or 0)
            >= 1
        ),
        timeout=180,
        interval=1,
        what=run_.why("step 1: operator Deployment ready", SYSTEM_NS),
    )
    record("operator installed (static manifest) to Deployment ready", time.monotonic() - started)


def mesh_becomes_ready(run_: Run) -> None:
    step("2. examples/mesh.yaml (3 servers, mTLS) becomes Ready; its pods ping over WireGuard")
    run_.core.create_namespace({"metadata": {"name": NS}})
    mesh = yaml.safe_load((ROOT / "examples" / "mesh.yaml").read_text())
    mesh["metadata"]["namespace"] = NS
    started = time.monotonic()
    custom(run_.api).create_namespaced_custom_object(GROUP, VERSION, NS, "meshes", mesh)

    def ready() -> dict[str, Any] | None:
        obj = run_.mesh()
        return obj if condition(obj, "Ready") and obj["status"].get("nodes") == 3 else None

    obj = eventually(
        ready, timeout=300, interval=1, what=run_.why(f"step 2: Mesh {MESH} Ready, 3 nodes")
    )
    record("Mesh applied to Ready (3 servers, mTLS)", time.monotonic() - started)
    assert obj["status"]["leader"] in SERVERS
    assert obj["status"]["caSecretName"] == f"{MESH}-ca"
    run_.addresses.update({pod: mesh_ipv4(run_.api, NS, pod) for pod in SERVERS})
    run_.ping(SERVERS[0], SERVERS[2])
    run_.ping(SERVERS[2], SERVERS[1])


def node_group_app_reaches_another_pod(run_: Run) -> None:
    step("3. examples/node-group-with-app.yaml joins; its app reaches another pod's mesh address")
    group = yaml.safe_load((ROOT / "examples" / "node-group-with-app.yaml").read_text())
    group["metadata"]["namespace"] = NS
    started = time.monotonic()
    custom(run_.api).create_namespaced_custom_object(GROUP, VERSION, NS, "nodes", group)

    def ready() -> bool:
        obj = custom(run_.api).get_namespaced_custom_object(GROUP, VERSION, NS, "nodes", GROUP_NAME)
        members = obj.get("status", {}).get("members") or []
        return condition(obj, "Ready") and len(members) == 2

    eventually(ready, timeout=240, interval=1, what=run_.why("step 3: Node group Ready, 2 members"))
    record("Node group applied to Ready (2 pods with an app)", time.monotonic() - started)
    run_.addresses.update({pod: mesh_ipv4(run_.api, NS, pod, GROUP_NAME) for pod in APPS})
    url = f"http://{run_.addresses[APPS[1]]}:{APP_PORT}/"
    fetch = f"import urllib.request; urllib.request.urlopen('{url}', timeout=5)"
    eventually(
        lambda: run_.exec(APPS[0], GROUP_NAME, "python3", "-c", fetch)[0] == 0,
        timeout=60,
        interval=1,
        what=run_.why(f"step 3: {APPS[0]}'s app container -> {url}"),
    )


# Asks a DNS server directly (dnspython is in the node image: the node's MeshDNS uses it): one
# line per transport, "<rcode> <addresses>", so the step can say what came back.
DNS_QUERY = """
import sys
import dns.resolver
server, name = sys.argv[1], sys.argv[2]
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers, resolver.lifetime = [server], 5.0
for tcp in (False, True):
    try:
        answer = resolver.resolve(name, "A", tcp=tcp)
        print("NOERROR", " ".join(sorted(r.address for r in answer)))
    except dns.resolver.NXDOMAIN:
        print("NXDOMAIN")
"""


def meshdns_answers_through_its_service(run_: Run) -> None:
    step("4. MeshDNS on: a pod asks the <mesh>-meshdns Service for <node-id>.webmesh.internal")
    generation = run_.apps.read_namespaced_stateful_set(MESH, NS).metadata.generation
    started = time.monotonic()
    patch = {"spec": {"meshDNS": {"enabled": True}}}
    custom(run_.api).patch_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH, patch)

    def servers_rolled_with_meshdns() -> str | None:
        sts = run_.apps.read_namespaced_stateful_set(MESH, NS)
        obj = run_.mesh()
        address = obj.get("status", {}).get("meshDNSAddress")
        done = sts.metadata.generation > generation and rolled_out(sts) and condition(obj, "Ready")
        return address if done and obj["status"].get("nodes") == 5 else None

    address = eventually(
        servers_rolled_with_meshdns,
        timeout=300,
        interval=1,
        what=run_.why("step 4: servers rolled out with MeshDNS, Mesh Ready, meshDNSAddress"),
    )
    record("MeshDNS turned on to Mesh Ready again (3 servers rolled)", time.monotonic() - started)
    service = run_.core.read_namespaced_service(f"{MESH}-meshdns", NS)
    assert address == f"{service.spec.cluster_ip}:53", (address, service.spec.cluster_ip)
    cluster_ip = service.spec.cluster_ip

    # From a Node group pod, which serves no DNS itself: kube-proxy sends it to a server pod.
    def ask(name: str) -> list[str]:
        code, out = run_.exec(APPS[0], "webmesh-node", "python3", "-c", DNS_QUERY, cluster_ip, name)
        assert code == 0, f"step 4: asking {cluster_ip} for {name}: {out}"
        return out.split("\n")[:2]

    for pod in (SERVERS[1], APPS[1]):
        name = f"{pod}.webmesh.internal"
        wanted = [f"NOERROR {run_.addresses[pod]}"] * 2  # over UDP, then TCP
        answers = eventually(
            lambda name=name, wanted=wanted: (got := ask(name)) == wanted and got,
            timeout=30,
            interval=1,
            what=run_.why(f"step 4: {name} via {cluster_ip} (UDP and TCP) is {wanted[0]}"),
        )
        print(f"e2e: {name} @ {cluster_ip}: {answers}", flush=True)
    assert ask("nobody.webmesh.internal") == ["NXDOMAIN"] * 2
    # Other names go to the servers' own resolver, the cluster DNS (spec.meshDNS.forward).
    api_ip = run_.core.read_namespaced_service("kubernetes", "default").spec.cluster_ip
    forwarded = ask("kubernetes.default.svc.cluster.local")
    assert forwarded == [f"NOERROR {api_ip}"] * 2, forwarded


def workstation_joins_through_node_ports(run_: Run) -> None:
    step("5. NodePort access; a workstation outside the cluster joins with wmctl connect")
    generation = run_.apps.read_namespaced_stateful_set(MESH, NS).metadata.generation
    started = time.monotonic()
    access = {"type": "NodePort", "advertiseEndpoint": NODE_IP}
    patch = {"spec": {"externalAccess": access}}
    custom(run_.api).patch_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH, patch)

    def servers_rolled_with_endpoints() -> bool:
        # The servers' endpoints (node ports) reach the pods through a new template: a rollout.
        sts = run_.apps.read_namespaced_stateful_set(MESH, NS)
        obj = run_.mesh()
        return (
            sts.metadata.generation > generation
            and rolled_out(sts)
            and condition(obj, "Ready")
            and obj["status"].get("joinAddress", "").startswith(f"{NODE_IP}:")
        )

    eventually(
        servers_rolled_with_endpoints,
        timeout=300,
        interval=1,
        what=run_.why("step 5: servers rolled out with NodePort endpoints, Mesh Ready"),
    )
    record(
        "NodePort access applied to Mesh Ready again (3 servers rolled)", time.monotonic() - started
    )
    join = run_.mesh()["status"]["joinAddress"]

    credentials = Path(tempfile.mkdtemp(prefix="webmesh-e2e-laptop-"))
    ca = run_.core.read_namespaced_secret(f"{MESH}-ca", NS).data
    for key in ("ca.crt", "ca.key"):
        (credentials / key).write_bytes(base64.b64decode(ca[key]))
    wmctl = str(netlab.BIN / "wmctl")
    run(wmctl, "pki", "issue", WORKSTATION, "--ca-dir", str(credentials))
    (credentials / "ca.key").unlink()  # the workstation gets its certificate, not the CA's key

    run_.lab = netlab.Lab("10.252.0", uplink=True)
    run_.laptop = run_.lab.add_host(WORKSTATION)
    started = time.monotonic()
    run_.laptop.spawn(
        "wmctl",
        "connect",
        f"--join-server={join}",
        "--no-ipv6",
        f"--tls.server-name={MESH}-headless.{NS}.svc",
        f"--tls.ca-file={credentials / 'ca.crt'}",
        f"--auth.mtls.cert-file={credentials / (WORKSTATION + '.crt')}",
        f"--auth.mtls.key-file={credentials / (WORKSTATION + '.key')}",
        name="connect",
    )
    laptop = run_.laptop
    for pod in (SERVERS[1], APPS[0]):
        eventually(
            lambda pod=pod: laptop.ping(run_.addresses[pod], wait=2),
            timeout=90,
            interval=1,
            what=run_.why(f"step 5: {WORKSTATION} pings {pod} ({run_.addresses[pod]})"),
        )
    record("wmctl connect from outside (NodePort) to a pod pinged", time.monotonic() - started)
    url = f"http://{run_.addresses[APPS[1]]}:{APP_PORT}/"
    fetch = f"import urllib.request; urllib.request.urlopen('{url}', timeout=5)"
    got = laptop.exec("python3", "-c", fetch, check=False)
    assert got.returncode == 0, f"step 5: {WORKSTATION} -> {url}: {got.stderr}"
    # MeshDNS over the mesh, where `wmctl connect --use-meshdns` points a workstation's resolver:
    # a server's mesh address, port 53 (the servers listen on every address of their pods).
    name, server = f"{APPS[1]}.webmesh.internal", run_.addresses[SERVERS[0]]
    asked = laptop.exec(str(netlab.BIN / "python"), "-c", DNS_QUERY, server, name, check=False)
    wanted = [f"NOERROR {run_.addresses[APPS[1]]}"] * 2
    assert asked.stdout.split("\n")[:2] == wanted, f"step 5: {name} via {server}: {asked}"

    def listed() -> dict[str, Any] | None:
        members = {m["nodeId"]: m for m in run_.mesh()["status"].get("members") or []}
        return members.get(WORKSTATION)

    member = eventually(
        listed, timeout=60, interval=1, what=run_.why(f"step 5: {WORKSTATION} in Mesh status")
    )
    assert member["voter"] is False
    assert f"{laptop.mesh_ip()}/32" in member["addresses"], member


def leader_pod_comes_back(run_: Run) -> None:
    step("6. the leader's pod is deleted and comes back with its identity; no member is lost")
    leader = run_.mesh()["status"]["leader"]
    uid = run_.core.read_namespaced_pod(leader, NS).metadata.uid
    started = time.monotonic()
    run_.core.delete_namespaced_pod(leader, NS)

    def back_with_everyone() -> bool:
        # Ready means its Raft replica caught up: the probe's port opens only after that.
        pod = run_.core.read_namespaced_pod(leader, NS)
        ready = any(c.ready for c in pod.status.container_statuses or [])
        if pod.metadata.uid == uid or not ready:
            return False
        obj = run_.mesh()
        return condition(obj, "Ready") and obj["status"].get("nodes") == MEMBERS

    eventually(
        back_with_everyone,
        timeout=240,
        interval=1,
        what=run_.why(f"step 6: {leader} back, Mesh Ready with {MEMBERS} nodes"),
    )
    record("leader pod deleted to Mesh Ready again (6 members)", time.monotonic() - started)
    assert run_.mesh()["status"]["leader"] in SERVERS
    assert mesh_ipv4(run_.api, NS, leader) == run_.addresses[leader], "it came back as another"
    other = next(pod for pod in SERVERS if pod != leader)
    # Ready (its replica caught up) can come before every peer has its new pod address: the
    # first packets may still go to the old one until its greeting or its record arrives.
    eventually(
        lambda: run_.pings(other, leader),
        timeout=30,
        interval=1,
        what=run_.why(f"step 6: {other} pings {leader} again"),
    )
    assert run_.laptop is not None
    laptop = run_.laptop
    eventually(
        lambda: laptop.ping(run_.addresses[leader], wait=2),
        timeout=60,
        interval=1,
        what=run_.why(f"step 6: {WORKSTATION} pings {leader} again"),
    )


def new_image_rolls_through_every_pod(run_: Run) -> None:
    step(f"7. a second build of the node image ({ROLLOUT_TAG}) rolls through every pod")
    build_images(ROLLOUT_TAG, "node")
    import_image("webmesh-node", ROLLOUT_TAG)
    image = f"webmesh-node:{ROLLOUT_TAG}"
    started = time.monotonic()
    patch = {"spec": {"image": image}}
    custom(run_.api).patch_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH, patch)
    seen: dict[str, Any] = {"fewest members": MEMBERS, "degraded": [], "samples": 0}

    def everyone_on_the_new_image() -> bool:
        obj = run_.mesh()
        status = obj.get("status", {})
        seen["samples"] += 1
        seen["fewest members"] = min(seen["fewest members"], status.get("nodes", 0))
        if condition(obj, "Degraded"):
            seen["degraded"].append(status.get("conditions"))
        pods = run_.core.list_namespaced_pod(NS).items
        images = {
            c.image
            for pod in pods
            for c in pod.status.container_statuses or []
            if c.name == "webmesh-node"
        }
        sets = run_.apps.list_namespaced_stateful_set(NS).items
        return (
            len(pods) == 5
            and all(image in i for i in images)
            and all(rolled_out(sts) for sts in sets)
            and condition(obj, "Ready")
            and status.get("nodes") == MEMBERS
        )

    eventually(
        everyone_on_the_new_image,
        timeout=480,
        interval=1,
        what=run_.why(f"step 7: every pod on {image}, Mesh Ready with {MEMBERS} nodes"),
    )
    record(
        f"image changed to every pod on it, Mesh Ready ({MEMBERS} members)",
        time.monotonic() - started,
    )
    assert seen["degraded"] == [], f"the Mesh went Degraded during the rollout: {seen['degraded']}"
    assert seen["fewest members"] == MEMBERS, f"members were lost during the rollout: {seen}"
    for pod in (*SERVERS, *APPS):
        assert mesh_ipv4(run_.api, NS, pod) == run_.addresses[pod], f"{pod} changed its address"
    run_.ping(SERVERS[0], APPS[1])
    assert run_.laptop is not None
    laptop = run_.laptop
    eventually(
        lambda: laptop.ping(run_.addresses[SERVERS[0]], wait=2),
        timeout=60,
        interval=1,
        what=run_.why(f"step 7: {WORKSTATION} pings {SERVERS[0]} after the rollout"),
    )


def deleting_resources_removes_children(run_: Run) -> None:
    step("8. deleting the resources removes everything they owned (garbage collection is real)")
    if run_.lab is not None:
        run_.lab.close()
        run_.lab = run_.laptop = None
    custom(run_.api).delete_namespaced_custom_object(GROUP, VERSION, NS, "nodes", GROUP_NAME)
    custom(run_.api).delete_namespaced_custom_object(GROUP, VERSION, NS, "meshes", MESH)

    def owned_gone() -> bool:
        secrets = [
            s
            for s in run_.core.list_namespaced_secret(NS).items
            if s.metadata.name.startswith(MESH)
        ]
        return not (
            run_.apps.list_namespaced_stateful_set(NS).items
            or secrets
            or run_.core.list_namespaced_service(NS).items
            or run_.core.list_namespaced_config_map(
                NS, label_selector="app.kubernetes.io/managed-by"
            ).items
        )

    eventually(
        owned_gone,
        timeout=180,
        interval=1,
        what=run_.why("step 8: children of the deleted Mesh and Node group"),
    )


def uninstalling_the_manifest_leaves_nothing(run_: Run) -> None:
    step("9. deleting dist/webmesh.yaml uninstalls the operator; nothing is left behind")
    run_.core.delete_namespace(NS)
    objects = manifest_objects(STATIC_MANIFEST)
    started = time.monotonic()
    delete_objects(run_.api, objects)

    def leftovers() -> list[str]:
        names = [f"{o['kind']}/{o['metadata']['name']}" for o in objects if exists(run_.api, o)]
        namespaces = {n.metadata.name for n in run_.core.list_namespace().items}
        return names + sorted(namespaces & {NS, SYSTEM_NS})

    eventually(
        lambda: not leftovers(),
        timeout=180,
        interval=1,
        what=lambda: f"step 9: still there: {leftovers()}",
    )
    record(
        "operator uninstalled (static manifest deleted) to nothing left", time.monotonic() - started
    )


@pytest.mark.timeout(900)
def test_chart_installs_and_uninstalls_through_the_helm_sdk(
    cluster: k8s_client.ApiClient,
) -> None:
    """`helm install` of charts/webmesh (Helm's own Go code, through helm-python-sdk), a one-server
    Mesh under it, then `helm uninstall`: the release's objects go; the CRDs stay, as Helm
    keeps CRDs (charts/webmesh/README.md says how to remove them)."""
    api = cluster
    apps, core = k8s_client.AppsV1Api(api), k8s_client.CoreV1Api(api)
    namespace = "webmesh-helm"
    step("helm 1. helm install webmesh charts/webmesh --create-namespace --wait")
    started = time.monotonic()
    with helm_python.Config(kubeconfig_path=KUBECONFIG, namespace=SYSTEM_NS) as helm:
        release = helm.install(
            ROOT / "charts" / "webmesh",
            "webmesh",
            namespace=SYSTEM_NS,
            create_namespace=True,
            wait="watcher",
            timeout=240,
        )
        assert release["status"] == "deployed", {
            k: v for k, v in release.items() if k != "manifest"
        }
        record("helm install (Helm SDK, --wait) to deployed", time.monotonic() - started)
        try:
            step("helm 2. a one-server Mesh becomes Ready under the chart's operator")
            core.create_namespace({"metadata": {"name": namespace}})
            mesh = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Mesh",
                "metadata": {"name": "solo", "namespace": namespace},
                "spec": {"servers": 1},
            }
            custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, "meshes", mesh)
            eventually(
                lambda: condition(get_mesh(api, namespace, "solo"), "Ready"),
                timeout=240,
                interval=1,
                what=lambda: (
                    f"helm 2: Mesh solo Ready\n{diagnose(api, namespace)}\n"
                    f"{diagnose(api, SYSTEM_NS)}"
                ),
            )
            custom(api).delete_namespaced_custom_object(GROUP, VERSION, namespace, "meshes", "solo")
            eventually(
                lambda: not apps.list_namespaced_stateful_set(namespace).items,
                timeout=120,
                interval=1,
                what=lambda: f"helm 2: Mesh solo's StatefulSet gone\n{diagnose(api, namespace)}",
            )
        finally:
            step("helm 3. helm uninstall webmesh --wait")
            with contextlib.suppress(k8s_client.ApiException):
                core.delete_namespace(namespace)
            manifest = release["manifest"]
            helm.uninstall("webmesh", wait="watcher", timeout=180)
    owned = [o for o in yaml.safe_load_all(manifest) if o]
    assert {o["kind"] for o in owned} >= {"Deployment", "ClusterRole", "ServiceAccount"}
    eventually(
        lambda: not [o for o in owned if exists(api, o)],
        timeout=120,
        interval=1,
        what=lambda: (
            f"helm 3: left after uninstall: {[o['kind'] for o in owned if exists(api, o)]}"
        ),
    )
    crds = [o for o in manifest_objects(STATIC_MANIFEST) if o["kind"] == "CustomResourceDefinition"]
    assert all(exists(api, crd) for crd in crds), "Helm keeps CRDs on uninstall"
    delete_objects(api, crds)
    core.delete_namespace(SYSTEM_NS)
