"""The patient banner never leaves the capture edge: tablets, snapshots, the recording and the model get it black."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import numpy as np

from conftest import REPO, start_bedside, wait_for


def gray(path, width, height, extra=()):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), *extra, "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width)


def test_banner_is_black_everywhere_but_the_scan_is_not(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 640, height: 480, fps: 15}\n"
        "privacy: {masks_by_size: {640x480: [{x: 0, y: 0, width: 640, height: 14}]}}\n"
        f"models:\n  - {{name: echo, entry: '{REPO / 'Tests/e2e/models/echo_pixels.py'}:predict',"
        " input: {format: gray, width: 640, height: 24, crop: {x: 0, y: 0, width: 640, height: 24}}}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] >= 3, 60, what="predictions")
        assert b.status()["source"]["privacy_masks"] == 1
        req = urllib.request.Request(f"{b.base_url}/api/snapshot?token={b.token}", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10) as r:
            snap = json.load(r)
    finally:
        assert b.stop() == 0
    # The model's input: the banner rows are 0, the rows under it are the screen's own.
    preds = [json.loads(l) for l in next(b.recordings.glob("*/predictions.jsonl")).read_text().splitlines()]
    seen = np.array(preds[-1]["result"]["extra"]["pixels"], dtype=np.uint8).reshape(24, 640)
    assert seen[:14].max() == 0 and seen[14:].max() > 0
    # The snapshot (lossless PNG): black banner, and the banner text really was there to hide.
    png = gray(snap["png"], 640, 480)
    assert png[:14].max() == 0
    assert png[14:].max() > 100, "the rest of the screen is untouched"
    # The recording (H.264, lossy: near black).
    video = next(b.recordings.glob("*/video-000.mp4"))
    frame = gray(video, 640, 480)
    assert frame[:12].max() < 40, f"banner visible in the recording: max {frame[:12].max()}"
    assert frame[14:].max() > 100


def test_without_a_mask_the_banner_text_is_there(tmp_path):
    # The control: the same check finds the patient banner when no mask is configured.
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 640, height: 480, fps: 15}\nmodels: []\n")
    b = start_bedside(["run", "--config", str(cfg), "--duration", "2"], tmp_path)
    assert b.proc.wait(timeout=60) == 0
    frame = gray(next(b.recordings.glob("*/video-000.mp4")), 640, 480)
    assert frame[:12].max() > 100, "the phantom draws a patient banner"
