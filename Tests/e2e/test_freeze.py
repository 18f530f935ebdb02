"""`trigger: freeze`: a slow model runs once per frozen image, not continuously."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from conftest import REPO, start_bedside


def make_video(path, segments, fps=25, size=(160, 120)):
    """segments: list of ('moving' | 'frozen', seconds). Moving = fresh noise each frame."""
    rng = np.random.default_rng(1)
    w, h = size
    ff = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
         "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", str(path)], stdin=subprocess.PIPE)
    for kind, seconds in segments:
        still = rng.integers(0, 255, (h, w), dtype=np.uint8)
        for _ in range(int(seconds * fps)):
            frame = still if kind == "frozen" else rng.integers(0, 255, (h, w), dtype=np.uint8)
            ff.stdin.write(frame.tobytes())
    ff.stdin.close()
    assert ff.wait() == 0


def test_one_prediction_per_freeze(tmp_path):
    video = tmp_path / "scan.mp4"
    make_video(video, [("moving", 1), ("frozen", 2), ("moving", 1), ("frozen", 2), ("moving", 1)])
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        f"source: {{kind: file, path: {video}, loop: false}}\n"
        "models:\n  - name: slow\n    entry: " + str(REPO / "Tests/e2e/models/slow_model.py") + ":predict\n"
        "    trigger: freeze\n    freeze_s: 0.8\n    input: {format: gray, width: 64, height: 48}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    code = b.proc.wait(timeout=60)
    assert code == 0, b.output()[-3000:]
    preds = [json.loads(line) for line in next(b.recordings.glob("*/predictions.jsonl")).read_text().splitlines()]
    times = [round(p["pts_s"], 2) for p in preds]
    print(f"\npredictions at {times} s of the recording")
    assert len(preds) == 2, f"expected one prediction per freeze, got {len(preds)} at {times}"
    # each during its freeze: 1-3 s and 4-6 s into the video, after the 0.8 s still time
    assert 1.7 <= times[0] <= 3.1 and 4.7 <= times[1] <= 6.1, times


def test_frozen_frame_is_retried_once_when_the_worker_dies_on_it(tmp_path):
    video = tmp_path / "scan.mp4"
    make_video(video, [("moving", 1), ("frozen", 3), ("moving", 2)])
    marker = tmp_path / "died"
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        f"source: {{kind: file, path: {video}, loop: false}}\n"
        "models:\n  - name: dies-once\n    entry: " + str(REPO / "Tests/e2e/models/dies_once.py") + ":predict\n"
        f"    trigger: freeze\n    freeze_s: 0.8\n    input: {{format: gray, width: 64, height: 48}}\n"
        f"    env: {{DIES_ONCE_MARKER: {marker}}}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    code = b.proc.wait(timeout=60)
    assert code == 0, b.output()[-3000:]
    assert marker.exists(), "the model never saw the frozen frame"
    preds = [json.loads(line) for line in next(b.recordings.glob("*/predictions.jsonl")).read_text().splitlines()]
    times = [round(p["pts_s"], 2) for p in preds]
    assert len(preds) == 1, f"expected the frozen frame's answer once, after the restart; got {times}"
    assert 1.7 <= times[0] <= 4.1, times
