#!/usr/bin/env bash
# `just test-browser`: Swagger UI works in a real browser.
#
# Installs what it needs when missing (Debian's chromium; npm's playwright-core, pinned by
# tests/browser/package-lock.json), starts the three services (scripts/lib/services.sh), puts two
# items in user 42's cart over HTTP with a token of theirs, and runs tests/browser/swagger.mjs: it
# authorizes in cart's Swagger UI with that token, tries GET /user/{user}/cart and expects the items'
# names. Screenshot: target/browser/swagger-cart.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/services.sh
apt_install chromium
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  log "npm ci (playwright-core)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

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
