#!/usr/bin/env bash
# The bookstore benchmark: workloads W1..W5 of ../shared/bench/README.md against the release build,
# every wrk run `-t1 -c32 -d10s --latency` after a 3 s warm-up with the same script (as run-peers.sh).
#
#   bash bench/run.sh                      # our rows, then the peers (run-peers.sh) in the same
#                                          #   invocation and the target ratios (~4 min once the release
#                                          #   build is up to date; setup-peers.sh first when the peers
#                                          #   are not built yet: several minutes more)
#   bash bench/run.sh --no-peers           # our rows only (~1.5 min)
#   bash bench/run.sh --peers-tsv ../shared/bench/peers-baseline.tsv   # ratios against a stored table
#   make bench    (ARGS="--no-peers" etc.)
#
# What it does: starts PostgreSQL + Redis (scripts/services.sh), cargo build --release, drops and
# recreates the database bookstore_bench, loads the data set (`bookstore seed --authors 2000 --books
# 20000 --magazines 500 --reset`), creates the editor `bench` and takes its token from POST /v1/token,
# then, on a free loopback port with BOOKSTORE_ENV=production, BOOKSTORE_RATE_LIMIT=off and RUST_LOG=warn:
#   server with BOOKSTORE_CACHE=off: bench/verify.py (answers vs. the data set formula), W2
#   server with BOOKSTORE_CACHE=on:  bench/verify.py (+ the W5 write path), a 1 s PUT-only check of
#                                    the W5 script, cache prefill (every book fetched once), W1 W3 W4 W5
# and prints a TSV with the columns of peers-baseline.tsv (+ the peers' rows and the targets when
# asked), also written to bench/results/<UTC timestamp>.tsv (and .targets.tsv). Progress on stderr.
#
#   W1 GET /v1/book/{isbn}, random ISBN, cache warm   ../shared/bench/wrk/book-isbn.lua
#   W2 the same, BOOKSTORE_CACHE=off                  ../shared/bench/wrk/book-isbn.lua
#   W3 GET /v1/books?category=<random>&limit=20       ../shared/bench/wrk/books-category.lua
#   W4 POST /graphql authors(50) { books(10) }        bench/wrk/graphql-authors.lua
#   W5 90% W1-style GETs, 10% PUT /v1/book/{isbn}     bench/wrk/write-mix.lua (editor token)
#
# Options:
#   --with-peers       run ../shared/bench/run-peers.sh after our workloads (setup-peers.sh first if
#                      needed); the default whenever run-peers.sh is found. Should run-peers.sh fail,
#                      the ratios are taken from its stored peers-baseline.tsv, marked as such
#   --no-peers         our rows only
#   --peers-tsv FILE   take the peers' rows from FILE (e.g. peers-baseline.tsv) instead of running them
#   --no-build         use the existing target/release/bookstore
#   --strict           exit 3 when a target of the issue is missed
# Environment:
#   BENCH_DATABASE_URL  default postgres://bookstore:bookstore@127.0.0.1:5432/bookstore_bench; dropped and
#                       recreated every run, so its database name must contain "bench"
#   BENCH_REDIS_DB      Redis logical database reserved for the bench, flushed at every server start (11)
#   BENCH_SHARED        the peers' bench directory (default: ../shared/bench beside the repo, else
#                       /work/shared/bench); its wrk/*.lua are used by W1-W3 and its common.lua by ours
#   THREADS CONNS DURATION WARMUP   as run-peers.sh (1, 32, 10s, 3s)
#   DATABASE_POOL_SIZE  passed on to the server when set
#   BENCH_KEEP_SERVICES=1  leave PostgreSQL/Redis running even when this script started them
# Exit status: 0; 1 setup, build or verification failed (nothing timed on wrong answers); 2 some
# workload had non-2xx responses or socket errors; 3 (--strict) a target missed.
set -euo pipefail

# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

THREADS=${THREADS:-1} CONNS=${CONNS:-32} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-3s}
AUTHORS=2000 BOOKS=20000 MAGAZINES=500
BENCH_USER=bench
BENCH_PASSWORD="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
JWT_SECRET_BENCH=$(python3 -c 'import secrets; print(secrets.token_hex(24))')  # 48 bytes

WITH_PEERS=auto PEERS_TSV="" BUILD=1 STRICT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --with-peers) WITH_PEERS=1 ;;
    --no-peers) WITH_PEERS=0 ;;
    --peers-tsv) PEERS_TSV=${2:?--peers-tsv needs a file}; shift ;;
    --peers-tsv=*) PEERS_TSV=${1#*=} ;;
    --no-build) BUILD=0 ;;
    --strict) STRICT=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
  shift
done
[ -z "$PEERS_TSV" ] || [ -f "$PEERS_TSV" ] || { echo "bench/run.sh: no such file: $PEERS_TSV" >&2; exit 1; }
[ -z "$PEERS_TSV" ] || PEERS_TSV=$(cd "$(dirname "$PEERS_TSV")" && pwd)/$(basename "$PEERS_TSV")

LOG=$(mktemp -d /tmp/bookstore-bench.XXXXXX)
START_TS=$(date -u +%Y%m%dT%H%M%SZ)
T0=$SECONDS
exec 3>&2  # the terminal's stderr, also inside steps whose stderr goes to a log (signals, failures)
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&3; }
die() {
  printf '\n[bench] ************************************************************\n[bench] FAILED: %s\n' "$*" >&3
  printf '[bench] logs: %s\n[bench] ************************************************************\n' "$LOG" >&3
  exit 1
}

# ------------------------------------------------------------------ clean-up (also on Ctrl-C / failure)
SERVER_PID="" STARTED_PG="" STARTED_REDIS=0 CHILD=""
# Long steps run in the background and are waited for, so that a signal is handled at once (the
# trap stops them) instead of after the step: run_child CMD... (redirections apply as usual).
run_child() {
  local rc=0
  "$@" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
cleanup() {
  local rc=$?
  if [ -n "$CHILD" ]; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  stop_server
  if [ "${BENCH_KEEP_SERVICES:-0}" != 1 ]; then
    if [ "$STARTED_REDIS" = 1 ]; then
      log "stopping the Redis this run started"; redis-cli -h $REDIS_HOST -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true
    fi
    if [ -n "$STARTED_PG" ]; then
      log "stopping the PostgreSQL cluster this run started ($STARTED_PG)"; pg_ctlcluster $STARTED_PG stop >/dev/null 2>&1 || true
    fi
  fi
  [ "$rc" = 0 ] || log "exit $rc; logs in $LOG"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ------------------------------------------------------------------ tools (apt-get when missing)
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root (or sudo) to run: $*"; fi
}
need=()
for t in wrk:wrk curl:curl psql:postgresql-client redis-cli:redis-tools python3:python3; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if [ "$WITH_PEERS" != 0 ] && [ -z "$PEERS_TSV" ] && ! command -v pgbench >/dev/null; then need+=(postgresql-contrib); fi
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${need[*]} and no apt-get: install them by hand"
  log "installing ${need[*]} with apt-get (wrk: HTTP load generator; postgresql-client: psql; postgresql-contrib: pgbench)"
  as_root apt-get update -qq || die "apt-get update failed: no access to Debian's package mirror?"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null ||
    die "apt-get install ${need[*]} failed: install them by hand and run again"
fi
curl_major_minor=$(curl --version | awk 'NR==1 {split($2, v, "."); print v[1] * 1000 + v[2]}')
[ "$curl_major_minor" -ge 7066 ] || die "curl >= 7.66 is needed (--parallel for the cache prefill)"

# ------------------------------------------------------------------ the peers' bench directory
SHARED=$(find_shared_bench)
[ -n "$SHARED" ] && [ -f "$SHARED/wrk/book-isbn.lua" ] ||
  die "the peers' bench directory (wrk/book-isbn.lua, wrk/common.lua) was not found at ../shared/bench: set BENCH_SHARED=<dir>"
export BENCH_SHARED_WRK=$SHARED/wrk
log "shared bench scripts: $SHARED"

if [ "$WITH_PEERS" = auto ]; then
  if [ -n "$PEERS_TSV" ]; then
    WITH_PEERS=0
  elif [ -f "$SHARED/run-peers.sh" ]; then
    WITH_PEERS=1
    log "the peers run after our workloads ($SHARED/run-peers.sh; --no-peers to skip them)"
  else
    WITH_PEERS=0
    log "no run-peers.sh in $SHARED: our rows only"
  fi
fi
[ "$WITH_PEERS" = 0 ] || [ -z "$PEERS_TSV" ] || die "--with-peers and --peers-tsv exclude each other"

peers_built() {
  [ -x "$SHARED/peers/fastapi/.venv/bin/uvicorn" ] && [ -d "$SHARED/peers/postgraphile/node_modules/postgraphile" ] &&
    [ -x "$SHARED/peers/ceiling-axum/target/release/ceiling-axum" ]
}
if [ "$WITH_PEERS" = 1 ]; then
  [ -x "$SHARED/run-peers.sh" ] || [ -f "$SHARED/run-peers.sh" ] || die "--with-peers: no run-peers.sh in $SHARED"
  if ! peers_built; then
    log "the peers are not built: running setup-peers.sh (pip install, npm ci, cargo build --release of the ceiling,"
    log "  database 'peer' loaded when missing; several minutes, once; log: $LOG/setup-peers.log)"
    ( cd "$SHARED" && bash setup-peers.sh ) > "$LOG/setup-peers.log" 2>&1 ||
      { tail -20 "$LOG/setup-peers.log" >&2; die "setup-peers.sh failed (see above)"; }
  fi
fi

# ------------------------------------------------------------------ services, build, database
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { redis-cli -h $REDIS_HOST -p $REDIS_PORT ping >/dev/null 2>&1; }
pg_was_up=0; pg_up && pg_was_up=1
redis_up || STARTED_REDIS=1
bash scripts/services.sh 2>&1 | sed 's/^/  /' >&2 || die "scripts/services.sh could not start PostgreSQL and Redis"
if [ "$pg_was_up" = 0 ]; then
  STARTED_PG=$(pg_lsclusters --no-header 2>/dev/null | awk '$3 == 5432 {print $1, $2; exit}')
fi

if [ "$BUILD" = 1 ]; then
  log "cargo build --release --bin bookstore (the first build takes several minutes)"
  cargo build --release --bin bookstore 2>&1 | sed -E '/^ +(Compiling|Downloaded|Downloading) /d' >&2 ||
    die "cargo build --release failed"
fi
[ -x "$BIN" ] || die "$BIN does not exist (cargo build --release)"

read -r DB_NAME ADMIN_URL < <(python3 - "$BENCH_DATABASE_URL" <<'EOF'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(u.path.lstrip("/"), urllib.parse.urlunsplit(u._replace(path="/postgres")))
EOF
)
[[ "$DB_NAME" == *bench* ]] || die "BENCH_DATABASE_URL names the database '$DB_NAME': it is dropped every run, so its name must contain 'bench'"
[[ "$DB_NAME" =~ ^[a-z0-9_]+$ ]] || die "database name '$DB_NAME': use [a-z0-9_] only"
log "recreating the database $DB_NAME"
psql "$ADMIN_URL" -XqAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME" \
  > "$LOG/createdb.log" 2>&1 || { cat "$LOG/createdb.log" >&2; die "could not recreate $DB_NAME (the role needs CREATEDB)"; }

log "loading the data set: bookstore seed --authors $AUTHORS --books $BOOKS --magazines $MAGAZINES --reset"
t=$SECONDS
DATABASE_URL=$BENCH_DATABASE_URL RUST_LOG=warn "$BIN" seed --authors $AUTHORS --books $BOOKS --magazines $MAGAZINES --reset \
  > "$LOG/seed.log" 2>&1 < /dev/null || { tail -20 "$LOG/seed.log" >&2; die "bookstore seed failed"; }
counts=$(psql "$BENCH_DATABASE_URL" -XAt -F ' ' -c \
  "select (select count(*) from authors), (select count(*) from books), (select count(*) from book_authors), (select count(*) from magazines)")
[ "$counts" = "$AUTHORS $BOOKS 24000 $MAGAZINES" ] ||
  die "after the seed: authors/books/book_authors/magazines = $counts, expected $AUTHORS $BOOKS 24000 $MAGAZINES"
log "data set loaded in $((SECONDS - t)) s: $counts (authors books book_authors magazines)"

BOOKSTORE_USER_PASSWORD=$BENCH_PASSWORD DATABASE_URL=$BENCH_DATABASE_URL JWT_SECRET=$JWT_SECRET_BENCH RUST_LOG=warn \
  "$BIN" create-user --username $BENCH_USER --email bench@example.com --role editor > "$LOG/create-user.log" 2>&1 < /dev/null ||
  { cat "$LOG/create-user.log" >&2; die "bookstore create-user failed"; }
log "editor '$BENCH_USER' created"

# Write the load's dirty pages out now rather than in a checkpoint during the first timed workload
# (W2 reads PostgreSQL on every request). CHECKPOINT needs a superuser or pg_checkpoint: the bench
# role, else the local postgres account when we are root; skipped (and said) otherwise.
if psql "$BENCH_DATABASE_URL" -XqAt -c CHECKPOINT > /dev/null 2>&1 ||
   { [ "$(id -u)" = 0 ] && command -v su > /dev/null &&
     su postgres -c "psql -XqAt -c CHECKPOINT" > /dev/null 2>&1 < /dev/null; }; then
  log "CHECKPOINT done (the load is on disk before timing)"
else
  log "CHECKPOINT not permitted for this role; the first workload may overlap a checkpoint"
fi

# ------------------------------------------------------------------ the server
PORT="" URL=""
start_server() {  # start_server on|off
  local mode=$1
  SERVER_LOG=$LOG/server-cache-$mode.log
  start_bench_server "$mode" "$SERVER_LOG" "$JWT_SECRET_BENCH"
  log "server up: pid $SERVER_PID, $URL, BOOKSTORE_CACHE=$mode, REDIS_URL=$REDIS_URL"
}

verify() {  # verify on|off [token]
  log "verifying answers against the data set (BOOKSTORE_CACHE=$1${2:+, W5 write path})"
  run_child python3 "$BENCH_DIR/verify.py" "$URL" --cache "$1" --books $BOOKS --authors $AUTHORS ${2:+--token "$2"} \
    > "$LOG/verify-$1.log" 2>&1 || { cat "$LOG/verify-$1.log" >&2; die "wrong answers from the server (BOOKSTORE_CACHE=$1): not timing them"; }
  sed 's/^/  /' "$LOG/verify-$1.log" >&2
}

# ------------------------------------------------------------------ measurement (as run-peers.sh)
tree_pids() { local p=$1 c; echo "$p"; for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do tree_pids "$c"; done; }
reset_hwm() { local p; for p in $(tree_pids "$1"); do echo 5 > "/proc/$p/clear_refs" 2>/dev/null || true; done; }
peak_rss_mib() {
  local p kb=0 v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    kb=$((kb + ${v:-0}))
  done
  awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }'
}
wrk_result() { grep '^WRKRESULT' "$1" | tail -1 | cut -f2-; }

BAD=0
OURS=$LOG/ours.tsv
: > "$OURS"
bench_wrk() {  # bench_wrk WORKLOAD REQUEST SCRIPT NOTES [ENV=VALUE...]
  local wl=$1 req=$2 script=$3 notes=$4 res warm lines0 newlog out rps p50 p99 non2xx errs tmo total; shift 4
  reset_hwm "$SERVER_PID"
  lines0=$(wc -l < "$SERVER_LOG")
  run_child env "$@" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$script" "$URL" > "$LOG/$wl.warm.txt" 2>&1
  warm=$(wrk_result "$LOG/$wl.warm.txt")
  [ -n "$warm" ] || { cat "$LOG/$wl.warm.txt" >&2; die "wrk gave no result in the $wl warm-up"; }
  run_child env "$@" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$script" "$URL" > "$LOG/$wl.txt" 2>&1
  res=$(wrk_result "$LOG/$wl.txt")
  [ -n "$res" ] || { cat "$LOG/$wl.txt" >&2; die "wrk gave no result for $wl"; }
  IFS=$'\t' read -r rps p50 p99 non2xx errs tmo total <<< "$res"
  RSS=$(peak_rss_mib "$SERVER_PID")
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$SERVER_LOG" >&2; die "the server died during $wl"; }
  IFS=$'\t' read -r _ _ _ wnon2xx werrs _ _ <<< "$warm"
  if [ "$wnon2xx" != 0 ] || [ "$werrs" != 0 ]; then
    notes="$notes; warm-up: $wnon2xx non-2xx, $werrs socket errors"
  fi
  newlog=$(tail -n +"$((lines0 + 1))" "$SERVER_LOG" | grep -cE 'WARN|ERROR' || true)
  if [ "$newlog" != 0 ]; then
    tail -n +"$((lines0 + 1))" "$SERVER_LOG" | grep -E 'WARN|ERROR' > "$LOG/$wl.server-warnings.txt" || true
    log "the server logged $newlog warnings/errors during $wl (first 5; all in $LOG/$wl.server-warnings.txt):"
    head -5 "$LOG/$wl.server-warnings.txt" | cut -c1-400 >&2
    notes="$notes; server logged $newlog WARN/ERROR lines"
  fi
  [ -z "${AFTER_NOTES:-}" ] || notes="$notes; $($AFTER_NOTES "$LOG/$wl.txt")"
  out=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$wl" bookstore "$req" "$rps" "$p50" "$p99" "$non2xx" "$errs" "$tmo" \
        "$RSS" "wrk -t$THREADS -c$CONNS -d$DURATION; $total requests; $notes")
  printf '%s\n' "$out" >> "$OURS"
  log "$out"
  if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then
    log "WARNING: $wl had $non2xx non-2xx responses and $errs socket errors (details: $LOG/$wl.txt, $SERVER_LOG)"
    BAD=1
  fi
  [ "$tmo" = 0 ] || log "note: $wl had $tmo requests unanswered within 2 s (wrk time-outs; not in p50/p99)"
}

redis_keys() { redis-cli -h $REDIS_HOST -p $REDIS_PORT -n "$BENCH_REDIS_DB" dbsize; }
cache_left() { echo "$(redis_keys) keys in Redis db $BENCH_REDIS_DB after the run"; }
mix_notes() {  # the MIXRESULT / MIXSTATUS lines of write-mix.lua
  awk -F'\t' '/^MIXRESULT/ { printf "%d GET + %d PUT sent", $2, $3 }
              /^MIXSTATUS/ { printf ", %s x %s (first body: %s)", $2, $3, substr($4, 1, 200) }' "$1"
}

# --- BOOKSTORE_CACHE=off: W2
start_server off
verify off
bench_wrk W2 "GET /v1/book/{isbn}" "$SHARED/wrk/book-isbn.lua" "BOOKSTORE_CACHE=off: every read from PostgreSQL"
stop_server

# --- BOOKSTORE_CACHE=on: W1 W3 W4 W5
start_server on
TOKEN=$(curl -fsS --max-time 10 -X POST "$URL/v1/token" --data-urlencode grant_type=password \
  --data-urlencode "username=$BENCH_USER" --data-urlencode "password=$BENCH_PASSWORD" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') || die "POST /v1/token for '$BENCH_USER' failed"
log "editor token from POST /v1/token"
verify on "$TOKEN"

log "W5 check: 1 s of PUTs only (write-mix.lua, 1 connection): every one must be a 2xx"
run_child env BENCH_TOKEN="$TOKEN" BENCH_AUTHORS=$AUTHORS BENCH_WRITE_SHARE=1 \
  wrk -t1 -c1 -d1s -s "$BENCH_DIR/wrk/write-mix.lua" "$URL" > "$LOG/W5.check.txt" 2>&1
res=$(wrk_result "$LOG/W5.check.txt")
[ -n "$res" ] || { cat "$LOG/W5.check.txt" >&2; die "wrk gave no result in the W5 PUT check"; }
IFS=$'\t' read -r _ _ _ cnon2xx cerrs _ ctotal <<< "$res"
[ "$cnon2xx" = 0 ] && [ "$cerrs" = 0 ] && [ "${ctotal:-0}" -gt 0 ] ||
  { cat "$LOG/W5.check.txt" >&2; die "the W5 PUT requests are refused ($cnon2xx non-2xx, $cerrs errors of ${ctotal:-?}): not timing them"; }
log "  $ctotal PUTs, all 2xx"

log "cache prefill: GET every one of the $BOOKS books once (curl --parallel 32)"
python3 - "$LOG/prefill.curl" "$URL" "$BOOKS" <<'EOF'
import sys
sys.path.insert(0, "bench")
import dataset
with open(sys.argv[1], "w") as f:
    for n in range(1, int(sys.argv[3]) + 1):
        f.write(f'url = "{sys.argv[2]}/v1/book/{dataset.isbn13(n)}"\noutput = "/dev/null"\n')
EOF
ok=$(curl -s --no-progress-meter --parallel --parallel-max 32 -w '%{http_code}\n' -K "$LOG/prefill.curl" | grep -c '^200$' || true)
cached=$(redis_keys)
sample_status=$(curl -sS -o /dev/null -D - "$URL/v1/book/9780000000422" | awk -F': ' 'tolower($1) == "cache-status" {gsub("\r", "", $2); print $2}' || true)
log "  $ok x 200; $cached keys in Redis db $BENCH_REDIS_DB; Cache-Status of a prefetched book: ${sample_status:-<none>}"
[ "$ok" = "$BOOKS" ] || die "cache prefill: only $ok of $BOOKS GETs were 200"
if [ "$cached" -lt "$BOOKS" ]; then
  log "WARNING: fewer than $BOOKS keys in Redis after the prefill: the server did not cache every book, so W1 is NOT a warm-cache run"
fi
AFTER_NOTES=cache_left bench_wrk W1 "GET /v1/book/{isbn}" "$SHARED/wrk/book-isbn.lua" \
  "BOOKSTORE_CACHE=on, Redis: every book fetched once before ($cached keys; Cache-Status ${sample_status:-none})"
bench_wrk W3 "GET /v1/books?category=&limit=20" "$SHARED/wrk/books-category.lua" "random of 8 categories; cache on (list pages cached in process, generation-invalidated)"
bench_wrk W4 "POST /graphql authors(50){books(10)}" "$BENCH_DIR/wrk/graphql-authors.lua" "nested: authors(first: 50){nodes{books(first: 10)}}"
AFTER_NOTES=mix_notes bench_wrk W5 "90% GET /v1/book/{isbn}, 10% PUT" "$BENCH_DIR/wrk/write-mix.lua" \
  "cache on; PUT = full replacement with a new stock, editor bearer token" \
  BENCH_TOKEN="$TOKEN" BENCH_AUTHORS=$AUTHORS BENCH_WRITE_SHARE=0.1
stop_server
log "our workloads done in $((SECONDS - T0)) s"

# ------------------------------------------------------------------ peers, report
PEERS_ARG=()
if [ "$WITH_PEERS" = 1 ]; then
  log "running the peers: bash $SHARED/run-peers.sh (~2.5 min)"
  rc=0
  run_child bash "$SHARED/run-peers.sh" > "$LOG/peers.tsv" 2> >(sed 's/^/  [peers] /' >&2) || rc=$?
  case $rc in
    0) PEERS_ARG=(--peers "$LOG/peers.tsv") ;;
    2) log "WARNING: some peer run had non-2xx or socket errors (see its rows)"; PEERS_ARG=(--peers "$LOG/peers.tsv") ;;
    *)
      if [ -f "$SHARED/peers-baseline.tsv" ]; then
        log "WARNING: run-peers.sh failed (exit $rc; its output: $LOG/peers.tsv): the ratios below use the stored $SHARED/peers-baseline.tsv, marked in the notes"
        PEERS_ARG=(--peers "$SHARED/peers-baseline.tsv" --peers-note "stored peers-baseline.tsv: run-peers.sh failed in this run")
      else
        log "WARNING: run-peers.sh failed (exit $rc): no peer rows, no ratios"
      fi
      ;;
  esac
elif [ -n "$PEERS_TSV" ]; then
  log "peer rows from $PEERS_TSV (not measured in this run)"
  PEERS_ARG=(--peers "$PEERS_TSV" --peers-note "from $(basename "$PEERS_TSV"), not measured in this run")
fi

mkdir -p "$BENCH_DIR/results"
RESULT=$BENCH_DIR/results/$START_TS.tsv
rc=0
python3 "$BENCH_DIR/report.py" "$OURS" "${PEERS_ARG[@]}" --out "$RESULT" --targets-out "${RESULT%.tsv}.targets.tsv" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || die "report.py failed"
log "written: ${RESULT#"$REPO"/} (+ .targets.tsv beside it); logs: $LOG; total $((SECONDS - T0)) s"
[ "$BAD" = 0 ] || { log "some workloads had non-2xx responses or socket errors (see the table and $LOG)"; exit 2; }
[ "$STRICT" = 0 ] || [ "$rc" = 0 ] || { log "--strict: a target was missed"; exit 3; }
exit 0
