#!/usr/bin/env bash
# `just run-all` as README.md tells a newcomer to use it: scripts/run-all.sh on the default ports (Kafka
# from the stack, memory storage elsewhere), README's grpcurl purchase flow — two items added, checkout
# (order 1), pay — then the notifier's lines `order 1 status new`, `awaiting payment`, `payed`, in that
# order, the notifier's lag and dead letters on /metrics, and the checkout's trace in the stack's Jaeger;
# then Ctrl-C's SIGINT, after which every service has stopped and run-all has exited, and the Kafka
# cluster still runs.
# Needs the default ports 8080-8093 free.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh
base=${port_base[run-all]}
cart=$(service_addr cart grpc "$base") loms=$(service_addr loms grpc "$base")

log=$(mktemp)
# Job control: run-all gets a process group of its own, as in a terminal, and the Ctrl-C below goes to
# that group (without it, a background job would ignore SIGINT).
set -m
bash scripts/run-all.sh >"$log" 2>&1 &
run_all=$!
set +m
ctrl_c() { kill -INT -- "-$run_all"; }
cleanup() {
  local status=$?
  if kill -0 "$run_all" 2>/dev/null; then
    ctrl_c
    wait "$run_all" 2>/dev/null || true
  fi
  rm -f "$log"
  exit "$status"
}
trap cleanup EXIT

plain() { sed 's/\x1b\[[0-9;]*m//g' "$log"; } # the log without its colours
fail() {
  echo "run-all-check: FAILED: $*" >&2
  plain | tail -n 40 >&2
  exit 1
}
waits_for() { # waits_for WHAT SECONDS PATTERN: until the log has a line matching PATTERN
  local deadline=$((SECONDS + $2))
  until plain | grep -qE "$3"; do
    kill -0 "$run_all" 2>/dev/null || fail "run-all exited before $1"
    [ $SECONDS -lt $deadline ] || fail "$1: not within $2 s"
    sleep 0.2
  done
  echo "run-all-check: ok  $1"
}

# A cold machine builds the four services first.
waits_for "services ready" 1800 "^gRPC: cart :${cart##*:}"
# The notifier starts at the end of each partition once assigned: a newcomer's order comes later.
waits_for "the notifier's partitions" 60 'partitions assigned'

# README's token: user 1's, signed by the development identity provider run-all made the services trust.
H="authorization: Bearer $(cargo run --quiet --locked -p identity --bin dev-idp -- token "$(dev_identity)" 1)"
call() { # call ADDR METHOD JSON [HEADER]
  grpcurl -plaintext ${4:+-H "$4"} -d "$3" "$1" "$2" 2>&1 || fail "$2 $3"
}
C=route256.cart.v1.CartService
call "$cart" $C/AddItem '{"user": 1, "sku": 1076963, "count": 2}' "$H" >/dev/null
call "$cart" $C/AddItem '{"user": 1, "sku": 1148162, "count": 1}' "$H" >/dev/null
checkout=$(call "$cart" $C/Checkout '{"user": 1}' "$H")
[ "$(jq -r .orderId <<<"$checkout")" = 1 ] || fail "checkout answered $checkout, README shows order 1"
call "$loms" route256.loms.v1.LomsService/OrderPay '{"orderId": 1}' "$H" >/dev/null

waits_for "order 1 paid, notified" 60 'order 1 status payed'
statuses=$(plain | grep -oE 'order 1 status (new|awaiting payment|failed|payed|cancelled)' |
  sed 's/^order 1 status //' | paste -sd,)
[ "$statuses" = "new,awaiting payment,payed" ] || fail "the notifier logged order 1 as: $statuses"
echo "run-all-check: ok  notified once each, in order: $statuses"

# The notifier's lag on /metrics, from librdkafka's statistics (every 5 s): nothing left behind, and
# every dead-letter reason there at 0 (deploy/prometheus/alerts.yml reads both).
metrics=http://$(service_addr notifier http "$base")/metrics
deadline=$((SECONDS + 30))
until curl -fsS "$metrics" | grep -qx 'notifier_consumer_lag_records 0'; do
  [ $SECONDS -lt $deadline ] || fail "no notifier_consumer_lag_records 0 on $metrics: $(curl -fsS "$metrics" | grep lag)"
  sleep 0.5
done
[ "$(curl -fsS "$metrics" | grep -c '^notifier_dead_letters_total{reason="[a-z_]*"} 0$')" = 5 ] ||
  fail "the notifier's dead-letter reasons are not all at 0: $(curl -fsS "$metrics" | grep dead_letters)"
echo "run-all-check: ok  the notifier's lag and dead letters on /metrics"

# The services send their traces to the stack's Jaeger: the checkout's is there, down to the notifier.
jaeger=http://127.0.0.1:${stack_port[jaeger-ui]}
checkouts="$jaeger/api/traces?service=cart&operation=route256.cart.v1.CartService%2FCheckout&limit=20"
deadline=$((SECONDS + 30))
until curl -fsS "$checkouts" | jq -e '[.data[] | select(any(.processes[]; .serviceName == "notifier"))] | length > 0' >/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "no trace of the checkout reaching the notifier in $jaeger"
  sleep 0.5
done
echo "run-all-check: ok  the checkout's trace in Jaeger, cart to the notifier"

ctrl_c
deadline=$((SECONDS + 60))
while kill -0 "$run_all" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "run-all still runs 60 s after SIGINT"
  sleep 0.2
done
wait "$run_all" 2>/dev/null || true
for key in "${!service_offset[@]}"; do
  port=$((base + service_offset[$key]))
  ! answers "$port" || fail "something still answers on :$port after SIGINT"
done
echo "run-all-check: ok  SIGINT stopped every service"
for n in 1 2 3; do
  answers "${stack_port[kafka-broker-$n]}" || fail "Ctrl-C stopped the Kafka broker on :${stack_port[kafka-broker-$n]} too"
done
echo "run-all-check: ok  the Kafka cluster keeps running, as README says"
