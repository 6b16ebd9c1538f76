#!/usr/bin/env bash
# End to end over the real binaries, as a user would: start product-service, loms and cart on spare ports,
# then walk the purchase flow with grpcurl through server reflection. Exits non-zero on the first
# deviation; always stops the services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CART=127.0.0.1:${E2E_CART_PORT:-18082}
LOMS=127.0.0.1:${E2E_LOMS_PORT:-18083}
PRODUCT=127.0.0.1:${E2E_PRODUCT_PORT:-18090}
TOKEN=e2e-token
logs=$(mktemp -d)

cargo build --locked --bins -p product-service -p loms -p cart

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$logs"
}
trap cleanup EXIT

PRODUCT_GRPC_ADDR=$PRODUCT PRODUCT_TOKENS=$TOKEN PRODUCT_RPS=0 target/debug/product-service >"$logs/product" 2>&1 &
pids+=("$!")
LOMS_GRPC_ADDR=$LOMS target/debug/loms >"$logs/loms" 2>&1 &
pids+=("$!")
CART_GRPC_ADDR=$CART PRODUCT_SERVICE_URL=http://$PRODUCT LOMS_URL=http://$LOMS target/debug/cart >"$logs/cart" 2>&1 &
pids+=("$!")

fail() {
  echo "e2e: FAILED: $*" >&2
  for f in "$logs"/*; do echo "--- $(basename "$f") log" >&2; tail -n 20 "$f" >&2; done
  exit 1
}

# Waits (up to 60 s) until every service answers its health check.
for addr in "$PRODUCT" "$LOMS" "$CART"; do
  deadline=$((SECONDS + 60))
  until grpcurl -plaintext "$addr" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING; do
    [ $SECONDS -lt $deadline ] || fail "$addr never became healthy"
    sleep 0.2
  done
done

call() { # call ADDR METHOD JSON [HEADER]: prints the response, fails on an error status
  local out
  out=$(grpcurl -plaintext ${4:+-H "$4"} -d "$3" "$1" "$2" 2>&1) || fail "$2 $3: $out"
  printf '%s' "$out"
}
call_code() { # call_code ADDR METHOD JSON [HEADER]: prints the error code name of a failing call
  local out
  if out=$(grpcurl -plaintext ${4:+-H "$4"} -d "$3" "$1" "$2" 2>&1); then fail "$2 $3 succeeded: $out"; fi
  printf '%s' "$out" | sed -n 's/^ *Code: //p'
}
field() { # field JSON EXPR: evaluates a Python expression over the parsed JSON `r`
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
passed=0
pass() { # pass WHAT: records one passed check
  passed=$((passed + 1))
  echo "e2e: ok  $1"
}
expect() { # expect WHAT ACTUAL WANTED
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
  pass "$1 = $3"
}

auth="authorization: Bearer $TOKEN"
services=$(grpcurl -plaintext "$CART" list)
expect "reflection lists CartService" "$(grep -c '^route256.cart.v1.CartService$' <<<"$services")" 1

C=route256.cart.v1.CartService
L=route256.loms.v1.LomsService
call "$CART" $C/AddItem '{"user": 42, "sku": 1076963, "count": 2}' "$auth" >/dev/null
call "$CART" $C/AddItem '{"user": 42, "sku": 1076963, "count": 1}' "$auth" >/dev/null
call "$CART" $C/AddItem '{"user": 42, "sku": 1148162, "count": 1}' "$auth" >/dev/null
list=$(call "$CART" $C/List '{"user": 42}' "$auth")
expect "listed skus" "$(field "$list" '[i["sku"] for i in r["items"]]')" "[1076963, 1148162]"
expect "listed counts" "$(field "$list" '[i["count"] for i in r["items"]]')" "[3, 1]"
expect "listed name" "$(field "$list" 'r["items"][0]["name"]')" "Теория нравственных чувств | Смит Адам"
expect "total price" "$(field "$list" 'r["totalPrice"]')" "$((3 * 3379 + 2931))"

expect "add without token" "$(call_code "$CART" $C/AddItem '{"user": 42, "sku": 1076963, "count": 1}')" Unauthenticated
expect "invalid user" "$(call_code "$CART" $C/List '{"user": 0}' "$auth")" InvalidArgument

order=$(field "$(call "$CART" $C/Checkout '{"user": 42}' "$auth")" 'r["orderId"]')
expect "cart cleared by checkout" "$(call_code "$CART" $C/List '{"user": 42}' "$auth")" NotFound
info=$(call "$LOMS" $L/OrderInfo "{\"orderId\": $order}")
expect "order status" "$(field "$info" 'r["status"]')" ORDER_STATUS_AWAITING_PAYMENT
expect "stock reserved" "$(field "$(call "$LOMS" $L/StocksInfo '{"sku": 1076963}')" 'r["count"]')" 262
call "$LOMS" $L/OrderPay "{\"orderId\": $order}" >/dev/null
expect "order paid" "$(field "$(call "$LOMS" $L/OrderInfo "{\"orderId\": $order}")" 'r["status"]')" ORDER_STATUS_PAYED
expect "cancel a paid order" "$(call_code "$LOMS" $L/OrderCancel "{\"orderId\": $order}")" FailedPrecondition

! grep -q "$TOKEN" "$logs"/* || fail "a token reached the logs"
pass "no token in the logs"

# Graceful shutdown: every service exits 0 on SIGTERM.
for pid in "${pids[@]}"; do
  kill -TERM "$pid"
  wait "$pid" || fail "a service did not stop cleanly (pid $pid)"
done
pids=()
pass "graceful shutdown on SIGTERM"
echo "e2e: $passed passed, 0 failed"
