"""Issue 20: `bedside compare` on the phantom: the demo model and a deliberately wrong version of it (it says
abdomen wherever it sees the head), live side by side (the wrong one silent). The report must find the spans where
the wrong one is wrong, to within one frame; it renders in Chromium without console errors; a second run over
the same sessions is read from the cache; 50 sessions are compared in one run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import BIN, REPO, start_bedside, wait_for

DEMO = REPO / "researcher-template/pcbm_demo/inference.py"
WRONG = REPO / "Tests/e2e/models/wrong_on_head.py"
FPS = 15


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    cfg = tmp / "bedside.yaml"
    cfg.write_text(
        f"source: {{kind: phantom, width: 320, height: 240, fps: {FPS}, sweep_seconds: 9}}\n"
        "models:\n"
        f"  - {{name: v1, entry: '{DEMO}:predict', setup: '{DEMO}:load_model', input: {{format: gray, width: 288, height: 224}}}}\n"
        f"  - {{name: v2, entry: '{WRONG}:predict', setup: '{WRONG}:load_model', input: {{format: gray, width: 288, height: 224}},"
        " show: false}\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp)
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] > 3, 60, what="the first predictions")
        # A study session (the review page lists those), longer than one sweep: the head comes and goes.
        _admin(b, "study/start", participant="P01")
        time.sleep(11)
        _admin(b, "study/end")
    finally:
        b.stop()
    folder = next(p.parent for p in b.recordings.rglob("study.jsonl"))
    return folder, b


def _admin(b, path: str, **query: str) -> dict:
    import urllib.request

    q = "&".join(f"{k}={urllib.request.quote(str(v))}" for k, v in {"token": b.token, **query}.items())
    req = urllib.request.Request(f"{b.base_url}/api/{path}?{q}", method="POST", data=b"", headers={"X-Admin-PIN": b.admin_pin})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.load(r)


def _compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "compare", *args], capture_output=True, text=True, timeout=600)


def test_compare_finds_the_span_where_the_new_version_is_wrong(session, browser, tmp_path):
    folder, b = session
    out = tmp_path / "report.html"
    r = _compare(str(folder), "--models", "v1,v2", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    print("\n" + r.stdout)
    summary = json.loads(out.with_suffix(".json").read_text())
    c = summary["sessions"][0]
    pair = c["pairs"][0]
    assert pair["other"] == "v2" and 0 < pair["agreement"] < 1, pair["agreement"]
    # The known spans: where v1 (the reference) says head, v2 says abdomen.
    lines = [json.loads(x) for x in (folder / "predictions.jsonl").read_text().splitlines()]
    v1 = sorted((x for x in lines if x["model"] == "v1" and x["pts_s"] is not None), key=lambda x: x["pts_s"])
    expected, run = [], None
    for x in v1:
        head = (x["result"] or {}).get("plane", {}).get("name") == "head"
        if head and run is None:
            run = [x["pts_s"], x["pts_s"]]
        elif head:
            run[1] = x["pts_s"]
        elif run is not None:
            expected.append(run)
            run = None
    if run is not None:
        expected.append(run)
    expected = [e for e in expected if e[1] > e[0]]
    found = [(d["start_s"], d["end_s"]) for d in pair["disagreements"]]
    print(f"expected head spans {expected}\nfound disagreements {found}")
    assert expected, "the sweep showed the head"
    frame = 1 / FPS
    for s, e in expected:
        hit = [f for f in found if abs(f[0] - s) <= frame + 1e-6 and abs(f[1] - e) <= frame + 1e-6]
        assert hit, (s, e, found)
    assert all(d["reference"].startswith("head:") and d["other"].startswith("abdomen:") for d in pair["disagreements"]), pair
    # Time to plane: v2 never reaches the head; v1 does.
    ttp = {s["name"]: s["time_to_plane"] for s in c["sources"]}
    assert "head" in ttp["v1"] and "head" not in ttp["v2"], ttp

    # The report renders, offline, without console errors.
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda q: requests.append(q.url))
    try:
        page.goto(out.as_uri())
        assert page.locator("svg.strip rect.dis").count() >= len(expected)
        assert page.locator('[data-testid="compare-session"]').count() == 1
        page.screenshot(path=str(b.artifacts / "compare-report.png"), full_page=True)
        shutil.copy(out, b.artifacts / "compare-report.html")
    finally:
        page.close()
    assert not errors, errors
    assert requests == [out.as_uri()], "self-contained: nothing else is fetched"

    # Again, unchanged: from the cache.
    again = _compare(str(folder), "--models", "v1,v2", "--out", str(out), "--quiet")
    assert again.returncode == 0 and "1 unchanged, from the cache" in again.stdout, again.stdout
    # A source that is not there: the error names the ones that are.
    bad = _compare(str(folder), "--models", "v1,v3", "--out", str(tmp_path / "x.html"), "--quiet")
    assert bad.returncode != 0 and "v3" in bad.stderr and "v1, v2" in bad.stderr, bad.stderr


def test_fifty_sessions_in_one_run(session, tmp_path):
    folder, _ = session
    many = tmp_path / "sessions"
    for i in range(50):
        d = many / f"session-{i:02d}"
        d.mkdir(parents=True)
        shutil.copy(folder / "predictions.jsonl", d / "predictions.jsonl")
    cores = os.cpu_count() or 1
    t0 = time.monotonic()
    r = _compare(str(many), "--models", "v1,v2", "--out", str(tmp_path / "many.html"), "--jobs", str(cores))
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert "50/50 sessions" in r.stderr, "the progress bar reaches the end"
    summary = json.loads((tmp_path / "many.json").read_text())
    assert len(summary["sessions"]) == 50
    print(f"\n50 sessions compared in {took:.2f} s on {cores} cores: {r.stdout.splitlines()[0]}")
    t0 = time.monotonic()
    again = _compare(str(many), "--models", "v1,v2", "--out", str(tmp_path / "many.html"), "--quiet")
    print(f"again, unchanged: {time.monotonic() - t0:.2f} s ({again.stdout.splitlines()[0]})")
    assert "50 unchanged" in again.stdout


def test_review_page_shows_the_silent_version_beside_the_shown_one(session, browser, tmp_path):
    """The review page: both models on the timeline (the silent one labelled so), the shown one's answer drawn,
    the silent one's answer for the same frame beside it."""
    folder, _ = session
    cfg = tmp_path / "review.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 5}\nmodels: []\nrecording: {enabled: false}\n")
    r = start_bedside(["run", "--config", str(cfg)], tmp_path, name="review", recordings=folder.parent)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{r.base_url}/review?token={r.token}&session={folder.name}")
        page.fill('[data-testid="review-pin"]', r.admin_pin)
        page.click('[data-testid="review-unlock"]')
        try:
            page.wait_for_function("() => window.__review && window.__review.timeline && "
                                   "document.querySelectorAll('.track.spans').length === 2", timeout=20_000)
        except Exception:
            print(page.evaluate("() => ({ review: !!window.__review, tl: window.__review && window.__review.timeline, "
                                "tracks: document.querySelectorAll('.track.spans').length, text: document.body.innerText.slice(0, 800) })"))
            raise
        labels = page.evaluate("() => [...document.querySelectorAll('.row-label')].map((n) => n.textContent)")
        assert "v1" in labels and "v2 (silent)" in labels, labels
        assert page.evaluate("() => document.getElementById('player-model').value") == "v1", "the shown model is drawn"
        # Into the first head span (v1: head, v2: abdomen there).
        tl = page.evaluate("() => window.__review.timeline")
        head = next(s for s in tl["models"][0]["spans"] if s.get("plane") == "head" and s["to_s"] - s["from_s"] > 0.5)
        track = page.locator(".track.spans").first.bounding_box()
        x = track["x"] + track["width"] * ((head["from_s"] + head["to_s"]) / 2 / tl["duration_s"])
        page.mouse.click(x, track["y"] + track["height"] / 2)
        page.wait_for_function("() => { const li = document.querySelector('[data-testid=review-other-models] li[data-model=v2]');"
                               " return li && /abdomen/i.test(li.textContent); }", timeout=10_000)
        main_answer = page.locator("#player-answer .plane").first.inner_text()
        assert "head" in main_answer.lower(), main_answer
        page.screenshot(path=str(r.artifacts / "review-silent-beside.png"))
    finally:
        page.close()
        r.stop()
