#!/usr/bin/env bash
# End to end over the real binaries, as a user would: start product-service, loms and cart on spare ports
# (gRPC 18082/18083/18090, HTTP 18080/18084/18091), then walk the purchase flow with grpcurl through
# server reflection and again with curl over HTTP. Exits non-zero on the first
# deviation; always stops the services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOKEN=e2e-token
PYTHON=${ROUTE256_TOOLS_HOME:-$HOME/.local/share/route256-tools}/venv/bin/python

# The three services on ports of their own (scripts/lib/services.sh), product-service taking our token.
source scripts/lib/services.sh
use_test_settings
export PRODUCT_TOKENS=$TOKEN
start_services 18000
CART=127.0.0.1:18082 LOMS=127.0.0.1:18083 PRODUCT=127.0.0.1:18090
CART_HTTP=127.0.0.1:18080 LOMS_HTTP=127.0.0.1:18084 PRODUCT_HTTP=127.0.0.1:18091
logs=$services_logs

fail() {
  echo "e2e: FAILED: $*" >&2
  for f in "$logs"/*; do echo "--- $(basename "$f") log" >&2; tail -n 20 "$f" >&2; done
  exit 1
}

for addr in "$PRODUCT" "$LOMS" "$CART"; do
  grep -q SERVING <<<"$(grpcurl -plaintext "$addr" grpc.health.v1.Health/Check 2>/dev/null)" \
    || fail "$addr is not SERVING on gRPC health"
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

# A double-clicked checkout, twenty times over: 20 concurrent Checkouts of one cart make one order and
# reserve the stock once; every call answers that order or NOT_FOUND (the cart was already emptied).
call "$CART" $C/AddItem '{"user": 43, "sku": 1148162, "count": 4}' "$auth" >/dev/null
before=$(field "$(call "$LOMS" $L/StocksInfo '{"sku": 1148162}')" 'r["count"]')
checkouts=()
for i in $(seq 20); do
  grpcurl -plaintext -H "$auth" -d '{"user": 43}' "$CART" $C/Checkout >"$logs/checkout.$i" 2>&1 &
  checkouts+=("$!")
done
for pid in "${checkouts[@]}"; do wait "$pid" || true; done
orders=$(cat "$logs"/checkout.* | sed -n 's/.*"orderId": "\([0-9]*\)".*/\1/p' | sort -u)
others=$(cat "$logs"/checkout.* | grep -c '^ *Code:' | tr -d ' ' || true)
not_found=$(cat "$logs"/checkout.* | grep -c '^ *Code: NotFound' | tr -d ' ' || true)
expect "distinct orders from 20 concurrent checkouts" "$(wc -w <<<"$orders" | tr -d ' ')" 1
expect "failed checkouts that were not NOT_FOUND" "$((others - not_found))" 0
after=$(field "$(call "$LOMS" $L/StocksInfo '{"sku": 1148162}')" 'r["count"]')
expect "units reserved by them" "$((before - after))" 4

# Bytes that are no protobuf message: a truncated varint is the client's fault.
raw_code() { # raw_code ADDR METHOD HEX: the status code of a call whose request body is HEX, as it is
  "$PYTHON" - "$1" "$2" "$3" <<'PY'
import sys, grpc
addr, method, body = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
call = grpc.insecure_channel(addr).unary_unary(method)
try:
    call(body, timeout=10)
    print("OK")
except grpc.RpcError as e:
    print(e.code().name)
PY
}
expect "truncated varint to loms" "$(raw_code "$LOMS" /$L/OrderCreate 08ff)" INVALID_ARGUMENT
expect "wrong wire type to cart" "$(raw_code "$CART" /$C/AddItem 0a0101)" INVALID_ARGUMENT

# The same purchase flow over HTTP/JSON, with curl, through each service's gateway.
http() { # http METHOD URL [BODY] [HEADER]: prints "STATUS BODY"
  local out
  out=$(curl -s -X "$1" -H "${4:-$auth}" ${3:+-H "content-type: application/json" -d "$3"} -w '\n%{http_code}' "$2")
  printf '%s %s' "$(tail -n 1 <<<"$out")" "$(sed '$d' <<<"$out")"
}
body_of() { cut -d' ' -f2- <<<"$1"; }
status_of() { cut -d' ' -f1 <<<"$1"; }
expect "HTTP add item" "$(http POST "http://$CART_HTTP/user/44/cart/1625903" '{"count": 5}')" "200 {}"
out=$(http GET "http://$CART_HTTP/user/44/cart")
expect "HTTP list" "$(field "$(body_of "$out")" '(r["items"][0]["name"], r["totalPrice"])')" "('Сказки звездного неба', 7115)"
out=$(http GET "http://$CART_HTTP/user/44/cart" "" "x-no-token: 1")
expect "HTTP list without a token" "$(status_of "$out") $(field "$(body_of "$out")" 'r["code"]')" "401 16"
out=$(http POST "http://$CART_HTTP/user/44/cart/checkout")
expect "HTTP checkout" "$(status_of "$out")" 200
order=$(field "$(body_of "$out")" 'r["orderId"]')
out=$(http GET "http://$LOMS_HTTP/order/info?orderId=$order")
expect "HTTP order info" "$(field "$(body_of "$out")" 'r["status"]')" ORDER_STATUS_AWAITING_PAYMENT
expect "HTTP pay" "$(http POST "http://$LOMS_HTTP/order/pay" "{\"orderId\": \"$order\"}")" "200 {}"
out=$(http GET "http://$LOMS_HTTP/order/info?orderId=$order")
expect "HTTP paid" "$(field "$(body_of "$out")" 'r["status"]')" ORDER_STATUS_PAYED
out=$(http POST "http://$PRODUCT_HTTP/get_product" '{"sku": 773297411}')
expect "HTTP product" "$(body_of "$out")" '{"name":"Кроссовки Nike JORDAN","price":2202}'
expect "HTTP count 70000" "$(status_of "$(http POST "http://$CART_HTTP/user/44/cart/1625903" '{"count": 70000}')")" 400
for port in "$CART_HTTP" "$LOMS_HTTP" "$PRODUCT_HTTP"; do
  expect "ready $port" "$(curl -s "http://$port/readyz")" ready
done
# Read the whole page first: `curl | grep -q` under pipefail fails when grep stops reading early.
metrics=$(curl -s "http://$CART_HTTP/metrics")
grep -q 'grpc_method="Checkout",grpc_code="Ok",transport="http"' <<<"$metrics" \
  || fail "cart's /metrics has no HTTP Checkout"
pass "cart's /metrics counts the HTTP checkout"

! grep -q "$TOKEN" "$logs"/* || fail "a token reached the logs"
pass "no token in the logs"

# Fail closed: unusable settings stop a service at start with a message naming the variable.
refuses() { # refuses WHAT VAR=VALUE BINARY: the binary exits non-zero at once, naming VAR
  local out
  if out=$(env "$2" timeout 10 "target/debug/$3" 2>&1); then fail "$1: started"; fi
  grep -q "${2%%=*}" <<<"$out" || fail "$1: no clear error: $out"
  pass "$1 refuses to start"
}
refuses "empty PRODUCT_TOKENS" PRODUCT_TOKENS= product-service
refuses "blank PRODUCT_TOKENS" "PRODUCT_TOKENS= , " product-service
refuses "PRODUCT_RPS=4294967295" PRODUCT_RPS=4294967295 product-service
refuses "CART_UPSTREAM_TIMEOUT_MS=0" CART_UPSTREAM_TIMEOUT_MS=0 cart

# Graceful shutdown: every service exits 0 on SIGTERM.
for name in cart loms product-service; do
  stop_service "$name" || fail "$name did not stop cleanly (exit status $?)"
done
pass "graceful shutdown on SIGTERM"

# At the open-file limit loms used to spin on accept at 100 % CPU. With 48 descriptors and 64
# connections held open, it must idle (back off) and serve again once they close.
start_service loms 18100 --nofile 48
FDLOMS=127.0.0.1:18183
fd_pid=${services_pids[loms]}
cpu_ticks=$("$PYTHON" - "$FDLOMS" "$fd_pid" <<'PY'
import socket, sys, time
host, port = sys.argv[1].split(":")
pid = sys.argv[2]
def ticks():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime
held = []
for _ in range(64):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
    except OSError:
        pass
    held.append(s)
time.sleep(0.5)
start = ticks()
time.sleep(2)
print(ticks() - start)
for s in held:
    s.close()
PY
)
hz=$(getconf CLK_TCK)
[ "$cpu_ticks" -lt $((hz / 2)) ] || fail "loms at its open-file limit used $cpu_ticks ticks of CPU in 2 s"
pass "at the open-file limit loms backs off ($cpu_ticks/$((2 * hz)) ticks in 2 s)"
grep -q "accept failed" "$logs/loms.log" || fail "the accept failures were not logged"
deadline=$((SECONDS + 30))
until grep -q SERVING <<<"$(grpcurl -plaintext "$FDLOMS" grpc.health.v1.Health/Check 2>/dev/null)"; do
  [ $SECONDS -lt $deadline ] || fail "loms did not serve again after the connections closed"
  sleep 0.2
done
pass "loms serves again once descriptors are free"

echo "e2e: $passed passed, 0 failed"
