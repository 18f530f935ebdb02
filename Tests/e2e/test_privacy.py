"""The patient banner never leaves the capture edge: tablets, snapshots, the recording and the model get it black."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
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
    preds = [json.loads(line) for line in next(b.recordings.glob("*/predictions.jsonl")).read_text().splitlines()]
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


def test_unmasked_source_is_not_recorded_unless_allowed(tmp_path):
    """No mask and no allow_unmasked: Bedside runs, but nothing unmasked reaches the disk, and it says why."""
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 640, height: 480, fps: 15}\nmodels: []\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path, allow_unmasked=False)
    try:
        s = wait_for(lambda: (lambda s: s if s["recording"]["frames_skipped_unmasked"] >= 10 else None)(b.status()),
                     30, what="unmasked frames to be refused")
        assert s["recording"]["state"] == "paused", s["recording"]
        assert "640x480 have no privacy mask" in s["recording"]["alert"], s["recording"]
        assert "recording waits" in s["source"]["privacy_warning"]
        req = urllib.request.Request(f"{b.base_url}/api/snapshot?token={b.token}", method="POST", data=b"")
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("a snapshot of an unmasked frame was saved")
        except urllib.error.HTTPError as e:
            assert "no privacy mask covers" in json.load(e)["error"]
    finally:
        assert b.stop() == 0
    assert "no privacy masks are configured" in b.output()
    session = json.loads(next(b.recordings.glob("*/session.json")).read_text())
    assert session["frames_written"] == 0 and session["frames_skipped_unmasked"] >= 10
    assert session["privacy"]["allow_unmasked"] is False
    assert not list(b.recordings.glob("*/*.mp4")) and not list(b.recordings.rglob("*.png"))


def make_ts(path, width, height, seconds=2, fps=15):
    """An H.264 transport stream of the test pattern (bright everywhere, so a mask shows as black)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}", "-c:v", "libx264",
                    "-g", str(fps), "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)], check=True, timeout=120)


def test_resolution_change_keeps_the_right_mask_and_pauses_for_an_unmasked_size(tmp_path):
    # A scanner preset change mid-stream: 320x240, then 640x480 (two H.264 streams back to back in one file).
    a, c = tmp_path / "a.ts", tmp_path / "c.ts"
    make_ts(a, 320, 240)
    make_ts(c, 640, 480)
    video = tmp_path / "presets.ts"
    video.write_bytes(a.read_bytes() + c.read_bytes() + a.read_bytes())
    for both in (False, True):
        run = tmp_path / ("both" if both else "one")
        cfg = tmp_path / f"bedside-{run.name}.yaml"
        masks = "320x240: [{x: 0, y: 0, width: 320, height: 40}]"
        if both:
            masks += ", 640x480: [{x: 0, y: 0, width: 640, height: 80}]"
        cfg.write_text(f"source: {{kind: file, path: '{video}', loop: false}}\n"
                       f"privacy: {{masks_by_size: {{{masks}}}}}\nmodels: []\n")
        b = start_bedside(["run", "--config", str(cfg)], run, allow_unmasked=False)
        wait_for(lambda b=b: b.proc.poll() is not None or b.status()["source"]["state"] == "ended", 60,
                 what="the file to end")
        assert b.stop() == 0
        session = json.loads(next(b.recordings.glob("*/session.json")).read_text())
        files = sorted(b.recordings.glob("*/video-*.mp4"))
        sizes = [tuple(int(v) for v in subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0",
             str(f)], capture_output=True, text=True, check=True).stdout.strip().split(",")) for f in files]
        if both:
            assert sizes == [(320, 240), (640, 480), (320, 240)], sizes
            assert session["frames_skipped_unmasked"] == 0
        else:
            # The unmasked 640x480 part is not on disk; recording paused with an alert and resumed after it.
            assert sizes == [(320, 240), (320, 240)], sizes
            assert session["frames_skipped_unmasked"] == 30, session
            assert "640x480 have no privacy mask" in session["pauses"][0]["reason"]
            assert session["pauses"][0]["resumed_wall"]
        for f, (w, h) in zip(files, sizes):
            top = gray(f, w, h)
            band = 40 if w == 320 else 80
            assert top[:band - 2].max() < 40, f"{f.name}: mask not black ({top[:band - 2].max()})"
            assert top[band + 2:].max() > 100, f"{f.name}: the rest is the picture"


def frames_gray(path, width, height):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True, timeout=120).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width)


def test_region_editor_draws_a_mask_and_the_recording_has_it(tmp_path, browser):
    """The admin draws the banner's rectangle on the live picture and saves: recording starts, masked there."""
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 640, height: 480, fps: 15}\n"
        f"models:\n  - {{name: echo, entry: '{REPO / 'Tests/e2e/models/echo_pixels.py'}:predict',"
        " input: {format: gray, width: 640, height: 24, crop: {x: 0, y: 0, width: 640, height: 24}}}\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path, allow_unmasked=False)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(f"{b.base_url}/admin?token={b.token}")
        page.fill("[data-testid=admin-pin]", b.admin_pin)
        page.click("[data-testid=admin-unlock]")
        canvas = page.locator("[data-testid=regions-canvas]")
        page.wait_for_function("Number(document.getElementById('regions-canvas').dataset.frames || 0) > 3", timeout=30000)
        assert "No privacy mask covers 640x480" in page.inner_text("[data-testid=regions-warning]")
        assert b.status()["recording"]["state"] == "paused"
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        k = box["width"] / 640
        # Drag a rectangle over the banner (source rows 0-20), with the mouse as a finger would.
        page.mouse.move(box["x"] + 1, box["y"] + 1)
        page.mouse.down()
        page.mouse.move(box["x"] + 320 * k, box["y"] + 10 * k, steps=4)
        page.mouse.move(box["x"] + box["width"] - 1, box["y"] + 20 * k, steps=4)
        page.mouse.up()
        assert "Mask 1: x 0, y 0, 640 × 20" in page.inner_text("[data-testid=regions-list]")
        page.click("[data-testid=regions-save]")
        page.wait_for_function("document.querySelector('[data-testid=regions-msg]').textContent.includes('Saved')",
                               timeout=10000)
        page.wait_for_function("document.querySelector('[data-testid=regions-warning]').hidden", timeout=10000)
        file_text = page.inner_text("#regions-file")
        wait_for(lambda: b.status()["recording"]["frames_written"] >= 20, 30, what="recording to start once masked")
        s = b.status()
        assert s["recording"]["state"] == "recording" and s["source"]["privacy_masks"] == 1, s
        page.wait_for_timeout(500)
        page.screenshot(path=str(b.artifacts / "region-editor.png"), full_page=True)
    finally:
        page.close()
        assert b.stop() == 0
    # Saved in Bedside's state folder (issue 18 #14), never beside the config (an install or research folder).
    assert not (tmp_path / "bedside.regions.yaml").exists()
    files = list(tmp_path.glob("*-state/regions/bedside-*.regions.yaml"))
    assert len(files) == 1, list(tmp_path.rglob("*.regions.yaml"))
    assert str(files[0]) in file_text, file_text
    saved = files[0].read_text()
    assert '"640x480": [{x: 0, y: 0, width: 640, height: 20}]' in saved, saved
    assert "privacy:" not in cfg.read_text(), "the researcher's config is left as written"
    frames = frames_gray(next(b.recordings.glob("*/video-000.mp4")), 640, 480)
    assert len(frames) >= 20
    assert frames[:, :18].max() < 40, "every recorded frame is black under the drawn mask"
    assert frames[:, 24:].max() > 100
    session = json.loads(next(b.recordings.glob("*/session.json")).read_text())
    changes = session["privacy"]["changes"]
    assert changes[0]["masks_by_size"] == {} and changes[-1]["masks_by_size"]["640x480"][0]["height"] == 20
    # The model's input under the mask is black from the save on.
    preds = [json.loads(line) for line in next(b.recordings.glob("*/predictions.jsonl")).read_text().splitlines()]
    seen = np.array(preds[-1]["result"]["extra"]["pixels"], dtype=np.uint8).reshape(24, 640)
    assert seen[:20].max() == 0 and seen[20:].max() > 0
