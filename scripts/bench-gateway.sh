#!/usr/bin/env bash
# `just bench`, part three: what the HTTP gateway costs over gRPC. loms (release build, memory storage)
# answers StocksInfo; `gateway-load` calls it over gRPC, then as GET /stock/info through the gateway
# (HTTP/1.1 keep-alive), at 1 and 8 clients, BENCH_GATEWAY_SECONDS (default 5) each. Prints a table with
# the ratio HTTP / gRPC. On the ports of its base in scripts/lib/ports.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_RUN=${BENCH_GATEWAY_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-1 8}

services_profile=release
source scripts/lib/services.sh
base=${port_base[bench-gateway]}
GRPC=$(service_addr loms grpc "$base")
HTTP=$(service_addr loms http "$base")
build_services loms
cargo build --quiet --locked --release -p bench
start_service loms "$base" STORAGE=memory RUST_LOG=warn LOMS_KAFKA_BROKERS=off

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
printf '\n| clients | gRPC calls/s | p50 ms | p99 ms | HTTP calls/s | p50 ms | p99 ms | HTTP / gRPC |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for clients in $CLIENTS; do
  { read -r grpc; read -r http; } < <(target/release/gateway-load "$GRPC" "$HTTP" "$clients" "$SECONDS_PER_RUN")
  for run in "$grpc" "$http"; do
    [ "$(field "$run" failures)" = 0 ] || { echo "failed calls: $run" >&2; exit 1; }
  done
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$clients" \
    "$(field "$grpc" per_second)" "$(field "$grpc" p50_ms)" "$(field "$grpc" p99_ms)" \
    "$(field "$http" per_second)" "$(field "$http" p50_ms)" "$(field "$http" p99_ms)" \
    "$(python3 -c "print(f'{$(field "$http" per_second) / $(field "$grpc" per_second):.2f}')")"
done
