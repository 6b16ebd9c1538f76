#!/usr/bin/env bash
# `just cov`: line coverage with cargo-tarpaulin (LLVM's source-based coverage, which needs no rustup
# component), in a target folder of its own (target/cov) so it never rebuilds the ordinary one:
#   1. every test of the workspace (the stack must be up: `just stack-up`; the fault tests, which run
#      the binaries, are not among them);
#   2. cart's, loms's and the notifier's own unit tests (mock-based), for their use-case modules;
# then scripts/coverage.py prints the figures per crate and fails below the bars.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=target/cov/report
# The LLVM engine reads the coverage map compiled into each binary, not DWARF; tarpaulin's default
# -Cdebuginfo=2 made every test binary ~265 MB and the folder ~10 GB, enough to fill a CI machine's disk
# (lld died with SIGBUS mid-link). With debug info off it adds no flag of its own.
common=(--engine llvm --skip-clean --target-dir target/cov --out Json --rustflags=-Cdebuginfo=0
  --exclude-files 'crates/proto/*' --exclude-files 'crates/*-db/*')
mkdir -p "$out/workspace" "$out/own"
cargo tarpaulin --workspace --locked "${common[@]}" --output-dir "$out/workspace" --timeout 600 --no-fail-fast
cargo tarpaulin -p cart -p loms -p notifier --lib --locked "${common[@]}" --output-dir "$out/own"
python3 scripts/coverage.py "$out/workspace/tarpaulin-report.json" "$out/own/tarpaulin-report.json"
# A one-shot run (CI) needs the instrumented build no more: its ~6 GB go before the next stages build.
if [ -n "${COVERAGE_DROP_BUILD:-}" ]; then rm -rf target/cov/debug; fi
