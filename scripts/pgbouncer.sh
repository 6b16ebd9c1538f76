#!/usr/bin/env bash
# Builds pgbouncer 1.24.1 from Debian trixie's source package into the tools directory, once.
#
# Why from source: Debian bookworm ships 1.18, which breaks named prepared statements in transaction
# pooling (cornucopia's generated code uses them); `max_prepared_statements` arrived in 1.21. The source
# comes from Debian's archive through a private apt configuration, so the machine's sources stay as
# they are. Idempotent: an installed 1.24.1 is kept. Prints the binary's path.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

VERSION=1.24.1
tools_home=${ROUTE256_TOOLS_HOME:-$HOME/.local/share/route256-tools}
prefix=$tools_home/pgbouncer-$VERSION
binary=$prefix/bin/pgbouncer

if [ -x "$binary" ] && [[ "$("$binary" --version 2>/dev/null)" == *"$VERSION"* ]]; then
  echo "$binary"
  exit 0
fi

apt_install build-essential pkg-config libevent-dev libc-ares-dev libssl-dev

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
  >"$work/apt/sources.list"
apt_private=(
  -o "Dir::Etc::SourceList=$work/apt/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/apt/lists"
  -o "Dir::Cache=$work/apt/cache"
  -o "Debug::NoLocking=1"
)
log "fetching the source of pgbouncer $VERSION from Debian trixie"
apt-get "${apt_private[@]}" update -qq
(cd "$work/src" && apt-get "${apt_private[@]}" source --download-only -qq "pgbouncer=$VERSION-1+deb13u2" 2>/dev/null \
  || apt-get "${apt_private[@]}" source --download-only -qq pgbouncer)
tarball=$(find "$work/src" -name "pgbouncer_$VERSION.orig.tar.*" | head -n 1)
[ -n "$tarball" ] || { log "no pgbouncer $VERSION source in trixie"; exit 1; }
tar -xf "$tarball" -C "$work/src"

log "building (about two minutes)"
cd "$work/src/pgbouncer-$VERSION"
./configure --quiet --prefix="$prefix" --with-cares --without-systemd >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
"$binary" --version >&2
echo "$binary"
