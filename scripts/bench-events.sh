#!/usr/bin/env bash
# `just bench` (order events), on the stack's 3-broker cluster and PostgreSQL; release builds.
#
# 1. Relay throughput: a fresh loms database is filled with $EVENTS unsent events (SQL, so the writing
#    costs nothing here); loms starts with its relay and the clock runs until the outbox is empty. The
#    baseline, in the same run: a bare idempotent acks=all rdkafka producer sends as many records of the
#    same shape (`events-load bare`). Both to fresh topics replicated like loms.order-events.
# 2. Latency: loms and the notifier on fresh databases; orders at $RATE/s for $SECONDS s (each second one
#    paid), then p50 / p99 / max of `notified_at - moment` over every notification: from the status
#    change in loms's transaction to the notifier's insert, both on the one PostgreSQL clock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
export PGUSER=${PGUSER:-postgres}
EVENTS=${BENCH_EVENTS:-100000}
RATE=${BENCH_RATE:-100}
SECONDS_OF_ORDERS=${BENCH_SECONDS:-20}
BROKERS=127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
run=$(date +%s)

services_profile=release
source scripts/lib/services.sh
build_services loms notifier
cargo build --quiet --locked --release -p bench

fresh_db() { # fresh_db NAME: an empty database of that name (dropped first if it exists)
  dropdb -h "$PGHOST" -p "$PGPORT" --force --if-exists "$1"
  createdb -h "$PGHOST" -p "$PGPORT" "$1"
}
sql() { psql -qtAX -h "$PGHOST" -p "$PGPORT" -d "$1" -c "$2"; }

# --- 1. relay throughput against a bare producer -------------------------------------------------
fresh_db loms_bench_relay
relay_url=postgres://postgres@127.0.0.1:6433/loms_bench_relay
LOMS_DATABASE_URL=$relay_url target/release/loms migrate >/dev/null
orders=$((EVENTS / 2))
sql loms_bench_relay "
  INSERT INTO orders (user_id, status) SELECT 1 + s % 1000, 'awaiting payment' FROM generate_series(1, $orders) AS s;
  INSERT INTO order_events (order_id, status, request_id)
    SELECT orders.id, change.status, 'bench'
    FROM orders, (VALUES (1, 'new'), (2, 'awaiting payment')) AS change (step, status)
    ORDER BY orders.id, change.step;"
relay_topic=bench-relay-$run
bare_topic=bench-bare-$run
target/release/events-load topic "$BROKERS" "$relay_topic"
target/release/events-load topic "$BROKERS" "$bare_topic"

started=$(date +%s.%N)
start_service loms 18300 STORAGE=postgres RUST_LOG=warn LOMS_DATABASE_URL="$relay_url" \
  LOMS_KAFKA_BROKERS="$BROKERS" LOMS_KAFKA_TOPIC="$relay_topic"
while [ "$(sql loms_bench_relay "SELECT count(*) FROM order_events")" != 0 ]; do
  sleep 0.05
done
relay_seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$started" "$(date +%s.%N)")
stop_service loms
bare=$(target/release/events-load bare "$BROKERS" "$bare_topic" "$EVENTS")
bare_rate=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["per_second"])' "$bare")
relay_rate=$(python3 -c "print(round($EVENTS / $relay_seconds))")
printf '\n| %s events | seconds | events/s |\n|---|---:|---:|\n' "$EVENTS"
printf '| relay (outbox → Kafka, marked sent) | %s | %s |\n' "$relay_seconds" "$relay_rate"
printf '| bare idempotent producer | %s | %s |\n' \
  "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$bare")" "$bare_rate"
printf '\nratio relay / bare: %s\n' "$(python3 -c "print(f'{$relay_rate / $bare_rate:.2f}')")"

# --- 2. latency from the change to its notification ----------------------------------------------
fresh_db loms_bench_latency
fresh_db notifier_bench_latency
latency_topic=bench-latency-$run
target/release/events-load topic "$BROKERS" "$latency_topic"
start_service notifier 18300 STORAGE=postgres RUST_LOG=warn \
  NOTIFIER_DATABASE_URL=postgres://postgres@127.0.0.1:6434/notifier_bench_latency \
  NOTIFIER_KAFKA_BROKERS="$BROKERS" NOTIFIER_KAFKA_TOPIC="$latency_topic" NOTIFIER_GROUP="$latency_topic"
start_service loms 18300 STORAGE=postgres RUST_LOG=warn \
  LOMS_DATABASE_URL=postgres://postgres@127.0.0.1:6433/loms_bench_latency \
  LOMS_KAFKA_BROKERS="$BROKERS" LOMS_KAFKA_TOPIC="$latency_topic"
load=$(target/release/events-load orders 127.0.0.1:18383 "$RATE" "$SECONDS_OF_ORDERS")
changes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["changes"])' "$load")
notified=0
for _ in $(seq 600); do
  [ "$(sql notifier_bench_latency "SELECT count(*) FROM notifications")" -ge "$changes" ] && notified=1 && break
  sleep 0.1
done
[ "$notified" = 1 ] || { echo "bench: not every change was notified within 60 s" >&2; exit 1; }
printf '\n| %s changes at %s orders/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|\n' "$changes" "$RATE"
sql notifier_bench_latency "
  SELECT format('| change → notification | %s | %s | %s |',
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
    round(max(ms)::numeric, 1))
  FROM (SELECT extract(epoch FROM notified_at - moment) * 1000 AS ms FROM notifications) AS latency"
echo "(relay poll interval: ${LOMS_RELAY_POLL_MS:-100} ms)"
