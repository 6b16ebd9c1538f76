#!/usr/bin/env bash
# `just load ARGS…`: the load generator (crates/bench/src/load.rs, `load --help`) against release builds
# of product-service, loms and cart started here on spare ports (base 48000: cart :48082, loms :48083),
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
start_services 48000
[ "$storage" = memory ] || start_service notifier 48000

rss() { # rss FIELD: FIELD (VmRSS, VmHWM) of every service, in MB
  local name
  for name in "${!services_pids[@]}"; do
    awk -v name="$name" -v field="$1:" '$1 == field { printf "  %-16s %6.1f MB\n", name, $2 / 1024 }' \
      "/proc/${services_pids[$name]}/status"
  done | sort
}

echo "resident memory, idle:"
rss VmRSS
target/release/load --cart http://127.0.0.1:48082 --loms http://127.0.0.1:48083 "$@"
echo "resident memory, peak:"
rss VmHWM
