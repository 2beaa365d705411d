#!/usr/bin/env bash
# Installs (when missing) and starts the services the server and its tests need:
# PostgreSQL 15 and Redis from Debian's packages. Safe to run any number of times.
#
# Environment:
#   BOOKSTORE_DB_USER / BOOKSTORE_DB_PASSWORD   role created for the server (default bookstore/bookstore)
#   BOOKSTORE_DB_NAME                           database created for `make run` (default bookstore)
#   SKIP_REDIS=1                                 do not install/start Redis
set -euo pipefail

DB_USER=${BOOKSTORE_DB_USER:-bookstore}
DB_PASSWORD=${BOOKSTORE_DB_PASSWORD:-bookstore}
DB_NAME=${BOOKSTORE_DB_NAME:-bookstore}
PG_PORT=${BOOKSTORE_PG_PORT:-5432}
REDIS_PORT=${BOOKSTORE_REDIS_PORT:-6379}

say() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (run as root or install sudo)"; fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand (PostgreSQL 15, redis-server, libpq-dev)"
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    as_root apt-get update -qq || die "apt-get update failed: check the network access to Debian's package mirror"
    APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed; install it by hand and run this again"
}

# --- PostgreSQL -------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql postgresql-contrib
fi
if ! command -v pg_isready >/dev/null; then apt_install postgresql-client; fi

cluster_line=$(pg_lsclusters --no-header 2>/dev/null | awk -v p="$PG_PORT" '$3==p {print; exit}')
if [ -z "$cluster_line" ]; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
  say "creating PostgreSQL $ver cluster 'main' on port $PG_PORT"
  as_root pg_createcluster "$ver" main --port "$PG_PORT" >/dev/null || die "pg_createcluster failed"
  cluster_line=$(pg_lsclusters --no-header | awk -v p="$PG_PORT" '$3==p {print; exit}')
fi
read -r PG_VER PG_CLUSTER _ PG_STATUS _ <<<"$cluster_line"
if [ "$PG_STATUS" != "online" ]; then
  say "starting PostgreSQL $PG_VER/$PG_CLUSTER"
  as_root pg_ctlcluster "$PG_VER" "$PG_CLUSTER" start \
    || die "could not start PostgreSQL; see /var/log/postgresql/postgresql-$PG_VER-$PG_CLUSTER.log"
fi
for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.5; done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL does not answer on 127.0.0.1:$PG_PORT"

psql_su() { as_root su postgres -c "psql -p $PG_PORT -v ON_ERROR_STOP=1 -qAtX $*"; }
if [ "$(psql_su "-c \"SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'\"")" != "1" ]; then
  say "creating role $DB_USER"
  psql_su "-c \"CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'\"" || die "could not create role $DB_USER"
fi
if [ "$(psql_su "-c \"SELECT 1 FROM pg_database WHERE datname='$DB_NAME'\"")" != "1" ]; then
  say "creating database $DB_NAME"
  psql_su "-c \"CREATE DATABASE $DB_NAME OWNER $DB_USER\"" || die "could not create database $DB_NAME"
fi

# --- Redis ------------------------------------------------------------------
if [ "${SKIP_REDIS:-0}" != 1 ]; then
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    say "starting redis-server on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --logfile /tmp/bookstore-redis-$REDIS_PORT.log >/dev/null || die "could not start redis-server"
    for _ in $(seq 1 40); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.25; done
  fi
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || die "Redis does not answer on 127.0.0.1:$REDIS_PORT"
fi

say "ready: postgres://$DB_USER:***@127.0.0.1:$PG_PORT/$DB_NAME${SKIP_REDIS:+}; redis://127.0.0.1:$REDIS_PORT"
