#!/usr/bin/env bash
# `just bench`, part two: how long cart.List takes for 10, 50 and 200 items (release builds, memory
# storage, product-service answering after 50 ms with its own limit off):
#   (a) cart's limiter off: the worker pool (CART_LIST_WORKERS=8) against one worker (sequential);
#   (b) cart's limiter at 10 RPS, burst 1: the measured time against the bound N / 10 s (each run
#       follows calls that used the budget, so its first slot is a tenth of a second away too).
# Prints two tables. On the ports of its base in scripts/lib/ports.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZES=${BENCH_LIST_SIZES:-10 50 200}
RUNS=${BENCH_LIST_RUNS:-3}

services_profile=release
source scripts/lib/services.sh
base=${port_base[bench-list]}
CART=$(service_addr cart grpc "$base")
build_services product-service loms cart
cargo build --quiet --locked --release -p bench
export STORAGE=memory RUST_LOG=warn
start_service product-service "$base" PRODUCT_RPS=0 PRODUCT_LATENCY_MS=50
start_service loms "$base" LOMS_KAFKA_BROKERS=off

start_cart() { # start_cart VAR=VALUE...: cart with these settings (instead of the running one's)
  stop_service cart
  start_service cart "$base" CART_UPSTREAM_TIMEOUT_MS=60000 "$@"
}
median() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["median_ms"])' "$1"; }
list_ms() { median "$(target/release/list-load "$CART" "$1" "$2" "$RUNS")"; }

printf '\n(a) product-service latency 50 ms, cart limiter off\n\n| items | 1 worker (sequential) ms | 8 workers ms | speed-up |\n|---:|---:|---:|---:|\n'
declare -A sequential
start_cart CART_PRODUCT_RPS=0 CART_LIST_WORKERS=1
for n in $SIZES; do sequential[$n]=$(list_ms 1 "$n"); done
start_cart CART_PRODUCT_RPS=0 CART_LIST_WORKERS=8
for n in $SIZES; do
  pooled=$(list_ms 2 "$n")
  printf '| %s | %s | %s | %s |\n' "$n" "${sequential[$n]}" "$pooled" \
    "$(python3 -c "print(f'{${sequential[$n]} / $pooled:.1f}x')")"
done

printf '\n(b) cart limiter at 10 RPS, burst 1 (8 workers)\n\n| items | measured ms | bound N/10 s, ms | off by |\n|---:|---:|---:|---:|\n'
start_cart CART_PRODUCT_RPS=10 CART_PRODUCT_BURST=1 CART_LIST_WORKERS=8
for n in $SIZES; do
  measured=$(list_ms 3 "$n")
  bound=$((n * 100))
  printf '| %s | %s | %s | %s |\n' "$n" "$measured" "$bound" \
    "$(python3 -c "print(f'{($measured - $bound) / $bound * 100:+.1f} %')")"
done
