#!/usr/bin/env bash
# `just bench`, part two: how long cart.List takes for 10, 50 and 200 items (release builds, memory
# storage, product-service answering after 50 ms with its own limit off):
#   (a) cart's limiter off: the worker pool (CART_LIST_WORKERS=8) against one worker (sequential);
#   (b) cart's limiter at 10 RPS, burst 1: the measured time against the bound N / 10 s (each run
#       follows calls that used the budget, so its first slot is a tenth of a second away too).
# Prints two tables. Ports 18382 (cart), 18383 (loms), 18390 (product-service).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CART=127.0.0.1:18382
LOMS=127.0.0.1:18383
PRODUCT=127.0.0.1:18390
SIZES=${BENCH_LIST_SIZES:-10 50 200}
RUNS=${BENCH_LIST_RUNS:-3}

cargo build --quiet --locked --release -p cart -p loms -p product-service -p bench
pids=()
cart_pid=
stop_cart() { [ -n "$cart_pid" ] && kill "$cart_pid" 2>/dev/null && wait "$cart_pid" 2>/dev/null; cart_pid=; }
cleanup() { stop_cart || true; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_for() { until (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; do sleep 0.1; done; }

RUST_LOG=warn PRODUCT_GRPC_ADDR=$PRODUCT PRODUCT_HTTP_ADDR=127.0.0.1:0 PRODUCT_RPS=0 PRODUCT_LATENCY_MS=50 target/release/product-service &
pids+=("$!")
RUST_LOG=warn LOMS_GRPC_ADDR=$LOMS LOMS_HTTP_ADDR=127.0.0.1:0 target/release/loms &
pids+=("$!")
wait_for "$PRODUCT"
wait_for "$LOMS"

start_cart() { # start_cart VAR=VALUE...: cart with these settings
  env RUST_LOG=warn CART_GRPC_ADDR=$CART CART_HTTP_ADDR=127.0.0.1:0 PRODUCT_SERVICE_URL=http://$PRODUCT LOMS_URL=http://$LOMS \
    CART_UPSTREAM_TIMEOUT_MS=60000 "$@" target/release/cart &
  cart_pid=$!
  wait_for "$CART"
}
median() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["median_ms"])' "$1"; }
list_ms() { median "$(target/release/list-load "$CART" "$1" "$2" "$RUNS")"; }

printf '\n(a) product-service latency 50 ms, cart limiter off\n\n| items | 1 worker (sequential) ms | 8 workers ms | speed-up |\n|---:|---:|---:|---:|\n'
declare -A sequential
start_cart CART_PRODUCT_RPS=0 CART_LIST_WORKERS=1
for n in $SIZES; do sequential[$n]=$(list_ms 1 "$n"); done
stop_cart
start_cart CART_PRODUCT_RPS=0 CART_LIST_WORKERS=8
for n in $SIZES; do
  pooled=$(list_ms 2 "$n")
  printf '| %s | %s | %s | %s |\n' "$n" "${sequential[$n]}" "$pooled" \
    "$(python3 -c "print(f'{${sequential[$n]} / $pooled:.1f}x')")"
done
stop_cart

printf '\n(b) cart limiter at 10 RPS, burst 1 (8 workers)\n\n| items | measured ms | bound N/10 s, ms | off by |\n|---:|---:|---:|---:|\n'
start_cart CART_PRODUCT_RPS=10 CART_PRODUCT_BURST=1 CART_LIST_WORKERS=8
for n in $SIZES; do
  measured=$(list_ms 3 "$n")
  bound=$((n * 100))
  printf '| %s | %s | %s | %s |\n' "$n" "$measured" "$bound" \
    "$(python3 -c "print(f'{($measured - $bound) / $bound * 100:+.1f} %')")"
done
