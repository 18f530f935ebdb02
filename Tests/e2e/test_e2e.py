"""The walking skeleton end to end: phantom -> bridge -> demo model -> WebSocket, recording to mp4."""
from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import InvalidHandshake
from websockets.sync.client import connect

from conftest import REPO, start_bedside, wait_for


def collect_predictions(ws_url: str, count: int, timeout: float, min_seconds: float = 0) -> tuple[list[dict], int]:
    """Reads the live socket until `count` predictions arrived (and `min_seconds` passed); returns them and the
    number of video frames."""
    predictions: list[dict] = []
    frames = 0
    start = time.monotonic()
    deadline = start + timeout
    with connect(ws_url, max_size=8 << 20, open_timeout=10) as ws:
        while (len(predictions) < count or time.monotonic() - start < min_seconds) and time.monotonic() < deadline:
            try:
                msg = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if isinstance(msg, bytes):
                assert msg[16:18] == b"\xff\xd8", "video frames are JPEG after a 16-byte header"
                frames += 1
            else:
                m = json.loads(msg)
                if m["type"] == "prediction":
                    predictions.append(m)
    return predictions, frames


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,nb_read_frames,width,height:format=duration", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    j = json.loads(out)
    s = j["streams"][0]
    return {"codec": s["codec_name"], "frames": int(s["nb_read_frames"]), "width": s["width"],
            "height": s["height"], "duration": float(j["format"]["duration"])}


def test_demo_end_to_end(tmp_path):
    b = start_bedside(["demo", "--python", sys.executable], tmp_path)
    try:
        predictions, frames = collect_predictions(b.ws_url, 20, timeout=30, min_seconds=8)
        assert len(predictions) >= 20, f"only {len(predictions)} predictions in 30 s\n{b.output()[-3000:]}"
        assert frames > 0, "no video frames reached the viewer"
        seqs = [p["seq"] for p in predictions]
        assert all(a < b_ for a, b_ in zip(seqs, seqs[1:])), f"sequence numbers not strictly increasing: {seqs}"
        plane_ok = sum(p["result"]["plane"]["name"] == p["truth"]["plane"] for p in predictions)
        both_ok = sum(
            p["result"]["plane"]["name"] == p["truth"]["plane"] and p["result"]["plane"]["status"] == p["truth"]["status"]
            for p in predictions
        )
        print(f"\nplane agreement {plane_ok}/{len(predictions)}, plane+status {both_ok}/{len(predictions)}")
        assert plane_ok >= 0.9 * len(predictions), [(p["truth"], p["result"]["plane"]) for p in predictions]
        status = b.status()
        assert status["source"]["frames_captured"] > 0
        assert status["models"][0]["frames_sent"] >= 20
        assert status["models"][0]["predictions"] >= 20
        assert status["models"][0]["state"] == "running"
        assert status["recording"]["state"] == "recording"
        video = Path(status["recording"]["file"])
    finally:
        code = b.stop(signal.SIGTERM)
    assert code == 0, f"bedside exited with {code} on SIGTERM\n{b.output()[-3000:]}"
    info = ffprobe(video)
    print(f"recording: {info}")
    assert info["codec"] == "h264"
    assert (info["width"], info["height"]) == (1280, 720)
    expected = info["duration"] * 30
    assert abs(info["frames"] - expected) <= 0.1 * expected, f"{info['frames']} frames for {info['duration']} s at 30 fps"
    preds = (video.parent / "predictions.jsonl").read_text().splitlines()
    assert len(preds) >= 20
    first = json.loads(preds[0])
    assert first["model"] == "pcbm-demo" and "plane" in first["result"]
    session = json.loads((video.parent / "session.json").read_text())
    assert session["models"] == ["pcbm-demo"]


def test_newest_frame_only_with_a_slow_model(tmp_path):
    b = start_bedside(["run", "--config", str(REPO / "Tests/e2e/models/slow.yaml"), "--python", sys.executable], tmp_path)
    try:
        wait_for(lambda: b.status()["models"][0]["state"] == "running", 60, what="the slow model")
        predictions, _ = collect_predictions(b.ws_url, 10_000, timeout=10)
    finally:
        assert b.stop() == 0
    assert len(predictions) >= 20, f"{len(predictions)} predictions in 10 s from a 300 ms model"
    seqs = [p["seq"] for p in predictions]
    gaps = [b_ - a for a, b_ in zip(seqs, seqs[1:])]
    dispatch_age = sorted(p["dispatch_age_ms"] for p in predictions)
    ages = [p["age_ms"] for p in predictions]
    print(f"\ngaps median {statistics.median(gaps)} min {min(gaps)} max {max(gaps)}; "
          f"dispatch age p50 {dispatch_age[len(dispatch_age)//2]:.1f} ms max {dispatch_age[-1]:.1f} ms; "
          f"result age first {ages[:3]} last {ages[-3:]}")
    # 300 ms at 30 fps is ~9 frames between the frames the model sees, and never a backlog.
    assert 7 <= statistics.median(gaps) <= 12, gaps
    assert min(gaps) >= 5, gaps
    # The frame handed over is the newest: at most one frame interval old (plus scheduling slack) when sent.
    p99 = dispatch_age[int(0.99 * (len(dispatch_age) - 1))]
    assert p99 <= 2 * 33.4 + 15, dispatch_age
    # No growing lag: the age of results at the end is like the age at the start.
    assert statistics.mean(ages[-5:]) <= statistics.mean(ages[:5]) + 100, ages


def test_viewer_without_token_is_refused(bedside):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{bedside.base_url}/api/status", timeout=5)
    assert e.value.code == 401
    assert "token" in e.value.read().decode()
    with pytest.raises(InvalidHandshake):
        with connect(f"ws://127.0.0.1:{bedside.port}/ws?token=wrong-token", open_timeout=5) as ws:
            ws.recv(timeout=2)
    assert urllib.request.urlopen(f"{bedside.base_url}/healthz", timeout=5).status == 200


def test_status_reports_the_pipeline(bedside):
    s = bedside.status()
    for key in ("frames_captured", "fps", "description"):
        assert key in s["source"]
    m = s["models"][0]
    for key in ("state", "frames_sent", "predictions", "errors", "restarts", "rate_hz", "latency_ms", "model_ms"):
        assert key in m
    assert s["recording"]["file"].endswith(".mp4")


def test_a_video_file_plays_through_the_model_and_is_recorded(tmp_path):
    video = tmp_path / "scan.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25", "-t", "3",
         "-pix_fmt", "yuv420p", str(video)], check=True)
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        f"source: {{kind: file, path: {video}, loop: false}}\n"
        "models:\n  - name: slow\n    entry: " + str(REPO / "Tests/e2e/models/slow_model.py") + ":predict\n"
        "    input: {format: gray, width: 160, height: 120}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    # A file that is not looped ends the run by itself, gracefully.
    code = b.proc.wait(timeout=30)
    assert code == 0, b.output()[-3000:]
    videos = list(b.recordings.glob("*/video-000.mp4"))
    assert len(videos) == 1, b.output()[-3000:]
    info = ffprobe(videos[0])
    print(f"\nfile source recording: {info}")
    assert info["codec"] == "h264" and (info["width"], info["height"]) == (640, 480)
    assert 70 <= info["frames"] <= 75, info
    preds = [json.loads(line) for line in (videos[0].parent / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) >= 3, "the model saw the file's frames"


def test_metrics_in_prometheus_format(bedside):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{bedside.base_url}/metrics", timeout=5)
    assert e.value.code == 401
    req = urllib.request.Request(f"{bedside.base_url}/metrics", headers={"Authorization": f"Bearer {bedside.token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    assert values["bedside_frames_captured_total"] > 0
    assert values['bedside_predictions_total{model="pcbm-demo"}'] > 0
    assert values['bedside_model_running{model="pcbm-demo"}'] == 1
    assert values["bedside_viewers"] >= 0
    buckets = [k for k in values if k.startswith('bedside_model_round_trip_seconds_bucket{model="pcbm-demo"')]
    assert buckets and values['bedside_model_round_trip_seconds_count{model="pcbm-demo"}'] > 0
    assert "# TYPE bedside_frame_age_at_result_seconds histogram" in text
