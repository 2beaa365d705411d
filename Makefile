# Bookstore Gateway. The two commands that matter:
#   make run    start PostgreSQL + Redis, build, migrate, load the demo data, serve on 127.0.0.1:3000
#   make test   start PostgreSQL + Redis, install the test tools, run `cargo test`
# Every variable below can be overridden: `make run BOOKSTORE_ADDR=127.0.0.1:3001 PROFILE=dev`.
# The shell logic lives in scripts/*.sh.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# cargo, rustfmt, clippy and diesel live here when installed with rustup / cargo install.
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(PATH)

# --- make run: a development server with demo data and demo credentials --------------------------
PROFILE ?= release
DATABASE_URL ?= postgres://bookstore:bookstore@127.0.0.1:5432/bookstore
REDIS_URL ?= redis://127.0.0.1:6379
BOOKSTORE_ADDR ?= 127.0.0.1:3000
BOOKSTORE_ADMIN_USERNAME ?= admin
BOOKSTORE_ADMIN_PASSWORD ?= admin-password-demo
BOOKSTORE_DEMO_EDITOR_PASSWORD ?= editor-password-demo
# Fixed development key (48 bytes) so that tokens survive restarts. Never use it in production.
JWT_SECRET ?= bookstore-development-only-jwt-secret-0123456789

# --- make test: the tests make their own databases through these -----------------------------------
TEST_DATABASE_URL ?= postgres://bookstore:bookstore@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379
# Tools installed before the tests when missing (see scripts/tools.sh): diesel_cli for the schema
# check, Debian's chromium and chromium-driver for the browser tests (tests/api/browser.rs), node and
# the pinned npm packages of tests/js for the GraphQL protocol tests (tests/api/graphql_protocol.rs),
# kubernetes-validate (PyPI, in target/tools-venv) for the manifest checks (tests/api/k8s.rs),
# schemathesis (pinned, in a virtual environment under target/) for tests/api/schemathesis.rs.
TEST_TOOLS ?= diesel chromium node kubernetes-validate schemathesis

# Passed to `make run` only; `make test` sees only the TEST_* variables.
RUN_VARS := PROFILE DATABASE_URL REDIS_URL BOOKSTORE_ADDR BOOKSTORE_ADMIN_USERNAME BOOKSTORE_ADMIN_PASSWORD \
            BOOKSTORE_DEMO_EDITOR_PASSWORD JWT_SECRET

.PHONY: help run test lint fmt services tools build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

run: ## services + build + migrate + demo data, then serve on 127.0.0.1:3000 (Ctrl-C stops)
	@env $(foreach v,$(RUN_VARS),$(v)='$($(v))') bash scripts/run.sh

test: ## services + test tools, then `cargo test` (ARGS="..." are passed on to cargo test)
	@env -u DATABASE_URL -u REDIS_URL TEST_DATABASE_URL='$(TEST_DATABASE_URL)' \
	  TEST_REDIS_URL='$(TEST_REDIS_URL)' TEST_TOOLS='$(TEST_TOOLS)' bash scripts/test.sh $(ARGS)

lint: ## cargo fmt --check and cargo clippy --all-targets -- -D warnings
	@bash scripts/tools.sh lint
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

fmt: ## format the code with cargo fmt
	cargo fmt

services: ## install (when missing) and start PostgreSQL 15 and Redis
	@bash scripts/services.sh

tools: ## check the Rust toolchain; install diesel_cli, chromium, chromedriver, node, kubernetes-validate and schemathesis when missing
	@bash scripts/tools.sh lint $(TEST_TOOLS)

build: ## cargo build of the server (PROFILE=release or dev)
	@bash scripts/tools.sh rust
	cargo build $(if $(filter release,$(PROFILE)),--release,) --bin bookstore

.PHONY: faults
faults: ## the fault suite (tests/faults, ~2 min once built): PostgreSQL/Redis/replica faults on private instances, one FAULT line each (ARGS=filter)
	@env -u DATABASE_URL -u REDIS_URL bash scripts/faults.sh $(ARGS)

.PHONY: bench
bench: ## W1-W5 with wrk on the release build, then the peers of ../shared/bench and the target ratios (ARGS=--no-peers: ours only)
	@bash bench/run.sh $(ARGS)

.PHONY: profile
profile: ## flame graphs (or ARGS="--callgrind W1 W4": instructions per request) of bench workloads
	@bash bench/profile.sh $(ARGS)

.PHONY: rehearsal rehearsal-down pgbouncer-load
rehearsal: ## scripts/rehearsal.sh up: primary + hot standby, PgBouncer, Redis, 3 API replicas behind nginx
	@bash scripts/rehearsal.sh up

rehearsal-down: ## scripts/rehearsal.sh down
	@bash scripts/rehearsal.sh down

pgbouncer-load: ## 60 s of reads and writes through PgBouncer (transaction mode, statement cache off): 0 errors
	BOOKSTORE_PGBOUNCER_LOAD_SECS=60 TEST_DATABASE_URL='$(TEST_DATABASE_URL)' TEST_REDIS_URL='$(TEST_REDIS_URL)' \
	  cargo test --test api replicas::load_through_pgbouncer -- --nocapture
