#!/usr/bin/env bash
# End to end over the real binaries, as a user would: product-service, loms and cart started on the
# ports of this script's base (scripts/lib/ports.sh); README's purchase flow with grpcurl through server
# reflection, then again with curl over HTTP, every step of which must succeed; then what only the
# processes show: an unusable setting stops a binary at start, naming it, and loms held at its
# open-file limit idles and serves again. What the answers must be — items, prices, statuses, stock,
# error codes, concurrent checkouts, malformed bytes, no token in the logs, exit 0 on SIGTERM — the
# system tests check on the same servers (crates/system-tests/tests: service.rs, http.rs, checkout.rs,
# hostile_input.rs, shutdown.rs); with no OTLP endpoint set, nothing reaches the stack's Jaeger. Exits
# non-zero on the first deviation; always stops the services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOKEN=e2e-token

# The three services, trusting the development identity provider (start_services), product-service
# also taking our static token.
source scripts/lib/services.sh
use_test_settings
export PRODUCT_TOKENS=$TOKEN
# No OTLP endpoint, a service name of our own: whatever these processes export would reach the stack's
# Jaeger (the SDK's default endpoint is its address) under this name — nothing must.
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
export OTEL_SERVICE_NAME=route256-e2e-untraced-$$-$(date +%s)
base=${port_base[e2e]}
start_services "$base"
CART=$(service_addr cart grpc "$base") LOMS=$(service_addr loms grpc "$base")
CART_HTTP=$(service_addr cart http "$base") LOMS_HTTP=$(service_addr loms http "$base")
PRODUCT_HTTP=$(service_addr product-service http "$base")
logs=$services_logs

fail() {
  echo "e2e: FAILED: $*" >&2
  for f in "$logs"/*; do echo "--- $(basename "$f") log" >&2; tail -n 20 "$f" >&2; done
  exit 1
}
passed=0
pass() { # pass WHAT: records one passed check
  passed=$((passed + 1))
  echo "e2e: ok  $1"
}

# Users 42 and 44, each with a token of their own.
auth="authorization: Bearer $(dev_token 42)"
auth44="authorization: Bearer $(dev_token 44)"
call() { # call ADDR METHOD JSON [HEADER]: prints the response, fails on an error status
  local out
  out=$(grpcurl -plaintext ${4:+-H "$4"} -d "$3" "$1" "$2" 2>&1) || fail "$2 $3: $out"
  printf '%s' "$out"
}
C=route256.cart.v1.CartService
L=route256.loms.v1.LomsService
call "$CART" $C/AddItem '{"user": 42, "sku": 1076963, "count": 2}' "$auth" >/dev/null
call "$CART" $C/AddItem '{"user": 42, "sku": 1148162, "count": 1}' "$auth" >/dev/null
call "$CART" $C/List '{"user": 42}' "$auth" >/dev/null
order=$(call "$CART" $C/Checkout '{"user": 42}' "$auth" | jq -r .orderId)
call "$LOMS" $L/OrderInfo "{\"orderId\": $order}" "$auth" >/dev/null
call "$LOMS" $L/OrderPay "{\"orderId\": $order}" "$auth" >/dev/null
call "$LOMS" $L/StocksInfo '{"sku": 1076963}' >/dev/null
pass "grpcurl through reflection: AddItem, List, Checkout (order $order), OrderInfo, OrderPay, StocksInfo"

http() { # http METHOD URL [BODY]: as user 44, prints the answer's body, fails on a status of 400 or more
  local out
  out=$(curl -sS -X "$1" -H "$auth44" ${3:+--json "$3"} -w '\n%{http_code}' "$2" 2>&1) || fail "$1 $2: $out"
  [ "$(tail -n 1 <<<"$out")" -lt 400 ] || fail "$1 $2: $out"
  sed '$d' <<<"$out"
}
http POST "http://$CART_HTTP/user/44/cart/1625903" '{"count": 5}' >/dev/null
http GET "http://$CART_HTTP/user/44/cart" >/dev/null
order=$(http POST "http://$CART_HTTP/user/44/cart/checkout" | jq -r .orderId)
http GET "http://$LOMS_HTTP/order/info?orderId=$order" >/dev/null
http POST "http://$LOMS_HTTP/order/pay" "{\"orderId\": \"$order\"}" >/dev/null
http POST "http://$PRODUCT_HTTP/get_product" '{"sku": 773297411}' >/dev/null
http POST "http://$PRODUCT_HTTP/get_product" "{\"sku\": 773297411, \"token\": \"$TOKEN\"}" >/dev/null
pass "curl through the gateways: add, list, checkout (order $order), order info, pay, get_product (user and static token)"

# Someone else's cart and order: refused, and the order is not even found.
status() { curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "$auth" "$2"; }
[ "$(status GET "http://$CART_HTTP/user/44/cart")" = 403 ] || fail "user 42 read user 44's cart"
[ "$(status GET "http://$LOMS_HTTP/order/info?orderId=$order")" = 404 ] || fail "user 42 read user 44's order"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$CART_HTTP/user/44/cart")" = 401 ] ||
  fail "a call without a token was not refused"
pass "user 42 gets 403 on user 44's cart and 404 on their order; no token gets 401"

# Fail closed: an unusable setting stops a binary at start with a message naming the variable (which
# values are unusable, each crate's tests/config.rs checks).
refuses() { # refuses VAR=VALUE BINARY: the binary exits non-zero at once, naming VAR
  local out
  if out=$(env "$1" timeout 10 "target/debug/$2" 2>&1); then fail "$2 with $1: started"; fi
  grep -q "${1%%=*}" <<<"$out" || fail "$2 with $1: no clear error: $out"
  pass "$2 refuses to start with $1"
}
refuses PRODUCT_RPS=4294967295 product-service
refuses CART_UPSTREAM_TIMEOUT_MS=0 cart
# Fail closed: a service that serves users does not start without its identity provider's keys.
for bin in cart loms product-service; do refuses AUTH_JWKS= $bin; done

stop_services
# At the open-file limit loms used to spin on accept at 100 % CPU. With 48 descriptors and 64
# connections held open, it must idle (back off) and serve again once they close.
start_service loms "$base" --nofile 48
fd_pid=${services_pids[loms]}
cpu_ticks=$(python3 - "$LOMS" "$fd_pid" <<'PY'
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
until grep -q SERVING <<<"$(grpcurl -plaintext "$LOMS" grpc.health.v1.Health/Check 2>/dev/null)"; do
  [ $SECONDS -lt $deadline ] || fail "loms did not serve again after the connections closed"
  sleep 0.2
done
pass "loms serves again once descriptors are free"

jaeger=http://127.0.0.1:${stack_port[jaeger-ui]}
if answers "${stack_port[jaeger-ui]}"; then
  stop_services # whatever an exporter held back is sent as it stops
  services=$(curl -sS "$jaeger/api/services")
  grep -q "$OTEL_SERVICE_NAME" <<<"$services" && fail "traces were exported with no endpoint set: $services"
  pass "no endpoint set: no trace reached the stack's Jaeger"
fi

echo "e2e: $passed passed, 0 failed"
