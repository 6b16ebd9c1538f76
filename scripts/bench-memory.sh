#!/usr/bin/env bash
# `just bench-memory`: memory mode stays bounded. loms and the notifier in memory (release builds), on
# a fresh topic of the stack's cluster, through 1,000,000 order events:
# 1. the cluster stopped, orders at $RATE/s until loms refuses them (its outbox full at
#    LOMS_OUTBOX_MAX_PENDING, default 100,000 events): RSS of both;
# 2. the cluster started again, the backlog drained, orders until loms has published 1,000,000 events
#    and the notifier has notified every one: RSS of both again.
# Stops and starts the stack's Kafka: not part of `just bench`. Figures in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RATE=${BENCH_RATE:-3000}
EVENTS=${BENCH_EVENTS:-1000000}
services_profile=release
source scripts/lib/services.sh
trap 'services_exit; bash scripts/stack.sh kafka >/dev/null' EXIT
BROKERS=$(kafka_bootstrap)
base=${port_base[bench-memory]}
build_services loms notifier
cargo build --quiet --locked --release -p bench
topic=bench-memory-$(date +%s)
target/release/events-load topic "$BROKERS" "$topic"

start_service loms "$base" STORAGE=memory RUST_LOG=warn LOMS_KAFKA_BROKERS="$BROKERS" \
  LOMS_KAFKA_TOPIC="$topic"
start_service notifier "$base" STORAGE=memory RUST_LOG=warn NOTIFIER_KAFKA_BROKERS="$BROKERS" \
  NOTIFIER_KAFKA_TOPIC="$topic" NOTIFIER_GROUP="$topic"
loms=$(service_addr loms grpc "$base")

metric() { # metric SERVICE NAME: the value of NAME on SERVICE's /metrics (0 when absent)
  curl -sf "http://$(service_addr "$1" http "$base")/metrics" |
    awk -v m="$2" '$1 == m { v = $2 } END { printf "%d\n", v + 0 }'
}
rss_mib() { ps -o rss= -p "${services_pids[$1]}" | awk '{ printf "%.0f\n", $1 / 1024 }'; }
report() { # report WHEN
  printf '%-44s loms %4s MiB (%s events waiting, %s published)   notifier %4s MiB (%s notified)\n' \
    "$1" "$(rss_mib loms)" "$(metric loms loms_outbox_pending_events)" \
    "$(metric loms loms_relay_published_events_total)" "$(rss_mib notifier)" \
    "$(metric notifier notifier_notifications_total)"
}
orders() { target/release/events-load orders "$loms" "$RATE" "$1" >/dev/null; }

sleep 3 # the notifier joins its group
report "started"
bash scripts/stack.sh kafka-down >/dev/null
orders 30
sleep 2
report "cluster down, after $((RATE * 30)) orders tried"
bash scripts/stack.sh kafka >/dev/null
until [ "$(metric loms loms_outbox_pending_events)" = 0 ]; do sleep 1; done
report "cluster back, backlog drained"
while [ "$(metric loms loms_relay_published_events_total)" -lt "$EVENTS" ]; do orders 20; done
published=$(metric loms loms_relay_published_events_total)
# every event notified: the count reaches the published one, or (events the relay sent twice are
# recognised, not counted) stops growing
last=-1
until notified=$(metric notifier notifier_notifications_total); [ "$notified" -ge "$published" ] || [ "$notified" = "$last" ]; do
  last=$notified
  sleep 5
done
report "after $published events published"
