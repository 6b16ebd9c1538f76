#!/usr/bin/env bash
# `just load ARGS…`: the load generator (crates/bench/src/load.rs, `load --help`) against release builds
# of product-service, loms and cart started here on spare ports (its base in scripts/lib/ports.sh),
# with both rate limits off — the run measures the services, not the 10 RPS limit in front of
# product-service. Memory storage and no Kafka by default; STORAGE=postgres runs them on the stack
# (`scripts/stack.sh up`: PostgreSQL behind the pgbouncers, and the 3-broker cluster, with the relay on
# and the notifier started too). Prints each service's resident memory before the load (idle) and its
# peak (VmHWM) after it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

storage=${STORAGE:-memory}
case $storage in
  memory) export LOMS_KAFKA_BROKERS=off ;;
  postgres) bash scripts/stack.sh up ;;
  *) echo "STORAGE=$storage: memory or postgres" >&2; exit 2 ;;
esac
export STORAGE=$storage PRODUCT_RPS=0 CART_PRODUCT_RPS=0

services_profile=release
source scripts/lib/services.sh
cargo build --locked --quiet --release -p bench --bin load
base=${port_base[load]}
start_services "$base"
[ "$storage" = memory ] || start_service notifier "$base"

rss() { # rss FIELD: FIELD (VmRSS, VmHWM) of every service, in MB
  local name
  for name in "${!services_pids[@]}"; do
    awk -v name="$name" -v field="$1:" '$1 == field { printf "  %-16s %6.1f MB\n", name, $2 / 1024 }' \
      "/proc/${services_pids[$name]}/status"
  done | sort
}

echo "resident memory, idle:"
rss VmRSS
target/release/load --cart "http://$(service_addr cart grpc "$base")" \
  --loms "http://$(service_addr loms grpc "$base")" "$@"
echo "resident memory, peak:"
rss VmHWM
