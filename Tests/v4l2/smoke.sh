#!/usr/bin/env bash
# End-to-end check of the real-V4L2 VM (Tests/v4l2/vm.sh): two guest boots.
#   1. vivid, one HDMI input: v4l2-ctl --all; 1080p60 YUYV and 720p60 NV12 captures
#      (120 frames each, measured fps); signal loss (QUERY_DV_TIMINGS fails with ENOLINK)
#      and recovery.
#   2. --loopback: the host's ffmpeg feeds MJPEG 1280x720@30 into v4l2loopback's /dev/video10
#      inside the guest; 30 frames are captured back and checked (MJPG, JPEG SOI).
# Prints a summary table; exits non-zero when any scenario fails.
#
#   Tests/v4l2/smoke.sh [--out DIR]     (default DIR: artifacts/v4l2-smoke; logs in DIR/logs)
# Environment: SMOKE_MIN_FPS_60 (default 20), SMOKE_MIN_FPS_30 (default 2): rate pass marks;
# BEDSIDE_VM_CACHE: see vm.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "$HERE/../.." && pwd -P)"
OUT="$ROOT/artifacts/v4l2-smoke"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "smoke.sh: unknown option '$1' (usage: $0 [--out DIR])" >&2; exit 2 ;;
  esac
done

# The loopback scenario runs the host's ffmpeg inside the guest.
if ! command -v ffmpeg >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "smoke.sh: installing ffmpeg (the MJPEG scenario feeds v4l2loopback with it)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null \
      || { echo "smoke.sh: error: apt-get install ffmpeg failed" >&2; exit 1; }
  else
    echo "smoke.sh: error: ffmpeg is not installed (apt-get install ffmpeg, or run scripts/setup.sh)" >&2
    exit 1
  fi
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd -P)"
rm -rf "$OUT/results" "$OUT/logs"
fmt_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
t_start=$(date +%s.%N)

# Setup (first run only) is timed apart from the boots.
"$HERE/vm.sh" --setup-only
t0=$(date +%s.%N)

# (the guest starts from a clean environment: pass the pass marks along explicitly)
GUEST="SMOKE_MIN_FPS_60=$(printf %q "${SMOKE_MIN_FPS_60:-20}") SMOKE_MIN_FPS_30=$(printf %q "${SMOKE_MIN_FPS_30:-2}") bash $(printf %q "$HERE/smoke-guest.sh")"
rc_vivid=0
"$HERE/vm.sh" --timeout 300 --out "$OUT" -- "$GUEST vivid" || rc_vivid=$?
t1=$(date +%s.%N)
rc_loop=0
"$HERE/vm.sh" --loopback --timeout 300 --out "$OUT" -- "$GUEST loopback" || rc_loop=$?
t2=$(date +%s.%N)

touch "$OUT/results"
fail=0
echo
echo "== V4L2 smoke (qemu TCG, Debian kernel $(cat "${BEDSIDE_VM_CACHE:-/var/cache/bedside-vm}/img/kernel-version" 2>/dev/null || echo '?'))"
printf '%-18s %-6s %9s  %s\n' scenario result fps detail
for want in v4l2-ctl-all 1080p60-YUYV 720p60-NV12 signal-loss signal-restored mjpeg-loopback; do
  line=$(grep "^$want|" "$OUT/results" | tail -1 || true)
  if [ -z "$line" ]; then
    printf '%-18s %-6s %9s  %s\n' "$want" FAIL - "no result (the guest run failed; see the output above)"
    fail=1
    continue
  fi
  IFS='|' read -r name res fps detail <<<"$line"
  printf '%-18s %-6s %9s  %s\n' "$name" "$res" "$fps" "$detail"
  [ "$res" = PASS ] || fail=1
done
[ "$rc_vivid" = 0 ] || { echo "vivid boot: vm.sh exited $rc_vivid"; fail=1; }
[ "$rc_loop" = 0 ] || { echo "loopback boot: vm.sh exited $rc_loop"; fail=1; }
echo "times: vivid boot $(fmt_s "$t0" "$t1") s, loopback boot $(fmt_s "$t1" "$t2") s, total $(fmt_s "$t_start" "$t2") s (setup check included); logs in $OUT/logs"
if [ "$fail" = 0 ]; then
  echo "V4L2 smoke: all scenarios passed"
else
  echo "V4L2 smoke: FAILED"
fi
exit "$fail"
