# The two commands of the README, and a few helpers around them.
# Cargo output and the test-bed tools live in ~/.cache/release-gate (RELEASE_GATE_CACHE).

SHELL := /usr/bin/env bash
CACHE ?= $(HOME)/.cache/release-gate
export RELEASE_GATE_CACHE := $(CACHE)

.PHONY: run test fuzz tools crds cluster-up cluster-down help

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: ## Run the operator against a local real control plane (or the cluster KUBECONFIG names)
	e2e/run.sh

test: ## fmt, clippy, unit tests, CRD drift, and the end-to-end suite on a local control plane
	e2e/test.sh

fuzz: ## Build the fuzz targets and run each for FUZZ_SECONDS (default 60); fails on a crash
	fuzz/run.sh

tools: ## Build/install the test-bed tools into the cache (a no-op when cached)
	e2e/tools/install.sh all

crds: ## Regenerate crds/ from the Rust types in src/api
	cargo run --quiet --bin release-gate -- crds > crds/releasegate.dev.yaml
	cp crds/releasegate.dev.yaml charts/release-gate/crds/releasegate.dev.yaml

cluster-up: ## Start a local control plane in $(CACHE)/dev (source $(CACHE)/dev/env)
	e2e/tools/install.sh control-plane && e2e/cluster.sh up $(CACHE)/dev

cluster-down: ## Stop the control plane started by cluster-up
	e2e/cluster.sh down $(CACHE)/dev
