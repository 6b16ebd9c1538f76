# Sourced by every script that starts the services as real processes (run-all, e2e, e2e-postgres,
# test-api, test-browser and the benchmarks), so each starts them the same way:
#
#   start_services BASE    product-service, loms and cart (build_services first)
#   start_service notifier BASE
#                          the notifier, on the Kafka cluster of the environment (run-all starts it)
#   start_service NAME BASE [--nofile N] [VAR=VALUE...]
#                          one service with these settings on top of the environment's, and at most N
#                          open files; returns once its HTTP port answers /readyz, or fails showing
#                          the lines of its log that carry an error, then the log's end (wait_ready)
#   stop_service NAME      SIGTERM, and wait until it has exited; returns its exit status
#   stop_services          all of them (also run on exit)
#   build_services NAME... cargo build of their binaries
#   use_test_settings      memory storage and the rate limits off, for the tests
#   dev_token USER [--role ROLE] [--ttl DURATION]
#                          a token of USER signed by the development identity provider, which
#                          start_service makes the services trust (AUTH_JWKS) unless told otherwise,
#                          exporting its key for the load generators (ROUTE256_SIGNING_KEY)
#
# Ports from BASE, the same shape as the defaults (BASE 8000): each script's BASE is its port_base entry
# in scripts/lib/ports.sh, which also gives the services' addresses (service_addr); cart calls the two
# others on BASE's ports. Both come with scripts/lib/common.sh (log, apt_install, PostgreSQL's
# variables), sourced here.
# Settings the caller exports (STORAGE, PRODUCT_RPS=0, ...) reach every service.
#
#   services_profile   debug (default) or release
#   services_output    files (default): one log per service in $services_logs; or terminal: interleaved
#                      on standard output, each line prefixed by the service's name
#
# The caller sets `set -euo pipefail` and runs from the project root.
source scripts/lib/common.sh
services_profile=${services_profile:-debug}
services_output=${services_output:-files}
services_logs=$(mktemp -d)
declare -gA services_pids=()
# A binary to run instead of target/<profile>/NAME (the events benchmark's earlier relay), by name.
declare -gA service_bin=()

stop_service() {
  local pid=${services_pids[$1]:-} status=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || status=$?
  unset "services_pids[$1]"
  return $status
}

stop_services() {
  local name
  for name in "${!services_pids[@]}"; do kill -TERM "${services_pids[$name]}" 2>/dev/null || true; done
  for name in "${!services_pids[@]}"; do wait "${services_pids[$name]}" 2>/dev/null || true; done
  services_pids=()
}
services_exit() { stop_services; rm -rf "$services_logs"; }
# A caller with a trap of its own calls services_exit from it.
trap services_exit EXIT

build_services() {
  local flags=(--locked --bins) name
  [ "$services_output" = files ] && flags+=(--quiet)
  [ "$services_profile" = release ] && flags+=(--release)
  for name in "$@"; do flags+=(-p "$name"); done
  cargo build "${flags[@]}"
}

use_test_settings() { # memory storage, the rate limits and the relay off, whatever the environment says
  # (the relay off: test orders stay out of the stack's loms.order-events, which a notifier may read)
  export STORAGE=memory PRODUCT_RPS=0 CART_PRODUCT_RPS=0 LOMS_KAFKA_BROKERS=off
}

start_service() {
  local name=$1 base=$2 nofile="" http settings
  shift 2
  trust_dev_identity
  if [ "${1:-}" = --nofile ]; then nofile=$2; shift 2; fi
  http=$(service_port "$name" http "$base")
  case $name in
    product-service)
      settings=(PRODUCT_GRPC_ADDR="$(service_addr "$name" grpc "$base")" PRODUCT_HTTP_ADDR=127.0.0.1:$http)
      ;;
    loms)
      settings=(LOMS_GRPC_ADDR="$(service_addr "$name" grpc "$base")" LOMS_HTTP_ADDR=127.0.0.1:$http)
      ;;
    cart)
      settings=(CART_GRPC_ADDR="$(service_addr "$name" grpc "$base")" CART_HTTP_ADDR=127.0.0.1:$http
        PRODUCT_SERVICE_URL="http://$(service_addr product-service grpc "$base")"
        LOMS_URL="http://$(service_addr loms grpc "$base")")
      ;;
    notifier)
      settings=(NOTIFIER_HTTP_ADDR=127.0.0.1:$http)
      ;;
  esac
  local command=(env "${settings[@]}" "$@" "${service_bin[$name]:-target/$services_profile/$name}")
  # exec: $! is the service itself, so SIGTERM reaches it.
  if [ "$services_output" = terminal ]; then
    local prefix
    prefix=$(printf '\033[%sm%-16s\033[0m' "$(service_colour "$name")" "$name")
    # The prefixing ignores Ctrl-C and ends when the service closes its output, so its last lines show.
    ([ -z "$nofile" ] || ulimit -n "$nofile"; exec "${command[@]}") \
      > >(trap '' INT; exec sed -u "s/^/$prefix /") 2>&1 &
  else
    ([ -z "$nofile" ] || ulimit -n "$nofile"; exec "${command[@]}") >"$services_logs/$name.log" 2>&1 &
  fi
  services_pids[$name]=$!
  wait_ready "$name" "$http"
}

service_colour() {
  case $1 in product-service) echo 36 ;; loms) echo 35 ;; notifier) echo 33 ;; *) echo 32 ;; esac
}

# wait_ready NAME PORT: its /readyz answers 200 within a minute. Else what it said is shown: first its
# errors, then the end of its log — which, with RUST_BACKTRACE set, is all backtrace.
wait_ready() {
  local pid=${services_pids[$1]} log=$services_logs/$1.log status="" errors
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { status=0; wait "$pid" || status=$?; break; }
    sleep 0.1
  done
  echo "$1 never became ready on :$2${status:+: it exited with status $status}" >&2
  [ "$services_output" = files ] || return 1
  errors=$(log_errors "$log" | head -n 20)
  [ -z "$errors" ] || printf -- '--- %s: its errors\n%s\n' "$1" "$errors" >&2
  echo "--- $1: the last 40 lines of its log" >&2
  tail -n 40 "$log" >&2
  return 1
}

# log_errors FILE: the lines before the first backtrace that carry an error (ERROR, error, panicked),
# each with what follows it up to a blank line when it is a panic or a list of causes (a panic's
# message comes on the line after "panicked at", anyhow's causes under "Caused by:").
log_errors() {
  awk '/^[Ss]tack backtrace:/ { exit }
    /^$/ { follow = 0 }
    follow || /ERROR|[Ee]rror|panicked|^Caused by:/ { print; if (/panicked|^Caused by:/) follow = 1 }' "$1"
}

dev_token() { cargo run --quiet --locked -p identity --bin dev-idp -- token "$(dev_identity)" "$@"; }

# The services serve users: they trust the development provider unless the caller named another
# (or switched checking off for a benchmark's baseline), and the load generators sign their users'
# tokens with its key (bench::credentials).
trust_dev_identity() {
  [ -z "${AUTH_JWKS:-}" ] && [ "${AUTH_UNCHECKED_FOR_BENCHMARKS:-}" != yes ] || return 0
  local dir
  dir=$(dev_identity)
  export AUTH_JWKS=$dir/jwks.json ROUTE256_SIGNING_KEY=$dir/signing-key.pem
}

start_services() {
  local base=$1
  # The notifier too, though only run-all starts it: the same package set as stack-up's build, so that
  # cargo resolves the same features and builds once.
  build_services product-service loms cart notifier
  export RUST_LOG=${RUST_LOG:-info}
  start_service product-service "$base"
  start_service loms "$base"
  start_service cart "$base"
}
