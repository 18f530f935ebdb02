#!/usr/bin/env bash
# The whole test suite: set up, build, Swift tests, Python tests (bridge, demo model),
# end-to-end tests against the real binary and a real Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
PY=.venv/bin/python
mkdir -p artifacts

echo "== lint (swift format, ruff)"
# Style is checked, not argued: `swift format format -i -r Sources Tests` and `.venv/bin/ruff check --fix .`
# fix most findings (.swift-format and ruff.toml hold the rules).
swift format lint --strict -r Sources Tests || { echo "swift format found the above: run swift format format -i -r Sources Tests"; exit 1; }
"$PY" -m ruff check -q . || { echo "ruff found the above: run .venv/bin/ruff check --fix ."; exit 1; }

echo "== build (release)"
swift build -c release --product bedside 2>&1 | grep -v "swift-distributed-tracing" | tail -3

echo "== Swift tests"
swift test 2>&1 | grep -v "swift-distributed-tracing" | tee artifacts/swift-test.log | grep -E "✘|error:|failed|passed after|Test run with" || true
grep -qE "Test run with [0-9]+ tests? in [0-9]+ suites? passed" artifacts/swift-test.log || { echo "Swift tests failed (artifacts/swift-test.log)"; exit 1; }

echo "== page tests (node)"
page_ok=1
node --test Tests/page/ >artifacts/page-test.log 2>&1 || page_ok=0
grep -E "^not ok|^# (tests|pass|fail) " artifacts/page-test.log || true
[ "$page_ok" = 1 ] || { echo "page tests failed (artifacts/page-test.log)"; exit 1; }

echo "== Capture against a real V4L2 driver (vivid, v4l2loopback) in a qemu VM"
mkdir -p artifacts/v4l2
if [ "${BEDSIDE_SKIP_V4L2:-0}" = "1" ]; then
  echo "skipped (BEDSIDE_SKIP_V4L2=1)"
else
  rm -f artifacts/v4l2/reliability.jsonl
  Tests/v4l2/vm.sh --loopback --timeout 600 --out "$PWD/artifacts/v4l2" -- \
    "BEDSIDE_V4L2_OUT=\$BEDSIDE_VM_OUT .venv/bin/python Tests/v4l2/scenarios.py" || status_v4l2=1
fi

# The V4L2 scenarios' rows of docs/reliability.md join the others (scripts/reliability_report.py).
[ -f artifacts/v4l2/reliability.jsonl ] && cat artifacts/v4l2/reliability.jsonl >> artifacts/reliability.jsonl

# Each suite has its own conftest.py, so each runs in its own pytest process.
status=${status_v4l2:-0}
for suite in bridge/tests researcher-template/tests Tests/e2e; do
  echo "== Python tests: $suite"
  # The slowest e2e tests are named at the end, so that the suite's time stays in view (target: under 30 min).
  extra=(); [ "$suite" = Tests/e2e ] && extra=(--durations=12)
  "$PY" -m pytest -q -p no:cacheprovider "${extra[@]}" "$suite" "$@" || status=1
done
exit $status
