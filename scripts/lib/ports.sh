# shellcheck shell=bash
# Every fixed port of the scripts, in one place: sourced by scripts/lib/common.sh, so by every script
# that starts the stack or the services.
#
# Listeners stay below 32768: the kernel lends 32768-60999 (net.ipv4.ip_local_port_range) to the local
# ends of outgoing connections, and a listener there fails at random whenever one of them holds its port
# (a fresh CI run lost cart at :38080). Sourcing this file checks the tables against that, against each
# other and against the stack's ports, and stops the script naming the culprit; scripts/ports-check.sh
# also looks for fixed ports written outside them.
#
#   port_base[SCRIPT]      where SCRIPT's services listen: BASE plus the default ports' last two digits
#                          (BASE+80 .. BASE+93); run-all's base 8000 gives the default ports themselves
#   service_port NAME grpc|http BASE
#                          a service's port for BASE (NAME: cart, loms, product-service, notifier)
#   service_addr NAME grpc|http BASE
#                          the same as 127.0.0.1:PORT
#   stack_port[WHAT]       the stack's ports, the contract's (README.md, "On PostgreSQL")
#   kafka_bootstrap        the stack's Kafka brokers, host:port,...
#   extra_port[WHAT]       single ports a script listens on besides its services
#
# Kept free of every table: 24000-27999, where the system tests start the processes they kill and
# restart (crates/system-tests/tests/support/processes.rs, free_port).

declare -gA port_base=(
  [run-all]=8000 # run-all and test-run-all: the default ports
  [e2e]=18000
  [e2e-postgres]=18100
  [bench]=18200
  [bench-events]=18300
  [bench-gateway]=18400
  [bench-list]=18500
  [bench-memory]=18600
  [traces]=18700
  [api-test]=28000
  [browser-test]=28100
  [load]=28200
)

declare -gA service_offset=(
  [cart-http]=80 [cart-grpc]=82 [loms-grpc]=83 [loms-http]=84
  [product-service-grpc]=90 [product-service-http]=91 [notifier-http]=93
)

declare -gA stack_port=(
  [postgres]=5432 [redis]=6379
  [pgbouncer-cart]=6432 [pgbouncer-loms]=6433 [pgbouncer-notifier]=6434
  [kafka-broker-1]=9092 [kafka-broker-2]=9093 [kafka-broker-3]=9094
  [kafka-controller-1]=19092 [kafka-controller-2]=19093 [kafka-controller-3]=19094
  [otlp-grpc]=4317 [otlp-http]=4318 [jaeger-ui]=16686
)

declare -gA extra_port=(
  [e2e-postgres-pgbouncer]=16499 # the pgbouncer e2e-postgres stops, starts and pauses
)

service_port() {
  local offset=${service_offset[$1-$2]:-}
  [ -n "$offset" ] || { echo "service_port: $1 has no $2 port" >&2; return 1; }
  echo $(($3 + offset))
}

service_addr() { echo "127.0.0.1:$(service_port "$@")"; }

kafka_bootstrap() {
  local n list=""
  for n in 1 2 3; do list+="${list:+,}127.0.0.1:${stack_port[kafka-broker-$n]}"; done
  echo "$list"
}

ports_check() { # prints a line for each port that breaks the rules above; fails if there is one
  local -A owner=()
  local name key problems=0
  claim() { # claim PORT WHO: fails (and says so) when PORT is out of bounds or taken
    if [ "$1" -ge 32768 ] || [ "$1" -lt 1024 ]; then
      echo "ports: $2 listens on $1, outside 1024-32767 (32768-60999 is lent to outgoing connections)"
    elif [ -n "${owner[$1]:-}" ]; then
      echo "ports: $2 listens on $1, as ${owner[$1]} does"
    else
      owner[$1]=$2
      return 0
    fi
    problems=1
    return 1
  }
  for name in "${!stack_port[@]}"; do claim "${stack_port[$name]}" "the stack's $name" || true; done
  for name in "${!extra_port[@]}"; do claim "${extra_port[$name]}" "$name" || true; done
  for name in "${!port_base[@]}"; do
    for key in "${!service_offset[@]}"; do # the first problem of a base stands for the others
      claim $((port_base[$name] + service_offset[$key])) "$name's ${key%-*} (${key##*-})" || break
    done
  done
  return $problems
}

ports_check >&2 || exit 1
