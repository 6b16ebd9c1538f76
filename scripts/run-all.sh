#!/usr/bin/env bash
# Builds and starts product-service, loms and cart on their default ports (override with the variables
# each service reads, see README.md), with their logs interleaved and prefixed by the service's name.
# STORAGE=postgres brings up the stack first (scripts/stack.sh up). Ctrl-C (or SIGTERM) stops all three
# gracefully; if one of them exits, the others are stopped too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ "${STORAGE:-memory}" = postgres ] && bash scripts/stack.sh up

services_output=terminal
source scripts/lib/services.sh
# A signal ends the script through its EXIT trap, which stops the services.
trap 'exit 130' INT TERM
start_services 8000
echo "gRPC: cart :8082, loms :8083, product-service :8090; HTTP (gateway, /swagger/, /metrics): cart :8080, loms :8084, product-service :8091 — Ctrl-C stops them"

# Whichever exits first (a crash, or a signal) brings the others down.
wait -n "${services_pids[@]}" || true
