#!/usr/bin/env bash
# One command from a fresh clone to a running demo: set up, build, run `bedside demo`.
# Pass-through options: scripts/demo.sh --bind 0.0.0.0 --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
BEDSIDE_NO_BROWSER=1 scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product bedside 2>&1 | grep -v "swift-distributed-tracing" | tail -3
exec .build/release/bedside demo --python "$PWD/.venv/bin/python" "$@"
