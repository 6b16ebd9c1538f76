#!/usr/bin/env bash
# `just test-api`: the HTTP gateways against the documents they serve.
#
# Starts product-service, loms and cart (scripts/lib/services.sh: ports of their own, memory storage, the
# rate limits off so the fuzzing is not mostly 429s), then for each service:
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

source scripts/lib/services.sh
use_test_settings
base=${port_base[api-test]}
start_services "$base"
# User 1's token: cart and loms answer 403 / 404 for the other users schemathesis makes up, which the
# document lists; product-service takes it as it takes its static tokens.
token=$(dev_token 1)

failed=0
for name in product-service loms cart; do
  port=$(service_port "$name" http "$base")
  echo "== $name: openapi-spec-validator"
  curl -sf "http://127.0.0.1:$port/openapi.json" -o "$services_logs/$name.json"
  "$venv/bin/openapi-spec-validator" "$services_logs/$name.json" || failed=1
  echo "== $name: schemathesis"
  (
    cd "$root/tests/api"
    PYTHONPATH=$root/tests/api SCHEMATHESIS_HOOKS=hooks \
      "$venv/bin/schemathesis" --config-file schemathesis.toml run \
      "http://127.0.0.1:$port/openapi.json" \
      --header "authorization: Bearer $token" \
      --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" \
      --seed "${SCHEMATHESIS_SEED:-20261126}" \
      --generation-database none \
      --no-color
  ) || failed=1
done

if grep -h "panicked" "$services_logs"/*.log; then
  echo "a service panicked" >&2
  failed=1
fi
exit $failed
