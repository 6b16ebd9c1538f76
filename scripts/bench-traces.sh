#!/usr/bin/env bash
# `just bench-traces`: what traces cost. The shopping flow of `just load` on PostgreSQL (the stack:
# pgbouncer, Kafka, the relay and the notifier on) runs with every service exporting its traces to the
# stack's Jaeger — all of them (`OTEL_TRACES_SAMPLER=parentbased_always_on`), one in a hundred
# (`parentbased_traceidratio`, 0.01: cart decides, the others follow the `traceparent` it sends) — and
# with tracing off (no endpoint: no exporter at all). Rounds alternate the three, BENCH_TRACES_ROUNDS
# (default 3) of each, BENCH_TRACES_SECONDS (default 20) long, at BENCH_TRACES_CONCURRENCY (default 32)
# calls in flight. Prints each round's calls per second and p99, and the ratios of the medians to off;
# fails on any failed call. Target (issue 27): 1 % ≥ 0.95 × off; 100 % is reported.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${BENCH_TRACES_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_TRACES_SECONDS:-20}
CONCURRENCY=${BENCH_TRACES_CONCURRENCY:-32}
source scripts/lib/common.sh
endpoint=http://127.0.0.1:${stack_port[otlp-grpc]}

run() { # run off|1%|100%: one load run's JSON report
  local settings=(OTEL_EXPORTER_OTLP_ENDPOINT= OTEL_TRACES_SAMPLER= OTEL_TRACES_SAMPLER_ARG=)
  case $1 in
    1%) settings=(OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_TRACES_SAMPLER=parentbased_traceidratio
      OTEL_TRACES_SAMPLER_ARG=0.01) ;;
    100%) settings=(OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_TRACES_SAMPLER=parentbased_always_on
      OTEL_TRACES_SAMPLER_ARG=) ;;
  esac
  env "${settings[@]}" STORAGE=postgres RUST_LOG=warn bash scripts/load.sh \
    --concurrency "$CONCURRENCY" --duration "$SECONDS_PER_RUN" --json --quiet | grep '^{'
}

bash scripts/stack.sh up >/dev/null
source scripts/lib/rounds.sh
rounds "$ROUNDS" off 1% 100%
python3 - "${rates[off]}" "${rates[1%]}" "${rates[100%]}" <<'PY'
import statistics, sys
off, one, all_ = (statistics.median(map(float, a.split())) for a in sys.argv[1:4])
print(f"\nmedian calls/s: off {off:.0f}, 1 % {one:.0f}, 100 % {all_:.0f}; "
      f"1 % / off {one / off:.2f} (target >= 0.95), 100 % / off {all_ / off:.2f}")
PY
