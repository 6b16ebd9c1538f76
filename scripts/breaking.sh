#!/usr/bin/env bash
# Checks the contract against the previous commit's. The committed descriptor set is a full buf image
# (every file and import), so the old contract is read from git without rebuilding it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

against=${1:-HEAD~1}
if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
  echo "breaking: no commit $against to compare with, skipped"
  exit 0
fi
old=$(mktemp --suffix=.binpb)
trap 'rm -f "$old"' EXIT
if ! git show "$against:crates/proto/descriptor.binpb" >"$old" 2>/dev/null; then
  echo "breaking: $against has no descriptor set, skipped"
  exit 0
fi
buf breaking proto --against "$old"
echo "breaking: contract compatible with $against"
