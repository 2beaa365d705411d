#!/usr/bin/env bash
# `make test`: starts PostgreSQL and Redis, installs the tools the tests need, and runs `cargo test`.
# The tests create their own databases through TEST_DATABASE_URL (see README, "Tests").
# Safe to run again. Extra arguments go to `cargo test` (e.g. `scripts/test.sh graphql`).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) export PATH="$CARGO_BIN:$PATH" ;; esac

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://bookstore:bookstore@127.0.0.1:5432/postgres}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"

# Tools the test suite runs: `diesel print-schema` checks src/db/schema.rs against the migrations;
# the browser tests drive Debian's chromium through chromedriver (they fail, not skip, without them);
# the GraphQL protocol tests run node on tests/js (the graphql-http audit, the graphql-ws client);
# tests/api/k8s.rs validates deploy/k8s with kubernetes-validate (path below; it fails without it);
# the contract test runs schemathesis against the served OpenAPI document.
# shellcheck disable=SC2086
bash scripts/tools.sh ${TEST_TOOLS:-diesel chromium node kubernetes-validate schemathesis}
export BOOKSTORE_K8S_VALIDATE="${BOOKSTORE_K8S_VALIDATE:-${BOOKSTORE_TOOLS_VENV:-$PWD/target/tools-venv}/bin/kubernetes-validate}"
bash scripts/services.sh

printf '[test] cargo test (TEST_DATABASE_URL=%s, TEST_REDIS_URL=%s)\n' \
  "$(printf '%s' "$TEST_DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#')" "$TEST_REDIS_URL" >&2
# Last command: its output (cargo's test summary) ends the output, and its status is ours.
# --lib --bins --tests: every test target, without the doc-test pass (there are no doc tests, and
# its empty summary would otherwise be the last line).
exec cargo test --lib --bins --tests "$@"
