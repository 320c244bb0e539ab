#!/usr/bin/env bash
# End-to-end test on a kind cluster (`make kind-up` first; `make e2e-kind` runs this; opt-in: it needs
# Docker, kind, kubectl and root, and is never part of `make test`).
#
# 1. installs the chart (the helm binary if there is one, else charts/webmesh rendered offline
#    with the helm-python-sdk and applied with kubectl);
# 2. applies examples/mesh.yaml with NodePort external access, advertising the kind worker's
#    address (its container's, which Docker makes reachable from this machine), and waits for
#    the Mesh's Ready;
# 3. pings between two server pods over the mesh;
# 4. lists the nodes with the admin config.yaml of the Secret <mesh>-admin through the Mesh's
#    status.joinAddress (the worker's address and the gRPC node port of <mesh>-external), then
#    joins from this machine with `wmctl connect` there (the admin credentials;
#    --tls.server-name <mesh>-headless.<ns>.svc, the name in the servers' certificates) and
#    pings a server's mesh address.
# Every step says what it does; the first failure stops the script with the step's name and a
# dump of the namespace.
#
# WireGuard from this machine reaches each server at its own endpoint, <worker address>:<node
# port of <mesh>-external-<ordinal>>, which the operator computes (ConfigMap <mesh>-endpoints):
# no route into the pod network is needed.
set -euo pipefail

CLUSTER=${KIND_CLUSTER:-webmesh}
TAG=${IMAGE_TAG:-0.1.0}
PY=${PY:-.venv/bin/python}
SYSTEM_NS=webmesh-system
MESH_NS=webmesh-e2e
MESH=demo
IFACE=wme2e0
KUBECTL=(kubectl --context "kind-${CLUSTER}")
WORK=$(mktemp -d)
STEP="starting"
CONNECT_PID=""

step() {
  STEP=$*
  printf '\n==> %s\n' "$STEP"
}

dump() {
  echo "--- pods, events and operator log (for the failed step) ---"
  "${KUBECTL[@]}" get meshes,pods,svc,secrets -n "$MESH_NS" -o wide || true
  "${KUBECTL[@]}" get configmap -n "$MESH_NS" "${MESH}-endpoints" -o yaml || true
  "${KUBECTL[@]}" get events -n "$MESH_NS" --sort-by=.lastTimestamp | tail -30 || true
  "${KUBECTL[@]}" logs -n "$SYSTEM_NS" -l app.kubernetes.io/name=webmesh --tail=50 || true
  "${KUBECTL[@]}" logs -n "$MESH_NS" "${MESH}-0" --tail=30 || true
  if [[ -f "$WORK/connect.log" ]]; then tail -30 "$WORK/connect.log"; fi
}

cleanup() {
  local code=$?
  if [[ $code -ne 0 ]]; then
    echo "E2E FAILED during: $STEP (exit $code)" >&2
    dump >&2
  fi
  if [[ -n "$CONNECT_PID" ]]; then
    kill "$CONNECT_PID" 2>/dev/null || true
    wait "$CONNECT_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT

require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "e2e needs $tool on PATH" >&2; exit 1; }
  done
}

# Retry a command (bounded): retry SECONDS COMMAND...
retry() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "gave up after retrying: $*" >&2
      return 1
    fi
    sleep 2
  done
}

install_chart() {
  "${KUBECTL[@]}" create namespace "$SYSTEM_NS" --dry-run=client -o yaml | "${KUBECTL[@]}" apply -f -
  if command -v helm >/dev/null; then
    helm --kube-context "kind-${CLUSTER}" upgrade --install webmesh charts/webmesh \
      --namespace "$SYSTEM_NS" --set "operator.image=webmesh-operator:${TAG}" --wait
    return
  fi
  echo "no helm binary: rendering charts/webmesh with the helm-python-sdk"
  "$PY" - "$TAG" "$SYSTEM_NS" >"$WORK/chart.yaml" <<'EOF'
import sys

import helm_python

tag, namespace = sys.argv[1], sys.argv[2]
chart = helm_python.Chart.load("charts/webmesh")
documents = [crd["data"] for crd in chart.crds]
rendered = chart.render(
    {"operator": {"image": f"webmesh-operator:{tag}"}},
    name="webmesh",
    namespace=namespace,
    is_install=True,
)
documents += [text for path, text in sorted(rendered.items()) if path.endswith((".yaml", ".yml"))]
print("\n---\n".join(doc.strip() for doc in documents if doc.strip()))
EOF
  "${KUBECTL[@]}" apply --server-side -n "$SYSTEM_NS" -f "$WORK/chart.yaml"
}

mesh_manifest() { # mesh_manifest NODE_IP: examples/mesh.yaml, NodePort access advertising NODE_IP
  "$PY" - "$TAG" "$1" <<'EOF'
import sys

import yaml

with open("examples/mesh.yaml", encoding="utf-8") as source:
    mesh = yaml.safe_load(source)
mesh["spec"]["image"] = f"webmesh-node:{sys.argv[1]}"
mesh["spec"]["externalAccess"] = {"type": "NodePort", "advertiseEndpoint": sys.argv[2]}
print(yaml.safe_dump(mesh))
EOF
}

worker_ip() { # the InternalIP of the first node without the control-plane role
  "${KUBECTL[@]}" get nodes -l '!node-role.kubernetes.io/control-plane' \
    -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}'
}

mesh_ipv4() { # the mesh IPv4 address of a pod's webmesh0
  "${KUBECTL[@]}" exec -n "$MESH_NS" "$1" -- ip -4 -o addr show dev webmesh0 |
    awk '{print $4}' | cut -d/ -f1 | head -1
}

secret_key() { # secret_key KEY FILE: one key of the admin Secret, decoded
  "${KUBECTL[@]}" get secret -n "$MESH_NS" "${MESH}-admin" -o "jsonpath={.data.${1//./\\.}}" |
    base64 -d >"$2"
}

main() {
  require docker kind kubectl ping base64 "$PY"
  [[ $(id -u) -eq 0 ]] || { echo "e2e needs root (wmctl connect creates a WireGuard interface)" >&2; exit 1; }
  WMCTL=$(dirname "$PY")/wmctl
  [[ -x "$WMCTL" ]] || WMCTL=$(command -v wmctl)

  step "checking that the kind cluster ${CLUSTER} answers"
  "${KUBECTL[@]}" get nodes -o wide

  step "installing the chart (CRDs, operator, RBAC) in ${SYSTEM_NS}"
  install_chart
  "${KUBECTL[@]}" wait -n "$SYSTEM_NS" --for=condition=Available deployment --all --timeout=180s

  step "finding the address of the kind worker (the advertised node address)"
  local node_ip
  node_ip=$(worker_ip)
  [[ -n "$node_ip" ]] || { echo "no worker node with an InternalIP" >&2; exit 1; }
  echo "worker: ${node_ip}"

  step "applying examples/mesh.yaml (NodePort, advertising ${node_ip}) in ${MESH_NS}"
  "${KUBECTL[@]}" create namespace "$MESH_NS" --dry-run=client -o yaml | "${KUBECTL[@]}" apply -f -
  "${KUBECTL[@]}" label namespace "$MESH_NS" --overwrite pod-security.kubernetes.io/enforce=privileged
  mesh_manifest "$node_ip" | "${KUBECTL[@]}" apply -n "$MESH_NS" -f -

  step "waiting for mesh/${MESH} to be Ready"
  "${KUBECTL[@]}" wait -n "$MESH_NS" --for=condition=Ready "mesh/${MESH}" --timeout=300s
  "${KUBECTL[@]}" get -n "$MESH_NS" "mesh/${MESH}" -o wide

  step "pinging ${MESH}-1 from ${MESH}-0 over the mesh"
  local peer
  peer=$(mesh_ipv4 "${MESH}-1")
  [[ -n "$peer" ]] || { echo "${MESH}-1 has no mesh address" >&2; exit 1; }
  retry 60 "${KUBECTL[@]}" exec -n "$MESH_NS" "${MESH}-0" -- ping -c1 -W2 "$peer"

  step "reading the admin credentials from Secret ${MESH}-admin"
  local key
  for key in config.yaml ca.crt tls.crt tls.key; do
    secret_key "$key" "$WORK/$key"
  done
  chmod 600 "$WORK/tls.key"

  step "reading the join address and the servers' endpoints"
  local join
  join=$("${KUBECTL[@]}" get -n "$MESH_NS" "mesh/${MESH}" -o jsonpath='{.status.joinAddress}')
  [[ "$join" == "${node_ip}:"* ]] || { echo "joinAddress ${join} is not on ${node_ip}" >&2; exit 1; }
  echo "join server: ${join}"
  "${KUBECTL[@]}" get configmap -n "$MESH_NS" "${MESH}-endpoints" -o jsonpath='{.data}'
  echo

  # The servers' certificates name the in-cluster Service, not the kind node's address: verify
  # them against that name (the admin config.yaml carries it as the cluster's server-name).
  local server_name="${MESH}-headless.${MESH_NS}.svc"

  step "listing the nodes from this machine with the admin config, through ${join}"
  "$WMCTL" --config "$WORK/config.yaml" --server "$join" get nodes

  step "joining from this machine with wmctl connect"
  "$WMCTL" connect --join-server "$join" --no-ipv6 --interface-name "$IFACE" \
    --listen-port 51899 --tls.ca-file "$WORK/ca.crt" --tls.server-name "$server_name" \
    --auth.mtls.cert-file "$WORK/tls.crt" --auth.mtls.key-file "$WORK/tls.key" \
    >"$WORK/connect.log" 2>&1 &
  CONNECT_PID=$!

  step "pinging ${MESH}-0's mesh address from this machine"
  local server
  server=$(mesh_ipv4 "${MESH}-0")
  retry 90 ping -c1 -W2 "$server"

  step "stopping wmctl connect"
  kill "$CONNECT_PID"
  wait "$CONNECT_PID" || true
  CONNECT_PID=""
  STEP="done"
  echo
  echo "E2E PASSED: mesh/${MESH} Ready, pod-to-pod ping, host join and ping over the mesh"
}

main "$@"
