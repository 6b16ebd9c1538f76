#!/usr/bin/env bash
# `just test-browser`: Swagger UI and Jaeger's web UI work in a real browser.
#
# Installs what it needs when missing (Debian's chromium; npm's playwright-core, pinned by
# tests/browser/package-lock.json), starts the stack's Jaeger (`scripts/stack.sh jaeger`) and the three
# services exporting their traces to it (scripts/lib/services.sh), and puts two items in user 42's cart
# over HTTP with a token of theirs. Then:
# - tests/browser/swagger.mjs authorizes in cart's Swagger UI with that token, tries GET
#   /user/{user}/cart and expects the items' names (screenshot: target/browser/swagger-cart.png);
# - a List sent with a traceparent of ours makes a trace; once Jaeger's query API holds it,
#   tests/browser/jaeger.mjs opens it in Jaeger's UI and expects cart's span and product-service's two
#   (screenshot: target/browser/jaeger-trace.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/services.sh
apt_install chromium
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  log "npm ci (playwright-core)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

bash scripts/stack.sh jaeger
JAEGER=http://127.0.0.1:${stack_port[jaeger-ui]}
# a Jaeger started before its UI came with it serves a placeholder page
curl -sf "$JAEGER/" | grep -q '<title>Jaeger UI</title>' ||
  { log "the Jaeger on $JAEGER serves no UI: restart it (scripts/stack.sh down, then up)"; exit 1; }
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${stack_port[otlp-grpc]}
use_test_settings
base=${port_base[browser-test]}
start_services "$base"
cart=http://$(service_addr cart http "$base")
token=$(dev_token 42)
for item in 1076963:2 1148162:1; do
  curl -sf -X POST "$cart/user/42/cart/${item%%:*}" -H "authorization: Bearer $token" \
    --json "{\"count\": ${item##*:}}" >/dev/null
done

node tests/browser/swagger.mjs "$cart" 42 "$token" target/browser/swagger-cart.png \
  "Теория нравственных чувств | Смит Адам" "Кулинар Гуров"

trace=$(hex 16) parent=$(hex 8)
curl -sf "$cart/user/42/cart" -H "authorization: Bearer $token" -H "traceparent: 00-$trace-$parent-01" >/dev/null
C=route256.cart.v1.CartService P=route256.product.v1.ProductService
spans=$(jq -nc --arg c "$C/List" --arg p "$P/GetProduct" --arg parent "remote:$parent" '[
  {service: "cart", name: $c, kind: "server", parent: $parent},
  {service: "product-service", name: $p, kind: "server", parent: ("cart " + $p), count: 2}]')
python3 scripts/lib/jaeger-expect.py "$JAEGER" "$trace" "$spans" 60 >/dev/null
node tests/browser/jaeger.mjs "$JAEGER" "$trace" target/browser/jaeger-trace.png "cart: $C/List" \
  "cart $C/List" "cart $P/GetProduct" "product-service $P/GetProduct"
