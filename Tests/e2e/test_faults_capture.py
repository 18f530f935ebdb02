"""Capture faults with a file source (issue 9): an H.264 file with a corrupt middle section (64 KiB of random bytes)
and one cut short, each as MPEG-TS and as mp4. Bedside should play through what can be decoded, with the model and
the recording going on, and end by itself at the end of the file. Frames lost = frames the clean file has minus
frames Bedside captured (= recorded: the file source's frames all go to the recorder).

The V4L2 faults (no signal, unplug/replug, resolution change, a stalled driver) run against a real kernel driver in
a VM: Tests/v4l2/scenarios.py.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_faults_process import missing_frames, record_row, short
from test_recording import ffprobe_frames

from conftest import REPO, start_bedside

FPS, SECONDS = 25, 4


def clean_file(folder: Path, container: str) -> Path:
    path = folder / f"clean.{container}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate={FPS}", "-t", str(SECONDS),
         "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", str(FPS),
         *(["-movflags", "+faststart"] if container == "mp4" else []), str(path)],
        check=True, timeout=60)
    return path


def damaged(clean: Path, how: str) -> Path:
    data = bytearray(clean.read_bytes())
    out = clean.with_name(f"{how}.{clean.suffix[1:]}")
    if how == "corrupt-middle":
        start = len(data) // 2
        data[start:start + 65536] = random.Random(9).randbytes(65536)
    else:  # truncated: the last 20 % cut off (an interrupted copy)
        data = data[: int(len(data) * 0.8)]
    out.write_bytes(bytes(data))
    return out


def decodable(path: Path) -> int:
    r = subprocess.run(["ffprobe", "-v", "quiet", "-count_frames", "-select_streams", "v:0", "-show_entries",
                        "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=60)
    counts = [int(x.strip(",")) for x in r.stdout.split() if x.strip(",").isdigit()]  # MPEG-TS: once per program
    return counts[0] if counts else 0


@pytest.mark.parametrize("container", ["ts", "mp4"])
@pytest.mark.parametrize("how", ["corrupt-middle", "truncated"])
def test_damaged_video_file_plays_through(tmp_path, how, container):
    clean = clean_file(tmp_path, container)
    total = decodable(clean)
    bad = damaged(clean, how)
    ffmpeg_can = decodable(bad)  # what libav itself gets out of the damaged file, for comparison
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        f"source: {{kind: file, path: {bad}, loop: false}}\n"
        f"models:\n  - {{name: slow, entry: '{REPO / 'Tests/e2e/models/slow_model.py'}:predict',"
        " input: {format: gray, width: 160, height: 120}}\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    t0 = time.monotonic()
    last = b.status()
    try:
        # The file ends by itself after ~SECONDS s; a Bedside still running 6 s later (or 3 s after its source
        # failed) did not end the run.
        failed_at = None
        while b.proc.poll() is None and time.monotonic() - t0 < SECONDS + 6:
            try:
                last = b.status()
            except OSError:
                pass  # shutting down
            if last["source"].get("state") == "failed":
                failed_at = failed_at or time.monotonic()
                if time.monotonic() - failed_at > 3:
                    break
            time.sleep(0.25)
        ended_by_itself = b.proc.poll() is not None
        code = b.proc.returncode if ended_by_itself else b.stop()
    finally:
        if b.proc.poll() is None:
            b.proc.kill()
    run_s = time.monotonic() - t0
    session = sorted(p for p in b.recordings.iterdir() if (p / "session.json").exists())[-1]
    info = json.loads((session / "session.json").read_text())
    times = ffprobe_frames(session / "video-000.mp4")
    captured = info["frames_written"] + info["frames_dropped"]
    preds = [json.loads(line) for line in (session / "predictions.jsonl").read_text().splitlines()]
    last_pred_s = max((p["pts_s"] for p in preds), default=0.0)
    video_s = (times[-1] + 1 / FPS) if times else 0.0
    src = last["source"]
    log = b.output()
    libav_lines = sum(1 for line in log.splitlines() if line.startswith("[h264") or line.startswith("[NULL") or line.startswith("[mpegts")
                      or line.startswith("[mov"))
    gaps, _ = missing_frames(times, FPS)
    fault = {"corrupt-middle": "64 KiB of random bytes in the middle", "truncated": "the last 20 % cut off"}[how]
    print(f"\n{how}.{container}: clean {total} frames, ffprobe decodes {ffmpeg_can}, Bedside captured {captured} "
          f"(recorded {info['frames_written']}, {len(times)} decodable, {gaps} gaps); {len(preds)} predictions, last at "
          f"{last_pred_s:.2f} s of {video_s:.2f} s; source state {src.get('state')!r} {src.get('error', '')!r}; "
          f"ended by itself: {ended_by_itself} (exit {code} after {run_s:.1f} s); libav lines in the log: {libav_lines}")
    record_row("capture", f"file source ({container}, H.264 640x480@{FPS}, {SECONDS} s) with {fault}",
           (f"played to the end and ended the run by itself (exit {code})" if ended_by_itself and src.get("state") != "failed"
            else f"capture stopped at frame {captured} with source state `{src.get('state')}` "
                 f"({short(src.get('error', ''))[:130]!r}); Bedside kept serving a frozen source and did not end the run "
                 f"(exit {code} on SIGTERM {run_s:.0f} s later)")
           + f"; model answered {len(preds)} frames (last at {last_pred_s:.1f} s of {video_s:.1f} s); recording "
             f"{info['state']}, {len(times)} frames decodable; decode errors are not counted in /api/status "
             f"({libav_lines} raw libav lines in the log)",
           f"{total - captured} of {total} frames (ffprobe itself decodes {ffmpeg_can} of the damaged file, so "
           f"{max(0, ffmpeg_can - captured)} were lost by Bedside beyond the damage); 0 recorded frames lost "
           f"({info['frames_written'] - len(times)} undecodable)",
           recovery_s=None, crashes=0 if code == 0 else 1)
    assert code == 0, log[-3000:]
    assert info["state"] == "finished" and len(times) == info["frames_written"] and info["frames_dropped"] == 0
    assert preds, "the model answered"
    if not ended_by_itself or captured < ffmpeg_can - 3:
        pytest.xfail(f"bug: {how}.{container}: VideoFileDecoder.next throws on the first packet libavcodec refuses "
                     f"(AVERROR_INVALIDDATA), so capture stops for good at frame {captured} of {ffmpeg_can} decodable "
                     f"(source state {src.get('state')!r}), and the run never ends (CaptureService's failure is ignored "
                     "by the service group)")
    assert captured >= ffmpeg_can - 3, f"Bedside got {captured} frames, libav can decode {ffmpeg_can}"
    assert last_pred_s > 0.6 * video_s, "the model went on past the damage"
