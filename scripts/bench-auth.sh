#!/usr/bin/env bash
# `just bench-auth`: what user tokens cost. The shopping flow of `just load` (release builds, memory
# storage, rate limits off) runs with every call verified — cart, loms and product-service each check
# the caller's token, cart passing it on to the other two — and against the same services with
# authentication off (AUTH_UNCHECKED_FOR_BENCHMARKS=yes, which only this benchmark sets; the generator
# then sends product-service's static token). Rounds alternate, BENCH_AUTH_ROUNDS (default 3) of each,
# BENCH_AUTH_SECONDS (default 20) long, at BENCH_AUTH_CONCURRENCY (default 32) calls in flight. Prints a
# table of each round's calls per second and the ratio of the medians, verified / unchecked; fails on
# any failed call.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${BENCH_AUTH_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_AUTH_SECONDS:-20}
CONCURRENCY=${BENCH_AUTH_CONCURRENCY:-32}

run() { # run verified|unchecked: one load run's JSON report
  local unchecked=""
  [ "$1" = unchecked ] && unchecked=yes
  AUTH_UNCHECKED_FOR_BENCHMARKS=$unchecked AUTH_JWKS= ROUTE256_SIGNING_KEY= bash scripts/load.sh \
    --concurrency "$CONCURRENCY" --duration "$SECONDS_PER_RUN" --json --quiet | grep '^{'
}

source scripts/lib/rounds.sh
rounds "$ROUNDS" verified unchecked
python3 - "${rates[verified]}" "${rates[unchecked]}" <<'PY'
import statistics, sys
verified, unchecked = (statistics.median(map(float, a.split())) for a in sys.argv[1:3])
print(f"\nmedian calls/s: verified {verified:.0f}, unchecked {unchecked:.0f}; verified / unchecked {verified / unchecked:.2f}")
PY
