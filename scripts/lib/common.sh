# shellcheck shell=bash
# Sourced by the scripts for what each would otherwise write again:
#
#   log MESSAGE...          "<script>: MESSAGE" on standard error (standard output may be what the caller
#                           reads: pgbouncer.sh prints its binary's path, kafka.sh's helpers a folder)
#   apt_install PACKAGE...  installs the Debian packages that are missing (through sudo when not root)
#   answers PORT            something accepts connections on 127.0.0.1:PORT
#   state_dir ROOT          where the stack keeps the runtime files of the checkout at ROOT (stack.sh)
#   dev_identity            the development identity provider's folder under it, made with its key pair
#                           if missing (crates/identity's dev-idp): the key set the services trust
#                           (AUTH_JWKS) and the key `just token` signs with
#
# the ports (scripts/lib/ports.sh, sourced here), and the PostgreSQL server the stack and the tests use:
# libpq's variables, with the stack's defaults.
# shellcheck source=scripts/lib/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
log_name=${log_name:-$(basename "$0" .sh)}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-${stack_port[postgres]}}
export PGUSER=${PGUSER:-postgres}

log() { printf '\033[1m%s:\033[0m %s\n' "$log_name" "$*" >&2; }

apt_install() {
  local missing=() p sudo=""
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  log "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; } # hex N: N random bytes in hex (trace and span ids)

state_dir() { # by default /var/lib/route256/<checkout> as root, ~/.local/state/route256/<checkout> otherwise
  local root=$1 key
  key=$(basename "$root" | tr -c 'A-Za-z0-9_.\n-' '_' | cut -c1-24)-$(printf '%s' "$root" | sha256sum | cut -c1-10)
  if [ "$(id -u)" -eq 0 ]; then
    echo "${ROUTE256_STATE:-/var/lib/route256/$key}"
  else
    echo "${ROUTE256_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/route256/$key}"
  fi
}

# Run from the project root. Outside the checkout, so that no key pair is ever committed.
dev_identity() {
  local dir
  dir=$(state_dir "$PWD")/identity
  [ -s "$dir/jwks.json" ] && [ -s "$dir/signing-key.pem" ] ||
    cargo run --quiet --locked -p identity --bin dev-idp -- keys "$dir" >/dev/null
  echo "$dir"
}
