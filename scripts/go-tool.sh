#!/usr/bin/env bash
# scripts/go-tool.sh NAME: prints the path of the Go tool NAME, built once from the Go module proxy at
# the version pinned here into $ROUTE256_CACHE (~/.cache/route256 by default, outside the checkout, like
# the Kafka jars) and reused after that.
#
#   promtool   checks and unit-tests deploy/prometheus (just alerts)
#   jaeger     Jaeger v2, the stack's trace store (in memory; OTLP in, UI and query API out)
#   jaeger-ui  the folder of Jaeger's web UI, which Jaeger serves (ui.assets_path)
#
# `go install MODULE@VERSION` builds promtool. Jaeger's go.mod has replace directives, which `go install`
# refuses: it is built in a scratch module that requires it (`go get -tool`), as a dependency.
# Jaeger's own module holds a placeholder page, not its UI: that is built from the jaeger-ui repository,
# which no registry here serves. The Go module github.com/tonistiigi/jaeger-ui-rest embeds a production
# build of jaeger-ui v1.68.0 (its `public/`, each file gzipped; it speaks the same query API as this
# Jaeger): downloaded as a module, its files are unpacked into the folder.
# A build goes to a scratch folder and moves in whole: an interrupted one leaves nothing half-built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh

declare -A module=(
  [promtool]=github.com/prometheus/prometheus/cmd/promtool
  [jaeger]=github.com/jaegertracing/jaeger/cmd/jaeger
  [jaeger-ui]=github.com/tonistiigi/jaeger-ui-rest
)
declare -A version=(
  [promtool]=v0.316.0
  [jaeger]=v1.75.0
  [jaeger-ui]=v0.0.0-20250408171107-3dd17559e117
)

unpack_ui() { # unpack_ui FOLDER: jaeger-ui's files, as the module holds them but unzipped
  local from
  from=$(cd "$1" && go mod download -json "${module[jaeger-ui]}@${version[jaeger-ui]}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -R "$from/public/." "$1/"
  chmod -R u+w "$1"
  local files file
  mapfile -d '' files < <(find "$1" -type f -print0)
  for file in "${files[@]}"; do
    gzip -dc <"$file" >"$file.unpacked"
    mv "$file.unpacked" "$file"
  done
  grep -q '<title>Jaeger UI</title>' "$1/index.html"
}

name=${1:-}
[ -n "$name" ] && [ -n "${module[$name]:-}" ] || { echo "usage: $0 ${!module[*]}" >&2; exit 2; }
dir=${ROUTE256_CACHE:-$HOME/.cache/route256}/$name-${version[$name]}
built=$dir/$name
[ "$name" = jaeger-ui ] && built=$dir/index.html
if [ ! -e "$built" ]; then
  command -v go >/dev/null || { log "Go is needed to build $name"; exit 1; }
  log "building $name ${version[$name]} from the Go module proxy into $dir (once)"
  mkdir -p "$(dirname "$dir")"
  scratch=$(mktemp -d "$dir.XXXXXX")
  chmod 755 "$scratch"
  trap 'rm -rf "$scratch"' EXIT
  if [ "$name" = jaeger-ui ]; then
    unpack_ui "$scratch"
  elif [ "$name" = jaeger ]; then
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
[ "$name" = jaeger-ui ] && echo "$dir" || echo "$dir/$name"
