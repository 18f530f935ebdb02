"""A clinical user study on the phantom: arms followed by every tablet, enforced by the server; a scripted
session with its log, snapshots, recording and time to plane; the review page."""
from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, start_bedside, wait_for

sync_api = pytest.importorskip("playwright.sync_api")
DEMO = REPO / "researcher-template/pcbm_demo/inference.py"


def api(b, path: str, admin: bool = True, **query: str) -> tuple[int, dict]:
    q = "&".join(f"{k}={urllib.request.quote(str(v))}" for k, v in {"token": b.token, **query}.items())
    req = urllib.request.Request(f"{b.base_url}/api/{path}?{q}", method="POST", data=b"",
                                 headers={"X-Admin-PIN": b.admin_pin} if admin else {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture(scope="module")
def study_bedside(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    cfg = tmp / "bedside.yaml"
    # A 9 s sweep: head, abdomen and femur each come into a standard view within one session.
    cfg.write_text(
        "source: {kind: phantom, width: 640, height: 480, fps: 15, sweep_seconds: 9}\n"
        f"models:\n  - {{name: pcbm-demo, entry: '{DEMO}:predict', setup: '{DEMO}:load_model',"
        " input: {format: gray, width: 288, height: 224}}\n"
        "study: {targets: [head, abdomen, femur]}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp)
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] > 3, 60, what="the first predictions")
        yield b
    finally:
        b.stop()




VIEW = """() => {
  const app = document.getElementById('app');
  const vis = (id) => { const n = document.getElementById(id); return !!n && n.getClientRects().length > 0 &&
                        getComputedStyle(n).visibility !== 'hidden'; };
  const banner = document.getElementById('banner-text');
  return { arm: app.dataset.arm, concepts: vis('concepts'), overlay: vis('overlay'), guidance: vis('guidance'),
           banner: !!banner && banner.getClientRects().length > 0 && getComputedStyle(banner).visibility !== 'hidden',
           bannerText: banner ? banner.textContent.trim() : '', model: vis('st-model'), rate: vis('st-rate'),
           under: !!document.querySelector('.under') && document.querySelector('.under').getClientRects().length > 0,
           rows: document.querySelectorAll('[data-concept]').length };
}"""


def test_two_tablets_follow_the_arm_within_a_second_and_control_gets_no_model_output(study_bedside, browser):
    b = study_bedside
    tablets = []
    for _ in range(2):
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        frames: list[str] = []
        page.on("websocket", lambda ws, frames=frames: ws.on(
            "framereceived", lambda payload, frames=frames: frames.append(payload if isinstance(payload, str) else "")))
        page.goto(f"{b.base_url}/?token={b.token}")
        page.wait_for_function("() => document.querySelectorAll('[data-concept]').length > 0", timeout=30_000)
        tablets.append((page, frames))
    try:
        for arm in ["full", "status", "control", "full"]:
            status, body = api(b, "study/arm", arm=arm)
            assert status == 200, body
            switched = time.monotonic()
            for page, _frames in tablets:
                page.wait_for_function(f"() => document.getElementById('app').dataset.arm === '{arm}'", timeout=1000)
            took = time.monotonic() - switched
            marks = [len(frames) for _, frames in tablets]
            time.sleep(3)  # several predictions' worth of messages in this arm
            for i, (page, frames) in enumerate(tablets):
                view = page.evaluate(VIEW)
                received = [json.loads(f) for f in frames[marks[i]:] if f.startswith("{")]
                preds = [m for m in received if m.get("type") == "prediction"]
                print(f"\narm {arm}: tablet {i} switched in {took:.2f} s; view {view}; {len(preds)} predictions in 3 s")
                if arm == "full":
                    assert view["concepts"] and view["overlay"] and view["banner"], view
                    assert preds and {"plane", "concepts", "segmentation"} <= set(preds[-1]["result"])
                elif arm == "status":
                    assert view["banner"] and not view["concepts"] and not view["overlay"] and not view["guidance"], view
                    assert preds and all(set(p["result"]) == {"plane"} for p in preds), "only the plane status is sent"
                    assert all("truth" not in p for p in preds)
                else:
                    # Issue 18 #11: a plain LIVE VIDEO label, not an empty bar; no empty guidance box; nothing
                    # of the model in the status line.
                    assert view["bannerText"] == "LIVE VIDEO" and not view["concepts"] and not view["overlay"], view
                    assert not view["under"] and not view["model"] and not view["rate"], view
                    assert preds == [], "the server sends no model output in the control arm"
            if arm == "control":
                # The model still runs and every answer is still recorded.
                assert b.status()["models"][0]["state"] == "running"
            page0 = tablets[0][0]
            page0.screenshot(path=str(b.artifacts / f"study-arm-{arm}.png"))
    finally:
        for page, _ in tablets:
            page.context.close()
        api(b, "study/arm", arm="full")


def test_scripted_session_on_the_phantom(study_bedside, browser):
    b = study_bedside
    status, body = api(b, "study/start", participant="P01", arm="full", notes="first novice")
    assert status == 200, body
    folder = Path(body["folder"])
    assert api(b, "study/start", participant="P02")[0] == 409, "one session at a time"
    assert api(b, "study/start", participant="Jane Doe")[0] == 409
    time.sleep(4)
    for arm in ("full", "control"):  # one snapshot in each arm: the review says which (issue 18 #9)
        assert api(b, "study/arm", arm=arm)[0] == 200
        time.sleep(1)
        assert api(b, "snapshot", admin=False)[0] == 200
    assert api(b, "study/arm", arm="full")[0] == 200
    assert api(b, "study/note", text="probe slipped once")[0] == 200
    # Long enough for every plane of the 9 s sweep to be reached.
    wait_for(lambda: all(v["seconds"] is not None for v in b.status()["study"]["time_to_plane"].values()), 40,
             what="every target plane reached")
    status, summary = api(b, "study/end")
    assert status == 200, summary
    assert summary["snapshots"] == 2 and summary["participant"] == "P01"

    files = {p.name for p in folder.iterdir()}
    assert {"study.jsonl", "predictions.jsonl", "session.json", "video-000.mp4"} <= files, files
    assert len([f for f in files if f.startswith("snapshot-") and f.endswith(".png")]) == 2
    events = [json.loads(line) for line in (folder / "study.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("snapshot") == 2
    assert "shown" in kinds and "plane_reached" in kinds and "note" in kinds
    assert events[0]["participant"] == "P01" and events[0]["arm"] == "full"
    snap = json.loads((folder / events[kinds.index("snapshot")]["json"]).read_text())
    assert "pcbm-demo" in snap["predictions"], "each snapshot keeps the explanation shown with it"

    # The recording of the session is finalised (asynchronously, on the recorder's thread).
    session = wait_for(lambda: (lambda s: s if s["state"] == "finished" else None)(
        json.loads((folder / "session.json").read_text())), 20, what="the session's recording to be finalised")
    # Time to plane against the phantom's ground truth, from the predictions of the session's span.
    preds = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    # The session's start on the frames' clock, from a plane_reached event (its frame and its seconds): the
    # folder's first predictions may be of frames captured just before the start (the recording opens first), and
    # a plane the phantom showed then is not "reached" (it was, in CI, femur at 0.0 s against 7.8 s).
    reached = [e for e in events if e["event"] == "plane_reached"]
    by_seq = {p["seq"]: p for p in preds}
    start_ns = by_seq[reached[0]["seq"]]["pts_ns"] - reached[0]["seconds"] * 1e9
    assert start_ns >= min(p["pts_ns"] for p in preds) - 1e9, "the session starts with its recording, within a second"
    for plane, v in summary["time_to_plane"].items():
        truth = [p for p in preds if p.get("truth", {}).get("plane") == plane and p["truth"]["status"] == "standard"
                 and p["pts_ns"] >= start_ns]
        assert truth, f"the phantom never showed {plane} standard"
        truth_s = (truth[0]["pts_ns"] - start_ns) / 1e9
        print(f"\n{plane}: model {v['seconds']:.2f} s, phantom truth {truth_s:.2f} s")
        assert abs(v["seconds"] - truth_s) <= 1.5, (plane, v["seconds"], truth_s)
    assert session["state"] == "finished"


def test_review_page_shows_snapshots_with_their_explanations(study_bedside, browser):
    b = study_bedside
    status, body = api(b, "review/sessions")
    assert status == 200 and body["sessions"], body
    name = body["sessions"][0]["name"]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        page.goto(f"{b.base_url}/review?token={b.token}&session={name}")
        page.fill('[data-testid="review-pin"]', b.admin_pin)
        page.click('[data-testid="review-unlock"]')
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"review-snapshot\"]').length === 2",
                               timeout=15_000)
        page.wait_for_function("() => [...document.querySelectorAll('.snap img')].every((i) => i.complete && i.naturalWidth > 0)",
                               timeout=15_000)
        text = page.locator('[data-testid="review-snapshots"]').inner_text()
        # Labelled as on the tablet, with the arm each was taken in; the session's arms as they went.
        assert "STANDARD" in text, text
        cards = [c.inner_text() for c in page.locator('[data-testid="review-snapshot"]').all()]
        assert sorted("arm control" in c for c in cards) == [False, True], cards
        assert any("arm full" in c for c in cards) and any("no model output shown" in c for c in cards), cards
        concepts = page.evaluate("() => [...document.querySelectorAll('.snap .concepts li')].map((li) => li.textContent)")
        assert concepts and not any("_" in c for c in concepts), concepts
        assert all(c.endswith("/ 10") for c in concepts), concepts
        assert "arms full → control → full" in page.locator('#summary').inner_text()
        assert page.locator('[data-testid="review-full-size"]').count() == 2
        page.locator('[data-testid="review-best-head"]').first.click()
        page.wait_for_function("() => document.querySelector('.snap[data-selected=\"true\"]') !== null", timeout=10_000)
        page.click('[data-testid="review-export"]')
        page.wait_for_function("() => document.querySelector('[data-testid=\"review-export-msg\"]').textContent.startsWith('Exported')",
                               timeout=10_000)
        page.screenshot(path=str(b.artifacts / "study-review.png"), full_page=True)
        exported = next(p for p in b.recordings.iterdir() if p.name == name) / "selected"
        assert (exported / "head.png").exists() and (exported / "head.json").exists()
    finally:
        page.context.close()


PLAYER = """() => {
  const p = document.getElementById('player');
  const v = document.getElementById('player-video');
  const o = document.getElementById('player-overlay');
  let lit = 0;
  if (o.width && o.height) {
    const d = o.getContext('2d').getImageData(0, 0, o.width, o.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i]) lit++;
  }
  return { time: Number(p.dataset.time), frame: Number(p.dataset.frame), seq: p.dataset.answerSeq,
           pts: p.dataset.answerPts, ready: v.readyState, src: v.currentSrc, drawn: o.dataset.drawn, lit,
           answer: document.getElementById('player-answer').innerText, paused: v.paused };
}"""


def _answer_for(preds: list[dict], model: str, t: float) -> dict | None:
    """What the player must draw at time t: that frame's answer, or the model's latest before it (<= 3 s old)."""
    best = None
    for p in preds:
        if p["model"] == model and p["pts_s"] is not None and p["pts_s"] <= t + 0.002:
            if best is None or p["pts_s"] >= best["pts_s"]:
                best = p
    return best if best is not None and t - best["pts_s"] <= 3 else None


def _labelled(answer: dict | None) -> int:
    """How many pixels of an answer's label map are not background (its run-length data: value, count, ...)."""
    seg = ((answer or {}).get("result") or {}).get("segmentation") or {}
    data = seg.get("data") or []
    return sum(n for v, n in zip(data[0::2], data[1::2]) if v)


def test_review_player_seeks_to_each_snapshot_and_draws_that_frames_answer(study_bedside, browser):
    """Issue 18 #9: the recording plays with the answers over it in sync; a snapshot's mark seeks to within one
    frame of it, and the overlay drawn is the answer for that frame; drag on the strip seeks; the snapshot opens
    full size with its overlay on or off; no PIN in any image or video address."""
    b = study_bedside
    name = api(b, "review/sessions")[1]["sessions"][0]["name"]
    folder = b.recordings / name
    preds = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{b.base_url}/review?token={b.token}&session={name}")
        page.fill('[data-testid="review-pin"]', b.admin_pin)
        page.click('[data-testid="review-unlock"]')
        page.wait_for_function("() => document.getElementById('player-video').readyState >= 2 && "
                               "document.querySelectorAll('[data-testid=timeline-mark-snapshot]').length === 2",
                               timeout=20_000)
        tl = page.evaluate("() => window.__review.timeline")
        fps = tl["fps"]
        assert tl["segments"] and tl["segments"][0]["file"] == "video-000.mp4", tl["segments"]
        spans = tl["models"][0]["spans"]
        assert {"standard", "close"} <= {s["status"] for s in spans}, spans   # the sweep: planes found and lost
        kinds = [m["kind"] for m in tl["marks"]]
        assert kinds.count("snapshot") == 2 and "note" in kinds and kinds.count("arm") >= 3, kinds

        for mark in [m for m in tl["marks"] if m["kind"] == "snapshot"]:
            snap = json.loads((folder / (mark["png"][:-4] + ".json")).read_text())
            assert abs(mark["t_s"] - snap["pts_s"]) < 1e-6
            page.click(f'[data-testid="timeline-mark-snapshot"][data-png="{mark["png"]}"]')
            page.wait_for_function(f"() => Math.abs(Number(document.getElementById('player').dataset.time) - {mark['t_s']})"
                                   f" < {1 / fps} && document.getElementById('player').dataset.answerSeq !== ''",
                                   timeout=10_000)
            # The answers of that span may still be arriving, and the label map is drawn once they are. A snapshot
            # may fall where the phantom shows nothing (the first 15 % of each plane's block): that answer's map is
            # all background and draws no pixel (CI drew 0 there), so how much must be lit follows the answer.
            deadline = time.monotonic() + 10
            while True:
                st = page.evaluate(PLAYER)
                want = _answer_for(preds, "pcbm-demo", st["time"])
                labelled = _labelled(want)
                if (want is not None and st["seq"] == str(want["seq"]) and st["drawn"] == "true"
                        and (st["lit"] > 100 if labelled > 50 else True)) or time.monotonic() > deadline:
                    break
                page.wait_for_timeout(100)
            assert abs(st["time"] - snap["pts_s"]) < 1 / fps, (st, snap["pts_s"])   # within one frame
            assert want is not None and st["seq"] == str(want["seq"]), (st, want and want["seq"], snap["seq"])
            assert st["drawn"] == "true", st    # the answer's label map is on the picture
            if labelled > 50:
                assert st["lit"] > 100, (st, labelled)
            else:
                assert st["lit"] < 100 + labelled * 10, (st, labelled)   # nothing of an older answer left on it
            page.screenshot(path=str(b.artifacts / f"review-player-{mark['png'][:-4]}.png"))

        # Drag along the strip: the video follows the pointer.
        track = page.locator(".track.spans").first.bounding_box()
        y = track["y"] + track["height"] / 2
        page.mouse.move(track["x"] + track["width"] * 0.2, y)
        page.mouse.down()
        page.mouse.move(track["x"] + track["width"] * 0.45, y, steps=6)
        page.mouse.move(track["x"] + track["width"] * 0.6, y, steps=6)
        page.mouse.up()
        target = tl["duration_s"] * 0.6
        page.wait_for_function(f"() => Math.abs(Number(document.getElementById('player').dataset.time) - {target}) < "
                               f"{2 / fps + tl['duration_s'] / track['width']}", timeout=10_000)
        page.wait_for_timeout(300)
        st = page.evaluate(PLAYER)
        want = _answer_for(preds, "pcbm-demo", st["time"])
        assert want is not None and st["seq"] == str(want["seq"]), (st, want)

        # Play: time goes on and the answer drawn keeps to the frame on screen.
        page.click('[data-testid="review-play"]')
        page.wait_for_timeout(1500)
        later = page.evaluate(PLAYER)
        page.click('[data-testid="review-play"]')
        assert later["time"] > st["time"] + 0.5, (st, later)
        assert later["pts"] and float(later["pts"]) <= later["time"] + 0.002 and later["time"] - float(later["pts"]) < 1.0, later

        # Each snapshot full size: with the overlay the participant saw, on then off; the one taken in the
        # control arm showed nothing, so it has no overlay to draw and says so.
        drawn = 0
        for i in range(page.locator('[data-testid="review-full-size"]').count()):
            page.locator('[data-testid="review-full-size"]').nth(i).click()
            page.wait_for_function("() => document.getElementById('snap-dialog').open && "
                                   "document.getElementById('snap-full').naturalWidth > 0", timeout=10_000)
            page.wait_for_timeout(200)
            dialog = page.evaluate("""() => ({ drawn: document.getElementById('snap-overlay').dataset.drawn || '',
                hidden: document.getElementById('snap-overlay').hidden, w: document.getElementById('snap-full').naturalWidth,
                title: document.getElementById('snap-title').textContent })""")
            toggle = page.locator('[data-testid="review-snapshot-overlay-toggle"]')
            if "arm control" in dialog["title"]:
                assert dialog["drawn"] != "true" and toggle.is_disabled(), dialog
            else:
                drawn += 1
                assert dialog["drawn"] == "true" and not dialog["hidden"] and dialog["w"] == 640, dialog
                page.screenshot(path=str(b.artifacts / "review-snapshot-full-size-overlay-on.png"))
                toggle.click()
                assert page.evaluate("() => document.getElementById('snap-overlay').hidden")
                assert toggle.inner_text() == "Overlay off"
                page.screenshot(path=str(b.artifacts / "review-snapshot-full-size-overlay-off.png"))
            page.click('[data-testid="review-snapshot-close"]')
        assert drawn == 1

        addresses = page.evaluate("() => [...document.querySelectorAll('img, video, a')].map((n) => n.src || n.href || '')")
        assert addresses and not any("pin=" in a for a in addresses), addresses
        assert not errors, errors
    finally:
        page.close()
