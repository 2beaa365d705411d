#!/usr/bin/env bash
# The scale-out topology on one machine, without Docker: a PostgreSQL 15 primary, one streaming
# hot standby made with pg_basebackup (a second cluster on another port), PgBouncer in
# transaction mode in front of the primary, a Redis of its own, and three API replicas behind
# nginx (started by scripts/cluster.sh) with
#   DATABASE_URL=<PgBouncer>  DATABASE_STATEMENT_CACHE=off  DATABASE_REPLICA_URLS=<standby>
#   DATABASE_LISTEN_URL=<primary, direct: PgBouncer in transaction mode cannot carry LISTEN>
#
#   scripts/rehearsal.sh up       make and start everything (fresh clusters), wait until healthy
#   scripts/rehearsal.sh status   each part, the standby's replay position, /readyz of api1
#   scripts/rehearsal.sh down     stop everything and delete the clusters
#   scripts/rehearsal.sh pause-replay | resume-replay   on the standby (to see read-your-writes)
#   scripts/rehearsal.sh env      the URLs, as shell assignments
#
# Environment (all optional):
#   REHEARSAL_DIR             state, data, logs                       (/tmp/bookstore-rehearsal)
#   REHEARSAL_PRIMARY_PORT, REHEARSAL_STANDBY_PORT, REHEARSAL_PGBOUNCER_PORT, REHEARSAL_REDIS_PORT
#                             (55432, 55433, 56432, 56379)
#   REHEARSAL_API_PORTS       ("3101 3102 3103")
#   REHEARSAL_HTTPS_PORT / REHEARSAL_HTTP_PORT   nginx             (8543 / 8180)
#   REHEARSAL_PROFILE         cargo profile for scripts/cluster.sh  (dev)
#   BOOKSTORE_BIN             a built binary (else scripts/cluster.sh builds one)
#   PG_BINDIR                 PostgreSQL 15 server programs         (/usr/lib/postgresql/15/bin)
# Runs PostgreSQL and PgBouncer as the `postgres` user when started as root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

STATE=${REHEARSAL_DIR:-/tmp/bookstore-rehearsal}
PRIMARY_PORT=${REHEARSAL_PRIMARY_PORT:-55432}
STANDBY_PORT=${REHEARSAL_STANDBY_PORT:-55433}
BOUNCER_PORT=${REHEARSAL_PGBOUNCER_PORT:-56432}
REDIS_PORT=${REHEARSAL_REDIS_PORT:-56379}
API_PORTS=${REHEARSAL_API_PORTS:-3101 3102 3103}
HTTPS_PORT=${REHEARSAL_HTTPS_PORT:-8543}
HTTP_PORT=${REHEARSAL_HTTP_PORT:-8180}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

PRIMARY_URL=postgres://bookstore:bookstore@127.0.0.1:$PRIMARY_PORT/bookstore
STANDBY_URL=postgres://bookstore:bookstore@127.0.0.1:$STANDBY_PORT/bookstore
BOUNCER_URL=postgres://bookstore:bookstore@127.0.0.1:$BOUNCER_PORT/bookstore
REDIS_URL_R=redis://127.0.0.1:$REDIS_PORT

say() { printf '[rehearsal] %s\n' "$*" >&2; }
die() { printf '[rehearsal] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
own() { if is_root; then chown -R postgres:postgres "$@"; fi; }

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  is_root || die "need root to install $*"
  say "installing $* (apt)"
  apt-get update -qq || die "apt-get update failed"
  # RUNLEVEL=1: do not start the packaged services; this script runs its own.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed"
}

pgbouncer_bin() { command -v pgbouncer || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; }; }

psql_su() { # port sql
  "$PG_BINDIR/psql" -X -q -t -A -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

wait_pg() { # port
  for _ in $(seq 1 100); do
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$1" && return 0
    sleep 0.1
  done
  return 1
}

cluster_env() {
  export CLUSTER_DIR=$STATE/cluster
  export CLUSTER_API_PORTS=$API_PORTS
  export CLUSTER_HTTPS_PORT=$HTTPS_PORT CLUSTER_HTTP_PORT=$HTTP_PORT
  export CLUSTER_SKIP_SERVICES=1
  export CLUSTER_PROFILE=${REHEARSAL_PROFILE:-dev}
  export CLUSTER_MIGRATE_URL=$PRIMARY_URL
  export DATABASE_URL=$BOUNCER_URL
  export DATABASE_LISTEN_URL=$PRIMARY_URL
  export DATABASE_REPLICA_URLS=$STANDBY_URL
  export DATABASE_STATEMENT_CACHE=off
  export REDIS_URL=$REDIS_URL_R
}

up() {
  if [ -f "$STATE/primary/postmaster.pid" ] || [ -f "$STATE/pgbouncer.pid" ]; then
    say "already (partly) up; run '$0 down' first"
    status || true
    return 0
  fi
  [ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL server programs not found in $PG_BINDIR (set PG_BINDIR)"
  [ -n "$(pgbouncer_bin)" ] || apt_install pgbouncer
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$STATE"
  own "$STATE"

  say "primary: initdb, 127.0.0.1:$PRIMARY_PORT"
  as_pg "$PG_BINDIR/initdb" -D "$STATE/primary" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$STATE/initdb.log" 2>&1 \
    || die "initdb failed; see $STATE/initdb.log"
  cat >>"$STATE/primary/postgresql.conf" <<EOF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$STATE'
max_connections = 200
wal_level = replica
max_wal_senders = 4
hot_standby = on
timezone = 'UTC'
EOF
  as_pg "$PG_BINDIR/pg_ctl" -D "$STATE/primary" -l "$STATE/primary.log" -w start >/dev/null \
    || die "the primary did not start; see $STATE/primary.log"
  psql_su "$PRIMARY_PORT" "CREATE ROLE bookstore LOGIN PASSWORD 'bookstore'"
  # Behind PgBouncer a session SET reaches one server connection only: the role carries them.
  psql_su "$PRIMARY_PORT" "ALTER ROLE bookstore SET statement_timeout = '5s'"
  psql_su "$PRIMARY_PORT" "CREATE DATABASE bookstore OWNER bookstore"

  say "standby: pg_basebackup -R, 127.0.0.1:$STANDBY_PORT"
  as_pg "$PG_BINDIR/pg_basebackup" -D "$STATE/standby" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
    -R -X stream -c fast --no-sync || die "pg_basebackup failed"
  printf "port = %s\nhot_standby = on\n" "$STANDBY_PORT" >>"$STATE/standby/postgresql.conf"
  as_pg "$PG_BINDIR/pg_ctl" -D "$STATE/standby" -l "$STATE/standby.log" -w start >/dev/null \
    || die "the standby did not start; see $STATE/standby.log"
  [ "$(psql_su "$STANDBY_PORT" "SELECT pg_is_in_recovery()")" = t ] || die "the standby is not in recovery"

  say "pgbouncer: transaction mode, 127.0.0.1:$BOUNCER_PORT"
  cat >"$STATE/pgbouncer.ini" <<EOF
[databases]
bookstore = host=127.0.0.1 port=$PRIMARY_PORT dbname=bookstore

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $STATE/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,statement_timeout
pidfile = $STATE/pgbouncer.pid
logfile = $STATE/pgbouncer.log
EOF
  echo '"bookstore" "bookstore"' >"$STATE/userlist.txt"
  own "$STATE"
  as_pg "$(pgbouncer_bin)" -d "$STATE/pgbouncer.ini" || die "pgbouncer did not start; see $STATE/pgbouncer.log"
  wait_pg "$BOUNCER_PORT" || die "pgbouncer does not answer; see $STATE/pgbouncer.log"

  say "redis: 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" >/dev/null || die "redis did not start"

  say "API replicas and nginx (scripts/cluster.sh)"
  cluster_env
  bash "$ROOT/scripts/cluster.sh" up
  say "up: https://localhost:$HTTPS_PORT (trust $STATE/cluster/ca.crt), standby $STANDBY_URL"
}

status() {
  local ok=0
  if wait_pg "$PRIMARY_PORT"; then echo "primary   127.0.0.1:$PRIMARY_PORT  up, position $(psql_su "$PRIMARY_PORT" "SELECT pg_current_wal_lsn()")"; else echo "primary   down"; ok=1; fi
  if wait_pg "$STANDBY_PORT"; then
    echo "standby   127.0.0.1:$STANDBY_PORT  up, $(psql_su "$STANDBY_PORT" "SELECT 'in recovery: ' || pg_is_in_recovery() || ', replayed ' || pg_last_wal_replay_lsn() || ', replay paused: ' || pg_is_wal_replay_paused()")"
  else echo "standby   down"; ok=1; fi
  if "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$BOUNCER_PORT"; then echo "pgbouncer 127.0.0.1:$BOUNCER_PORT  up"; else echo "pgbouncer down"; ok=1; fi
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then echo "redis     127.0.0.1:$REDIS_PORT  up"; else echo "redis     down"; ok=1; fi
  cluster_env
  bash "$ROOT/scripts/cluster.sh" status || ok=1
  local first=${API_PORTS%% *}
  echo "readyz of 127.0.0.1:$first:"
  curl -sS --max-time 3 "http://127.0.0.1:$first/readyz" || ok=1
  echo
  return $ok
}

down() {
  cluster_env
  bash "$ROOT/scripts/cluster.sh" down || true
  if [ -f "$STATE/pgbouncer.pid" ]; then
    say "pgbouncer: stop"
    kill -TERM "$(cat "$STATE/pgbouncer.pid")" 2>/dev/null || true
    rm -f "$STATE/pgbouncer.pid"
  fi
  if [ -f "$STATE/redis.pid" ]; then
    say "redis: stop"
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$(cat "$STATE/redis.pid")" 2>/dev/null || true
    rm -f "$STATE/redis.pid"
  fi
  local c
  for c in standby primary; do
    if [ -f "$STATE/$c/postmaster.pid" ]; then
      say "$c: stop"
      as_pg "$PG_BINDIR/pg_ctl" -D "$STATE/$c" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$STATE/primary" "$STATE/standby"
  say "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  pause-replay) psql_su "$STANDBY_PORT" "SELECT pg_wal_replay_pause()" >/dev/null && say "standby replay paused" ;;
  resume-replay) psql_su "$STANDBY_PORT" "SELECT pg_wal_replay_resume()" >/dev/null && say "standby replay resumed" ;;
  env)
    printf 'PRIMARY_URL=%s\nSTANDBY_URL=%s\nPGBOUNCER_URL=%s\nREDIS_URL=%s\nHTTPS=https://localhost:%s\nCA=%s\n' \
      "$PRIMARY_URL" "$STANDBY_URL" "$BOUNCER_URL" "$REDIS_URL_R" "$HTTPS_PORT" "$STATE/cluster/ca.crt" ;;
  *) echo "usage: $0 up|status|down|pause-replay|resume-replay|env" >&2; exit 2 ;;
esac
