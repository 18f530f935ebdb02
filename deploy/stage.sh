#!/usr/bin/env bash
# Collects what a Bedside box or container image needs into one folder (the Docker build context for
# deploy/Dockerfile): the release binary, the page files it serves, the Python bridge, the demo
# research repo, and the Swift runtime libraries when the binary was not linked with them statically.
#
#   swift build -c release --static-swift-stdlib    # once, on a machine with the Swift toolchain
#   deploy/stage.sh [OUT]                           # OUT defaults to deploy/stage
#
# The page files (bedside_Web.resources/) must stay beside the binary: without them Bedside stops
# with "could not load resource bundle" at the first page request.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-deploy/stage}"
BIN=.build/release/bedside
if [ ! -x "$BIN" ] || [ ! -d .build/release/bedside_Web.resources ]; then
  echo "stage: $BIN or its bedside_Web.resources/ is missing: run 'swift build -c release' first" >&2
  exit 1
fi
if [ -e "$OUT" ] && [ ! -f "$OUT/bedside" ]; then
  echo "stage: $OUT exists and is not an earlier stage folder: give a new folder" >&2
  exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT/bridge"
cp "$BIN" "$OUT/bedside"
cp -r .build/release/bedside_Web.resources "$OUT/"
cp -r bridge/bridge bridge/pyproject.toml "$OUT/bridge/"
cp -r researcher-template "$OUT/"
rm -rf "$OUT/researcher-template/tests"
find "$OUT" -name __pycache__ -prune -exec rm -rf {} +
# Libraries the binary loads from the Swift toolchain (none with --static-swift-stdlib).
swiftlibs=$(ldd "$BIN" | awk '$3 ~ /\/swift\// {print $3}')
if [ -n "$swiftlibs" ]; then
  mkdir -p "$OUT/swift-runtime"
  cp $swiftlibs "$OUT/swift-runtime/"
  echo "stage: the binary is not statically linked; copied $(echo "$swiftlibs" | wc -l) Swift runtime libraries to $OUT/swift-runtime"
fi
echo "stage: $OUT ($(du -sh "$OUT" | cut -f1)), bedside $("$BIN" --version)"
