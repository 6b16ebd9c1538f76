#!/usr/bin/env bash
# `just test-api`: the HTTP gateways against the documents they serve.
#
# Starts product-service, loms and cart (debug binaries, memory storage, ports of their own so a running
# `just run-all` is not disturbed, the rate limits off so the fuzzing is not mostly 429s), then for each
# service:
#   1. its /openapi.json passes openapi-spec-validator;
#   2. schemathesis runs every check it has against it (schemathesis.toml and hooks.py in tests/api say
#      what is adjusted and why), at most SCHEMATHESIS_MAX_EXAMPLES cases per operation and phase, with
#      a fixed seed so a CI failure can be replayed (SCHEMATHESIS_SEED to explore others).
# Fails on any failure, on any service log line with "panicked", or on a 5xx.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
venv=${ROUTE256_TOOLS_HOME:-$HOME/.local/share/route256-tools}/venv
[ -x "$venv/bin/schemathesis" ] && [ -x "$venv/bin/openapi-spec-validator" ] || bash scripts/tools.sh

cargo build --locked --quiet --bins -p product-service -p loms -p cart

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export RUST_LOG=info STORAGE=memory
PRODUCT_GRPC_ADDR=127.0.0.1:28090 PRODUCT_HTTP_ADDR=127.0.0.1:28091 PRODUCT_RPS=0 \
  target/debug/product-service >"$work/product-service.log" 2>&1 &
pids+=("$!")
LOMS_GRPC_ADDR=127.0.0.1:28083 LOMS_HTTP_ADDR=127.0.0.1:28084 \
  target/debug/loms >"$work/loms.log" 2>&1 &
pids+=("$!")
CART_GRPC_ADDR=127.0.0.1:28082 CART_HTTP_ADDR=127.0.0.1:28080 CART_PRODUCT_RPS=0 \
  PRODUCT_SERVICE_URL=http://127.0.0.1:28090 LOMS_URL=http://127.0.0.1:28083 \
  target/debug/cart >"$work/cart.log" 2>&1 &
pids+=("$!")

for port in 28091 28084 28080; do
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || {
    echo "service on :$port never became ready" >&2
    cat "$work"/*.log >&2
    exit 1
  }
done

failed=0
for target in product-service:28091 loms:28084 cart:28080; do
  name=${target%%:*} port=${target##*:}
  echo "== $name: openapi-spec-validator"
  curl -sf "http://127.0.0.1:$port/openapi.json" -o "$work/$name.json"
  "$venv/bin/openapi-spec-validator" "$work/$name.json" || failed=1
  echo "== $name: schemathesis"
  (
    cd "$root/tests/api"
    PYTHONPATH=$root/tests/api SCHEMATHESIS_HOOKS=hooks \
      "$venv/bin/schemathesis" --config-file schemathesis.toml run \
      "http://127.0.0.1:$port/openapi.json" \
      --header "authorization: Bearer testtoken" \
      --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" \
      --seed "${SCHEMATHESIS_SEED:-20261126}" \
      --generation-database none \
      --no-color
  ) || failed=1
done

if grep -h "panicked" "$work"/*.log; then
  echo "a service panicked" >&2
  failed=1
fi
exit $failed
