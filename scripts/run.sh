#!/usr/bin/env bash
# `make run`: starts PostgreSQL and Redis, builds the server, migrates, loads the demo data and the
# demo editor, then serves in the foreground until Ctrl-C. Safe to run again: every step is idempotent.
#
# Everything below can be overridden from the environment (the Makefile passes its variables on).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) export PATH="$CARGO_BIN:$PATH" ;; esac

: "${PROFILE:=release}"
export DATABASE_URL="${DATABASE_URL:-postgres://bookstore:bookstore@127.0.0.1:5432/bookstore}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export BOOKSTORE_ADDR="${BOOKSTORE_ADDR:-127.0.0.1:3000}"
export BOOKSTORE_ADMIN_USERNAME="${BOOKSTORE_ADMIN_USERNAME:-admin}"
export BOOKSTORE_ADMIN_PASSWORD="${BOOKSTORE_ADMIN_PASSWORD:-admin-password-demo}"
export BOOKSTORE_DEMO_EDITOR_PASSWORD="${BOOKSTORE_DEMO_EDITOR_PASSWORD:-editor-password-demo}"
# A fixed development key (48 bytes) so that tokens survive restarts. Never use it in production.
export JWT_SECRET="${JWT_SECRET:-bookstore-development-only-jwt-secret-0123456789}"
export RUST_LOG="${RUST_LOG:-info}"

say() { printf '[run] %s\n' "$*" >&2; }
die() { printf '[run] ERROR: %s\n' "$*" >&2; exit 1; }

# Refuse early, with a clear message, when the address is taken (e.g. by an earlier `make run`).
host=${BOOKSTORE_ADDR%:*}; port=${BOOKSTORE_ADDR##*:}
[ "$host" = "0.0.0.0" ] && host=127.0.0.1
if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
  die "something already listens on $BOOKSTORE_ADDR (an earlier \`make run\`?): stop it, or run with BOOKSTORE_ADDR=127.0.0.1:<other port>"
fi

bash scripts/tools.sh rust
# services.sh creates the database named in DATABASE_URL (when it is a local bookstore database).
db_name=${DATABASE_URL##*/}; db_name=${db_name%%\?*}
case "$DATABASE_URL" in
  postgres*://bookstore:*@127.0.0.1:5432/* | postgres*://bookstore:*@localhost:5432/*)
    export BOOKSTORE_DB_NAME="${BOOKSTORE_DB_NAME:-$db_name}" ;;
esac
bash scripts/services.sh

case "$PROFILE" in
  release) build_flag=(--release); bin=target/release/bookstore ;;
  dev | debug) build_flag=(); bin=target/debug/bookstore ;;
  *) die "PROFILE must be release or dev, not '$PROFILE'" ;;
esac
say "cargo build ${build_flag[*]} (first build takes a few minutes)"
cargo build "${build_flag[@]}" --bin bookstore || die "cargo build failed"

say "migrating $(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#')"
"$bin" migrate || die "migrations failed"
say "loading the demo data (kept as it is when the catalogue already has data)"
"$bin" seed || die "seeding the demo data failed"

cat >&2 <<EOF
[run] serving on http://$BOOKSTORE_ADDR  (Ctrl-C stops)
[run]   REST      http://$BOOKSTORE_ADDR/v1/books     docs  http://$BOOKSTORE_ADDR/docs
[run]   GraphQL   http://$BOOKSTORE_ADDR/graphql      GraphiQL http://$BOOKSTORE_ADDR/graphiql
[run]   demo users: admin / $( [ "$BOOKSTORE_ADMIN_PASSWORD" = admin-password-demo ] && echo admin-password-demo || echo '<BOOKSTORE_ADMIN_PASSWORD>' ), editor / $( [ "$BOOKSTORE_DEMO_EDITOR_PASSWORD" = editor-password-demo ] && echo editor-password-demo || echo '<BOOKSTORE_DEMO_EDITOR_PASSWORD>' )
EOF
exec "$bin" serve
