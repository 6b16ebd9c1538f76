#!/usr/bin/env bash
# Builds and starts product-service, loms and cart on their default ports (override with the variables
# each service reads, see README.md), with their logs interleaved and prefixed by the service's name.
# Ctrl-C (or SIGTERM) stops all three gracefully; if one of them exits, the others are stopped too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --locked --bins -p product-service -p loms -p cart
export RUST_LOG=${RUST_LOG:-info}

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

start() { # start NAME: runs target/debug/NAME with its output prefixed
  local name=$1 color=$2
  # The prefixing runs in a process substitution, so $! is the service itself and SIGTERM reaches it;
  # it ignores Ctrl-C and ends when the service closes its output, so the shutdown lines still show.
  local prefix
  prefix=$(printf '\033[%sm%-16s\033[0m' "$color" "$name")
  "target/debug/$name" > >(trap '' INT; exec sed -u "s/^/$prefix /") 2>&1 &
  pids+=("$!")
}

start product-service 36
start loms 35
start cart 32
echo "gRPC: cart :8082, loms :8083, product-service :8090; HTTP (gateway, /swagger/, /metrics): cart :8080, loms :8084, product-service :8091 — Ctrl-C stops them"

# Whichever exits first (a crash, or a signal handled by the trap) brings the others down.
wait -n "${pids[@]}" || true
