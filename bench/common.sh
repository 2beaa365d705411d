# Sourced by bench/run.sh and bench/profile.sh: the paths, the bench database and Redis, the
# peers' bench directory, and starting the server under test. The caller defines die and log.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$REPO/bench
cd "$REPO"
export PYTHONDONTWRITEBYTECODE=1
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) export PATH="$CARGO_BIN:$PATH" ;; esac

BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-postgres://bookstore:bookstore@127.0.0.1:5432/bookstore_bench}
BENCH_REDIS_DB=${BENCH_REDIS_DB:-11}
REDIS_HOST=127.0.0.1 REDIS_PORT=6379
REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/$BENCH_REDIS_DB"
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/bookstore

# The peers' bench directory: $BENCH_SHARED, else ../shared/bench beside the repository, else
# /work/shared/bench; empty when none holds wrk/common.lua.
find_shared_bench() {
  local d
  for d in ${BENCH_SHARED:-} "$REPO/../shared/bench" /work/shared/bench; do
    [ -f "$d/wrk/common.lua" ] && { (cd "$d" && pwd); return 0; }
  done
  return 0
}

# start_bench_server MODE LOG JWT_SECRET [WRAPPER...]: the release binary on a free loopback port,
# configured as deployed (BOOKSTORE_ENV=production) but without rate limits, BOOKSTORE_CACHE=MODE,
# the bench's Redis database flushed first; DATABASE_POOL_SIZE is passed on when set. Sets PORT,
# URL and SERVER_PID, and returns once GET /readyz answers (at most 120 s).
start_bench_server() {
  local mode=$1 logfile=$2 jwt=$3 extra=()
  shift 3
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  URL=http://127.0.0.1:$PORT
  redis-cli -h $REDIS_HOST -p $REDIS_PORT -n "$BENCH_REDIS_DB" flushdb >/dev/null || die "redis-cli flushdb failed"
  [ -z "${DATABASE_POOL_SIZE:-}" ] || extra+=("DATABASE_POOL_SIZE=$DATABASE_POOL_SIZE")
  env -i PATH="$PATH" HOME="$HOME" DATABASE_URL="$BENCH_DATABASE_URL" REDIS_URL="$REDIS_URL" \
    BOOKSTORE_ADDR="127.0.0.1:$PORT" BOOKSTORE_CACHE="$mode" BOOKSTORE_RATE_LIMIT=off RUST_LOG=warn \
    BOOKSTORE_ENV=production JWT_SECRET="$jwt" "${extra[@]}" "$@" "$BIN" serve > "$logfile" 2>&1 < /dev/null &
  SERVER_PID=$!
  for _ in $(seq 600); do
    curl -fsS -o /dev/null --max-time 5 "$URL/readyz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$logfile" >&2; die "the server exited at start-up"; }
    sleep 0.2
  done
  tail -20 "$logfile" >&2
  die "the server did not become ready (GET /readyz) in 120 s"
}
