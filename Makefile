# webmesh: every target documents itself; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     ?= .venv
PY       := $(VENV)/bin/python
PYTEST   := $(VENV)/bin/pytest
APT_PKGS := wireguard-go wireguard-tools iproute2 iputils-ping util-linux iptables nftables dnsmasq-base procps python3 python3-venv \
            python3-dev make gcc libc6-dev libldap2-dev libsasl2-dev slapd ldap-utils \
            graphviz prometheus chromium chromium-driver
PY_DIRS  := $(wildcard node operator tests bench scripts)
PROTOS   := $(wildcard node/webmesh/api/v1/*.proto)
RAFT_PROTOS := $(wildcard node/webmesh/raft/v1/*.proto)
# Parallel test workers: network scenarios are independent and mostly wait on I/O.
WORKERS  ?= 4

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: system-deps
system-deps: ## Install the Debian packages the node and the tests need (root; skipped when present)
	@if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null || ! command -v ping >/dev/null \
	   || ! command -v nft >/dev/null || ! command -v dnsmasq >/dev/null \
	   || ! command -v slapd >/dev/null || ! [ -e /usr/include/ldap.h ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install: $(APT_PKGS))"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends $(APT_PKGS); \
	fi

# Installs exactly what the lock says (requirements/*.txt are exports of uv.lock, with hashes):
# the build backend first, so that pysyncobj (an sdist) and webmesh itself are built without
# fetching anything unpinned; then every dependency; then webmesh, editable, with no resolution.
$(VENV)/.installed: requirements/build.txt requirements/dev.txt pyproject.toml
	@command -v python3 >/dev/null || $(MAKE) system-deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes --no-deps -r requirements/build.txt
	$(VENV)/bin/pip install -q --require-hashes --no-deps --no-build-isolation -r requirements/dev.txt
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

.PHONY: install
install: system-deps $(VENV)/.installed ## Install everything from the lock: Debian packages, a venv with webmesh and its test tools

.PHONY: lock
lock: install ## Re-resolve uv.lock after a pyproject.toml change and re-export requirements/ (UPGRADE=1: newest versions)
	$(PY) scripts/lock.py $(if $(UPGRADE),--upgrade)

.PHONY: verify-lock
verify-lock: install ## Fail when uv.lock is stale for pyproject.toml or requirements/ differs from it
	$(PY) scripts/lock.py --check

.PHONY: demo
demo: install ## Start a 3-node mesh in network namespaces, show `wmctl get nodes` and a ping, clean up
	$(PY) scripts/demo.py

.PHONY: fmt
fmt: install ## Format the code
	$(VENV)/bin/ruff format $(PY_DIRS)
	$(VENV)/bin/ruff check --fix $(PY_DIRS)

.PHONY: lint
lint: install ## ruff (lint and format check) and import-linter contracts
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/lint-imports

.PHONY: typecheck
typecheck: install ## mypy --strict on our packages
	$(VENV)/bin/mypy node/webmesh operator/webmesh_operator

.PHONY: generate
generate: install ## Regenerate the gRPC code from the .proto files
	$(PY) -m grpc_tools.protoc -I node --python_out=node --pyi_out=node --grpc_python_out=node $(PROTOS)
	$(PY) -m grpc_tools.protoc -I node --python_out=node --pyi_out=node $(RAFT_PROTOS)

.PHONY: generate-crds
generate-crds: install ## Copy crds/ into the Helm chart (charts/webmesh/crds, with a keep policy)
	$(PY) scripts/generate_chart_crds.py

.PHONY: verify-generate
verify-generate: install ## Fail when generated code (gRPC, the chart's CRDs) is stale
	$(PY) scripts/generate_chart_crds.py --check
	@tmp=$$(mktemp -d); cp -r node/webmesh/api/v1 $$tmp/before; cp -r node/webmesh/raft/v1 $$tmp/raft; \
	$(PY) -m grpc_tools.protoc -I node --python_out=node --pyi_out=node --grpc_python_out=node $(PROTOS); \
	$(PY) -m grpc_tools.protoc -I node --python_out=node --pyi_out=node $(RAFT_PROTOS); \
	if ! diff -r -q $$tmp/before node/webmesh/api/v1 -x __pycache__ || \
	   ! diff -r -q $$tmp/raft node/webmesh/raft/v1 -x __pycache__; then \
	  echo "generated code is stale: run 'make generate' and commit"; rm -rf $$tmp; exit 1; fi; rm -rf $$tmp

.PHONY: manifests
manifests: install ## Render the chart with its defaults into dist/webmesh.yaml (kubectl apply -f it)
	$(PY) scripts/manifests.py

.PHONY: verify-manifests
verify-manifests: install ## Fail when dist/webmesh.yaml is not what the chart renders
	$(PY) scripts/manifests.py --check

.PHONY: verify
verify: lint typecheck verify-generate verify-lock verify-manifests ## All static checks

.PHONY: test-unit
test-unit: install ## Unit and loopback integration tests (no root needed)
	$(PYTEST) -n $(WORKERS) tests/unit tests/integration

.PHONY: test-netns
test-netns: install ## Real WireGuard tests in network namespaces (root, wireguard-go)
	$(PYTEST) -n $(WORKERS) -m "netns and not faults" tests/netns
	$(PYTEST) -n 0 -m faults tests/netns

.PHONY: test
test: verify k8s-assets ## Everything CI runs: static checks, then every test (network, Kubernetes API and real-node tests included)
	$(PYTEST) -n $(WORKERS) -m "not faults" --ignore=tests/k8s --ignore=tests/e2e tests
	$(PYTEST) -n 0 -m faults tests/netns
	$(PYTEST) -n 0 tests/k8s
	$(PYTEST) -n 0 tests/e2e

# The Kubernetes API tier (tests/k8s) runs kube-apiserver and etcd from KUBEBUILDER_ASSETS
# (envtest's layout). When it is unset and ../shared/k8s exists (CI here), the binaries are
# unpacked into .k8s-assets and KUBEBUILDER_ASSETS points there; on a laptop, set it yourself:
# KUBEBUILDER_ASSETS=$$(setup-envtest use 1.32 -p path). Without them the tier skips loudly (CI fails).
K8S_SHARED := ../shared/k8s
K8S_ASSETS_DIR := .k8s-assets
ifeq ($(KUBEBUILDER_ASSETS),)
ifneq ($(wildcard $(K8S_SHARED)/assets),)
export KUBEBUILDER_ASSETS := $(abspath $(K8S_ASSETS_DIR))
K8S_UNPACK := yes
endif
endif

.PHONY: k8s-assets
k8s-assets: ## Unpack kube-apiserver and etcd from ../shared/k8s into .k8s-assets (if KUBEBUILDER_ASSETS is unset)
	@if [ -n "$(K8S_UNPACK)" ]; then $(K8S_SHARED)/assets $(K8S_ASSETS_DIR) >/dev/null; fi
	@echo "KUBEBUILDER_ASSETS=$${KUBEBUILDER_ASSETS:-<unset: the Kubernetes API tests will be skipped>}"

.PHONY: test-k8s
test-k8s: install k8s-assets ## Whole-operator tests against a real kube-apiserver + etcd (tests/k8s)
	$(PYTEST) -n 0 tests/k8s

.PHONY: bench-deps
bench-deps: ## Install what the benchmarks need beyond the tests' packages: iperf3 (root; skipped when present)
	@command -v iperf3 >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install iperf3)"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends iperf3; }

.PHONY: bench
bench: install bench-deps ## Run the benchmarks; results go to bench/results.md
	$(PY) bench/run.py --out bench/results.md

.PHONY: bench-dataplane
bench-dataplane: install bench-deps ## Only the tunnel benchmark (webmesh vs hand-configured wireguard-go vs bare LAN); bench/results-dataplane.md
	$(PY) bench/run.py --only dataplane --out bench/results-dataplane.md

.PHONY: bench-nat
bench-nat: install bench-deps ## Only the NAT benchmark (two nodes behind two routers: time to a direct path, direct vs relayed TCP); bench/results-nat.md
	$(PY) bench/run.py --only nat_traversal --out bench/results-nat.md

.PHONY: bench-join-budget
bench-join-budget: install ## Only CPU per Join at 1,000/s offered: the whole system by process vs grpc.aio alone and Raft alone; bench/results-join-budget.md
	$(PY) bench/run.py --only join_cpu_budget --out bench/results-join-budget.md

.PHONY: bench-dashboard
bench-dashboard: install ## Only the web view's document at 1,000 nodes (in-process: size, build + encode time); bench/results-dashboard.md
	$(PY) bench/run.py --only dashboard_state --out bench/results-dashboard.md

.PHONY: jepsen
jepsen: install ## Joins and leaves under kills, pauses and partitions for JEPSEN_SECONDS (600); bench/results-jepsen.md (root)
	WEBMESH_FAULT_SECONDS=$(JEPSEN_SECONDS) $(PY) bench/run.py --only jepsen_faults --out bench/results-jepsen.md

.PHONY: bench-kube-node
bench-kube-node: install ## Time make e2e's steps on a real Kubernetes node; results go to bench/results-kube-node.md
	$(PY) bench/run.py --only kube_node_e2e --out bench/results-kube-node.md

# Images: OCI archives under dist/, built without a Docker daemon (buildah) or with docker
# (scripts/images.sh). Where no registry is reachable (CI here), the base is the Debian + Python
# OCI archive of ../shared/kube-node; elsewhere python:3.11-slim-bookworm (override: IMAGE_BASE).
# The tag is the default image of the CRDs, render/defaults.py and the chart's values.yaml.
IMAGE_TAG      ?= 0.1.0
IMAGES         ?= node operator
JEPSEN_SECONDS ?= 600
NODE_IMAGE     := webmesh-node:$(IMAGE_TAG)
OPERATOR_IMAGE := webmesh-operator:$(IMAGE_TAG)
KIND_CLUSTER   ?= webmesh
KUBE_NODE_BASE := ../shared/kube-node/debian-python.oci.tar.xz
ifneq ($(wildcard $(KUBE_NODE_BASE)),)
IMAGE_BASE     ?= oci-archive:$(abspath dist/debian-python.oci.tar)
endif

.PHONY: images
images: install ## Build the node and operator images into dist/*.tar (buildah, or docker; IMAGE_TAG=0.1.0, IMAGES=node)
	@if [ -n "$(wildcard $(KUBE_NODE_BASE))" ] && [ ! -s dist/debian-python.oci.tar ]; then \
	  mkdir -p dist && xz -dc $(KUBE_NODE_BASE) > dist/debian-python.oci.tar; fi
	IMAGE_TAG=$(IMAGE_TAG) IMAGES="$(IMAGES)" PY=$(PY) BASE=$(IMAGE_BASE) scripts/images.sh

.PHONY: kind-up
kind-up: images ## Create the kind cluster (KIND_CLUSTER=webmesh) and load the images into it
	@command -v kind >/dev/null || { echo "make kind-up needs kind (https://kind.sigs.k8s.io)"; exit 1; }
	kind get clusters | grep -qx '$(KIND_CLUSTER)' || \
	  kind create cluster --name $(KIND_CLUSTER) --config kind-config.yaml --wait 180s
	kind load image-archive --name $(KIND_CLUSTER) dist/webmesh-node-$(IMAGE_TAG).tar
	kind load image-archive --name $(KIND_CLUSTER) dist/webmesh-operator-$(IMAGE_TAG).tar

.PHONY: e2e
e2e: install ## On a real Kubernetes node (../shared/kube-node): images, static manifest, operator, Mesh, Node group (root)
	$(PYTEST) -n 0 -s tests/e2e

.PHONY: e2e-kind
e2e-kind: install ## On the kind cluster: install the chart, a Mesh, ping over it, join from this host (Docker, root)
	KIND_CLUSTER=$(KIND_CLUSTER) IMAGE_TAG=$(IMAGE_TAG) PY=$(PY) scripts/e2e.sh

.PHONY: kind-down
kind-down: ## Delete the kind cluster
	@command -v kind >/dev/null || { echo "make kind-down needs kind"; exit 1; }
	kind delete cluster --name $(KIND_CLUSTER)

.PHONY: clean
clean: ## Remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
