#!/usr/bin/env bash
# `make faults`: the fault suite (tests/faults). Each scenario runs the release `bookstore` binary
# against PRIVATE PostgreSQL clusters and Redis servers that it stops, kills and hangs (the shared
# ones on 5432/6379 are never touched), under bounded loopback load, and prints one line
#   FAULT <scenario>: key=value ...
# All lines are repeated at the end as a summary (and kept in target/faults/figures.txt).
#
# What it needs, installed when missing: PostgreSQL 15 and redis-server (scripts/services.sh; the
# private instances use their programs), nginx (scripts/tools.sh nginx; the replica scenario runs
# scripts/cluster.sh), and wsfan from ../shared/bench/tools/wsfan (built into target/wsfan).
#
#   scripts/faults.sh [FILTER] [-- cargo test harness options]
#     e.g. scripts/faults.sh redis          only the Redis scenarios
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) export PATH="$CARGO_BIN:$PATH" ;; esac

say() { printf '[faults] %s\n' "$*" >&2; }
die() { printf '[faults] ERROR: %s\n' "$*" >&2; exit 1; }

bash scripts/tools.sh nginx
bash scripts/services.sh
[ -x "${PG_BINDIR:-/usr/lib/postgresql/15/bin}/initdb" ] \
  || die "no initdb in ${PG_BINDIR:-/usr/lib/postgresql/15/bin} (PostgreSQL 15; set PG_BINDIR for another layout)"
command -v redis-server >/dev/null || die "redis-server not found"

# 1000 WebSocket subscribers: the server (a child of the test process) needs more open files than
# the usual 1024. Raise the soft limit to 65536, or to the hard limit when that is lower.
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" || die "could not raise the open-file limit to $want (hard limit $hard)"
[ "$(ulimit -n)" -ge 2300 ] || die "open-file limit $(ulimit -n) is too low for 1000 subscribers (need 2300; raise the hard limit)"
say "open-file limit $(ulimit -n)"

WSFAN_MANIFEST=${WSFAN_MANIFEST:-$ROOT/../shared/bench/tools/wsfan/Cargo.toml}
[ -f "$WSFAN_MANIFEST" ] || die "$WSFAN_MANIFEST not found (../shared beside the repository)"
say "building wsfan"
cargo build --release --quiet --manifest-path "$WSFAN_MANIFEST" --target-dir "$ROOT/target/wsfan" \
  || die "could not build wsfan"
export WSFAN_BIN="$ROOT/target/wsfan/release/wsfan"

# `cargo test` builds the release binary the scenarios run (CARGO_BIN_EXE_bookstore) with the
# features of the test build; a separate `cargo build --release --bin bookstore` would resolve the
# dependencies' features differently and compile everything a second time.
say "building the release binary and the fault suite"
cargo test --release --test faults --no-run

mkdir -p target/faults
export FAULTS_REPORT="$ROOT/target/faults/figures.txt"
: >"$FAULTS_REPORT"
started=$(date +%s)
status=0
# One scenario at a time: their latency figures assume they have the machine to themselves.
cargo test --release --test faults -- --test-threads=1 --nocapture "$@" || status=$?
printf '\n[faults] summary (%ss, exit %s):\n' "$(( $(date +%s) - started ))" "$status" >&2
cat "$FAULTS_REPORT"
exit "$status"
