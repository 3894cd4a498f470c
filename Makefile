# agent-orchestrator — developer and CI entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := operator/agent_api operator/agent_kube operator/agent_operator sync-sidecar/agent_sync runner/agent_runner

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed ## create .venv and install the project with its dev tools (idempotent)

tools: ## build etcd, kube-*, kwok, helm and promtool from Go modules into ~/.cache/agent-orchestrator
	hack/build-tools.sh >/dev/null

generate: install ## regenerate CRDs, chart CRDs, rendered manifests, API reference
	hack/generate.sh

verify: install ## fail when a generated file is stale
	hack/generate.sh --check

lint: install ## ruff, mypy --strict on the packages, and the import contracts (pyproject.toml)
	$(BIN)/ruff check operator sync-sidecar runner tests bench hack
	$(BIN)/mypy $(PACKAGES)
	MYPYPATH=operator:sync-sidecar:runner $(BIN)/mypy tests/unit/operator/fake_cluster.py  # the fake fits api.ClusterApi
	PYTHONPATH=operator:sync-sidecar:runner $(BIN)/lint-imports

cluster-up: install ## start the local control plane (builds it the first time); no-op when up
	hack/cluster.sh up

cluster-down: ## stop every process cluster-up started
	hack/cluster.sh down

unit: install ## unit tests only (no cluster)
	$(BIN)/pytest -q tests/unit

test: install verify ## unit + integration tests; brings the cluster up (and down again if it started it)
	hack/with-cluster.sh $(BIN)/pytest -q tests

bench: install ## benchmarks on the local control plane; results in bench-results/
	hack/with-cluster.sh $(BIN)/python -m bench

demo: install ## the main job: a sample markdown plan run to completion on the local control plane
	hack/demo.sh

.PHONY: help install tools generate verify lint cluster-up cluster-down unit test bench demo
