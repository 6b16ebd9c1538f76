#!/usr/bin/env bash
# `just mutants [crate…]`: mutation testing with cargo-mutants over the hand-written logic of cart, loms
# and the notifier — domain, use cases, grpc, relay and adapters (not config, app or main, which the
# process tests cover, nor the shared adapter suites, which are tests) — each crate tested by its own
# tests only, never by system-tests. Then scripts/mutants.py prints the score per crate (caught /
# (caught + missed)) and the survivors, and fails below 90 %.
#
# cargo-mutants edits the files it mutates. So it runs in a mirror of this checkout under target/mutants
# (tracked and untracked files, uncommitted changes included), with a target folder of its own that
# later runs reuse: you can keep working here while it runs. Each crate runs in two parts, so that a
# mutant waits only for the tests that can see it: the PostgreSQL adapter against the crate's
# PostgreSQL suite (tests/postgres.rs), everything else against the tests named below. The stack must be
# up (`just mutants` starts it). All are the crate's own tests; a smaller set can only make the score
# lower, never higher. What is not counted, and why, is in .cargo/mutants.toml.
# MUTANTS_ARGS passes more options to every run (for example `--iterate` to retry only what survived);
# MUTANTS_PARTS picks the parts (`unit`, `postgres`; both by default).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# the version the figures in BENCHMARKS.md came from; installed on first use (not by `just tools`: CI
# does not run this)
MUTANTS_VERSION=27.1.0
if [[ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants $MUTANTS_VERSION" ]]; then
  echo "mutants: cargo install cargo-mutants@$MUTANTS_VERSION (a few minutes, once)"
  cargo install --locked --quiet cargo-mutants --version "$MUTANTS_VERSION"
fi

crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(cart loms notifier)

# the files tested without PostgreSQL, per crate, and their tests: the unit tests, cart's shared limiter
# against the stack's Redis (tests/redis.rs), loms's race of its memory store
# (tests/concurrent_reservations.rs), the notifier's consumer against the stack's Kafka (tests/kafka.rs)
declare -A files=(
  [cart]="domain.rs service.rs pool.rs grpc.rs adapters.rs adapters/memory.rs adapters/rate_limit.rs adapters/product_client.rs adapters/loms_client.rs"
  [loms]="domain.rs service.rs grpc.rs relay.rs relay/pipeline.rs relay/pace.rs relay/lag.rs adapters/memory.rs adapters/kafka.rs"
  [notifier]="domain.rs service.rs adapters/memory.rs adapters/kafka.rs"
)
declare -A unit_tests=([cart]="--lib --test redis" [loms]="--lib --test concurrent_reservations" [notifier]="--lib --test kafka")

# How long a mutant's tests may run before it counts as a timeout (neither caught nor missed). The
# notifier's consumer tests wait up to 60 s for what a broken consumer never does, then fail: they get
# that long, so such a mutant counts as caught. Elsewhere a test hangs only on a mutant.
declare -A timeout=([cart]=20 [loms]=20 [notifier]=90)

mirror=target/mutants/tree
stage=target/mutants/stage
out=$PWD/target/mutants/out
rm -rf "$stage"
mkdir -p "$mirror" "$out" "$stage"
# Copies into the mirror only the files that differ: a fresh modification time makes cargo rebuild what
# changed, and only that — even a file an interrupted run left mutated.
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$stage"
(cd "$stage" && find . -type f) | while read -r file; do
  cmp -s "$stage/$file" "$mirror/$file" || { mkdir -p "$(dirname "$mirror/$file")" && cp "$stage/$file" "$mirror/$file"; }
done

run() { # crate, name of the part, test arguments, files…
  local crate=$1 part=$2 args=$3
  shift 3
  local select=()
  for f in "$@"; do select+=(--file "crates/$crate/src/$f"); done
  local test_args=()
  # for the build as well as the run: a mutant builds only the test targets that run
  for a in $args; do test_args+=("--cargo-arg=$a"); done
  echo "mutants: $crate, $part ($args)"
  local status=0
  (cd "$mirror" && cargo mutants --in-place --no-shuffle -p "$crate" "${select[@]}" "${test_args[@]}" \
    --timeout "${timeout[$crate]}" --output "$out/$crate-$part" ${MUTANTS_ARGS:-}) || status=$?
  # 2 (some mutants missed) and 3 (some timed out) are judged by mutants.py; anything else is an error
  case $status in 0 | 2 | 3) ;; *) exit "$status" ;; esac
}

parts=${MUTANTS_PARTS:-unit postgres}
for crate in "${crates[@]}"; do
  [[ " $parts " != *" unit "* ]] || run "$crate" unit "${unit_tests[$crate]}" ${files[$crate]}
  [[ " $parts " != *" postgres "* ]] || run "$crate" postgres "--test postgres" adapters/postgres.rs
done
python3 scripts/mutants.py "$out" "${crates[@]}"
