#!/usr/bin/env bash
# scripts/go-tool.sh NAME: prints the path of the Go tool NAME, built once from the Go module proxy at
# the version pinned here into $ROUTE256_CACHE (~/.cache/route256 by default, outside the checkout, like
# the Kafka jars) and reused after that.
#
#   promtool   checks and unit-tests deploy/prometheus (just alerts)
#
# A build goes to a scratch folder and moves in whole: an interrupted one leaves nothing half-built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh

declare -A module=(
  [promtool]=github.com/prometheus/prometheus/cmd/promtool
)
declare -A version=(
  [promtool]=v0.316.0
)

name=${1:-}
[ -n "$name" ] && [ -n "${module[$name]:-}" ] || { echo "usage: $0 ${!module[*]}" >&2; exit 2; }
dir=${ROUTE256_CACHE:-$HOME/.cache/route256}/$name-${version[$name]}
if [ ! -x "$dir/$name" ]; then
  command -v go >/dev/null || { log "Go is needed to build $name"; exit 1; }
  log "building $name ${version[$name]} from the Go module proxy into $dir (a few minutes, once)"
  mkdir -p "$(dirname "$dir")"
  scratch=$(mktemp -d "$dir.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  GOBIN=$scratch GOFLAGS=-mod=mod go install "${module[$name]}@${version[$name]}" >&2
  rm -rf "$dir"
  mv "$scratch" "$dir"
  trap - EXIT
fi
echo "$dir/$name"
