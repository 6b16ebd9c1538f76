#!/usr/bin/env bash
# `just bench` (order events), on the stack's 3-broker cluster and PostgreSQL; release builds.
#
# 1. Relay throughput: loms starts with its relay on a fresh database; $EVENTS unsent events appear in
#    its outbox at one commit (SQL, so the writing costs nothing here); the clock runs from that commit
#    until the outbox is empty. The baseline: a bare idempotent acks=all rdkafka producer sends as many
#    records of the same shape (`events-load bare`), all handed over at once. Three rounds of each,
#    alternating, to fresh topics replicated like loms.order-events; the median ratio counts. With
#    BENCH_BASELINE_LOMS=<a loms binary> (an earlier relay, built from an earlier commit), each round
#    measures it too, on a database of its own.
# 2. Latency: loms and the notifier on fresh databases; orders at each of $RATES per second for
#    $SECONDS s after a warm-up (each second one paid), then p50 / p99 / max over every notification of
#    the time from its change's commit to the notifier's insert (both on the one PostgreSQL clock),
#    split at the hand-over to the producer. With BENCH_BASELINE_LOMS, the earlier relay as well.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

EVENTS=${BENCH_EVENTS:-100000}
RATES=${BENCH_RATES-40 100}
SECONDS_OF_ORDERS=${BENCH_SECONDS:-20}
run=$(date +%s)

services_profile=release
source scripts/lib/services.sh
BROKERS=$(kafka_bootstrap)
base=${port_base[bench-events]}
bouncer() { echo "postgres://$PGUSER@127.0.0.1:${stack_port[pgbouncer-$1]}/$2"; } # bouncer SERVICE DATABASE
build_services loms notifier
cargo build --quiet --locked --release -p bench

# Topics earlier runs and tests left cost the brokers work on every replica fetch: start without them.
target/release/events-load drop "$BROKERS" bench- test-events-

fresh_db() { # fresh_db NAME: an empty database of that name (dropped first if it exists)
  dropdb -h "$PGHOST" -p "$PGPORT" --force --if-exists "$1"
  createdb -h "$PGHOST" -p "$PGPORT" "$1"
}
sql() { psql -qtAX -h "$PGHOST" -p "$PGPORT" -d "$1" -c "$2"; }

# BENCH_BASELINE_LOMS names another loms binary (an earlier relay) measured in the same run.
relays=(transactional)
[ -n "${BENCH_BASELINE_LOMS:-}" ] && relays+=(baseline)

if [ -z "${BENCH_SKIP_RELAY:-}" ]; then
# --- 1. relay throughput against a bare producer, in alternating rounds ---------------------------
for relay in "${relays[@]}"; do fresh_db "loms_bench_$relay"; done
orders=$((EVENTS / 2))

relay_round() { # relay_round RELAY ROUND: prints the seconds RELAY's loms takes to send $EVENTS events appearing at once
  local db=loms_bench_$1 topic=bench-relay-$run-$1-$2 started
  target/release/events-load topic "$BROKERS" "$topic"
  [ "$1" = baseline ] && service_bin[loms]=$BENCH_BASELINE_LOMS
  start_service loms "$base" STORAGE=postgres RUST_LOG=warn LOMS_DATABASE_URL="$(bouncer loms "$db")" \
    LOMS_KAFKA_BROKERS="$BROKERS" LOMS_KAFKA_TOPIC="$topic"
  unset 'service_bin[loms]'
  # The relay is running (and idle: it took its lease over) when the events appear, all at one commit:
  # the clock measures it alone, from that commit until the outbox is empty.
  sleep 2
  sql "$db" "
    INSERT INTO orders (user_id, status) SELECT 1 + s % 1000, 'awaiting payment' FROM generate_series(1, $orders) AS s;
    INSERT INTO order_events (order_id, status, request_id)
      SELECT orders.id, change.status, 'bench'
      FROM orders, (VALUES (1, 'new'), (2, 'awaiting payment')) AS change (step, status)
      WHERE orders.id > (SELECT coalesce(max(id), 0) FROM orders) - $orders
      ORDER BY orders.id, change.step;" >/dev/null
  started=$(date +%s.%N)
  # One session, one cheap probe every 20 ms: the watching costs the machine next to nothing.
  sql "$db" "DO \$\$ BEGIN
    WHILE EXISTS (SELECT FROM order_events) LOOP PERFORM pg_sleep(0.02); END LOOP; END \$\$;"
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$started" "$(date +%s.%N)"
  stop_service loms
}

printf '\n| round | relay | relay s | relay events/s | bare s | bare events/s | relay / bare |\n|---:|---|---:|---:|---:|---:|---:|\n'
declare -A ratios=()
for round in 1 2 3; do
  bare_topic=bench-bare-$run-$round
  target/release/events-load topic "$BROKERS" "$bare_topic"
  bare=$(target/release/events-load bare "$BROKERS" "$bare_topic" "$EVENTS")
  read -r bare_seconds bare_rate < <(python3 -c 'import json,sys; r = json.loads(sys.argv[1]); print(r["seconds"], r["per_second"])' "$bare")
  for relay in "${relays[@]}"; do
    relay_seconds=$(relay_round "$relay" "$round")
    relay_rate=$(python3 -c "print(round($EVENTS / $relay_seconds))")
    ratio=$(python3 -c "print(f'{$relay_rate / $bare_rate:.2f}')")
    ratios[$relay]+="$ratio "
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$round" "$relay" "$relay_seconds" "$relay_rate" "$bare_seconds" "$bare_rate" "$ratio"
  done
done
for relay in "${relays[@]}"; do
  # shellcheck disable=SC2086 # the ratios, one per word
  printf '\nratio %s relay / bare, median of 3 rounds of %s events: %s\n' "$relay" "$EVENTS" \
    "$(printf '%s\n' ${ratios[$relay]} | sort -n | sed -n 2p)"
done

fi

# --- 2. latency from the change to its notification ----------------------------------------------
wait_notified() { # wait_notified N: until the notifier has stored N notifications (60 s at most)
  for _ in $(seq 600); do
    [ "$(sql notifier_bench_latency "SELECT count(*) FROM notifications")" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "bench: not every change was notified within 60 s" >&2
  exit 1
}

latency_run() { # latency_run RELAY: the latency figures of RELAY's loms at $RATE orders/s, on fresh databases and topic
  fresh_db loms_bench_latency
  fresh_db notifier_bench_latency
  latency_topic=bench-latency-$run-$RATE-$1
  target/release/events-load topic "$BROKERS" "$latency_topic"
  start_service notifier "$base" STORAGE=postgres RUST_LOG=warn \
    NOTIFIER_DATABASE_URL="$(bouncer notifier notifier_bench_latency)" \
    NOTIFIER_KAFKA_BROKERS="$BROKERS" NOTIFIER_KAFKA_TOPIC="$latency_topic" NOTIFIER_GROUP="$latency_topic"
  [ "$1" = baseline ] && service_bin[loms]=$BENCH_BASELINE_LOMS
  start_service loms "$base" STORAGE=postgres RUST_LOG=warn \
    LOMS_DATABASE_URL="$(bouncer loms loms_bench_latency)" \
    LOMS_KAFKA_BROKERS="$BROKERS" LOMS_KAFKA_TOPIC="$latency_topic"
  unset 'service_bin[loms]'
  # When each change commits: a deferred trigger (bench-only) stamps every event at its transaction's
  # COMMIT, just before the commit record is flushed — so the figures below err on the long side.
  sql loms_bench_latency "
    CREATE TABLE bench_commits (event_id uuid PRIMARY KEY, committing timestamptz NOT NULL);
    CREATE FUNCTION bench_stamp_commit() RETURNS trigger LANGUAGE plpgsql AS \$\$
      BEGIN INSERT INTO bench_commits VALUES (NEW.event_id, clock_timestamp()); RETURN NULL; END \$\$;
    CREATE CONSTRAINT TRIGGER bench_stamp_commit AFTER INSERT ON order_events
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench_stamp_commit();" >/dev/null
  # A warm-up of 3 s, left out of the figures: the notifier joins its group, the brokers warm up.
  warm=$(target/release/events-load orders "$(service_addr loms grpc "$base")" "$RATE" 3)
  warm_changes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["changes"])' "$warm")
  wait_notified "$warm_changes"
  measured_from=$(sql loms_bench_latency "SELECT clock_timestamp()")
  load=$(target/release/events-load orders "$(service_addr loms grpc "$base")" "$RATE" "$SECONDS_OF_ORDERS")
  changes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["changes"])' "$load")
  wait_notified $((warm_changes + changes))
  # Beside each notification: its change's commit, and when the relay handed it to the producer (the
  # record's timestamp, in ms).
  sql notifier_bench_latency "
    CREATE TABLE bench_commits (event_id text PRIMARY KEY, committing timestamptz NOT NULL);
    CREATE TABLE bench_stamps (event_id text PRIMARY KEY, handed_ms bigint NOT NULL);" >/dev/null
  psql -qX -h "$PGHOST" -p "$PGPORT" -d loms_bench_latency -c '\copy bench_commits TO STDOUT' |
    psql -qX -h "$PGHOST" -p "$PGPORT" -d notifier_bench_latency -c '\copy bench_commits FROM STDIN'
  target/release/events-load stamps "$BROKERS" "$latency_topic" |
    psql -qX -h "$PGHOST" -p "$PGPORT" -d notifier_bench_latency -c '\copy bench_stamps FROM STDIN'
  printf '\n| %s relay: %s changes at %s orders/s, relay poll %s ms | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|\n' \
    "$1" "$changes" "$RATE" "${LOMS_RELAY_POLL_MS:-100}"
  sql notifier_bench_latency "
    WITH span (what, ms, n) AS (
      SELECT span.what, extract(epoch FROM span.length) * 1000, span.n
      FROM notifications
      JOIN bench_commits USING (event_id)
      JOIN bench_stamps USING (event_id),
      LATERAL (VALUES
        (1, '**commit → notification**', notified_at - committing),
        (2, 'commit → handed to the producer', to_timestamp(handed_ms / 1000.0) - committing),
        (3, 'handed to the producer → notification', notified_at - to_timestamp(handed_ms / 1000.0)),
        (4, 'change (its statement) → notification', notified_at - moment)) AS span (n, what, length)
      WHERE committing > '$measured_from')
    SELECT format('| %s | %s | %s | %s |', what,
      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
      round(max(ms)::numeric, 1))
    FROM span GROUP BY n, what ORDER BY n"
  stop_service loms
  stop_service notifier
}

# At 40 orders/s (100 changes/s) the two cores keep some room; at 100 orders/s they are saturated.
for RATE in $RATES; do
  for relay in "${relays[@]}"; do
    latency_run "$relay"
  done
done
