#!/usr/bin/env bash
# The guest half of Tests/v4l2/smoke.sh: runs inside the vm.sh guest, against vivid's
# /dev/video0 (HDMI input) or v4l2loopback's /dev/video10.
#   smoke-guest.sh vivid      1080p60 YUYV, 720p60 NV12, signal loss and recovery
#   smoke-guest.sh loopback   MJPEG fed by ffmpeg into v4l2loopback, captured back
# Appends one line per scenario to $BEDSIDE_VM_OUT/results:
#   name|PASS or FAIL|rate (fps, or -)|detail
# and keeps each scenario's v4l2-ctl output in $BEDSIDE_VM_OUT/logs/.
set -uo pipefail
: "${BEDSIDE_VM_OUT:?run me inside Tests/v4l2/vm.sh}"
RES="$BEDSIDE_VM_OUT/results"
LOGS="$BEDSIDE_VM_OUT/logs"
mkdir -p "$LOGS"
# Pass marks, low on purpose: the guest is emulated and the machine may be busy. vivid's 60 fps
# modes measure 59-61 fps; the MJPEG feed is bound by ffmpeg's software encoder (10-28 fps).
MIN_FPS_60="${SMOKE_MIN_FPS_60:-20}"
MIN_FPS_30="${SMOKE_MIN_FPS_30:-2}"

FAILED=0
result() {
  echo "$1|$2|$3|$4" >>"$RES"
  [ "$2" = PASS ] || FAILED=1
  if [ "$3" = - ]; then echo "smoke: $1: $2: $4"; else echo "smoke: $1: $2 ($3 fps): $4"; fi
}
now() { date +%s.%N; }

# stream NAME DEVICE COUNT [FILE]: captures COUNT buffers with v4l2-ctl (into FILE if given);
# sets FRAMES, FPS (v4l2-ctl's last reported rate, else frames/elapsed) and WALL_FPS
# (frames / whole command time, start-up included).
stream() {
  local name=$1 dev=$2 count=$3 t0 t1 out
  out="$LOGS/$name-stream.txt"
  t0=$(now)
  v4l2-ctl -d "$dev" --stream-mmap --stream-count="$count" ${4:+--stream-to="$4"} >"$out" 2>&1
  STREAM_RC=$?
  t1=$(now)
  FRAMES=$(tr -cd '<' <"$out" | wc -c)
  FPS=$(grep -oE '[0-9]+\.[0-9]+ fps' "$out" | tail -1 | cut -d' ' -f1)
  WALL_FPS=$(awk -v n="$FRAMES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
  [ -n "$FPS" ] || FPS=$WALL_FPS
}

# check_fmt NAME DEVICE WIDTH HEIGHT FOURCC: the current format is what was asked for
check_fmt() {
  local fmt
  fmt=$(v4l2-ctl -d "$2" -V 2>&1)
  echo "$fmt" >"$LOGS/$1-format.txt"
  echo "$fmt" | grep -q "Width/Height *: *$3/$4" && echo "$fmt" | grep -q "'$5'"
}

capture_mode() {   # NAME DV_TIMINGS_INDEX WIDTH HEIGHT FOURCC
  local name=$1 idx=$2 w=$3 h=$4 fourcc=$5 err=""
  {
    v4l2-ctl -c dv_timings_signal_mode=4,dv_timings="$idx" &&
    v4l2-ctl --set-dv-bt-timings query &&
    v4l2-ctl -v width="$w",height="$h",pixelformat="$fourcc"
  } >"$LOGS/$name-setup.txt" 2>&1 || err="setting the mode failed (logs/$name-setup.txt)"
  if [ -z "$err" ] && ! check_fmt "$name" /dev/video0 "$w" "$h" "$fourcc"; then
    err="format is not ${w}x$h $fourcc: $(grep -E "Width/Height|Pixel Format" "$LOGS/$name-format.txt" | tr -s ' \n' ' ')"
  fi
  if [ -z "$err" ]; then
    stream "$name" /dev/video0 120
    if [ "$STREAM_RC" != 0 ]; then err="v4l2-ctl --stream-mmap exited $STREAM_RC (logs/$name-stream.txt)"
    elif [ "$FRAMES" != 120 ]; then err="got $FRAMES of 120 frames"
    elif awk -v f="$FPS" -v m="$MIN_FPS_60" 'BEGIN { exit !(f < m) }'; then err="rate $FPS fps is below $MIN_FPS_60"
    fi
  fi
  if [ -z "$err" ]; then
    result "$name" PASS "$FPS" "120 frames ${w}x$h $fourcc, $(awk '/Size Image/ { print $4 }' "$LOGS/$name-format.txt") bytes each, $WALL_FPS fps incl. start-up"
  else
    result "$name" FAIL "${FPS:--}" "$err"
  fi
}

vivid() {
  local all err=""
  all=$(v4l2-ctl --all 2>&1) || err="v4l2-ctl --all failed"
  echo "$all" >"$LOGS/v4l2-ctl-all.txt"
  echo "$all" | grep -E "^\s*(Driver name|Card type|Bus info|Video input|Width/Height|Pixel Format)\s*:" | sed -E 's/^\s*//; s/\s*:\s*/: /' | awk -F': ' '!seen[$1]++' | sed 's/^/  v4l2-ctl --all: /'
  if [ -z "$err" ]; then
    echo "$all" | grep -q "Driver name *: *vivid" || err="driver is not vivid"
    echo "$all" | grep -q "Video Capture" || err="no Video Capture capability"
    echo "$all" | grep -qE "Video input *: *0 \(HDMI 0" || err="input 0 is not HDMI: $(echo "$all" | grep 'Video input')"
  fi
  if [ -z "$err" ]; then result v4l2-ctl-all PASS - "vivid, capture, input 0 = HDMI 0"; else result v4l2-ctl-all FAIL - "$err"; fi

  capture_mode 1080p60-YUYV 16 1920 1080 YUYV
  capture_mode 720p60-NV12 9 1280 720 NV12

  # Cable pulled: VIDIOC_QUERY_DV_TIMINGS must fail with ENOLINK ("Link has been severed").
  local q rc
  v4l2-ctl -c dv_timings_signal_mode=1 >"$LOGS/signal-loss.txt" 2>&1
  q=$(v4l2-ctl --query-dv-timings 2>&1); rc=$?
  echo "$q" >>"$LOGS/signal-loss.txt"
  if [ "$rc" != 0 ] && echo "$q" | grep -qiE "Link has been severed|ENOLINK"; then
    result signal-loss PASS - "QUERY_DV_TIMINGS fails with ENOLINK"
  else
    result signal-loss FAIL - "QUERY_DV_TIMINGS exit $rc: $(echo "$q" | tr -s ' \n' ' ' | cut -c1-120)"
  fi
  # Cable back: the timings can be queried again.
  v4l2-ctl -c dv_timings_signal_mode=4,dv_timings=9 >"$LOGS/signal-restored.txt" 2>&1
  q=$(v4l2-ctl --query-dv-timings 2>&1); rc=$?
  echo "$q" >>"$LOGS/signal-restored.txt"
  if [ "$rc" = 0 ] && echo "$q" | grep -qE "Active width: *1280" && echo "$q" | grep -qE "Active height: *720"; then
    result signal-restored PASS - "QUERY_DV_TIMINGS reports 1280x720 again"
  else
    result signal-restored FAIL - "QUERY_DV_TIMINGS exit $rc after restoring the signal"
  fi
}

loopback() {
  local dev=/dev/video10 err="" ff
  [ -e "$dev" ] || { result mjpeg-loopback FAIL - "$dev is missing (vm.sh --loopback?)"; return; }
  ffmpeg -hide_banner -loglevel error -nostdin -re -f lavfi -i testsrc2=size=1280x720:rate=30 \
    -c:v mjpeg -f v4l2 "$dev" >"$LOGS/ffmpeg.txt" 2>&1 &
  ff=$!
  local deadline=$((SECONDS + 60))    # ffmpeg takes 5-15 s to start under emulation
  while [ "$SECONDS" -lt "$deadline" ]; do
    v4l2-ctl -d "$dev" -D 2>/dev/null | grep -q "Video Capture" && break
    kill -0 "$ff" 2>/dev/null || break
    sleep 0.1
  done
  if ! v4l2-ctl -d "$dev" -D 2>/dev/null | grep -q "Video Capture"; then
    err="$dev never showed Video Capture (ffmpeg: $(tr -s '\n' ' ' <"$LOGS/ffmpeg.txt" | cut -c1-120))"
  elif ! check_fmt mjpeg-loopback "$dev" 1280 720 MJPG; then
    err="format is not 1280x720 MJPG: $(grep -E "Width/Height|Pixel Format" "$LOGS/mjpeg-loopback-format.txt" | tr -s ' \n' ' ')"
  else
    stream mjpeg-loopback "$dev" 30 "$TMPDIR/mjpeg-loopback.raw"
    local soi
    soi=$(head -c 2 "$TMPDIR/mjpeg-loopback.raw" 2>/dev/null | od -An -tx1 | tr -d ' \n')
    rm -f "$TMPDIR/mjpeg-loopback.raw"
    if [ "$STREAM_RC" != 0 ]; then err="v4l2-ctl --stream-mmap exited $STREAM_RC (logs/mjpeg-loopback-stream.txt)"
    elif [ "$FRAMES" != 30 ]; then err="got $FRAMES of 30 frames"
    elif [ "$soi" != ffd8 ]; then err="first frame does not start with a JPEG SOI marker (got '$soi')"
    elif awk -v f="$FPS" -v m="$MIN_FPS_30" 'BEGIN { exit !(f < m) }'; then err="rate $FPS fps is below $MIN_FPS_30"
    fi
  fi
  kill "$ff" 2>/dev/null; wait "$ff" 2>/dev/null
  if [ -z "$err" ]; then
    result mjpeg-loopback PASS "$FPS" "30 frames 1280x720 MJPG from ffmpeg, JPEG SOI ok, $WALL_FPS fps incl. start-up"
  else
    result mjpeg-loopback FAIL "${FPS:--}" "$err"
  fi
}

case "${1:-}" in
  vivid) vivid ;;
  loopback) loopback ;;
  *) echo "usage: $0 vivid|loopback" >&2; exit 2 ;;
esac
exit "$FAILED"
