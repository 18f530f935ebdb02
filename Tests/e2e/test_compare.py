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
        time.sleep(11)   # more than one sweep: the head comes and goes
    finally:
        b.stop()
    folder = next(p.parent for p in b.recordings.rglob("predictions.jsonl"))
    return folder, b


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
