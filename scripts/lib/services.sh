# Sourced by the test scripts (e2e, test-api, test-browser) that need the three services as real
# processes on ports of their own, so a running `just run-all` is not disturbed:
#
#   start_services BASE    product-service on BASE+90 (gRPC) / BASE+91 (HTTP), loms on BASE+83 / BASE+84,
#                          cart on BASE+82 / BASE+80: debug binaries, memory storage, rate limits off;
#                          logs in $services_logs; each HTTP port answers /readyz before it returns;
#                          variables the caller exports (PRODUCT_TOKENS, say) reach the services
#   stop_services          SIGTERM to all of them (also run on exit)
#
# The caller sets `set -euo pipefail` and runs from the project root.
services_pids=()
services_logs=$(mktemp -d)

stop_services() {
  for pid in "${services_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_services; rm -rf "$services_logs"' EXIT

start_services() {
  local base=$1
  cargo build --locked --quiet --bins -p product-service -p loms -p cart
  export RUST_LOG=${RUST_LOG:-info} STORAGE=memory
  PRODUCT_GRPC_ADDR=127.0.0.1:$((base + 90)) PRODUCT_HTTP_ADDR=127.0.0.1:$((base + 91)) PRODUCT_RPS=0 \
    target/debug/product-service >"$services_logs/product-service.log" 2>&1 &
  services_pids+=("$!")
  LOMS_GRPC_ADDR=127.0.0.1:$((base + 83)) LOMS_HTTP_ADDR=127.0.0.1:$((base + 84)) \
    target/debug/loms >"$services_logs/loms.log" 2>&1 &
  services_pids+=("$!")
  CART_GRPC_ADDR=127.0.0.1:$((base + 82)) CART_HTTP_ADDR=127.0.0.1:$((base + 80)) CART_PRODUCT_RPS=0 \
    PRODUCT_SERVICE_URL=http://127.0.0.1:$((base + 90)) LOMS_URL=http://127.0.0.1:$((base + 83)) \
    target/debug/cart >"$services_logs/cart.log" 2>&1 &
  services_pids+=("$!")
  local port
  for port in $((base + 91)) $((base + 84)) $((base + 80)); do
    for _ in $(seq 300); do
      curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
      sleep 0.1
    done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || {
      echo "the service on :$port never became ready" >&2
      cat "$services_logs"/*.log >&2
      return 1
    }
  done
}
