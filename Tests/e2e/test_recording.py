"""Recording that loses nothing: kill -9, model faults, a full disk, timeline alignment, start/stop, snapshots."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, start_bedside, wait_for

ZOO = REPO / "Tests/e2e/zoo"
MODELS = REPO / "Tests/e2e/models"


def ffprobe_frames(path: Path) -> list[float]:
    """Presentation times of every frame ffprobe can decode (decoding all of them)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0",
         str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    vals = [x.strip().strip(",") for x in out.stdout.split()]
    return [float(x) for x in vals if x and x != "N/A"]


def session_of(b) -> Path:
    sessions = sorted(p for p in b.recordings.iterdir() if (p / "session.json").exists())
    assert sessions, f"no session folder in {b.recordings}"
    return sessions[-1]


def post(b, path: str, pin: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(f"{b.base_url}/api/{path}?token={b.token}", method="POST", data=b"")
    if pin is not None:
        req.add_header("X-Admin-PIN", pin)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_sigkill_mid_recording_leaves_a_playable_file_missing_at_most_a_second(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 640, height: 480, fps: 30}\nmodels: []\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    wait_for(lambda: b.status()["recording"]["frames_written"] >= 150, 60, what="5 s recorded")
    written = b.status()["recording"]["frames_written"]
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(timeout=10)
    session = session_of(b)
    times = ffprobe_frames(session / "video-000.mp4")
    lost = written - len(times)
    print(f"\nframes written before the kill: {written}, decodable after it: {len(times)} (lost {lost / 30:.2f} s)")
    assert len(times) >= written - 30, f"more than 1 s lost: {written} written, {len(times)} decodable"
    assert json.loads((session / "session.json").read_text())["state"] == "recording"
    # The next start records a new session cleanly beside the killed one.
    b2 = start_bedside(["run", "--config", str(cfg), "--duration", "2"], tmp_path / "second",
                       name="second")
    b2.recordings = b.recordings
    assert b2.proc.wait(timeout=60) == 0


def test_model_crash_and_hang_during_recording_lose_no_frame(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 640, height: 480, fps: 30}\n"
        "models:\n"
        f"  - {{name: segfault, entry: '{ZOO / 'segfault.py'}:predict', input: {{format: gray, width: 32, height: 24}}}}\n"
        f"  - {{name: hang, entry: '{ZOO / 'infinite_loop.py'}:predict', timeout_s: 1,"
        " input: {format: gray, width: 32, height: 24}}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        wait_for(lambda: all(m["restarts"] >= 2 for m in b.status()["models"]), 60, what="both models to fail twice")
        captured = b.status()["source"]["frames_captured"]
    finally:
        assert b.stop() == 0
    info = json.loads((session_of(b) / "session.json").read_text())
    print(f"\ncaptured (last status) {captured}, written {info['frames_written']}, dropped {info['frames_dropped']}")
    assert info["frames_dropped"] == 0
    assert info["frames_written"] >= captured, "every captured frame was recorded"
    assert len(ffprobe_frames(session_of(b) / "video-000.mp4")) == info["frames_written"]


def test_predictions_line_up_with_the_video_frame_the_model_saw(tmp_path):
    # The model gets a 64x48 crop at full resolution: the phantom's speckle moves a pixel a frame, so each
    # frame's crop is unlike its neighbours'. The frame at a prediction's pts_s in the mp4 must be that frame.
    crop = (288, 300, 64, 48)
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 640, height: 480, fps: 15}\n"
        f"models:\n  - {{name: echo, entry: '{MODELS / 'echo_pixels.py'}:predict', input: {{format: gray, width: 64,"
        f" height: 48, crop: {{x: {crop[0]}, y: {crop[1]}, width: 64, height: 48}}}}}}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--duration", "6", "--python", sys.executable], tmp_path)
    assert b.proc.wait(timeout=60) == 0
    session = session_of(b)
    video = session / "video-000.mp4"
    times = np.array(ffprobe_frames(video))
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"crop=64:48:{crop[0]}:{crop[1]}", "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, timeout=120, check=True).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 48, 64).astype(np.float64)
    assert len(frames) == len(times)
    preds = [json.loads(line) for line in (session / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) >= 30
    hits = 0
    for p in preds:
        seen = np.array(p["result"]["extra"]["pixels"], dtype=np.float64).reshape(48, 64)
        k = int(np.argmin(np.abs(times - p["pts_s"])))
        assert abs(times[k] - p["pts_s"]) < 0.5 / 15, f"no video frame at {p['pts_s']} s"
        corr = {j: np.corrcoef(seen.ravel(), frames[j].ravel())[0, 1] for j in (k - 1, k, k + 1) if 0 <= j < len(frames)}
        hits += max(corr, key=corr.get) == k
    print(f"\n{hits}/{len(preds)} predictions match the video frame at their pts_s best")
    assert hits >= 0.95 * len(preds)


def test_manual_recording_start_stop_needs_the_admin_pin_and_snapshots_save_png_and_json(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 640, height: 480, fps: 15}\n"
        f"models:\n  - {{name: pcbm-demo, entry: '{REPO / 'researcher-template/pcbm_demo/inference.py'}:predict',"
        f" setup: '{REPO / 'researcher-template/pcbm_demo/inference.py'}:load_model',"
        " input: {format: gray, width: 288, height: 224}}\n"
        "recording: {mode: manual}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        pin = json.loads((tmp_path / "bedside-ready.json").read_text())["admin_pin"]
        assert b.status()["recording"]["state"] == "idle" and b.status()["recording"]["mode"] == "manual"
        code, body = post(b, "recording/start")
        assert code == 403 and "admin PIN" in body["error"]
        code, body = post(b, "recording/start", pin="000000" if pin != "000000" else "111111")
        assert code == 403
        req = urllib.request.Request(f"{b.base_url}/api/recording/start", method="POST", data=b"")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 401, "no token, no action"
        assert not any(b.recordings.glob("*/session.json")), "nothing recorded before start"
        code, body = post(b, "recording/start", pin=pin)
        assert code == 200 and body["started"] is True
        wait_for(lambda: b.status()["recording"]["frames_written"] >= 30, 30, what="frames recorded")
        wait_for(lambda: b.status()["models"][0]["predictions"] >= 3, 60, what="predictions")
        code, snap = post(b, "snapshot")
        assert code == 200, snap
        png, meta = Path(snap["png"]), json.loads(Path(snap["json"]).read_text())
        assert png.parent == session_of(b)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (meta["width"], meta["height"]) == (640, 480)
        assert "pcbm-demo" in meta["predictions"] and "result" in meta["predictions"]["pcbm-demo"]
        assert meta["pts_s"] >= 0
        code, body = post(b, "recording/stop", pin=pin)
        assert code == 200 and body["stopped"] is True
        wait_for(lambda: b.status()["recording"]["state"] == "idle", 20, what="the session to end")
        first = session_of(b)
        info = json.loads((first / "session.json").read_text())
        assert info["state"] == "finished" and info["mode"] == "manual"
        assert info["model_versions"] == {"pcbm-demo": "0.1.0"}
        assert len(info["config_sha256"]) == 64
        time.sleep(1.1)  # a new folder name
        assert post(b, "recording/start", pin=pin)[1]["started"] is True
        wait_for(lambda: b.status()["recording"]["frames_written"] >= 15, 30, what="the second session")
    finally:
        assert b.stop() == 0
    sessions = sorted(p for p in b.recordings.iterdir() if (p / "session.json").exists())
    assert len(sessions) == 2 and all((s / "video-000.mp4").exists() for s in sessions)


def test_segments_rotate_with_ordered_names_and_a_gapless_timeline(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 30}\nmodels: []\n"
                   "recording: {segment_s: 5}\n")
    b = start_bedside(["run", "--config", str(cfg), "--duration", "12"], tmp_path)
    assert b.proc.wait(timeout=60) == 0
    session = session_of(b)
    info = json.loads((session / "session.json").read_text())
    files = [s["file"] for s in info["segments"]]
    assert files == [f"video-{i:03d}.mp4" for i in range(len(files))] and len(files) >= 2
    total = 0
    for i, seg in enumerate(info["segments"]):
        n = len(ffprobe_frames(session / seg["file"]))
        assert n == seg["frames"], seg
        total += n
        if i:
            prev = info["segments"][i - 1]
            gap = seg["start_s"] - (prev["start_s"] + prev["duration_s"])
            assert abs(gap) < 0.05, f"gap of {gap:.3f} s between {prev['file']} and {seg['file']}"
    assert total == info["frames_written"]


@pytest.mark.parametrize("floor_mb", [20, 0], ids=["below-the-floor", "disk-actually-full"])
def test_full_disk_pauses_recording_cleanly_and_resumes_when_space_returns(tmp_path, floor_mb):
    # floor 20: the once-a-second check pauses before the disk is full. floor 0: writes fail with ENOSPC first.
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        filler = mnt / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * ((28 if floor_mb else 47) << 20))  # 22 MB left (floor 20 MB), or 3 MB
        cfg = tmp_path / "bedside.yaml"
        cfg.write_text("source: {kind: phantom, width: 640, height: 480, fps: 30}\nmodels: []\n"
                       f"recording: {{min_free_mb: {floor_mb}}}\n")
        b = start_bedside(["run", "--config", str(cfg)], tmp_path, recordings=mnt / "rec")
        try:
            rec = wait_for(lambda: (lambda r: r if r["state"] == "paused" else None)(b.status()["recording"]), 90,
                           what="recording to pause for disk space")
            assert "min_free_mb" in rec["alert"] and rec["free_mb"] < 20
            print(f"\npaused with {rec['free_mb']} MB free: {rec['alert']}")
            c1 = b.status()["source"]["frames_captured"]
            time.sleep(1.5)
            s = b.status()
            assert s["source"]["frames_captured"] > c1, "capture goes on while recording is paused"
            assert s["recording"]["frames_skipped_for_disk"] > 0
            first = session_of(b) / "video-000.mp4"
            assert len(ffprobe_frames(first)) > 0, "the file made before the pause is finalised and plays"
            filler.unlink()
            wait_for(lambda: b.status()["recording"]["state"] == "recording", 30, what="recording to resume")
            assert b.status()["recording"]["alert"] is None
            wait_for(lambda: (session_of(b) / "video-001.mp4").exists(), 30, what="a new file after the pause")
        finally:
            assert b.stop() == 0
        info = json.loads((session_of(b) / "session.json").read_text())
        assert len(info["pauses"]) == 1 and info["pauses"][0]["resumed_wall"]
        assert info["state"] == "finished"
        for seg in info["segments"]:
            decodable = len(ffprobe_frames(session_of(b) / seg["file"]))
            if floor_mb:
                assert decodable == seg["frames"], seg
            else:  # the write that hit ENOSPC lost at most the fragment in progress (<= 1 s)
                assert seg["frames"] - 30 <= decodable <= seg["frames"], (seg, decodable)
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_retention_deletes_the_oldest_sessions_beyond_keep_gb(tmp_path):
    rec = tmp_path / "recordings"
    for day in ("20250101-090000", "20250102-090000", "20250103-090000"):
        d = rec / day
        d.mkdir(parents=True)
        (d / "session.json").write_text("{}")
        with open(d / "video-000.mp4", "wb") as f:  # 60 MB, sparse: costs no disk
            f.truncate(60 << 20)
    (rec / "not-a-session").mkdir()  # a folder Bedside did not make is never touched
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\n"
                   "recording: {keep_gb: 0.1}\n")
    b = start_bedside(["run", "--config", str(cfg), "--duration", "3"], tmp_path)
    assert b.proc.wait(timeout=60) == 0
    left = sorted(p.name for p in rec.iterdir())
    # 0.1 GB = 102 MB: one old 60 MB session fits beside the new one, two do not.
    new = [n for n in left if n not in ("20250103-090000", "not-a-session")]
    assert "20250103-090000" in left and "not-a-session" in left, left
    assert len(new) == 1 and (rec / new[0] / "video-000.mp4").exists(), f"only the new session is added: {left}"
    assert "retention: deleted the oldest session" in b.output()
