#!/usr/bin/env bash
# The 3-replica topology of docker/compose.yml without Docker: three `bookstore` processes on
# loopback ports behind Debian's nginx, configured from docker/nginx.conf (only ports, paths and
# the nginx version's HTTP/2 syntax are changed), with a self-signed certificate made on the fly.
#
#   scripts/cluster.sh up       build (unless BOOKSTORE_BIN is given), migrate, start, wait until healthy
#   scripts/cluster.sh status   what runs, and whether it answers
#   scripts/cluster.sh down     SIGTERM to the replicas (graceful), nginx quits
#
# Then: https://localhost:8443 (trust $CLUSTER_DIR/ca.crt, or curl -k), http://localhost:8080
# redirects there. The start-up admin is `admin`, its password in $CLUSTER_DIR/admin-password.
#
# Environment (all optional):
#   CLUSTER_DIR          state: pids, logs, certificates, nginx.conf, secrets  (/tmp/bookstore-cluster)
#   CLUSTER_API_PORTS    the replicas' ports                                    ("3001 3002 3003")
#   CLUSTER_HTTPS_PORT / CLUSTER_HTTP_PORT   nginx's ports                      (8443 / 8080)
#   CLUSTER_PROFILE      cargo profile to build: release or dev                 (release)
#   CLUSTER_LIMITS=off   no rate limits in nginx nor in the replicas (load tests)
#   BOOKSTORE_BIN        a built binary to use instead of building
#   DATABASE_URL, REDIS_URL   (postgres://bookstore:bookstore@127.0.0.1:5432/bookstore_cluster, made
#                        when missing; redis://127.0.0.1:6379)
#   JWT_SECRET, BOOKSTORE_ADMIN_PASSWORD   (generated once and kept in CLUSTER_DIR)
#   CLUSTER_SKIP_SERVICES=1   do not run scripts/services.sh (PostgreSQL and Redis are up already)
#   CLUSTER_MIGRATE_URL  where `migrate` runs, when DATABASE_URL is a PgBouncer in transaction mode
#                        (the migration lock is a session lock)                 (DATABASE_URL)
# Other BOOKSTORE_* variables are passed to the replicas as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

STATE=${CLUSTER_DIR:-/tmp/bookstore-cluster}
read -r -a API_PORTS <<<"${CLUSTER_API_PORTS:-3001 3002 3003}"
HTTPS_PORT=${CLUSTER_HTTPS_PORT:-8443}
HTTP_PORT=${CLUSTER_HTTP_PORT:-8080}
PROFILE=${CLUSTER_PROFILE:-release}
LIMITS=${CLUSTER_LIMITS:-on}
# Its own database by default (created when missing), apart from `make run`'s `bookstore`.
DEFAULT_DB_SERVER=postgres://bookstore:bookstore@127.0.0.1:5432
export DATABASE_URL=${DATABASE_URL:-$DEFAULT_DB_SERVER/bookstore_cluster}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}

say() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  say "installing $* (apt)"
  as_root apt-get update -qq || die "apt-get update failed"
  # RUNLEVEL=1: do not start the packaged nginx service; this script runs its own.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# `version_ge A B`: is version A >= B?
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

nginx_conf() {
  local version user_line listen_https http2_line
  version=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
  if version_ge "$version" 1.25.1; then
    listen_https="listen 127.0.0.1:$HTTPS_PORT ssl default_server;"
    http2_line="http2 on;"
  else
    # nginx before 1.25.1 has no `http2 on;`: HTTP/2 is a flag of `listen`.
    listen_https="listen 127.0.0.1:$HTTPS_PORT ssl http2 default_server;"
    http2_line=""
  fi
  if [ "$(id -u)" -eq 0 ]; then user_line="user www-data;"; else user_line=""; fi
  mkdir -p "$STATE/nginx-tmp"
  local upstreams="" port
  for port in "${API_PORTS[@]}"; do
    [ -n "$upstreams" ] && upstreams+="\\n"
    upstreams+="        server 127.0.0.1:$port max_fails=3 fail_timeout=10s;"
  done
  sed -e "s|^user nginx;|$user_line|" \
      -e "s|^pid .*;|pid $STATE/nginx.pid;|" \
      -e "s|access_log /dev/stdout main;|access_log $STATE/nginx-access.log main;|" \
      -e "s|error_log /dev/stderr warn;|error_log $STATE/nginx-error.log warn;|" \
      -e "/^http {/a\\    client_body_temp_path $STATE/nginx-tmp/body;\\n    proxy_temp_path $STATE/nginx-tmp/proxy;\\n    fastcgi_temp_path $STATE/nginx-tmp/fastcgi;\\n    uwsgi_temp_path $STATE/nginx-tmp/uwsgi;\\n    scgi_temp_path $STATE/nginx-tmp/scgi;" \
      -e "/server api1:3000/i\\$upstreams" \
      -e "/server api[0-9]:3000/d" \
      -e "s|listen 8080 default_server;|listen 127.0.0.1:$HTTP_PORT default_server;|" \
      -e "/listen \[::\]:/d" \
      -e "s|listen 8443 ssl default_server;|$listen_https|" \
      -e "${http2_line:+s|^\( *\)http2 on;|\1$http2_line|}${http2_line:-/^ *http2 on;/d}" \
      -e "s|https://\$host:8443\$request_uri|https://\$host:$HTTPS_PORT\$request_uri|" \
      -e "s|/etc/nginx/certs/server.crt|$STATE/server.crt|" \
      -e "s|/etc/nginx/certs/server.key|$STATE/server.key|" \
      "$ROOT/docker/nginx.conf" >"$STATE/nginx.conf.new"
  if [ "$LIMITS" = off ]; then
    sed -i -e "/^ *limit_req zone=/d" -e "/^ *limit_conn perip/d" "$STATE/nginx.conf.new"
  fi
  mv "$STATE/nginx.conf.new" "$STATE/nginx.conf"
}

nginx_cmd() { nginx -c "$STATE/nginx.conf" -p "$STATE/" -e "$STATE/nginx-error.log" "$@"; }

wait_http() { # url what [curl options...]
  local url=$1 what=$2; shift 2
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

secret() { # file generator: the content of file, made once
  local file=$1
  if [ ! -s "$file" ]; then (umask 077; openssl rand -hex "$2" >"$file"); fi
  cat "$file"
}

up() {
  mkdir -p "$STATE"
  local running=0 i
  for i in "${!API_PORTS[@]}"; do alive "$STATE/api$((i + 1)).pid" && running=1; done
  alive "$STATE/nginx.pid" && running=1
  if [ "$running" = 1 ]; then
    say "already (partly) up; run '$0 down' first"
    status
    return 0
  fi
  command -v nginx >/dev/null || apt_install nginx
  command -v openssl >/dev/null || apt_install openssl
  command -v curl >/dev/null || apt_install curl
  if [ "${CLUSTER_SKIP_SERVICES:-0}" != 1 ]; then bash "$ROOT/scripts/services.sh"; fi

  local bin=${BOOKSTORE_BIN:-}
  if [ -z "$bin" ]; then
    say "building ($PROFILE)"
    cargo build --profile "$PROFILE" --bin bookstore >&2
    if [ "$PROFILE" = dev ]; then bin=$ROOT/target/debug/bookstore; else bin=$ROOT/target/$PROFILE/bookstore; fi
  fi
  [ -x "$bin" ] || die "no binary at $bin"

  if [ ! -s "$STATE/ca.crt" ] || [ ! -s "$STATE/server.crt" ] || [ ! -s "$STATE/server.key" ]; then
    # A throw-away CA and a server certificate it signs: clients trust ca.crt. (A lone self-signed
    # certificate works with curl -k but not with strict verifiers such as rustls/webpki, which
    # refuse a CA certificate used as the server's own.)
    say "making a throw-away CA and a certificate for localhost / 127.0.0.1"
    (
      umask 077
      openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=bookstore cluster CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        -keyout "$STATE/ca.key" -out "$STATE/ca.crt" 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
        -keyout "$STATE/server.key" -out "$STATE/server.csr" 2>/dev/null
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$STATE/server.ext"
      openssl x509 -req -in "$STATE/server.csr" -CA "$STATE/ca.crt" -CAkey "$STATE/ca.key" \
        -CAcreateserial -days 30 -extfile "$STATE/server.ext" -out "$STATE/server.crt" 2>/dev/null
    ) || die "openssl could not make the certificates"
    chmod 644 "$STATE/ca.crt" "$STATE/server.crt"
  fi
  local jwt admin_password
  jwt=${JWT_SECRET:-$(secret "$STATE/jwt-secret" 32)}
  admin_password=${BOOKSTORE_ADMIN_PASSWORD:-$(secret "$STATE/admin-password" 12)}

  if [ "$DATABASE_URL" = "$DEFAULT_DB_SERVER/bookstore_cluster" ]; then
    if [ "$(psql "$DEFAULT_DB_SERVER/postgres" -qAtX -c "SELECT 1 FROM pg_database WHERE datname = 'bookstore_cluster'")" != 1 ]; then
      say "creating database bookstore_cluster"
      psql "$DEFAULT_DB_SERVER/postgres" -qX -c "CREATE DATABASE bookstore_cluster" >/dev/null \
        || die "could not create database bookstore_cluster"
    fi
  fi
  say "migrating $(printf '%s' "${CLUSTER_MIGRATE_URL:-$DATABASE_URL}" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#')"
  DATABASE_URL=${CLUSTER_MIGRATE_URL:-$DATABASE_URL} "$bin" migrate >&2

  for i in "${!API_PORTS[@]}"; do
    local n=$((i + 1)) port=${API_PORTS[$i]} admin_env=()
    # Only the first replica creates the start-up admin, as in compose.yml.
    if [ "$n" = 1 ]; then
      admin_env=(BOOKSTORE_ADMIN_USERNAME="${BOOKSTORE_ADMIN_USERNAME:-admin}" BOOKSTORE_ADMIN_PASSWORD="$admin_password")
    else
      admin_env=(BOOKSTORE_ADMIN_USERNAME= BOOKSTORE_ADMIN_PASSWORD=)
    fi
    local limit_env=()
    [ "$LIMITS" = off ] && limit_env=(BOOKSTORE_RATE_LIMIT=off)
    env BOOKSTORE_ENV="${BOOKSTORE_ENV:-production}" \
        BOOKSTORE_ADDR="127.0.0.1:$port" \
        BOOKSTORE_MIGRATE=off \
        BOOKSTORE_TRUSTED_PROXIES=127.0.0.1 \
        JWT_SECRET="$jwt" \
        "${admin_env[@]}" "${limit_env[@]}" \
        nohup "$bin" serve >"$STATE/api$n.log" 2>&1 </dev/null &
    echo $! >"$STATE/api$n.pid"
    say "api$n: pid $! on 127.0.0.1:$port (log $STATE/api$n.log)"
  done
  for i in "${!API_PORTS[@]}"; do
    wait_http "http://127.0.0.1:${API_PORTS[$i]}/healthz" "api$((i + 1))" \
      || die "api$((i + 1)) did not come up; see $STATE/api$((i + 1)).log"
  done

  nginx_conf
  nginx_cmd -t -q || die "nginx rejected $STATE/nginx.conf"
  nginx_cmd
  wait_http "https://localhost:$HTTPS_PORT/healthz" nginx --cacert "$STATE/ca.crt" \
    --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
    || die "nginx does not answer on https://localhost:$HTTPS_PORT; see $STATE/nginx-error.log"
  say "up: https://localhost:$HTTPS_PORT (trust $STATE/ca.crt), http://localhost:$HTTP_PORT redirects"
  say "admin: ${BOOKSTORE_ADMIN_USERNAME:-admin}, password in $STATE/admin-password (unless BOOKSTORE_ADMIN_PASSWORD was set)"
}

down() {
  local pidfile pid
  if [ -f "$STATE/nginx.pid" ] && alive "$STATE/nginx.pid"; then
    say "nginx: quit"
    kill -QUIT "$(cat "$STATE/nginx.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$STATE/nginx.pid" || break; sleep 0.1; done
  fi
  rm -f "$STATE/nginx.pid"
  for pidfile in "$STATE"/api*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      say "$(basename "$pidfile" .pid): SIGTERM to $pid"
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pidfile in "$STATE"/api*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$(basename "$pidfile" .pid) did not stop in 25 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  say "down"
}

status() {
  local i n port state ok=0
  for i in "${!API_PORTS[@]}"; do
    n=$((i + 1)); port=${API_PORTS[$i]}
    if alive "$STATE/api$n.pid"; then state="running (pid $(cat "$STATE/api$n.pid"))"; else state="stopped"; ok=1; fi
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null; then
      state+=", healthy"; else state+=", not answering"; ok=1; fi
    printf 'api%s  127.0.0.1:%s  %s\n' "$n" "$port" "$state"
  done
  if alive "$STATE/nginx.pid"; then state="running (pid $(cat "$STATE/nginx.pid"))"; else state="stopped"; ok=1; fi
  if curl -fsS -o /dev/null --max-time 2 --cacert "$STATE/ca.crt" \
      --resolve "localhost:$HTTPS_PORT:127.0.0.1" "https://localhost:$HTTPS_PORT/readyz" 2>/dev/null; then
    state+=", https://localhost:$HTTPS_PORT ready"; else state+=", https://localhost:$HTTPS_PORT not ready"; ok=1; fi
  printf 'nginx %s\n' "$state"
  return $ok
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
