#!/usr/bin/env bash
# `just bench` (OrderCreate): loms's OrderCreate through gRPC → loms → pgbouncer → PostgreSQL beside
# pgbench running the same SQL transaction (scripts/bench-order-create.pgbench) on the same PostgreSQL
# through the same pgbouncer, at 1, 8 and 32 clients. loms runs twice per client count, as production
# does — its relay on, publishing every status change to a fresh topic of the stack's 3-broker cluster —
# and with the relay off, so the relay's share is a figure. Release builds; each of the three runs on a
# fresh database of its own with 100 SKUs of ample stock. Closed loop (`order-create-load`): the clients
# share BENCH_CONNECTIONS HTTP/2 connections (1, as cart's channel to loms). Prints calls/s, p50 and p99
# of each, and the ratios to pgbench. Needs `just stack-up`.
#
# BENCH_PROFILE=DIR additionally records loms (relay on, 8 clients) with `perf record -g` into DIR, and
# for each run reads pg_stat_statements, the CPU each process took and how busy loms's tokio runtime was
# (its /metrics) (see BENCHMARKS.md, "OrderCreate's tail").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

services_profile=release
source scripts/lib/services.sh
BOUNCER=${LOMS_PGBOUNCER:-127.0.0.1:${stack_port[pgbouncer-loms]}}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-1 8 32}
CONNECTIONS=${BENCH_CONNECTIONS:-1}
PROFILE=${BENCH_PROFILE:-}
base=${port_base[bench]}
ADDR=$(service_addr loms grpc "$base")
BROKERS=$(kafka_bootstrap)
FIRST_SKU=900000001
SKUS=100
run=$(date +%s)
statements=""
[ -z "$PROFILE" ] || mkdir -p "$PROFILE"
work=$(mktemp -d)
trap 'services_exit; rm -rf "$work"' EXIT

build_services loms
cargo build --quiet --locked --release -p bench
target/release/events-load drop "$BROKERS" bench- test-events-

sql() { psql -qtAX -h "$PGHOST" -p "$PGPORT" -d "$1" -c "$2"; }
for db in loms_bench_relay loms_bench_norelay loms_bench_pgbench; do
  dropdb -h "$PGHOST" -p "$PGPORT" --force --if-exists "$db"
  createdb -h "$PGHOST" -p "$PGPORT" "$db"
  LOMS_DATABASE_URL=postgres://$PGUSER@$BOUNCER/$db target/release/loms migrate >/dev/null
  sql "$db" "INSERT INTO stocks (sku, total, reserved)
    SELECT s, 1000000000000, 0 FROM generate_series($FIRST_SKU, $FIRST_SKU + $SKUS - 1) AS s"
  # The statements' timings when the server loads pg_stat_statements (the stack's own PostgreSQL does).
  if [ -n "$PROFILE" ] && [[ "$(sql "$db" "SHOW shared_preload_libraries")" == *pg_stat_statements* ]]; then
    sql "$db" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    statements=yes
  fi
done

json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# runtime_figures: loms's tokio runtime from its /metrics — "busy-seconds parks workers epoch-seconds".
runtime_figures() {
  curl -sf "http://$(service_addr loms http "$base")/metrics" | awk -v now="$(date +%s.%N)" '
    $1 == "tokio_runtime_busy_seconds" { busy = $2 } $1 == "tokio_runtime_worker_parks_total" { parks = $2 }
    $1 == "tokio_runtime_workers" { workers = $2 } END { print busy, parks, workers, now }'
}
# runtime_share BEFORE AFTER: how busy loms's runtime workers were in between, and how often they parked.
runtime_share() {
  python3 -c '
import sys
b0, p0, _, t0 = (float(v) for v in sys.argv[1].split())
b1, p1, workers, t1 = (float(v) for v in sys.argv[2].split())
elapsed = t1 - t0
print(f"runtime workers busy {(b1 - b0) / (workers * elapsed):.0%} of {workers:.0f} x {elapsed:.1f} s; "
      f"{(p1 - p0) / elapsed:.0f} parks/s")' "$1" "$2"
}

# loms_run MODE CLIENTS: one order-create-load run against loms with its relay on (MODE relay) or off
# (norelay), on its own database; prints the load generator's JSON.
loms_run() {
  local mode=$1 clients=$2 kafka=off topic=bench-order-create-$run-$2 result
  if [ "$mode" = relay ]; then
    kafka=$BROKERS
    target/release/events-load topic "$BROKERS" "$topic"
  fi
  start_service loms "$base" STORAGE=postgres RUST_LOG=warn LOMS_DATABASE_POOL_SIZE=16 \
    LOMS_DATABASE_URL="postgres://$PGUSER@$BOUNCER/loms_bench_$mode" \
    LOMS_KAFKA_BROKERS="$kafka" LOMS_KAFKA_TOPIC="$topic"
  [ -n "$PROFILE" ] && [ -n "$statements" ] && sql "loms_bench_$mode" "SELECT pg_stat_statements_reset()" >/dev/null
  local recording="" sampling=""
  if [ -n "$PROFILE" ]; then
    python3 scripts/cpu-by-process.py $((SECONDS_PER_RUN - 2)) 1 >"$PROFILE/cpu-$mode-$clients.txt" &
    sampling=$!
  fi
  if [ -n "$PROFILE" ] && [ "$mode" = relay ] && [ "$clients" = 8 ]; then
    perf record -F 999 -g --call-graph dwarf,16384 -o "$PROFILE/loms.perf.data" -p "${services_pids[loms]}" \
      -- sleep "$SECONDS_PER_RUN" >/dev/null 2>&1 &
    recording=$!
  fi
  local before=""
  [ -z "$PROFILE" ] || before=$(runtime_figures)
  result=$(target/release/order-create-load "$ADDR" "$clients" "$SECONDS_PER_RUN" "$FIRST_SKU" "$SKUS" "$CONNECTIONS")
  [ -z "$PROFILE" ] || runtime_share "$before" "$(runtime_figures)" >"$PROFILE/runtime-$mode-$clients.txt"
  if [ -n "$recording" ]; then wait "$recording"; fi
  if [ -n "$sampling" ]; then wait "$sampling"; fi
  if [ "$mode" = relay ]; then # the relay's backlog when the load ended: what it had not caught up with
    log "relay at $clients clients: $(sql loms_bench_relay "SELECT count(*) FROM order_events") events still in the outbox"
  fi
  if [ -n "$PROFILE" ] && [ -n "$statements" ]; then
    sql "loms_bench_$mode" "SELECT calls, round(mean_exec_time::numeric, 3) AS mean_ms,
        round(max_exec_time::numeric, 2) AS max_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT 8" >"$PROFILE/statements-$mode-$clients.txt"
  fi
  stop_service loms
  [ "$(json "$result" failures)" = 0 ] || { echo "bench: $(json "$result" failures) gRPC calls failed ($mode)" >&2; exit 1; }
  echo "$result"
}

# pgbench_run CLIENTS: prints "tx/s p50_ms p99_ms" of pgbench's run, from its per-transaction log.
pgbench_run() {
  rm -f "$work"/pgbench.*
  local sampling=""
  if [ -n "$PROFILE" ]; then
    python3 scripts/cpu-by-process.py $((SECONDS_PER_RUN - 2)) 1 >"$PROFILE/cpu-pgbench-$1.txt" &
    sampling=$!
  fi
  pgbench -h "${BOUNCER%:*}" -p "${BOUNCER#*:}" -n -M prepared -c "$1" -j "$1" -T "$SECONDS_PER_RUN" \
    -D first_sku=$FIRST_SKU -D skus=$SKUS -l --log-prefix="$work/pgbench" \
    -f scripts/bench-order-create.pgbench loms_bench_pgbench >"$work/pgbench.out" 2>&1 \
    || { cat "$work/pgbench.out" >&2; exit 1; }
  if [ -n "$sampling" ]; then wait "$sampling"; fi
  # Each log line: client, transaction, latency (µs), script, epoch seconds, µs.
  cat "$work"/pgbench.[0-9]* | python3 -c '
import sys
latencies = sorted(int(line.split()[2]) for line in sys.stdin)
tps = float(sys.argv[1])
pick = lambda p: latencies[round((len(latencies) - 1) * p)] / 1000
print(f"{tps:.0f} {pick(0.5):.2f} {pick(0.99):.2f}")' "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.out")"
}

printf '\n| clients | relay on calls/s | p50 ms | p99 ms | relay off calls/s | p50 ms | p99 ms | pgbench tx/s | p50 ms | p99 ms | on / pgbench | off / pgbench | on p99 / pgbench p99 |\n'
printf '|%s\n' '---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
for clients in $CLIENTS; do
  on=$(loms_run relay "$clients")
  off=$(loms_run norelay "$clients")
  read -r tps p50 p99 <<<"$(pgbench_run "$clients")"
  python3 - "$clients" "$on" "$off" "$tps" "$p50" "$p99" <<'EOF'
import json, sys
clients, on, off = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
tps, p50, p99 = (float(v) for v in sys.argv[4:7])
print(f"| {clients} | {on['per_second']} | {on['p50_ms']:.2f} | {on['p99_ms']:.2f} "
      f"| {off['per_second']} | {off['p50_ms']:.2f} | {off['p99_ms']:.2f} "
      f"| {tps:.0f} | {p50:.2f} | {p99:.2f} "
      f"| {on['per_second'] / tps:.2f} | {off['per_second'] / tps:.2f} | {on['p99_ms'] / p99:.2f} |")
EOF
done
if [ -n "$PROFILE" ]; then
  # A flamegraph when inferno is there (`cargo install inferno`).
  if command -v inferno-flamegraph >/dev/null; then
    perf script -i "$PROFILE/loms.perf.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph >"$PROFILE/loms.svg"
  fi
  log "profile of loms (relay on, 8 clients): $PROFILE/loms.perf.data (and loms.svg); statements:" \
    "$PROFILE/statements-*.txt; CPU by process: $PROFILE/cpu-*.txt"
fi
