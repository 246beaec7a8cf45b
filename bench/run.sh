#!/usr/bin/env bash
# Load benchmark of POST /api/v1/identify against the five reference verifiers, in one run.
#
#   bench/run.sh                      # build, provision, measure, check the logs, print the table
#   DURATION=30s WORKSPACES=10 bench/run.sh
#
# Systems (SYSTEMS, default all six, run in the order given):
#   node         node-diy: Node http + jose, persists nothing                    (row node-jose)
#   node-pg      node-diy PERSIST=pg: one INSERT per attempt, answers after the commit
#   rust         rust-diy: axum + jsonwebtoken, persists nothing                 (row rust-diy)
#   rust-pg      rust-diy PERSIST=pg: one sqlx INSERT per attempt, answers after the commit
#   floor        rust-diy MODE=floor: answers without verifying, the bare HTTP floor
#   countersign  identify, one verification_log row committed per attempt before the answer
# Goals for identify, shown as met / NOT met: >= 5x node-pg, >= 4x rust-pg, >= 0.6x rust-diy
# (req/s), p99 <= 10 ms at 64 connections, every attempt's row committed.
#
# Steps: builds countersign-server (release) and the reference verifiers (node-diy in a copy
# under target/bench-ref, rust-diy with its own target dir there); recreates the Postgres
# database countersign_bench, and for node-pg and rust-pg their own databases on the same
# server (countersign_bench_node_pg, countersign_bench_rust_pg); starts Countersign on a free
# port; provisions WORKSPACES workspaces through the API with a personal access token,
# registers two attributes in each and reveals each primary secret; writes USERS valid
# identify bodies per workspace with the shared gen_tokens.js (HS256, the primary's kid); starts
# the selected references with their own defaults (node-diy: a worker per core with a pool of
# 16 each; rust-diy: a pool of 16; POOL and WORKERS pass through) and sends each one request,
# which must come back in its answer's shape; then runs wrk (same flags, same shared
# identify.lua) against each system, checks that the verification_log (countersign) or
# diy_log (node-pg, rust-pg) gained a row for every attempt wrk saw answered, and prints a
# summary: req/s, p50, p99, the ratios to each reference, and the goals.
# Every process it started is stopped on exit, failure included. Secrets are never printed:
# they live in shell variables, the bench-only database and a temp dir removed on exit.
#
# Settings (environment):
#   DURATION=10s WARMUP=3s THREADS=2 CONNECTIONS=64   wrk, per system (warm-up not counted)
#   WORKSPACES=50 USERS=200                           bodies = WORKSPACES x USERS, shuffled
#   PG=postgres://postgres@127.0.0.1:5432 BENCH_DB=countersign_bench
#   BENCH_REF=../shared/bench (reference verifiers)
#   SYSTEMS="node node-pg rust rust-pg floor countersign" (Countersign is always started: it
#            provisions the bodies)
#   SKIP_BUILD=1 (reuse the built binaries)           OUT_DIR=target/bench-results/<time>
#   SERVER_BIN=path (with SKIP_BUILD: measure another build of countersign-server, e.g. a
#                    copy of the previous commit's, for an A/B comparison)
#   ROUNDS=1 (run every system this many times, interleaved; the summary gives medians, and
#            the ratios are medians of each round's own ratios)
#   KEEP_TMP=1 (keep bodies and server log in the temp dir)
#   WAIT_QUIET=120 (seconds to wait for an idle machine before measuring; 0 = do not wait)
#   DB_SETTINGS="synchronous_commit=off" (diagnostics only: per-database Postgres settings, on
#            every bench database)
#   PERF=1 (profile the whole machine with perf during the Countersign run; slows it a little,
#          so quote figures from a run without it)
set -euo pipefail
set +x # never trace: secrets pass through variables

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-3s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
WORKSPACES="${WORKSPACES:-50}"
USERS="${USERS:-200}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-countersign_bench}"
BENCH_REF="$(cd "${BENCH_REF:-$ROOT/../shared/bench}" && pwd)"
SYSTEMS="${SYSTEMS:-node node-pg rust rust-pg floor countersign}"
ROUNDS="${ROUNDS:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
REF_DIR="$CARGO_TARGET_DIR/bench-ref"
OUT_DIR="${OUT_DIR:-$CARGO_TARGET_DIR/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"
SERVER_BIN="${SERVER_BIN:-$CARGO_TARGET_DIR/release/countersign-server}"
RUST_DIY_BIN="$REF_DIR/rust-diy/release/rust-diy"
# The references' own default secret, used only by them (they verify one fixed key).
REF_SECRET="anchor-secret-0123456789abcdef0123456789abcdef"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# The systems SYSTEMS may name, and what the tables and file names call them.
declare -A NAME=([node]=node-jose [node-pg]=node-pg [rust]=rust-diy [rust-pg]=rust-pg [floor]=floor [countersign]=countersign)
# The PERSIST=pg references' own databases, on the same Postgres server as Countersign's.
declare -A REF_DB=([node-pg]="${BENCH_DB}_node_pg" [rust-pg]="${BENCH_DB}_rust_pg")
selected() { [[ " $SYSTEMS " == *" $1 "* ]]; }
for system in $SYSTEMS; do
  [[ -n "${NAME[$system]:-}" ]] || die "unknown system $system (SYSTEMS takes node node-pg rust rust-pg floor countersign)"
done

TMP="$(mktemp -d /tmp/countersign-bench.XXXXXX)"
chmod 700 "$TMP"
PIDS=()

cleanup() {
  local status=$?
  set +e
  if [[ "$status" != 0 && -s "$TMP/countersign.log" ]]; then
    echo "bench: failed; last lines of the Countersign log:" >&2
    tail -n 20 "$TMP/countersign.log" >&2
  fi
  for pid in "${PIDS[@]}"; do
    # Each server runs in its own process group (setsid), so its workers stop with it.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "bench: kept $TMP"; else rm -rf "$TMP"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a command in its own session/process group; its pid is the group id.
start() {
  local log="$1"; shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  PIDS+=("$!")
  LAST_PID=$!
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # url pid what
  for _ in $(seq 300); do
    kill -0 "$2" 2>/dev/null || die "$3 exited during start-up"
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  die "$3 did not answer $1 within 60 s"
}

need() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- tools and builds
say "Tools"
if ! need wrk; then
  need apt-get || die "wrk is missing and apt-get is not available"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
for tool in wrk node npm cargo curl jq psql python3 setsid shuf; do need "$tool" || die "$tool is required"; done
echo "wrk: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); node $(node --version); $(cargo --version)"
echo "countersign: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown), binary $SERVER_BIN"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  say "Building countersign-server (release)"
  (cd "$ROOT" && cargo build --release -p countersign-server)

  if selected rust || selected rust-pg || selected floor; then
    say "Building rust-diy (release, target $REF_DIR/rust-diy)"
    CARGO_TARGET_DIR="$REF_DIR/rust-diy" cargo build --release --locked --manifest-path "$BENCH_REF/rust-diy/Cargo.toml"
  fi
fi
[[ -x "$SERVER_BIN" ]] || die "$SERVER_BIN is missing (run without SKIP_BUILD)"
if selected rust || selected rust-pg || selected floor; then
  [[ -x "$RUST_DIY_BIN" ]] || die "$RUST_DIY_BIN is missing (run without SKIP_BUILD)"
fi

say "node-diy (copy in $REF_DIR/node-diy)"
NODE_DIY="$REF_DIR/node-diy"
mkdir -p "$NODE_DIY"
if ! cmp -s "$BENCH_REF/node-diy/package-lock.json" "$NODE_DIY/package-lock.json" || [[ ! -d "$NODE_DIY/node_modules" ]]; then
  rm -rf "$NODE_DIY/node_modules"
  install -m 644 "$BENCH_REF/node-diy/package.json" "$BENCH_REF/node-diy/package-lock.json" "$NODE_DIY/"
  (cd "$NODE_DIY" && npm ci --no-audit --no-fund --loglevel=error)
fi
install -m 644 "$BENCH_REF/node-diy/server.js" "$BENCH_REF/node-diy/gen_tokens.js" "$NODE_DIY/"
echo "jose $(node -p 'require(process.argv[1] + "/node_modules/jose/package.json").version' "$NODE_DIY")"

# ---------------------------------------------------------------- database and server
DATABASES=("$BENCH_DB")
for system in node-pg rust-pg; do selected "$system" && DATABASES+=("${REF_DB[$system]}"); done
say "Databases ${DATABASES[*]} (recreated)"
for db in "${DATABASES[@]}"; do
  psql "$PG/postgres" -v ON_ERROR_STOP=1 -qAt \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  # Diagnostics only, e.g. DB_SETTINGS="synchronous_commit=off" to see how much the WAL flush
  # costs; such a run no longer honours "a log_id means the row is durable", so never quote it.
  # The references' databases get the same settings, so the ratios stay like for like.
  for setting in ${DB_SETTINGS:-}; do
    psql "$PG/postgres" -v ON_ERROR_STOP=1 -qAt -c "ALTER DATABASE $db SET ${setting%%=*} = '${setting#*=}'" >/dev/null
    echo "DIAGNOSTIC RUN: $db has $setting"
  done
done
DB_URL="$PG/$BENCH_DB"
psql "$DB_URL" -qAt -c "SELECT 'postgres ' || current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', fsync=' || current_setting('fsync') || ', commit_delay=' || current_setting('commit_delay')"

mkdir -p "$OUT_DIR"
CS_PORT="$(free_port)"
CS="http://127.0.0.1:$CS_PORT"
say "Countersign on $CS (log: $TMP/countersign.log)"
start "$TMP/countersign.log" env DATABASE_URL="$DB_URL" COUNTERSIGN_ADDR="127.0.0.1:$CS_PORT" \
  COUNTERSIGN_LOG="${COUNTERSIGN_LOG:-warn}" COUNTERSIGN_SPOOL_DIR="$TMP/spool" \
  COUNTERSIGN_MASTER_KEY="$(openssl rand -base64 32)" LEPTOS_SITE_ROOT="$CARGO_TARGET_DIR/site" \
  "$SERVER_BIN" serve
CS_PID=$LAST_PID
wait_http "$CS/healthz" "$CS_PID" countersign-server

# ---------------------------------------------------------------- provisioning
say "Provisioning $WORKSPACES workspaces through the API"
ORIGIN="Origin: $CS"
JSON="Content-Type: application/json"
PASSWORD="$(openssl rand -hex 16)"
signup="$(jq -cn --arg p "$PASSWORD" '{email: "bench@countersign.local", password: $p, workspace_name: "bench-1"}')"
status="$(curl -sS -o "$TMP/signup.json" -w '%{http_code}' -c "$TMP/cookies" -H "$ORIGIN" -H "$JSON" -d "$signup" "$CS/api/v1/auth/signup")"
[[ "$status" == 201 ]] || die "signup answered $status: $(cat "$TMP/signup.json")"
PAT="$(curl -fsS -b "$TMP/cookies" -H "$ORIGIN" -H "$JSON" -d '{"name":"bench"}' "$CS/api/v1/tokens" | jq -er .token)"
api() { # method path [json body]
  local args=(-fsS -X "$1" -H "Authorization: Bearer $PAT" "$CS/api/v1$2")
  [[ $# -ge 3 ]] && args+=(-H "$JSON" -d "$3")
  curl "${args[@]}"
}
jq -r '.workspaces[0] | "\(.id) \(.app_id)"' "$TMP/signup.json" >"$TMP/workspaces"
for i in $(seq 2 "$WORKSPACES"); do
  api POST /workspaces "{\"name\":\"bench-$i\"}" | jq -r '"\(.id) \(.app_id)"' >>"$TMP/workspaces"
done
[[ "$(wc -l <"$TMP/workspaces")" -eq "$WORKSPACES" ]] || die "workspace creation failed"

: >"$TMP/bodies-cs.jsonl"
while read -r id app_id; do
  api POST "/workspaces/$id/attributes" '{"name":"email","type":"string","secure_only":true}' >/dev/null
  api POST "/workspaces/$id/attributes" '{"name":"name","type":"string","secure_only":false}' >/dev/null
  kid="$(api GET "/workspaces/$id/keys" | jq -er 'map(select(.state == "primary"))[0].kid')"
  secret="$(api GET "/workspaces/$id/keys/$kid/secret" | jq -er .secret)"
  node "$NODE_DIY/gen_tokens.js" "$USERS" "$secret" "$app_id" web "$kid" </dev/null >>"$TMP/bodies-cs.jsonl"
  unset secret
done <"$TMP/workspaces"
shuf -o "$TMP/bodies-cs.jsonl" "$TMP/bodies-cs.jsonl"
# Same claims, count and kid header for the references, under their own secret.
node "$NODE_DIY/gen_tokens.js" "$(wc -l <"$TMP/bodies-cs.jsonl")" "$REF_SECRET" app_ref web k_ref >"$TMP/bodies-ref.jsonl"
echo "$(wc -l <"$TMP/bodies-cs.jsonl") Countersign bodies over $WORKSPACES workspaces x $USERS users (2 registered attributes each);" \
  "$(wc -l <"$TMP/bodies-ref.jsonl") reference bodies; mean body $(( $(wc -c <"$TMP/bodies-cs.jsonl") / $(wc -l <"$TMP/bodies-cs.jsonl") )) bytes"

# ---------------------------------------------------------------- reference verifiers
# Only those in SYSTEMS, each on a free port, with the references' own defaults otherwise
# (node-diy: one worker per core, a pool of 16 connections per worker; rust-diy: a pool of 16;
# POOL and WORKERS in the environment reach them). Their secret is REF_SECRET, their default.
declare -A URL=([countersign]="$CS/api/v1/identify") PID_OF=([countersign]="$CS_PID")
start_ref() { # system [NAME=value...] command...
  local system="$1" port; shift
  port="$(free_port)"
  start "$TMP/${NAME[$system]}.log" env -u SECRET -u PERSIST -u MODE -u DATABASE_URL -u LIB PORT="$port" "$@"
  URL[$system]="http://127.0.0.1:$port/"; PID_OF[$system]=$LAST_PID
}
selected node && start_ref node LIB=jose node "$NODE_DIY/server.js"
selected node-pg && start_ref node-pg LIB=jose PERSIST=pg DATABASE_URL="$PG/${REF_DB[node-pg]}" node "$NODE_DIY/server.js"
selected rust && start_ref rust "$RUST_DIY_BIN"
selected rust-pg && start_ref rust-pg PERSIST=pg DATABASE_URL="$PG/${REF_DB[rust-pg]}" "$RUST_DIY_BIN"
selected floor && start_ref floor MODE=floor "$RUST_DIY_BIN"

# One request each before any load. What must come back (jq): the verifiers' claims, the
# PERSIST=pg references' log id too (node-postgres returns a bigint as a string, sqlx as a
# number); the floor verifies nothing and answers a constant.
declare -A EXPECT=(
  [node]='.verified == true and (.user_id | type) == "string"'
  [rust]='.verified == true and (.user_id | type) == "string"'
  [node-pg]='.verified == true and (.user_id | type) == "string" and (.log_id | tostring | test("^[0-9]+$"))'
  [rust-pg]='.verified == true and (.user_id | type) == "string" and (.log_id | type) == "number"'
  [floor]='. == {"verified": true}'
  [countersign]='.verified == true'
)
smoke() { # system
  local name="${NAME[$1]}" out=""
  for _ in $(seq 100); do
    if ! kill -0 "${PID_OF[$1]}" 2>/dev/null; then
      [[ "$1" == countersign ]] || tail -n 5 "$TMP/$name.log" >&2
      die "$name exited during start-up"
    fi
    out="$(curl -sS -H "$JSON" --data-binary "@$TMP/one.json" "${URL[$1]}" 2>/dev/null)" && break
    sleep 0.1
  done
  jq -e "${EXPECT[$1]}" <<<"$out" >/dev/null || die "$name did not answer a valid body as expected ($(jq -cn --arg e "${EXPECT[$1]}" '$e')): $out"
}
head -1 "$TMP/bodies-ref.jsonl" >"$TMP/one.json"
for system in $SYSTEMS; do [[ "$system" == countersign ]] || smoke "$system"; done
for n in 1 "$(wc -l <"$TMP/bodies-cs.jsonl")"; do
  sed -n "${n}p" "$TMP/bodies-cs.jsonl" >"$TMP/one.json"
  smoke countersign
done
rm -f "$TMP/one.json"

# ---------------------------------------------------------------- measurement helpers
# CPU ticks of every process now: "pid pgrp comm ticks" (utime + stime of all its threads).
cpu_snapshot() {
  for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null && echo; done | awk '
    NF { o = index($0, "("); c = match($0, /\)[^)]*$/); comm = substr($0, o + 1, c - o - 1)
         sub(/[-\/].*/, "", comm); gsub(/ /, "_", comm)
         split(substr($0, c + 2), a, " "); print $1, a[3], comm, a[12] + a[13] }'
}
# Busy ticks of the whole machine (user, nice, system, irq, softirq, steal).
busy_ticks() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# CPU seconds per started server (by process group) or else per command, between two
# snapshots, biggest first. A process that started during the run counts from zero.
cpu_report() { # before after seconds
  local hz; hz="$(getconf CLK_TCK)"
  local labels="" system
  for system in "${!PID_OF[@]}"; do labels+="${PID_OF[$system]}=${NAME[$system]} "; done
  awk -v hz="$hz" -v secs="$3" -v labels="$labels" '
    BEGIN { n = split(labels, l, " "); for (i = 1; i <= n; i++) { split(l[i], kv, "="); server[kv[1]] = kv[2] } }
    function label(pg, comm) {
      if (pg in server) return server[pg] == "countersign" ? "countersign-server" : server[pg]
      return comm }
    FNR == NR { before[$1] = $4; next }
    { d = $4 - before[$1]; if (d > 0) sum[label($2, $3)] += d }
    END { for (k in sum) if (sum[k] / hz >= 0.05) printf "    %-22s %6.2f CPU-s (%3.0f%% of one core)\n", k, sum[k] / hz, 100 * sum[k] / hz / secs }
  ' "$1" "$2" | sort -k2 -nr
}

seconds() { local d="$1"; case "$d" in *ms) echo "0.${d%ms}";; *m) echo $(( ${d%m} * 60 ));; *s) echo "${d%s}";; *) echo "$d";; esac; }

metric_sum() { # name: sum of every sample of a metric family in /metrics
  curl -fsS "$CS/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f\n", s }'
}
log_rows() { psql "$DB_URL" -qAt -c "SELECT count(*) FROM verification_log"; }
diy_rows() { psql "$PG/${REF_DB[$1]}" -qAt -c "SELECT count(*) FROM diy_log"; } # node-pg | rust-pg
pg_counters() { psql "$DB_URL" -qAt -F ' ' -c "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()), wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal"; }

# Converts a wrk latency ("812.00us", "1.23ms", "1.02s") to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

declare -A RPS P50 P99 REQS NON2XX ERRS ALL_RPS ALL_P50 ALL_P99 SUM_NON2XX SUM_ERRS
# The summary's rows, and its ratio columns: every system against each reference measured.
ROWS=(countersign node-pg rust-pg rust-diy node-jose floor)
REFS=(node-pg rust-pg rust-diy node-jose floor)
declare -A VS_LABEL=([node-pg]="vs node-pg" [rust-pg]="vs rust-pg" [rust-diy]="vs rust" [node-jose]="vs node" [floor]="vs floor")
declare -A RATIOS # "system/reference": that pair's req/s ratio in each round
run_wrk() { # name url bodies
  local name="$1" url="$2" bodies="$3" out="$OUT_DIR/wrk-$1$ROUND_TAG.txt" secs
  secs="$(seconds "$DURATION")"
  say "wrk $name: warm-up $WARMUP, then -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
  BODIES="$bodies" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$BENCH_REF/identify.lua" "$url" >/dev/null
  sleep 1
  case "$name" in
    countersign) before_counts ;;
    node-pg | rust-pg) DIY_ROWS0="$(diy_rows "$name")" ;;
  esac
  cpu_snapshot >"$TMP/cpu0"; local b0 b1; b0="$(busy_ticks)"
  local perf_pid=""
  if [[ "${PERF:-0}" == 1 && "$name" == countersign ]]; then
    perf record -a -F 499 -o "$OUT_DIR/perf$ROUND_TAG.data" -- sleep "$secs" >/dev/null 2>&1 &
    perf_pid=$!; PIDS+=("$perf_pid")
  fi
  BODIES="$bodies" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$BENCH_REF/identify.lua" "$url" | tee "$out"
  b1="$(busy_ticks)"; cpu_snapshot >"$TMP/cpu1"
  if [[ -n "$perf_pid" ]]; then
    wait "$perf_pid" || true
    local data="$OUT_DIR/perf$ROUND_TAG.data"
    perf report -i "$data" --stdio --sort comm,dso 2>/dev/null | grep '%' | sed -n 1,15p >"$OUT_DIR/perf-comm$ROUND_TAG.txt"
    perf report -i "$data" --stdio --pid "$CS_PID" --sort sym 2>/dev/null | grep '%' | sed -n 1,40p >"$OUT_DIR/perf-countersign$ROUND_TAG.txt"
    perf report -i "$data" --stdio --comm postgres --sort dso,sym 2>/dev/null | grep '%' | sed -n 1,30p >"$OUT_DIR/perf-postgres$ROUND_TAG.txt"
    echo "  perf profile: $OUT_DIR/perf-{comm,countersign,postgres}$ROUND_TAG.txt"
  fi
  echo "  CPU during the run (2 cores = $(( 2 * ${secs%.*} )) CPU-s available; machine busy $(awk -v d=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", d / hz}') CPU-s):"
  cpu_report "$TMP/cpu0" "$TMP/cpu1" "$secs" | tee "$OUT_DIR/cpu-$name$ROUND_TAG.txt"
  awk -v busy=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" '{ s += $2 } END { printf "    %-22s %6.2f CPU-s (wrk itself and processes that exited)\n", "unaccounted", busy / hz - s }' \
    "$OUT_DIR/cpu-$name$ROUND_TAG.txt" | tee -a "$OUT_DIR/cpu-$name$ROUND_TAG.txt"
  RPS[$name]="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
  P50[$name]="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")"
  P99[$name]="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
  REQS[$name]="$(awk '/requests in/ { print $1 }' "$out")"
  NON2XX[$name]="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")"; NON2XX[$name]="${NON2XX[$name]:-0}"
  ERRS[$name]="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")"; ERRS[$name]="${ERRS[$name]:-0}"
  ALL_RPS[$name]+="${RPS[$name]} "; ALL_P50[$name]+="${P50[$name]} "; ALL_P99[$name]+="${P99[$name]} "
  SUM_NON2XX[$name]=$(( ${SUM_NON2XX[$name]:-0} + NON2XX[$name] )); SUM_ERRS[$name]=$(( ${SUM_ERRS[$name]:-0} + ERRS[$name] ))
}

before_counts() {
  ROWS0="$(log_rows)"; ATTEMPTS0="$(metric_sum countersign_identify_total)"
  BATCH_SUM0="$(metric_sum countersign_log_batch_size_sum)"; BATCH_N0="$(metric_sum countersign_log_batch_size_count)"
  read -r XACT0 WALREC0 WALBYTES0 WALWRITE0 WALSYNC0 <<<"$(pg_counters)"
  curl -fsS "$CS/metrics" >"$OUT_DIR/metrics-before$ROUND_TAG.txt"
}

# ---------------------------------------------------------------- runs
# Other work on the machine skews every figure: wait (up to WAIT_QUIET seconds) for a 3-second
# window where less than 15% of the CPUs is busy. The CPU tables below show what else ran.
quiet_pct() {
  local b0 b1; b0="$(busy_ticks)"; sleep 3; b1="$(busy_ticks)"
  awk -v d=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" 'BEGIN { printf "%.0f", 100 * d / hz / 3 / n }'
}
say "Waiting up to ${WAIT_QUIET:-120} s for an idle machine"
waited=0
while busy="$(quiet_pct)"; (( busy >= 15 && waited < ${WAIT_QUIET:-120} )); do waited=$((waited + 3)); done
echo "CPU busy before measuring: $busy% (waited ${waited} s); load average $(cut -d' ' -f1-3 /proc/loadavg)"
# ---------------------------------------------------------------- every attempt committed?
# Per persisting system: COMMITTED is the last round's verdict, COMMIT_OK counts the rounds
# that passed out of COMMIT_N.
declare -A COMMITTED COMMIT_OK COMMIT_N
committed() { # name verdict
  COMMITTED[$1]="$2"; COMMIT_N[$1]=$(( ${COMMIT_N[$1]:-0} + 1 )); COMMIT_OK[$1]="${COMMIT_OK[$1]:-0}"
  if [[ "$2" == yes* ]]; then COMMIT_OK[$1]=$(( COMMIT_OK[$1] + 1 )); fi
}

# Checks a PERSIST=pg reference's diy_log against its run that just ended: each commits one
# row per attempt (rejections included) before answering, so every answer wrk received must
# have its row; the only extra rows are requests still in flight when wrk stopped.
check_diy() { # name
  local name="$1" rows answered="${REQS[$1]}"
  sleep 2 # let the connections wrk dropped at the deadline finish
  rows=$(( $(diy_rows "$name") - DIY_ROWS0 ))
  say "diy_log ($name run only)"
  echo "  wrk: $answered answered ($((answered - NON2XX[$name])) 2xx, ${NON2XX[$name]} non-2xx), ${ERRS[$name]} socket errors"
  echo "  Postgres: $rows diy_log rows committed"
  if (( rows >= answered && rows - answered <= CONNECTIONS + ERRS[$name] )); then
    echo "  OK: every answer wrk received has its row (rows - wrk answers = $((rows - answered)): requests in flight when wrk stopped)"
    committed "$name" "yes ($rows rows for $answered answers seen by wrk)"
  else
    echo "  MISMATCH: rows=$rows wrk answered=$answered"
    committed "$name" "NO (rows=$rows, wrk answered=$answered)"
  fi
}

# Checks the verification log against the Countersign run that just ended.
check_log() {
  sleep 2 # let the connections wrk dropped at the deadline finish
  ROWS1="$(log_rows)"; ATTEMPTS1="$(metric_sum countersign_identify_total)"
  BATCH_SUM1="$(metric_sum countersign_log_batch_size_sum)"; BATCH_N1="$(metric_sum countersign_log_batch_size_count)"
  read -r XACT1 WALREC1 WALBYTES1 WALWRITE1 WALSYNC1 <<<"$(pg_counters)"
  curl -fsS "$CS/metrics" >"$OUT_DIR/metrics-after$ROUND_TAG.txt"
  rows=$((ROWS1 - ROWS0)); attempts=$((ATTEMPTS1 - ATTEMPTS0))
  answered="${REQS[countersign]}"; ok=$((answered - NON2XX[countersign]))
  batches=$((BATCH_N1 - BATCH_N0)); secs="$(seconds "$DURATION")"
  say "Verification log (Countersign run only)"
  echo "  wrk: $answered answered ($ok 2xx, ${NON2XX[countersign]} non-2xx), ${ERRS[countersign]} socket errors"
  echo "  server: $attempts identify attempts counted (countersign_identify_total)"
  echo "  Postgres: $rows verification_log rows committed"
  echo "  whole table by outcome (warm-up and smoke requests included):"
  psql "$DB_URL" -qAt -F ' ' -c "SELECT '    outcome ' || outcome || coalesce(' / ' || reason, ''), count(*) FROM verification_log GROUP BY 1 ORDER BY 2 DESC"
  if (( rows == attempts && rows >= answered && rows - answered <= CONNECTIONS + ERRS[countersign] )); then
    echo "  OK: every attempt the server counted has its row, and every answer wrk received is among them"
    echo "     (rows - wrk answers = $((rows - answered)): requests in flight when wrk stopped, answered after it left)"
    committed countersign "yes ($rows rows for $answered answers seen by wrk, $attempts attempts counted by the server)"
  else
    echo "  MISMATCH: rows=$rows attempts=$attempts wrk answered=$answered"
    committed countersign "NO (rows=$rows, server attempts=$attempts, wrk answered=$answered)"
  fi
  echo "  group commit: $batches transactions, mean batch $(awk -v s="$((BATCH_SUM1 - BATCH_SUM0))" -v n="$batches" 'BEGIN { printf "%.1f", n ? s / n : 0 }') attempts," \
    "$(awk -v n="$batches" -v t="$secs" 'BEGIN { printf "%.0f", n / t }') batches/s"
  # Histograms over the measured run only (after minus before), cumulative as Prometheus has them.
  run_hist() { # family
    paste <(grep "^$1_bucket" "$OUT_DIR/metrics-before$ROUND_TAG.txt") <(grep "^$1_bucket" "$OUT_DIR/metrics-after$ROUND_TAG.txt") |
      awk -v f="$1_bucket" '{ n[NR] = $1; d[NR] = $4 - $2 } END { for (i = 1; i <= NR; i++) { sub(f, "", n[i]); printf "    %-14s %7d %5.1f%%\n", n[i], d[i], d[NR] ? 100 * d[i] / d[NR] : 0 } }'
  }
  echo "  countersign_log_batch_size during the run (cumulative: transactions with <= le attempts):"
  run_hist countersign_log_batch_size
  echo "  Postgres during the run: $((XACT1 - XACT0)) commits ($(awk -v n=$((XACT1 - XACT0)) -v t="$secs" 'BEGIN { printf "%.0f", n / t }')/s)," \
    "$((WALSYNC1 - WALSYNC0)) WAL fsyncs, $((WALWRITE1 - WALWRITE0)) WAL writes, $(( (WALBYTES1 - WALBYTES0) / 1048576 )) MiB WAL," \
    "$(( (WALBYTES1 - WALBYTES0) / (rows > 0 ? rows : 1) )) WAL bytes/row"
  lat() { awk -v f="$1" '$1 == f { print $2 }' "$OUT_DIR/$2"; }
  echo "  server-side identify latency (countersign_identify_seconds) during the run: mean" \
    "$(awk -v s0="$(lat countersign_identify_seconds_sum metrics-before$ROUND_TAG.txt)" -v s1="$(lat countersign_identify_seconds_sum metrics-after$ROUND_TAG.txt)" \
      -v n0="$(lat countersign_identify_seconds_count metrics-before$ROUND_TAG.txt)" -v n1="$(lat countersign_identify_seconds_count metrics-after$ROUND_TAG.txt)" \
      'BEGIN { printf "%.2f ms", (n1 > n0) ? 1000 * (s1 - s0) / (n1 - n0) : 0 }'); cumulative buckets:"
  run_hist countersign_identify_seconds
}

for round in $(seq 1 "$ROUNDS"); do
  ROUND_TAG=""
  if (( ROUNDS > 1 )); then ROUND_TAG="-r$round"; say "Round $round of $ROUNDS"; fi
  RPS=() # this round's figures only
  for system in $SYSTEMS; do
    case "$system" in
      countersign) run_wrk countersign "${URL[countersign]}" "$TMP/bodies-cs.jsonl"; check_log ;;
      node-pg | rust-pg) run_wrk "$system" "${URL[$system]}" "$TMP/bodies-ref.jsonl"; check_diy "$system" ;;
      *) run_wrk "${NAME[$system]}" "${URL[$system]}" "$TMP/bodies-ref.jsonl" ;;
    esac
  done
  # Each round's own ratios: the machine's speed drifts between rounds more than within one.
  for name in "${ROWS[@]}"; do
    [[ -n "${RPS[$name]:-}" ]] || continue
    for ref in "${REFS[@]}"; do
      [[ "$ref" != "$name" && -n "${RPS[$ref]:-}" ]] || continue
      RATIOS[$name/$ref]+="$(awk -v a="${RPS[$name]}" -v b="${RPS[$ref]}" 'BEGIN { printf "%.4f", a / b }') "
    done
  done
done

# ---------------------------------------------------------------- summary
# With ROUNDS > 1: per system the median of its rounds; ratios are medians of each round's own.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A VS # "system/reference": median of the rounds' ratios, as shown ("1.23x"), or "-"
MEASURED_REFS=()
for ref in "${REFS[@]}"; do [[ -z "${ALL_RPS[$ref]:-}" ]] || MEASURED_REFS+=("$ref"); done
for name in "${ROWS[@]}"; do
  [[ -n "${ALL_RPS[$name]:-}" ]] || continue
  RPS[$name]="$(median <<<"${ALL_RPS[$name]}")"; P50[$name]="$(median <<<"${ALL_P50[$name]}")"; P99[$name]="$(median <<<"${ALL_P99[$name]}")"
  NON2XX[$name]="${SUM_NON2XX[$name]}"; ERRS[$name]="${SUM_ERRS[$name]}"
  for ref in "${MEASURED_REFS[@]}"; do
    VS[$name/$ref]="-"
    if [[ -n "${RATIOS[$name/$ref]:-}" ]]; then VS[$name/$ref]="$(median <<<"${RATIOS[$name/$ref]}" | awk '{ printf "%.2fx", $1 }')"; fi
  done
done
say "Summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency$( (( ROUNDS > 1 )) && echo ", median of $ROUNDS rounds"))"
{
  fmt='| %-11s | %9s | %8s | %8s |'; rule='|-------------|-----------|----------|----------|'
  header=(system "req/s" "p50 ms" "p99 ms")
  for ref in "${MEASURED_REFS[@]}"; do fmt+=' %10s |'; rule+='------------|'; header+=("${VS_LABEL[$ref]}"); done
  fmt+=' %7s | %6s |\n'; rule+='---------|--------|'; header+=(non-2xx errors)
  # shellcheck disable=SC2059 # the format is built above
  printf "$fmt" "${header[@]}"
  echo "$rule"
  for name in "${ROWS[@]}"; do
    [[ -n "${RPS[$name]:-}" ]] || continue
    cells=("$name" "$(printf '%.0f' "${RPS[$name]}")" "${P50[$name]}" "${P99[$name]}")
    for ref in "${MEASURED_REFS[@]}"; do cells+=("${VS[$name/$ref]}"); done
    # shellcheck disable=SC2059
    printf "$fmt" "${cells[@]}" "${NON2XX[$name]}" "${ERRS[$name]}"
  done
  if (( ROUNDS > 1 )); then
    echo
    for name in "${ROWS[@]}"; do
      [[ -z "${ALL_RPS[$name]:-}" ]] || echo "$name req/s by round: ${ALL_RPS[$name]}"
    done
    for ref in "${REFS[@]}"; do
      [[ -z "${RATIOS[countersign/$ref]:-}" ]] || echo "countersign vs $ref by round: ${RATIOS[countersign/$ref]}"
    done
  fi
  echo
  for name in countersign node-pg rust-pg; do
    [[ -n "${COMMITTED[$name]:-}" ]] || continue
    echo "$name log rows committed for every answer: ${COMMIT_OK[$name]} of ${COMMIT_N[$name]} rounds (last: ${COMMITTED[$name]})"
  done
} | tee "$OUT_DIR/summary.md"
if [[ -n "${RPS[countersign]:-}" ]]; then
  {
    # goal what measured condition (awk; empty when the run could not measure it)
    goal() {
      local verdict="not measured"
      if [[ -n "$3" ]]; then
        if awk "BEGIN { exit !($3) }"; then verdict=met; else verdict="NOT met"; fi
      fi
      printf '  %-36s %-22s %s\n' "$1" "$2" "$verdict"
    }
    ratio_goal() { # reference factor
      local v="${VS[countersign/$1]:--}" cond=""
      [[ "$v" == - ]] || cond="${v%x} >= $2"
      goal "req/s >= ${2}x $1" "$v" "$cond"
    }
    echo
    echo "Goals for identify (the ratios and p99 of the table above):"
    ratio_goal node-pg 5
    ratio_goal rust-pg 4
    ratio_goal rust-diy 0.6
    # The latency goal is set at 64 connections; another CONNECTIONS measures something else.
    goal "p99 <= 10 ms at 64 connections" "${P99[countersign]} ms at $CONNECTIONS conn." "$( (( CONNECTIONS == 64 )) && echo "${P99[countersign]} <= 10")"
    goal "every attempt's row committed" "${COMMIT_OK[countersign]} of ${COMMIT_N[countersign]} rounds" "${COMMIT_OK[countersign]} == ${COMMIT_N[countersign]}"
  } | tee -a "$OUT_DIR/summary.md"
fi
echo
echo "raw wrk output, CPU and metrics: $OUT_DIR"
