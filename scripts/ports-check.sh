#!/usr/bin/env bash
# `just ports-check`: no script or test listens on a fixed port the kernel may lend to an outgoing
# connection (32768-60999; scripts/lib/ports.sh says why). Three checks, each line naming what is wrong:
#   1. the tables of scripts/lib/ports.sh (sourcing it checks them: below 32768, no two alike);
#   2. no script hands start_service(s) a base of its own: each takes its port_base entry;
#   3. no address or port setting at or above 32768 is written in the scripts, the justfile, CI,
#      tests/, compose.yaml or the crates (their tests start servers on port 0).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/ports.sh

status=0
if grep -nE '\bstart_services?\s+([a-z-]+\s+)?[0-9]' scripts/*.sh scripts/lib/*.sh; then
  echo "ports-check: a base written in a script (above); take it from port_base in scripts/lib/ports.sh"
  status=1
fi

mapfile -t files < <(git ls-files scripts justfile .ci tests compose.yaml crates | grep -v '^crates/proto/src/gen/')
while IFS=: read -r file line found; do
  port=${found##*[!0-9]}
  if [ "$port" -ge 32768 ]; then
    echo "$file:$line: $found: port $port is in the kernel's range for outgoing connections (from 32768)"
    status=1
  fi
done < <(grep -noE '(127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1?\]):[0-9]{5}|(_PORT|_ADDR|--port|port)[=: ]+[0-9]{5}' \
  "${files[@]}" || true)
[ $status -ne 0 ] || echo "ports-check: every fixed port is below 32768 and comes from scripts/lib/ports.sh"
exit $status
