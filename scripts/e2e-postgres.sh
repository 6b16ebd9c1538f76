#!/usr/bin/env bash
# Failure behaviour on PostgreSQL: with its pgbouncer stopped mid-run, loms and cart answer UNAVAILABLE
# within their acquire timeout (no hang, no INTERNAL) and loms's /readyz says 503; with it started again,
# they serve (and loms is ready) again without a restart. With it paused (SIGSTOP: connections open,
# no answers), calls that carry no deadline end as UNAVAILABLE within the operation timeout, and the
# services serve again once it resumes. Runs the real binaries against a pgbouncer of its own
# (scripts/stack.sh bouncer), on fresh databases; needs `just stack-up`. Exits non-zero on the first
# deviation; always cleans up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ACQUIRE_MS=1000
TIMEOUT_MS=1500
suffix=$$
loms_db=loms_test_outage_$suffix
cart_db=cart_test_outage_$suffix

source scripts/lib/services.sh
logs=$services_logs
BOUNCER_PORT=${E2E_OUTAGE_BOUNCER_PORT:-${extra_port[e2e-postgres-pgbouncer]}}
# The services on the ports of this script's base (scripts/lib/ports.sh); product-service only because
# cart is ready once the services it calls answer.
base=${port_base[e2e-postgres]}
LOMS=$(service_addr loms grpc "$base") LOMS_HTTP=$(service_addr loms http "$base")
CART=$(service_addr cart grpc "$base") CART_HTTP=$(service_addr cart http "$base")
cleanup() {
  stop_services
  bash scripts/stack.sh resume outage >/dev/null 2>&1 || true
  bash scripts/stack.sh unbouncer outage >/dev/null 2>&1 || true
  dropdb -h "$PGHOST" -p "$PGPORT" --force --if-exists "$loms_db" 2>/dev/null || true
  dropdb -h "$PGHOST" -p "$PGPORT" --force --if-exists "$cart_db" 2>/dev/null || true
  services_exit
}
trap cleanup EXIT

fail() {
  echo "e2e-postgres: FAILED: $*" >&2
  for f in "$logs"/*; do echo "--- $(basename "$f") log" >&2; tail -n 20 "$f" >&2; done
  exit 1
}
passed=0
pass() { passed=$((passed + 1)); echo "e2e-postgres: ok  $1"; }

createdb -h "$PGHOST" -p "$PGPORT" "$loms_db"
createdb -h "$PGHOST" -p "$PGPORT" "$cart_db"
# One pgbouncer for both databases, reached through its wildcard entry.
bash scripts/stack.sh bouncer outage "$BOUNCER_PORT" "$loms_db" >/dev/null

url() { echo "postgres://$PGUSER@127.0.0.1:$BOUNCER_PORT/$1"; }
build_services product-service loms cart notifier
start_service product-service "$base"
export STORAGE=postgres
start_service loms "$base" LOMS_DATABASE_URL="$(url "$loms_db")" LOMS_DATABASE_ACQUIRE_TIMEOUT_MS=$ACQUIRE_MS \
  LOMS_DATABASE_TIMEOUT_MS=$TIMEOUT_MS
start_service cart "$base" CART_DATABASE_URL="$(url "$cart_db")" CART_DATABASE_ACQUIRE_TIMEOUT_MS=$ACQUIRE_MS \
  CART_DATABASE_TIMEOUT_MS=$TIMEOUT_MS

probes=(
  "$LOMS route256.loms.v1.LomsService/StocksInfo {\"sku\":1076963}"
  "$CART route256.cart.v1.CartService/Clear {\"user\":1}"
)
# User 1's token: the probes and the stalled calls act for them.
auth="authorization: Bearer $(dev_token 1)"
code_of() { # code_of ADDR METHOD JSON: OK, or the error code name; within 30 s
  local out
  if out=$(grpcurl -plaintext -max-time 30 -H "$auth" -d "$3" "$1" "$2" 2>&1); then echo OK; return; fi
  printf '%s' "$out" | sed -n 's/^ *Code: //p' | head -n 1
}

ready() { curl -s -o /dev/null -w '%{http_code}' "http://$LOMS_HTTP/readyz"; }
recovers() { # recovers WHEN: every probe succeeds again within 30 s, with no restart
  local addr method json deadline
  for probe in "${probes[@]}"; do
    read -r addr method json <<<"$probe"
    deadline=$((SECONDS + 30))
    until [ "$(code_of "$addr" "$method" "$json")" = OK ]; do
      [ $SECONDS -lt $deadline ] || fail "$1: $method never recovered"
      sleep 0.2
    done
    pass "$1: $method succeeds again, no restart"
  done
}

for probe in "${probes[@]}"; do
  read -r addr method json <<<"$probe"
  [ "$(code_of "$addr" "$method" "$json")" = OK ] || fail "$method before the outage"
done
pass "both services answer through pgbouncer"
[ "$(ready)" = 200 ] || fail "loms not ready before the outage"
pass "loms /readyz is 200"

bash scripts/stack.sh unbouncer outage >/dev/null
for probe in "${probes[@]}"; do
  read -r addr method json <<<"$probe"
  started=$(date +%s%N)
  code=$(code_of "$addr" "$method" "$json")
  elapsed_ms=$((($(date +%s%N) - started) / 1000000))
  [ "$code" = Unavailable ] || fail "$method with pgbouncer down: $code, want Unavailable"
  # The acquire timeout, plus the time a connection attempt may add (also bounded by it).
  [ "$elapsed_ms" -le $((2 * ACQUIRE_MS + 2000)) ] || fail "$method took ${elapsed_ms} ms to fail"
  pass "pgbouncer down: $method is UNAVAILABLE after ${elapsed_ms} ms"
done
[ "$(ready)" = 503 ] || fail "loms /readyz with pgbouncer down: $(ready), want 503"
pass "pgbouncer down: loms /readyz is 503 ($(curl -s "http://$LOMS_HTTP/readyz" | head -c 80))"

bash scripts/stack.sh bouncer outage "$BOUNCER_PORT" "$loms_db" >/dev/null
recovers "pgbouncer back"
[ "$(ready)" = 200 ] || fail "loms not ready again after the outage"
pass "pgbouncer back: loms /readyz is 200 again"

# A stall: 20 payments and a cart Clear over HTTP, none with a deadline of its own (curl's --max-time
# is only this script's guard), while pgbouncer is paused.
# Both pools hold open connections to pgbouncer: paused, it keeps them open and answers nothing.
for probe in "${probes[@]}"; do
  read -r addr method json <<<"$probe"
  [ "$(code_of "$addr" "$method" "$json")" = OK ] || fail "$method before the stall"
done
bash scripts/stack.sh pause outage
started=$(date +%s%N)
calls=()
for id in $(seq 20); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -H "$auth" "http://$LOMS_HTTP/order/pay" \
    --json "{\"orderId\": \"$id\"}" >"$logs/stall-pay-$id" &
  calls+=("$!")
done
curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -H "$auth" -X DELETE "http://$CART_HTTP/user/1/cart" \
  >"$logs/stall-clear" &
calls+=("$!")
wait "${calls[@]}" || true # a call cut off by --max-time shows as status 000 below
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
statuses=$(cat "$logs"/stall-* | sort | uniq -c | xargs)
[ "$statuses" = "21 503" ] || fail "with pgbouncer paused: statuses $statuses, want 21 × 503"
# The operation timeout, after at most the acquire timeout for a connection, and some slack.
[ "$elapsed_ms" -le $((TIMEOUT_MS + ACQUIRE_MS + 3000)) ] || fail "the stalled calls took ${elapsed_ms} ms"
pass "pgbouncer paused: 21 calls without a deadline are 503 (UNAVAILABLE) within ${elapsed_ms} ms"
bash scripts/stack.sh resume outage
recovers "pgbouncer resumed"
! grep -q "INTERNAL\|internal error" "$logs"/* || fail "an outage was reported as INTERNAL"
echo "e2e-postgres: $passed passed, 0 failed"
