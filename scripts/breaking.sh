#!/usr/bin/env bash
# Checks the contract against the previous commit's. The committed descriptor set is a full buf image
# (every file and import), so the old contract is read from git without rebuilding it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

against=${1:-HEAD~1}
# A shallow clone (CI's may be one) has no previous commit: fetch one when a remote can give it.
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  git fetch --quiet --deepen=1 origin 2>/dev/null || true
fi
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
