# Sourced by scripts/run and scripts/test: installs what is missing (quietly when present)
# and provisions Postgres. Exports DATABASE_URL and PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$ROOT/target"
# One-shot builds: incremental artifacts would only cost disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_toolchain() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos 0.3.10" ]; then
    say "Installing cargo-leptos 0.3.10 (one time, ~25 min)"
    cargo install cargo-leptos@0.3.10 --locked --features no_downloads
  fi
  local want
  want="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' "$ROOT/Cargo.lock")"
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $want" ]; then
    say "Installing wasm-bindgen-cli $want (matches Cargo.lock)"
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

# binaryen's wasm-opt, which cargo-leptos runs on release builds (from npm: the packaged
# versions are too old to read what Rust 1.95 emits), under .local/binaryen.
BINARYEN_VERSION=123.0.0
install_wasm_opt() {
  local prefix="$LOCAL/binaryen"
  if [ "$("$prefix/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
    say "Installing binaryen $BINARYEN_VERSION (wasm-opt) under .local/binaryen"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
  export PATH="$prefix/node_modules/.bin:$PATH"
}

install_node_packages() {
  # Every dev dependency of end2end/package.json, installed exactly as the lock pins them.
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] || [ ! -d "$ROOT/end2end/node_modules/@axe-core/playwright" ]; then
    say "Installing end-to-end test packages"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The independent JWT libraries core/tests/interop.rs verifies against: PyJWT in a private venv
# (.local/venv) and node's jsonwebtoken and jose from core/tests/interop/package-lock.json; and
# Ruby's jwt gem, for the snippet tests.
PYJWT_VERSION=2.15.1
install_interop_tools() {
  local venv="$LOCAL/venv" interop="$ROOT/core/tests/interop"
  if ! "$venv/bin/python" -c "import sys, jwt; sys.exit(jwt.__version__ != '$PYJWT_VERSION')" >/dev/null 2>&1; then
    say "Installing PyJWT $PYJWT_VERSION for the interop tests (.local/venv)"
    if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
      rm -rf "$venv"
      python3 -m venv "$venv" 2>/dev/null || {
        rm -rf "$venv"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null \
          || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }
        /usr/bin/python3 -m venv "$venv"
      }
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "PyJWT==$PYJWT_VERSION"
  fi
  export COUNTERSIGN_PYTHON="$venv/bin/python"
  if [ ! -f "$interop/node_modules/jsonwebtoken/package.json" ] || [ ! -f "$interop/node_modules/jose/package.json" ]; then
    say "Installing the interop test packages (core/tests/interop)"
    (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  export NODE_PATH="$interop/node_modules${NODE_PATH:+:$NODE_PATH}"
  # Ruby and its jwt gem (Debian's ruby-jwt): server/tests/api/snippets.rs runs the Ruby snippet.
  if ! ruby -e 'require "jwt"' >/dev/null 2>&1; then
    say "Installing Ruby and its jwt gem (Debian's ruby-jwt) for the snippet tests"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q ruby ruby-jwt >/dev/null \
      || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q ruby ruby-jwt >/dev/null; }
  fi
}

# schemathesis (PyPI), in the same private venv, for scripts/api-conformance.
SCHEMATHESIS_VERSION=4.32.5
install_schemathesis() {
  local venv="$LOCAL/venv"
  [ -x "$venv/bin/python" ] || install_interop_tools
  if [ "$("$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $3}')" != "$SCHEMATHESIS_VERSION" ]; then
    say "Installing schemathesis $SCHEMATHESIS_VERSION (.local/venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}

install_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    say "Installing Debian's chromium for the browser tests"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  fi
}

# The command that stops the private cluster, when this shell started it.
PRIVATE_PG_STARTED=()
stop_private_postgres() {
  if [ "${#PRIVATE_PG_STARTED[@]}" -gt 0 ]; then "${PRIVATE_PG_STARTED[@]}" >/dev/null 2>&1 || true; fi
}

# DATABASE_URL if set; otherwise a private cluster under .local/pg (as the postgres user when
# run as root, since postgres refuses to run as root).
provision_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    say "Using DATABASE_URL"
    return
  fi
  local bin data port=55432 runas=()
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$bin/initdb" ] || { echo "PostgreSQL binaries not found (install postgresql)"; exit 1; }
  data="$LOCAL/pg"
  if [ "$(id -u)" = 0 ]; then runas=(runuser -u postgres --); fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "Creating a private PostgreSQL cluster in .local/pg"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$LOCAL" "$data"
    "${runas[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if "${runas[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    port="$(sed -n 4p "$data/postmaster.pid")"
  else
    # Another checkout's cluster may hold the usual port: take the next free one.
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    say "Starting PostgreSQL on 127.0.0.1:$port"
    "${runas[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >/dev/null
    PRIVATE_PG_STARTED=("${runas[@]}" "$bin/pg_ctl" -D "$data" -m fast stop)
  fi
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/countersign"
  psql "postgres://postgres@127.0.0.1:$port/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'countersign'" | grep -q 1 \
    || psql "postgres://postgres@127.0.0.1:$port/postgres" -qc "CREATE DATABASE countersign"
}

# The command that stops the private PgBouncer, when this shell started it.
PRIVATE_POOLER_STARTED=()
stop_private_pooler() {
  if [ "${#PRIVATE_POOLER_STARTED[@]}" -gt 0 ]; then "${PRIVATE_POOLER_STARTED[@]}" >/dev/null 2>&1 || true; fi
}

# Debian's PgBouncer in transaction mode in front of DATABASE_URL's server (config, pid and log
# under .local/pgbouncer, trust auth, on a free port). Exports COUNTERSIGN_TEST_POOLER_URL, which
# the multi-instance tests (server/tests/two_processes.rs) run through. Call after
# provision_postgres.
provision_pooler() {
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    say "Installing Debian's pgbouncer for the multi-instance tests"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null \
      || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null; }
  fi
  local bouncer dir port=56432 runas=() hostport host pgport
  bouncer="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
  dir="$LOCAL/pgbouncer"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then runas=(runuser -u postgres --); chown postgres "$dir"; fi
  hostport="${DATABASE_URL#*@}"
  hostport="${hostport%%/*}"
  host="${hostport%:*}"
  pgport="${hostport##*:}"
  [ "$pgport" = "$hostport" ] && pgport=5432
  if [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null \
    && grep -q "^\* = host=$host port=$pgport\$" "$dir/pgbouncer.ini" 2>/dev/null; then
    port="$(sed -n 's/^listen_port = //p' "$dir/pgbouncer.ini")"
  else
    if [ -f "$dir/pgbouncer.pid" ]; then kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true; sleep 0.5; fi
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    say "Starting PgBouncer (pool_mode = transaction) on 127.0.0.1:$port"
    echo '"postgres" ""' >"$dir/userlist.txt"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$host port=$pgport

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
server_reset_query =
server_idle_timeout = 10
server_login_retry = 1
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    [ "$(id -u)" = 0 ] && chown postgres "$dir"/*
    "${runas[@]}" "$bouncer" -d "$dir/pgbouncer.ini"
    for _ in $(seq 50); do [ -s "$dir/pgbouncer.pid" ] && break; sleep 0.1; done
    PRIVATE_POOLER_STARTED=(kill "$(cat "$dir/pgbouncer.pid")")
  fi
  export COUNTERSIGN_TEST_POOLER_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
