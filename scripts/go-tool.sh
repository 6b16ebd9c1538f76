#!/usr/bin/env bash
# scripts/go-tool.sh NAME: prints the path of the Go tool NAME, built once from the Go module proxy at
# the version pinned here into $ROUTE256_CACHE (~/.cache/route256 by default, outside the checkout, like
# the Kafka jars) and reused after that.
#
#   promtool   checks and unit-tests deploy/prometheus (just alerts)
#   jaeger     Jaeger v2, the stack's trace store (in memory; OTLP in, UI and query API out)
#
# `go install MODULE@VERSION` builds promtool. Jaeger's go.mod has replace directives, which `go install`
# refuses: it is built in a scratch module that requires it (`go get -tool`), as a dependency.
# A build goes to a scratch folder and moves in whole: an interrupted one leaves nothing half-built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh

declare -A module=(
  [promtool]=github.com/prometheus/prometheus/cmd/promtool
  [jaeger]=github.com/jaegertracing/jaeger/cmd/jaeger
)
declare -A version=(
  [promtool]=v0.316.0
  [jaeger]=v1.75.0
)

name=${1:-}
[ -n "$name" ] && [ -n "${module[$name]:-}" ] || { echo "usage: $0 ${!module[*]}" >&2; exit 2; }
dir=${ROUTE256_CACHE:-$HOME/.cache/route256}/$name-${version[$name]}
if [ ! -x "$dir/$name" ]; then
  command -v go >/dev/null || { log "Go is needed to build $name"; exit 1; }
  log "building $name ${version[$name]} from the Go module proxy into $dir (a few minutes, once)"
  mkdir -p "$(dirname "$dir")"
  scratch=$(mktemp -d "$dir.XXXXXX")
  chmod 755 "$scratch"
  trap 'rm -rf "$scratch"' EXIT
  if [ "$name" = jaeger ]; then
    (cd "$scratch" && go mod init route256-tools >/dev/null 2>&1 &&
      go get -tool "${module[$name]}@${version[$name]}" &&
      go build -o "$scratch/$name" "${module[$name]}" && rm -f go.mod go.sum) >&2
  else
    GOBIN=$scratch GOFLAGS=-mod=mod go install "${module[$name]}@${version[$name]}" >&2
  fi
  rm -rf "$dir"
  mv "$scratch" "$dir"
  trap - EXIT
fi
echo "$dir/$name"
