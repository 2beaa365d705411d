#!/usr/bin/env bash
# Where the time goes: profiles of the benchmark workloads against the release build, on the data
# set that `make bench` (bench/run.sh) loads into its database.
#
#   bash bench/profile.sh W2 W4              # perf flame graphs (sampling, 499 Hz, DWARF stacks)
#   bash bench/profile.sh --callgrind W1 W4  # instructions per request (valgrind --tool=callgrind)
#   make profile ARGS="--callgrind W2"
#
# Flame graphs: the server runs as in bench/run.sh (W2 with BOOKSTORE_CACHE=off, the others on);
# wrk drives the workload's script (warm-up first, 10 s for W1 so the cache is warm), and
# `perf record -p <server>` samples it for 8 s; inferno turns the samples into
# bench/results/profile-<UTC>/<W>.svg, with <W>.folded (collapsed stacks) and <W>.top.txt (the
# functions with the most samples of their own, and the inclusive share of ours).
#
# Instruction counts: the server runs under `valgrind --tool=callgrind --instr-atstart=no`;
# bench/drive.py sends the same fixed sequence of requests twice over one keep-alive connection
# (the first pass warms caches and connections), and only the second pass is counted
# (callgrind_control -i on/off). Instructions are a repeatable measure, unlike seconds on a
# shared 2-core machine: the same binary and requests give the same count, so they settle A/B
# questions that wrk's ±15 % cannot. Written: <W>.callgrind.out (open with kcachegrind or
# callgrind_annotate), <W>.callgrind.txt (inclusive top functions), and instructions per request
# on stdout and in summary.tsv. Background work of the server (heartbeats, pool upkeep) during the
# counted pass is included; it is small against the requests.
#
# Options:
#   --callgrind        instruction counts instead of flame graphs
#   --requests N       requests per counted pass (default: W1-W3 2000, W4 200)
#   --no-build         use the existing target/release/bookstore
# Needs: the bench database loaded by `make bench` (BENCH_DATABASE_URL as there), PostgreSQL and
# Redis (started with scripts/services.sh), perf/valgrind/wrk (apt-get when missing) and
# inferno (cargo install inferno, when missing).
# Exit status: 0; 1 setup failed or a request got a non-2xx answer.
set -euo pipefail

# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MODE=perf BUILD=1 REQUESTS="" WORKLOADS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --callgrind) MODE=callgrind ;;
    --requests) REQUESTS=${2:?--requests needs a number}; shift ;;
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    W1 | W2 | W3 | W4) WORKLOADS+=("$1") ;;
    *) echo "bench/profile.sh: unknown argument $1 (workloads: W1 W2 W3 W4; see --help)" >&2; exit 1 ;;
  esac
  shift
done
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(W2 W4)
[ -z "$REQUESTS" ] || [[ "$REQUESTS" =~ ^[1-9][0-9]*$ ]] || { echo "--requests: a positive number" >&2; exit 1; }

log() { printf '[profile %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '[profile] FAILED: %s\n' "$*" >&2; exit 1; }

SERVER_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ------------------------------------------------------------------ tools
need=()
for t in wrk:wrk curl:curl psql:postgresql-client redis-cli:redis-tools; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if [ "$MODE" = perf ]; then command -v perf >/dev/null || need+=(linux-perf); fi
if [ "$MODE" = callgrind ]; then command -v valgrind >/dev/null || need+=(valgrind); fi
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}: install them (apt-get install ${need[*]})"
  log "installing ${need[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
    die "apt-get install ${need[*]} failed"
fi
if [ "$MODE" = perf ] && ! command -v inferno-flamegraph >/dev/null; then
  log "installing inferno (flame graph renderer) with cargo install --locked inferno"
  cargo install --locked --quiet inferno || die "cargo install inferno failed"
fi

SHARED=$(find_shared_bench)
[ -n "$SHARED" ] || die "the peers' bench directory (wrk/common.lua) was not found at ../shared/bench: set BENCH_SHARED"
export BENCH_SHARED_WRK=$SHARED/wrk

bash scripts/services.sh >/dev/null 2>&1 || die "scripts/services.sh could not start PostgreSQL and Redis"
counts=$(psql "$BENCH_DATABASE_URL" -XAt -F ' ' -c "select (select count(*) from authors), (select count(*) from books)" 2>/dev/null || true)
[ "$counts" = "2000 20000" ] ||
  die "the bench database ($BENCH_DATABASE_URL) does not hold the data set (authors books: '${counts:-none}'): run 'make bench' once first"

if [ "$BUILD" = 1 ]; then
  log "cargo build --release --bin bookstore"
  cargo build --release --bin bookstore 2>&1 | sed -E '/^ +(Compiling|Downloaded|Downloading) /d' >&2 || die "build failed"
fi
[ -x "$BIN" ] || die "$BIN does not exist (cargo build --release)"

OUT=$BENCH_DIR/results/profile-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
JWT=$(python3 -c 'import secrets; print(secrets.token_hex(24))')

start_server() {  # start_server on|off [wrapper...]
  local mode=$1
  shift
  start_bench_server "$mode" "$OUT/server.log" "$JWT" "$@"
}

script_of() {
  case $1 in
    W1 | W2) echo "$SHARED/wrk/book-isbn.lua" ;;
    W3) echo "$SHARED/wrk/books-category.lua" ;;
    W4) echo "$BENCH_DIR/wrk/graphql-authors.lua" ;;
  esac
}
cache_of() { [ "$1" = W2 ] && echo off || echo on; }

top_table() {  # top_table FOLDED: self samples per function, then the inclusive share of ours
  python3 - "$1" <<'EOF'
import collections, sys
own = collections.Counter(); incl = collections.Counter(); total = 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    n = int(n); total += n
    frames = stack.split(";")
    own[frames[-1]] += n
    for f in set(frames):
        incl[f] += n
print(f"{total} = total sample weight (cpu-clock ns)\n\nself %  function (share of samples in the function itself)")
for f, n in own.most_common(40):
    print(f"{100 * n / total:6.1f}  {f[:160]}")
print("\nincl %  our functions (samples in them and what they call)")
for f, n in incl.most_common():
    if f.startswith("bookstore::") and 100 * n / total >= 0.5:
        print(f"{100 * n / total:6.1f}  {f[:160]}")
EOF
}

printf 'workload\tmode\trequests\tinstructions_per_request\n' > "$OUT/summary.tsv"
for wl in "${WORKLOADS[@]}"; do
  cache=$(cache_of "$wl")
  if [ "$MODE" = perf ]; then
    start_server "$cache"
    log "$wl: server pid $SERVER_PID (BOOKSTORE_CACHE=$cache); warm-up"
    warm=3s; [ "$wl" = W1 ] && warm=10s
    wrk -t1 -c32 -d"$warm" -s "$(script_of "$wl")" "$URL" > "$OUT/$wl.warm.txt" 2>&1
    wrk -t1 -c32 -d12s -s "$(script_of "$wl")" "$URL" > "$OUT/$wl.wrk.txt" 2>&1 &
    wrk_pid=$!
    sleep 2
    log "$wl: perf record -F 499 -e cpu-clock --call-graph dwarf for 8 s"
    perf record -q -F 499 -e cpu-clock --call-graph dwarf,16384 -p "$SERVER_PID" -o "$OUT/$wl.perf.data" -- sleep 8 \
      > "$OUT/$wl.perf.log" 2>&1 || { cat "$OUT/$wl.perf.log" >&2; die "perf record failed"; }
    wait "$wrk_pid" || true
    stop_server
    log "$wl: folding stacks (perf script | inferno-collapse-perf; ~30 s)"
    perf script -i "$OUT/$wl.perf.data" 2>/dev/null | inferno-collapse-perf > "$OUT/$wl.folded"
    rm -f "$OUT/$wl.perf.data"
    inferno-flamegraph --title "$wl ($(grep -m1 'Requests/sec' "$OUT/$wl.wrk.txt" | awk '{print $2}') req/s while sampled)" \
      < "$OUT/$wl.folded" > "$OUT/$wl.svg"
    top_table "$OUT/$wl.folded" > "$OUT/$wl.top.txt"
    log "$wl: ${OUT#"$REPO"/}/$wl.svg; top functions:"
    sed -n '1,18p' "$OUT/$wl.top.txt" >&2
    printf '%s\tperf\t-\t-\n' "$wl" >> "$OUT/summary.tsv"
  else
    n=${REQUESTS:-2000}; [ -z "$REQUESTS" ] && [ "$wl" = W4 ] && n=200
    start_server "$cache" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/$wl.callgrind.out"
    log "$wl: server under callgrind, pid $SERVER_PID (BOOKSTORE_CACHE=$cache); warm pass of $n requests"
    python3 "$BENCH_DIR/drive.py" "$URL" "$wl" "$n" || die "$wl warm pass failed"
    callgrind_control -i on "$SERVER_PID" > /dev/null
    log "$wl: counted pass of the same $n requests"
    python3 "$BENCH_DIR/drive.py" "$URL" "$wl" "$n" || die "$wl counted pass failed"
    callgrind_control -i off "$SERVER_PID" > /dev/null
    stop_server
    total=$(awk '/^totals:/ {print $2; exit}' "$OUT/$wl.callgrind.out")
    [ -n "$total" ] || die "no totals in $OUT/$wl.callgrind.out"
    per=$((total / n))
    { callgrind_annotate --inclusive=yes "$OUT/$wl.callgrind.out" 2>/dev/null || true; } | head -70 > "$OUT/$wl.callgrind.txt" || true
    log "$wl: $total instructions for $n requests = $per per request (${OUT#"$REPO"/}/$wl.callgrind.txt)"
    printf '%s\tcallgrind\t%s\t%s\n' "$wl" "$n" "$per" >> "$OUT/summary.tsv"
  fi
done
cat "$OUT/summary.tsv"
log "written: ${OUT#"$REPO"/}/"
