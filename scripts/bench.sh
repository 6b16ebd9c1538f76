#!/usr/bin/env bash
# `just bench`: OrderCreate throughput through gRPC → loms → pgbouncer → PostgreSQL, beside pgbench
# running the same SQL transaction (scripts/bench-order-create.pgbench) on the same database through the
# same pgbouncer, at 1 and 8 clients. Release builds; a fresh database `loms_bench` with 100 SKUs of
# ample stock. Prints a table and the ratio gRPC / pgbench. Needs `just stack-up`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

services_profile=release
source scripts/lib/services.sh
BOUNCER=${LOMS_PGBOUNCER:-127.0.0.1:${stack_port[pgbouncer-loms]}}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-1 8}
base=${port_base[bench]}
ADDR=$(service_addr loms grpc "$base")
DB=loms_bench
FIRST_SKU=900000001
SKUS=100

build_services loms
cargo build --quiet --locked --release -p bench
dropdb -h "$PGHOST" -p "$PGPORT" --force --if-exists "$DB"
createdb -h "$PGHOST" -p "$PGPORT" "$DB"
url=postgres://postgres@$BOUNCER/$DB
LOMS_DATABASE_URL=$url target/release/loms migrate >/dev/null
psql -q -h "$PGHOST" -p "$PGPORT" -d "$DB" -c \
  "INSERT INTO stocks (sku, total, reserved) SELECT s, 1000000000000, 0 FROM generate_series($FIRST_SKU, $FIRST_SKU + $SKUS - 1) AS s"

# The relay off: pgbench runs the same transaction without one (bench-events.sh measures the relay).
start_service loms "$base" STORAGE=postgres RUST_LOG=warn LOMS_DATABASE_URL="$url" LOMS_DATABASE_POOL_SIZE=16 \
  LOMS_KAFKA_BROKERS=off

host=${BOUNCER%:*}
port=${BOUNCER#*:}
printf '\n| clients | gRPC OrderCreate/s | p50 ms | p99 ms | pgbench tx/s | ratio |\n|---:|---:|---:|---:|---:|---:|\n'
for clients in $CLIENTS; do
  grpc=$(target/release/order-create-load "$ADDR" "$clients" "$SECONDS_PER_RUN" "$FIRST_SKU" "$SKUS")
  rate() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$grpc" "$1"; }
  [ "$(rate failures)" = 0 ] || { echo "bench: $(rate failures) gRPC calls failed" >&2; exit 1; }
  tps=$(pgbench -h "$host" -p "$port" -n -M prepared -c "$clients" -j "$clients" -T "$SECONDS_PER_RUN" \
      -D first_sku=$FIRST_SKU -D skus=$SKUS -f scripts/bench-order-create.pgbench "$DB" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  ratio=$(python3 -c "print(f'{$(rate per_second) / $tps:.2f}')")
  printf '| %s | %s | %s | %s | %.0f | %s |\n' "$clients" "$(rate per_second)" "$(rate p50_ms)" \
    "$(rate p99_ms)" "$tps" "$ratio"
done
