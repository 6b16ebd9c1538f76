#!/usr/bin/env bash
# Builds and starts product-service, loms, cart and the notifier on their default ports (override with
# the variables each service reads, see README.md), with their logs interleaved and prefixed by the
# service's name. The notifier and loms's relay need Kafka: the stack's 3-node cluster is started first
# (scripts/stack.sh kafka; a no-op when it runs), so every order's status changes show up as
# `notifier  … order 1 status awaiting payment`. STORAGE=postgres brings up the whole stack first
# (scripts/stack.sh up). Ctrl-C (or SIGTERM) stops them all gracefully; if one exits, the others are
# stopped too. The cluster keeps running: `just stack-down` stops it. The services send their traces to
# the stack's Jaeger (started too; UI and query API on :16686) unless OTEL_EXPORTER_OTLP_ENDPOINT says
# otherwise (empty: no traces).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${STORAGE:-memory}" = postgres ]; then bash scripts/stack.sh up; else bash scripts/stack.sh kafka; fi
services_output=terminal
source scripts/lib/services.sh
# The stack's Jaeger unless the variable says where traces go (empty: nowhere). Without Go to build it
# the services run untraced.
if [ -z "${OTEL_EXPORTER_OTLP_ENDPOINT+set}" ]; then
  if bash scripts/stack.sh jaeger; then
    export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${stack_port[otlp-grpc]}
  else
    echo "run-all: no Jaeger, the services run untraced" >&2
    export OTEL_EXPORTER_OTLP_ENDPOINT=
  fi
fi

# A signal ends the script through its EXIT trap, which stops the services.
trap 'exit 130' INT TERM
base=${port_base[run-all]}
start_services "$base"
start_service notifier "$base"
port() { echo "$1 :$(service_port "$1" "$2" "$base")"; }
echo "gRPC: $(port cart grpc), $(port loms grpc), $(port product-service grpc); HTTP (gateway, /swagger/, /metrics): $(port cart http), $(port loms http), $(port product-service http), $(port notifier http) — Ctrl-C stops them"

# Whichever exits first (a crash, or a signal) brings the others down.
wait -n "${services_pids[@]}" || true
