"""`bedside replay`: a recording run through the model again gives the live run's predictions for the same frames."""
from __future__ import annotations

import bisect
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import BIN, REPO, start_bedside, wait_for

FPS = 15
TEMPLATE = REPO / "researcher-template"


def demo_config(tmp: Path) -> Path:
    """The template's demo model on a 640x480 phantom (its crop scaled from 1280x720 by 2/3 about the centre);
    recordings cut into 5 s files, so a replay crosses from one file to the next."""
    cfg = tmp / "bedside.yaml"
    model = TEMPLATE / "pcbm_demo" / "inference.py"
    cfg.write_text(
        f"source: {{kind: phantom, width: 640, height: 480, fps: {FPS}}}\n"
        "models:\n"
        "  - name: pcbm-demo\n"
        f"    entry: {model}:predict\n"
        f"    setup: {model}:load_model\n"
        "    input:\n"
        "      format: gray\n"
        "      width: 288\n"
        "      height: 224\n"
        "      crop: {x: 59, y: 48, width: 522, height: 406}\n"
        "    timeout_s: 10\n"
        "recording: {segment_s: 5}\n"
    )
    return cfg


def replay(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"))
    return subprocess.run([str(BIN), "replay", *args], capture_output=True, text=True, timeout=timeout, env=env)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_replay_reproduces_the_live_predictions_for_the_same_frames(tmp_path):
    cfg = demo_config(tmp_path)
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] > 0, 60, what="the first live prediction")
        time.sleep(8)
    finally:
        assert b.stop() == 0, b.output()[-3000:]
    sessions = [p for p in b.recordings.iterdir() if p.is_dir()]
    assert len(sessions) == 1, sessions
    session = sessions[0]
    videos = sorted(session.glob("video-*.mp4"))
    assert len(videos) >= 2, f"expected the 5 s segments to make several files: {videos}"
    live_file = session / "predictions.jsonl"
    live_before = live_file.read_bytes()
    live = [p for p in read_jsonl(live_file) if p["pts_s"] is not None]
    assert len(live) >= 20, f"only {len(live)} live predictions"

    started = time.monotonic()
    r = replay(str(session), "--config", str(cfg), "--python", sys.executable)
    wall = time.monotonic() - started
    assert r.returncode == 0, r.stdout + r.stderr
    print("\n" + r.stdout)
    assert live_file.read_bytes() == live_before, "replay must never touch the live predictions.jsonl"
    outputs = list(session.glob("replay-*.jsonl"))
    assert len(outputs) == 1, outputs
    assert str(outputs[0]) in r.stdout
    replayed = read_jsonl(outputs[0])

    m = re.search(r"Replayed (\d+) of (\d+) frames .* in ([\d.]+) s: ([\d.]+) frames/s", r.stdout)
    assert m, r.stdout
    frames, total, seconds, rate = int(m[1]), int(m[2]), float(m[3]), float(m[4])
    assert frames == total > 0
    # Every frame: one answer per frame of the video, in order, on the recording's timeline.
    assert len(replayed) == frames, f"{len(replayed)} predictions for {frames} frames"
    assert [p["seq"] for p in replayed] == list(range(frames))
    assert all(p["model"] == "pcbm-demo" for p in replayed)
    assert abs(replayed[0]["pts_s"]) < 1e-3, replayed[0]
    pts = [p["pts_s"] for p in replayed]
    assert pts == sorted(pts)

    # Each live prediction has the replay's prediction for the same frame (same pts_s within half a frame)...
    half = 0.5 / FPS
    agree = 0
    missing = []
    for p in live:
        i = bisect.bisect_left(pts, p["pts_s"] - half)
        if i >= len(pts) or abs(pts[i] - p["pts_s"]) > half:
            missing.append(p["pts_s"])
            continue
        q = replayed[i]
        assert abs(q["pts_ns"] - p["pts_ns"]) < 1_000_000, "pts_ns is the live capture time too (session.json's origin)"
        a, b_ = p["result"]["plane"], q["result"]["plane"]
        agree += (a["name"], a["status"]) == (b_["name"], b_["status"])
    assert not missing, f"{len(missing)} live predictions have no replayed frame: {missing[:10]}"
    # ...and it agrees (the video is H.264: scores move a little, near a threshold a decision may flip).
    share = agree / len(live)
    print(f"replay of {len(videos)} files: {frames} frames in {seconds:.1f} s ({rate:.1f} frames/s, {wall:.1f} s with start-up); "
          f"plane name+status agree for {agree}/{len(live)} live predictions ({100 * share:.1f}%)")
    assert share >= 0.9, f"only {agree}/{len(live)} agree"


def test_realtime_replay_runs_at_the_recordings_pace(tmp_path):
    cfg = demo_config(tmp_path)
    video = tmp_path / "scan.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate={FPS}", "-t", "3",
         "-pix_fmt", "yuv420p", str(video)], check=True)
    out = tmp_path / "out.jsonl"
    started = time.monotonic()
    r = replay(str(video), "--config", str(cfg), "--python", sys.executable, "--realtime", "--output", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "at the recording's pace" in r.stdout, r.stdout
    assert time.monotonic() - started >= 2.5, "3 s of video take about 3 s at the recording's pace"
    preds = read_jsonl(out)
    assert preds, r.stdout + r.stderr
    assert all(0 <= p["pts_s"] < 3.1 for p in preds)


def test_a_missing_recording_is_named_with_the_fix(tmp_path):
    r = replay(str(tmp_path / "no-such-session"), "--config", str(TEMPLATE / "bedside.yaml"), timeout=30)
    assert r.returncode != 0
    assert f"no recording at {tmp_path / 'no-such-session'}" in r.stderr, r.stderr
    assert "session folder" in r.stderr and ".mp4" in r.stderr


def test_a_folder_without_video_and_an_unreadable_video_are_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = replay(str(empty), "--config", str(TEMPLATE / "bedside.yaml"), timeout=30)
    assert r.returncode != 0
    assert f"{empty} has no video files" in r.stderr, r.stderr

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "video-000.mp4").write_bytes(b"not a video at all" * 100)
    r = replay(str(broken), "--config", str(TEMPLATE / "bedside.yaml"), timeout=30)
    assert r.returncode != 0
    assert f"cannot read the video {broken / 'video-000.mp4'}" in r.stderr and "ffprobe" in r.stderr, r.stderr
    assert not list(broken.glob("replay-*.jsonl")), "no output file for a replay that never started"
