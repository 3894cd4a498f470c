# agent-orchestrator — developer and CI entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := operator/agent_api operator/agent_kube operator/agent_operator sync-sidecar/agent_sync \
	runner/agent_runner console/agent_console

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The dependencies come pinned and hashed from requirements/dev.txt (make lock writes it),
# the project itself editable without resolving anything; pip check catches a lock that
# no longer satisfies pyproject.toml.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; \
	  echo "requirements/dev.txt does not satisfy pyproject.toml: run make lock"; exit 1; }
	@touch $@

install: $(VENV)/.installed web ## create .venv and install the project with its dev tools, from the lock (idempotent)

lock: install ## regenerate requirements/*.txt from pyproject.toml (UPGRADE=1: newest versions allowed)
	hack/lock.sh $(if $(UPGRADE),--upgrade)

web: ## build the dashboard's JavaScript (npm ci from console/web/package-lock.json) into the package
	hack/build-web.sh

tools: ## build etcd, kube-*, kwok, helm and promtool from Go modules into ~/.cache/agent-orchestrator
	hack/build-tools.sh >/dev/null

generate: install ## regenerate CRDs, chart CRDs, rendered manifests, API reference
	hack/generate.sh

verify: install ## fail when a generated file is stale
	hack/generate.sh --check

lint: install ## ruff, mypy --strict on the packages, and the import contracts (pyproject.toml)
	$(BIN)/ruff check operator sync-sidecar runner console tests bench hack
	$(BIN)/mypy $(PACKAGES) bench
	MYPYPATH=operator:sync-sidecar:runner $(BIN)/mypy tests/unit/operator/fake_cluster.py  # the fake fits api.ClusterApi
	PYTHONPATH=operator:sync-sidecar:runner:console $(BIN)/lint-imports

cluster-up: install ## start the local control plane (builds it the first time); no-op when up
	hack/cluster.sh up

cluster-down: ## stop every process cluster-up started
	hack/cluster.sh down

unit: install ## unit tests only (no cluster)
	$(BIN)/pytest -q tests/unit

images: ## build the operator and runner images (podman or docker; BASE_IMAGE=... picks the base)
	hack/images.sh

test: install verify ## unit, container, integration tests; builds the images where podman runs, brings the cluster up
	hack/images.sh --for-tests
	hack/browser-deps.sh
	hack/with-cluster.sh $(BIN)/pytest -q -rs tests

container-test: install ## the container tests only (tests/container), after building the images
	hack/images.sh --for-tests
	$(BIN)/pytest -q -rs tests/container

kind-up: install ## a kind cluster with both images loaded and the chart installed (needs docker or podman)
	hack/kind.sh up

kind-down: ## delete the kind cluster kind-up made
	hack/kind.sh down

bench: install ## benchmarks on the local control plane; results in bench-results/
	hack/with-cluster.sh $(BIN)/python -m bench

demo: install ## the main job: a sample markdown plan run to completion on the local control plane
	hack/demo.sh

.PHONY: help install lock web tools generate verify lint cluster-up cluster-down unit images test container-test kind-up kind-down bench demo
