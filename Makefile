# webmesh: every target documents itself; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     ?= .venv
PY       := $(VENV)/bin/python
PYTEST   := $(VENV)/bin/pytest
APT_PKGS := wireguard-go wireguard-tools iproute2 iputils-ping util-linux procps python3 python3-venv \
            python3-dev make gcc libc6-dev libldap2-dev libsasl2-dev slapd ldap-utils
PY_DIRS  := $(wildcard node operator tests bench scripts)
PROTOS   := $(wildcard node/webmesh/api/v1/*.proto)
# Parallel test workers: network scenarios are independent and mostly wait on I/O.
WORKERS  ?= 4

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: system-deps
system-deps: ## Install the Debian packages the node and the tests need (root; skipped when present)
	@if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null || ! command -v ping >/dev/null \
	   || ! command -v slapd >/dev/null || ! [ -e /usr/include/ldap.h ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install: $(APT_PKGS))"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends $(APT_PKGS); \
	fi

$(VENV)/.installed: pyproject.toml
	@command -v python3 >/dev/null || $(MAKE) system-deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

.PHONY: install
install: system-deps $(VENV)/.installed ## Install everything: Debian packages, a venv with webmesh and its test tools

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

.PHONY: verify-generate
verify-generate: install ## Fail when the committed generated code differs from the .proto files
	@tmp=$$(mktemp -d); cp -r node/webmesh/api/v1 $$tmp/before; \
	$(PY) -m grpc_tools.protoc -I node --python_out=node --pyi_out=node --grpc_python_out=node $(PROTOS); \
	if ! diff -r -q $$tmp/before node/webmesh/api/v1 -x __pycache__; then \
	  echo "generated code is stale: run 'make generate' and commit"; rm -rf $$tmp; exit 1; fi; rm -rf $$tmp

.PHONY: verify
verify: lint typecheck verify-generate ## All static checks

.PHONY: test-unit
test-unit: install ## Unit and loopback integration tests (no root needed)
	$(PYTEST) -n $(WORKERS) tests/unit tests/integration

.PHONY: test-netns
test-netns: install ## Real WireGuard tests in network namespaces (root, wireguard-go)
	$(PYTEST) -n $(WORKERS) -m netns tests/netns

.PHONY: test
test: verify ## Everything CI runs: static checks, then every test (network tests included)
	$(PYTEST) -n $(WORKERS) tests

.PHONY: bench
bench: install ## Run the benchmarks; results go to bench/results.md
	$(PY) bench/run.py --out bench/results.md

.PHONY: clean
clean: ## Remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
