# rekey — every command runs on the Node 24 that scripts/bootstrap.sh installs into .tools/bin.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/bin:$(PATH)
TSX := $(CURDIR)/node_modules/.bin/tsx

.PHONY: bootstrap up down status check test test-unit test-workflows test-integration demo demo-down clean \
	bootstrap-cluster cluster-up cluster-down cluster-status test-cluster conformance-azure fuzz-api

## bootstrap: install Node 24, npm dependencies, Temporal CLI + test server, the reference Key Vault's
##   TLS certificate (idempotent)
bootstrap:
	@bash scripts/bootstrap.sh

## up / down / status: the local stack (Temporal dev server + Web UI, the reference Key Vault) in the background
up: bootstrap
	@$(TSX) scripts/stack.ts up
down:
	@if [ -x "$(TSX)" ]; then $(TSX) scripts/stack.ts down; else echo "nothing to stop"; fi
status:
	@$(TSX) scripts/stack.ts status

## check: tsc --noEmit, ESLint, Prettier
check: bootstrap
	@npm run --silent check

## test: bootstrap everything, then check and the whole suite (unit, workflow, integration) as parallel jest
##   processes: unit + workflows, and the integration files in shards with a harness each (scripts/test-suite.ts)
##   make test TEST_ARGS="--shards 2"    fewer shards; "--reports DIR": where logs and JSON reports go
test: bootstrap
	@npm run --silent check
	@$(TSX) scripts/test-suite.ts $(TEST_ARGS)

test-unit: bootstrap
	@npx jest --ci --selectProjects unit
test-workflows: bootstrap
	@npx jest --ci --selectProjects workflows
test-integration: bootstrap
	@npx jest --ci --selectProjects integration

## conformance-azure: the official Azure SDK for Go (azsecrets) against the reference Key Vault, a table of
##   checks (scripts/azure-conformance.ts; Go 1.21+ fetches the toolchain go.mod asks for)
conformance-azure:
	@bash scripts/bootstrap.sh conformance-azure
	@$(TSX) scripts/azure-conformance.ts

## fuzz-api: schemathesis (every check, a fixed seed, 1,000+ requests) against /openapi.json of a real API
##   on a Temporal dev server of its own (scripts/fuzz-api.ts; files in .run/fuzz-api/)
fuzz-api:
	@bash scripts/bootstrap.sh fuzz-api
	@$(TSX) scripts/fuzz-api.ts

## cluster-up / cluster-down / cluster-status: a real Temporal cluster in the background — Temporal Server
##   on PostgreSQL with SQL visibility, namespace and search attributes (scripts/cluster.ts; .run/cluster/)
bootstrap-cluster:
	@bash scripts/bootstrap.sh cluster
cluster-up: bootstrap-cluster
	@$(TSX) scripts/cluster.ts up
cluster-down:
	@if [ -x "$(TSX)" ]; then $(TSX) scripts/cluster.ts down; else echo "nothing to stop"; fi
cluster-status:
	@$(TSX) scripts/cluster.ts status

## test-cluster: bootstrap the cluster's tools, then the suite against that cluster (jest.cluster.config.js):
##   two workers and two APIs as processes; a worker killed mid-hold, an API stopped, the cluster restarted
test-cluster: bootstrap-cluster
	@npx jest --ci -c jest.cluster.config.js $(JEST_ARGS)

## demo: a complete rotation end to end on a stack of its own (free ports, files and logs in .run/demo/)
##   make demo SCENARIO=rollback   the new key fails after the flip and the rotation rolls back by itself
##   make demo BACKEND=vault       the secret in HashiCorp Vault KV v2 (OpenBao); BACKEND=aws: AWS Secrets
##                                 Manager (moto); BACKEND=azure (the default): Key Vault (the reference Key Vault)
##   make demo KEEP=1              leaves the stack up afterwards (Temporal UI, API, gateway); make demo-down stops it
demo: bootstrap
	@$(TSX) scripts/demo.ts run --scenario "$(SCENARIO)" --backend "$(BACKEND)" $(if $(filter 1 true yes,$(KEEP)),--keep)
demo-down:
	@if [ -x "$(TSX)" ]; then $(TSX) scripts/demo.ts down; else echo "nothing to stop"; fi

## clean: remove installed tools, dependencies and run state (the stack must be down)
clean: down demo-down cluster-down
	rm -rf .tools node_modules .run
