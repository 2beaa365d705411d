#!/usr/bin/env bash
# Checks the Rust toolchain and installs (when missing) the tools the build and the tests need.
# Safe to run any number of times; does nothing when everything is there.
#
#   scripts/tools.sh [TOOL...]     TOOL is one of:
#     rust       cargo and rustc (always checked)
#     lint       the rustfmt and clippy components
#     diesel     diesel_cli with only the PostgreSQL backend (the tests run `diesel print-schema`)
#     chromium   Debian's chromium and chromium-driver (for the browser tests, tests/api/browser.rs)
#     nginx      Debian's nginx (for tests that put nginx in front of several servers)
#     node       Debian's nodejs and npm, and the pinned packages of tests/js (`npm ci`): the
#                graphql-http audit and the graphql-ws client the GraphQL protocol tests run
#     kubernetes-validate  PyPI's kubernetes-validate (pinned) in a venv under target/tools-venv, for
#                the manifest checks of tests/api/k8s.rs (needs python3 with venv, and PyPI)
#     make       GNU make
#     schemathesis  schemathesis (pinned) in a Python virtual environment under target/, for the
#                API contract test (tests/api/schemathesis.rs)
set -euo pipefail

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) export PATH="$CARGO_BIN:$PATH" ;; esac

say() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (run as root or install sudo)"; fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand and run this again"
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    as_root apt-get update -qq || die "apt-get update failed: check the network access to Debian's package mirror"
    APT_UPDATED=1
  fi
  say "installing $*"
  # RUNLEVEL=1: do not start packaged services (e.g. nginx on port 80); the scripts run their own.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed; install it by hand and run this again"
}

need_rust() {
  command -v cargo >/dev/null && command -v rustc >/dev/null \
    || die "cargo/rustc not found (looked in PATH and $CARGO_BIN): install the Rust toolchain, e.g. with rustup (https://rustup.rs), and run this again"
  # The C toolchain the build scripts of some dependencies need (cc, ar).
  command -v cc >/dev/null || apt_install build-essential
}

need_component() { # $1 = cargo subcommand, $2 = rustup component
  cargo "$1" --version >/dev/null 2>&1 && return 0
  if command -v rustup >/dev/null; then
    say "installing the $2 component"
    rustup component add "$2" >/dev/null 2>&1 || true
  fi
  cargo "$1" --version >/dev/null 2>&1 \
    || die "cargo $1 is not available: run \`rustup component add $2\` (needs access to static.rust-lang.org)"
}

need_diesel() {
  if command -v diesel >/dev/null && diesel --version >/dev/null 2>&1; then return 0; fi
  say "diesel not found: building diesel_cli (PostgreSQL only); this takes a few minutes"
  # diesel_cli links libpq.
  [ -e /usr/include/postgresql/libpq-fe.h ] || apt_install libpq-dev
  cargo install diesel_cli --version '^2.3' --no-default-features --features postgres --locked \
    || die "cargo install diesel_cli failed: check access to crates.io and that libpq-dev is installed"
  command -v diesel >/dev/null || die "diesel_cli was installed but \`diesel\` is not on PATH (expected in $CARGO_BIN)"
}

need_chromium() {
  # The browser tests run these two (BOOKSTORE_CHROMIUM / BOOKSTORE_CHROMEDRIVER override the paths).
  local browser="${BOOKSTORE_CHROMIUM:-/usr/bin/chromium}" driver="${BOOKSTORE_CHROMEDRIVER:-/usr/bin/chromedriver}"
  [ -x "$browser" ] && [ -x "$driver" ] && return 0
  say "$driver or $browser not found: installing Debian's chromium and chromium-driver (browser tests)"
  apt_install chromium chromium-driver
  [ -x "$browser" ] && [ -x "$driver" ] \
    || die "chromium and chromium-driver are installed but $browser or $driver is still missing: the browser tests (tests/api/browser.rs) need both"
  "$driver" --version >/dev/null 2>&1 || die "$driver does not run: check the chromium-driver package"
}

need_nginx() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx-light; }

need_node() {
  # tests/api/graphql_protocol.rs runs `node` (BOOKSTORE_NODE overrides the path) on tests/js.
  local node="${BOOKSTORE_NODE:-node}"
  if ! command -v "$node" >/dev/null || ! command -v npm >/dev/null; then
    say "node or npm not found: installing Debian's nodejs and npm (GraphQL protocol tests)"
    apt_install nodejs npm
  fi
  command -v "$node" >/dev/null || die "nodejs is installed but $node is still not on PATH"
  # The graphql-http audit uses the global fetch (Node 18 and later; Debian 12 ships 18).
  local major
  major="$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  [ "$major" -ge 18 ] || die "node $("$node" --version 2>/dev/null) is too old: the GraphQL protocol tests need Node 18 or later"
  local js
  js="$(cd "$(dirname "$0")/.." && pwd)/tests/js"
  # npm ci when node_modules is missing, or older than the lock file (the pins changed).
  if [ ! -d "$js/node_modules" ] || [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; then
    say "installing the pinned packages of tests/js (npm ci)"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
      || die "npm ci in $js failed: check access to the npm registry (registry.npmjs.org)"
  fi
}

# kubernetes-validate: schemas of every Kubernetes release bundled, so validation works offline once
# installed. One exact version; the venv is rebuilt when it holds another.
K8S_VALIDATE_VERSION=1.37.0
K8S_VALIDATE_VENV="${BOOKSTORE_TOOLS_VENV:-$(cd "$(dirname "$0")/.." && pwd)/target/tools-venv}"
need_kubernetes_validate() {
  local bin="$K8S_VALIDATE_VENV/bin/kubernetes-validate"
  if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$K8S_VALIDATE_VERSION" ]; then return 0; fi
  command -v python3 >/dev/null || apt_install python3
  # Debian splits venv (and its bundled pip) out of python3.
  local probe; probe="$(mktemp -d)"
  python3 -m venv "$probe/v" >/dev/null 2>&1 || apt_install python3-venv
  rm -rf "$probe"
  say "installing kubernetes-validate==$K8S_VALIDATE_VERSION into $K8S_VALIDATE_VENV"
  rm -rf "$K8S_VALIDATE_VENV"
  python3 -m venv "$K8S_VALIDATE_VENV" || die "python3 -m venv $K8S_VALIDATE_VENV failed: install python3-venv"
  "$K8S_VALIDATE_VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$K8S_VALIDATE_VERSION" \
    || die "pip install kubernetes-validate==$K8S_VALIDATE_VERSION failed: check access to PyPI (pypi.org)"
  [ "$("$bin" --version 2>/dev/null)" = "$K8S_VALIDATE_VERSION" ] \
    || die "$bin does not report version $K8S_VALIDATE_VERSION after installing it"
}

need_make() { command -v make >/dev/null || apt_install make; }

# The version the contract test was written against; bump it deliberately (its checks change).
SCHEMATHESIS_VERSION=4.32.5
need_schemathesis() {
  local venv="${BOOKSTORE_SCHEMATHESIS_VENV:-$(cd "$(dirname "$0")/.." && pwd)/target/schemathesis-venv}"
  local bin="$venv/bin/schemathesis"
  if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    return 0
  fi
  command -v python3 >/dev/null || apt_install python3
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
  say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv $venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed: check access to pypi.org"
  "$bin" --version >/dev/null || die "$bin does not run"
}

need_rust
for tool in "$@"; do
  case "$tool" in
    rust) ;;
    lint) need_component fmt rustfmt; need_component clippy clippy ;;
    diesel) need_diesel ;;
    chromium) need_chromium ;;
    nginx) need_nginx ;;
    node) need_node ;;
    make) need_make ;;
    kubernetes-validate) need_kubernetes_validate ;;
    schemathesis) need_schemathesis ;;
    *) die "unknown tool '$tool' (known: rust lint diesel chromium nginx node make kubernetes-validate schemathesis)" ;;
  esac
done
say "ready: $(cargo --version)${*:+; checked: $*}"
