#!/usr/bin/env bash
# Traces end to end, in the stack's Jaeger (`just stack-up`): the four services as processes on this
# script's ports, on PostgreSQL, exporting to Jaeger, loms's relay and the notifier on a topic of their
# own. Each call is sent with a `traceparent` of ours, so its trace is found by id in Jaeger's query
# API (scripts/lib/jaeger-expect.py waits for the spans README's "Traces" describes):
#   AddItem (gRPC)       cart's server span, the caller's child; cart's client spans to product-service
#                        (the rate limiter's wait within) and loms, each the parent of the callee's server span
#   List (gRPC)          cart's client span to product-service, though a task of its worker pool makes the
#                        call, and product-service's server span: the request's trace
#   Checkout (gRPC)      cart → loms OrderCreate → its storage span → two publish spans (new, awaiting
#                        payment) → the notifier's two consumer spans
#   OrderPay (gRPC)      loms → storage → publish (payed) → the notifier
#   a purchase over HTTP AddItem and Checkout through cart's gateway: the same traces
#   a failed call       AddItem of an unknown SKU: cart's client span to product-service is an error
#                        (NOT_FOUND), the two server spans are not (the caller's mistake, not theirs)
#   a malformed traceparent: the call succeeds, and its trace (found by the call's request id) is a root
#   health probes: no trace
# Server spans carry the call's request id; gRPC spans the rpc.* attributes and status code, the relay's
# and the notifier's the messaging.* ones. Exits non-zero on the first deviation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/services.sh
base=${port_base[traces]}
JAEGER=http://127.0.0.1:${stack_port[jaeger-ui]}
BROKERS=$(kafka_bootstrap)
answers "${stack_port[otlp-grpc]}" && answers "${stack_port[jaeger-ui]}" ||
  { log "no Jaeger on ${stack_port[otlp-grpc]} and ${stack_port[jaeger-ui]}: run just stack-up"; exit 1; }

fail() {
  echo "traces: FAILED: $*" >&2
  for f in "$services_logs"/*; do echo "--- $(basename "$f") log" >&2; tail -n 20 "$f" >&2; done
  exit 1
}
pass() { echo "traces: ok  $1"; }

fresh_db() { # fresh_db NAME: an empty database of that name (dropped first if it exists)
  dropdb -h "$PGHOST" -p "$PGPORT" --force --if-exists "$1"
  createdb -h "$PGHOST" -p "$PGPORT" "$1"
}
bouncer() { echo "postgres://$PGUSER@127.0.0.1:${stack_port[pgbouncer-$1]}/$2"; } # bouncer SERVICE DATABASE
for db in cart loms notifier; do fresh_db "${db}_traces"; done
cargo build --quiet --locked -p bench --bin events-load
topic=test-traces-$(date +%s)-$$
rid=$topic # request ids of this run's own: the stack's Jaeger keeps earlier runs' traces
target/debug/events-load topic "$BROKERS" "$topic"

export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${stack_port[otlp-grpc]} RUST_LOG=info STORAGE=postgres
export CART_DATABASE_URL=$(bouncer cart cart_traces) LOMS_DATABASE_URL=$(bouncer loms loms_traces)
export NOTIFIER_DATABASE_URL=$(bouncer notifier notifier_traces)
export LOMS_KAFKA_BROKERS=$BROKERS LOMS_KAFKA_TOPIC=$topic
export NOTIFIER_KAFKA_BROKERS=$BROKERS NOTIFIER_KAFKA_TOPIC=$topic NOTIFIER_GROUP=$topic
start_services "$base"
start_service notifier "$base"
# The notifier starts at the end of each partition once assigned: the orders come after.
for _ in $(seq 600); do grep -q 'partitions assigned' "$services_logs/notifier.log" && break; sleep 0.1; done
grep -q 'partitions assigned' "$services_logs/notifier.log" || fail "the notifier got no partitions"
CART=$(service_addr cart grpc "$base") LOMS=$(service_addr loms grpc "$base")
CART_HTTP=$(service_addr cart http "$base")

new_parent() { parent_trace=$(hex 16) parent_span=$(hex 8); traceparent=00-$parent_trace-$parent_span-01; }
auth="authorization: Bearer $(dev_token 42)"
call() { # call ADDR METHOD JSON REQUEST_ID: the call, with the current traceparent; prints its answer
  grpcurl -plaintext -H "$auth" -H "traceparent: $traceparent" -H "x-request-id: $4" -d "$3" "$1" "$2" 2>&1 ||
    fail "$2 $3"
}
expect() { # expect WHAT JSON: the current trace holds the spans of JSON (scripts/lib/jaeger-expect.py)
  python3 scripts/lib/jaeger-expect.py "$JAEGER" "$parent_trace" "$2" 60 >/dev/null || fail "$1"
  pass "$1"
}
span() { # span SERVICE NAME KIND PARENT [COUNT] [REQUEST_ID] [TAGS]: one expected span, as JSON
  local tags=${7:-'{}'}
  [ -n "${6:-}" ] && tags=$(jq -c --arg id "$6" '. + {request_id: $id}' <<<"$tags")
  printf '{"service": "%s", "name": "%s", "kind": "%s", "parent": %s, "count": %s, "tags": %s}' \
    "$1" "$2" "$3" "$4" "${5:-1}" "$tags"
}
C=route256.cart.v1.CartService L=route256.loms.v1.LomsService P=route256.product.v1.ProductService
rpc_tags() { # rpc_tags SERVICE METHOD CODE: a gRPC span's semantic-convention attributes, its status not an error
  printf '{"rpc.system": "grpc", "rpc.service": "%s", "rpc.method": "%s", "rpc.grpc.status_code": %s, "error": null}' \
    "$1" "$2" "$3"
}
kafka_tags() { # kafka_tags OPERATION: a record's span's semantic-convention attributes
  printf '{"messaging.system": "kafka", "messaging.destination.name": "%s", "messaging.operation.type": "%s"}' \
    "$topic" "$1"
}
add_item_spans() { # add_item_spans REQUEST_ID: AddItem's trace
  printf '[%s]' "$(
    span cart "$C/AddItem" server "\"remote:$parent_span\"" 1 "$1" "$(rpc_tags $C AddItem 0)"
    printf ','
    span cart "$P/GetProduct" client "\"cart $C/AddItem\"" 1 "" "$(rpc_tags $P GetProduct 0)"
    printf ','
    span cart "rate limiter wait" internal "\"cart $P/GetProduct\""
    printf ','
    span product-service "$P/GetProduct" server "\"cart $P/GetProduct\"" 1 "$1"
    printf ','
    span cart "$L/StocksInfo" client "\"cart $C/AddItem\""
    printf ','
    span loms "$L/StocksInfo" server "\"cart $L/StocksInfo\"" 1 "$1"
    printf ','
    span loms available client "\"loms $L/StocksInfo\""
    printf ','
    span cart add_item client "\"cart $C/AddItem\""
  )"
}
checkout_spans() { # checkout_spans REQUEST_ID: Checkout's trace, down to the notifications
  printf '[%s]' "$(
    span cart "$C/Checkout" server "\"remote:$parent_span\"" 1 "$1"
    printf ','
    span cart "$L/OrderCreate" client "\"cart $C/Checkout\""
    printf ','
    span loms "$L/OrderCreate" server "\"cart $L/OrderCreate\"" 1 "$1"
    printf ','
    span loms place client "\"loms $L/OrderCreate\""
    printf ','
    span loms "$topic publish" producer "\"loms place\"" 2 "" "$(kafka_tags send)"
    printf ','
    span notifier "$topic process" consumer "\"loms $topic publish\"" 2 "" "$(kafka_tags process)"
  )"
}

new_parent
call "$CART" $C/AddItem '{"user": 42, "sku": 1076963, "count": 2}' $rid-1 >/dev/null
expect "AddItem: cart, its calls to product-service (the limiter's wait within) and loms, storage" \
  "$(add_item_spans $rid-1)"

new_parent
call "$CART" $C/List '{"user": 42}' $rid-8 >/dev/null
expect "List: cart's calls to product-service, made by its worker pool, in the request's trace" "[$(
  span cart "$C/List" server "\"remote:$parent_span\"" 1 $rid-8 "$(rpc_tags $C List 0)"
  printf ','
  span cart "$P/GetProduct" client "\"cart $C/List\""
  printf ','
  span product-service "$P/GetProduct" server "\"cart $P/GetProduct\"" 1 $rid-8
)]"

new_parent
order=$(call "$CART" $C/Checkout '{"user": 42}' $rid-2 | jq -r .orderId)
expect "Checkout: cart → loms → storage → the relay's two publishes → the notifier's two" \
  "$(checkout_spans $rid-2)"

new_parent
call "$LOMS" $L/OrderPay "{\"orderId\": $order}" $rid-3 >/dev/null
expect "OrderPay: loms → storage → the relay's publish → the notifier" "[$(
  span loms "$L/OrderPay" server "\"remote:$parent_span\"" 1 $rid-3
  printf ','
  span loms transition client "\"loms $L/OrderPay\""
  printf ','
  span loms "$topic publish" producer '"loms transition"'
  printf ','
  span notifier "$topic process" consumer "\"loms $topic publish\""
)]"

http() { # http METHOD PATH BODY REQUEST_ID: through cart's gateway, with the current traceparent
  curl -sS -f -X "$1" -H "$auth" -H "traceparent: $traceparent" -H "x-request-id: $4" --json "$3" \
    "http://$CART_HTTP$2" >/dev/null || fail "$1 $2"
}
new_parent
http POST /user/42/cart/1148162 '{"count": 1}' $rid-4
expect "AddItem over HTTP: the same trace" "$(add_item_spans $rid-4)"
new_parent
http POST /user/42/cart/checkout '{}' $rid-5
expect "Checkout over HTTP: the same trace, down to the notifications" "$(checkout_spans $rid-5)"

# A failed call: an unknown SKU. product-service answers NOT_FOUND, the caller's mistake: its server span
# is no error; to cart, the client, any status but OK is; cart answers FAILED_PRECONDITION, no error.
new_parent
refused=$(grpcurl -plaintext -H "$auth" -H "traceparent: $traceparent" -H "x-request-id: $rid-7" \
  -d '{"user": 42, "sku": 1, "count": 1}' "$CART" $C/AddItem 2>&1 || true)
grep -q FailedPrecondition <<<"$refused" || fail "AddItem of SKU 1, not in the catalogue: $refused"
expect "a failed call: the client's span an error, the servers' not (their own faults only)" "[$(
  span cart "$C/AddItem" server "\"remote:$parent_span\"" 1 $rid-7 "$(rpc_tags $C AddItem 9)"
  printf ','
  span cart "$P/GetProduct" client "\"cart $C/AddItem\"" 1 "" \
    '{"rpc.grpc.status_code": 5, "error": true, "otel.status_code": "ERROR"}'
  printf ','
  span product-service "$P/GetProduct" server "\"cart $P/GetProduct\"" 1 $rid-7 "$(rpc_tags $P GetProduct 5)"
)]"

# A malformed traceparent is no error: the call starts a trace of its own (found by its request id).
traceparent=00-not-a-trace-01
call "$CART" $C/AddItem '{"user": 42, "sku": 1076963, "count": 1}' $rid-6 >/dev/null
search="$JAEGER/api/traces?service=cart&tags=%7B%22request_id%22%3A%22$rid-6%22%7D&limit=5"
for _ in $(seq 120); do
  # (grpcurl's reflection call carries the same headers: a trace of its own)
  parent_trace=$(curl -sS "$search" |
    jq -r --arg m "$C/AddItem" '[.data[]? | select(any(.spans[]; .operationName == $m))][0].traceID // empty' ||
    true)
  [ -n "$parent_trace" ] && break
  sleep 0.5
done
[ -n "$parent_trace" ] || fail "no trace of the call with a malformed traceparent ($rid-6)"
expect "a malformed traceparent: answered, a trace of its own ($parent_trace)" "[$(
  span cart "$C/AddItem" server null 1 $rid-6
)]"

# Health probes (cart's readiness asks loms's and product-service's health, and the script polls
# /readyz) are logged, never traced.
for service in cart loms product-service; do
  operations=$(curl -sS "$JAEGER/api/services/$service/operations" || true)
  ! grep -qE 'untraced|grpc\.health' <<<"$operations" || fail "$service's health calls were traced: $operations"
done
pass "health probes: not traced"
