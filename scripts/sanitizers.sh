#!/usr/bin/env bash
# The Swift test suite under AddressSanitizer and ThreadSanitizer (not in CI: each needs its own full debug
# build, ~8-9 min on 2 cores). Results are summarised in docs/reliability.md.
#   scripts/sanitizers.sh [address|thread]...   (default: both)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
mkdir -p artifacts
for s in "${@:-address thread}"; do
  for kind in $s; do
    echo "== swift test --sanitize=$kind (build folder .build-$kind)"
    swift build --build-tests --sanitize="$kind" --build-path ".build-$kind" 2>&1 | grep -E "error|warning: |Compiling|Build" | tail -3
    swift test --skip-build --sanitize="$kind" --build-path ".build-$kind" > "artifacts/sanitize-$kind.log" 2>&1
    grep -E "Test run with|SUMMARY: |ThreadSanitizer: reported|ERROR: AddressSanitizer" "artifacts/sanitize-$kind.log" | sort | uniq -c
  done
done
