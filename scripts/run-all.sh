#!/usr/bin/env bash
# Builds and starts product-service, loms, cart and the notifier on their default ports (override with
# the variables each service reads, see README.md), with their logs interleaved and prefixed by the
# service's name. The notifier and loms's relay need Kafka: the stack's 3-node cluster is started first
# (scripts/stack.sh kafka; a no-op when it runs), so every order's status changes show up as
# `notifier  … order 1 status awaiting payment`. STORAGE=postgres brings up the whole stack first
# (scripts/stack.sh up). Ctrl-C (or SIGTERM) stops them all gracefully; if one exits, the others are
# stopped too. The cluster keeps running: `just stack-down` stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${STORAGE:-memory}" = postgres ]; then bash scripts/stack.sh up; else bash scripts/stack.sh kafka; fi

services_output=terminal
source scripts/lib/services.sh
# A signal ends the script through its EXIT trap, which stops the services.
trap 'exit 130' INT TERM
start_services 8000
start_service notifier 8000
echo "gRPC: cart :8082, loms :8083, product-service :8090; HTTP (gateway, /swagger/, /metrics): cart :8080, loms :8084, product-service :8091, notifier :8093 — Ctrl-C stops them"

# Whichever exits first (a crash, or a signal) brings the others down.
wait -n "${services_pids[@]}" || true
