"""H.264 to the tablets (issue 19): Chromium decodes Bedside's shared low-latency stream with WebCodecs, a tablet
that joins paints at once (a keyframe is made for it), a tablet without WebCodecs (or that asks) gets JPEG, and
`web.video.codec: jpeg` turns H.264 off. Bandwidth, frame rate and latency on an emulated Wi-Fi link are
benchmarks (scripts/bench_wifi.py, docs/performance.md), not timed tests."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import BIN, start_bedside, wait_for

sync_api = pytest.importorskip("playwright.sync_api")

STATE = """() => ({ video: document.getElementById('app').dataset.video || '',
  frames: Number(document.getElementById('frame-count').textContent),
  first: window.__bedside.state.firstPaintMs, skipped: window.__bedside.h264Skipped(),
  errors: window.__bedside.state.decodeErrors })"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    b = start_bedside(["demo", "--python", sys.executable], tmp_path_factory.mktemp("video"))
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] > 0, 60, what="the first prediction")
        yield b
    finally:
        b.stop()


def _page(browser, b, query=""):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{b.base_url}/?token={b.token}{query}")
    page.wait_for_function("() => Number(document.getElementById('frame-count').textContent) > 10", timeout=30_000)
    return ctx, page, errors


def test_chromium_decodes_the_h264_stream_and_a_joining_tablet_paints_at_once(demo, browser):
    ctx, page, errors = _page(browser, demo)
    try:
        st = page.evaluate(STATE)
        assert st["video"] == "h264", st          # WebCodecs on http://127.0.0.1 (a secure context)
        stream = demo.status()["stream"]
        assert stream["h264_viewers"] == 1 and stream["jpeg_viewers"] == 0 and stream["h264_frames"] > 10, stream
        assert stream["h264_forced_keyframes"] >= 1, "the joining tablet got a keyframe made for it"
        # The picture is the phantom: not blank, and it moves.
        lit = page.evaluate("""() => { const c = document.getElementById('video'); const d = c.getContext('2d')
            .getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 400) if (d[i] > 40) n++; return n; }""")
        assert lit > 100, lit
        before = st["frames"]
        time.sleep(2)
        after = page.evaluate(STATE)
        assert after["frames"] > before + 10 and after["errors"] == 0, (st, after)
        # A second tablet joins mid-stream: its first picture comes with the keyframe made for it, not at the next
        # scheduled one (keyframe_s is 2 s). Under 1.5 s here on a loaded 2-core machine; bench_wifi.py measures it.
        ctx2, page2, errors2 = _page(browser, demo)
        try:
            joined = page2.evaluate(STATE)
            assert joined["video"] == "h264" and joined["first"] is not None and joined["first"] < 1500, joined
            assert demo.status()["stream"]["h264_viewers"] == 2
            page2.screenshot(path=str(demo.artifacts / "video-h264-tablet.png"))
        finally:
            ctx2.close()
        assert not errors and not errors2, (errors, errors2)
    finally:
        ctx.close()


def test_a_tablet_that_asks_for_jpeg_gets_jpeg_beside_h264_tablets(demo, browser):
    ctx, page, errors = _page(browser, demo, "&video=jpeg")
    ctx2, page2, _ = _page(browser, demo)
    try:
        assert page.evaluate(STATE)["video"] == "jpeg"
        assert page2.evaluate(STATE)["video"] == "h264"
        stream = wait_for(lambda: (lambda s: s if s["jpeg_viewers"] == 1 and s["h264_viewers"] == 1 else None)(
            demo.status()["stream"]), 10, what="one tablet of each")
        assert stream["jpeg_frames"] > 0
        assert not errors
    finally:
        ctx.close()
        ctx2.close()


def test_web_video_codec_jpeg_turns_h264_off(tmp_path, browser):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 640, height: 480, fps: 15}\nweb: {video: {codec: jpeg}}\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        ctx, page, errors = _page(browser, b)
        try:
            assert page.evaluate(STATE)["video"] == "jpeg"
            s = b.status()["stream"]
            assert s["codec"] == "jpeg" and s["h264_viewers"] == 0 and s["h264_frames"] == 0, s
        finally:
            ctx.close()
    finally:
        b.stop()


def test_a_bad_video_setting_is_refused_with_the_fix(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom}\nweb:\n  video: {codec: vp9}\n")
    r = subprocess.run([str(BIN), "check", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "web.video.codec" in out and "vp9" in out and "auto" in out and "bedside.yaml:3:" in out, out


def test_an_h264_tablet_too_slow_to_decode_goes_to_jpeg_by_itself(demo, browser):
    """A tablet whose CPU cannot decode the stream would show a picture per keyframe; it asks for JPEG instead
    (each JPEG stands alone: a slow tablet paints fewer of them), with no setting."""
    ctx, page, errors = _page(browser, demo)
    try:
        assert page.evaluate(STATE)["video"] == "h264"
        cdp = ctx.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 20})
        try:
            page.wait_for_function("() => document.getElementById('app').dataset.video === 'jpeg'", timeout=40_000)
        finally:
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        frames = page.evaluate(STATE)["frames"]
        page.wait_for_function(f"() => Number(document.getElementById('frame-count').textContent) > {frames + 10}",
                               timeout=20_000)
        assert page.evaluate("() => sessionStorage.getItem('bedside.video')") == "jpeg"
    finally:
        ctx.close()


RING = """() => {
  // Every frame the tablet paints, by its capture number: the canvas's pixels (red channel; the phantom is grey).
  const c = document.getElementById('video'), ctx = c.getContext('2d', { willReadFrequently: true });
  window.__painted = new Map();
  let last = -1;
  const grab = () => {
    const S = window.__bedside.state;
    if (S.frame.seq !== last && c.width) {
      last = S.frame.seq;
      const d = ctx.getImageData(0, 0, c.width, c.height).data, g = new Uint8Array(c.width * c.height);
      for (let i = 0; i < g.length; i++) g[i] = d[i * 4];
      window.__painted.set(last, g);
      for (const k of window.__painted.keys()) if (k < last - 90) window.__painted.delete(k);
    }
    requestAnimationFrame(grab);
  };
  requestAnimationFrame(grab);
}"""


def _ssim(a, b, textured_only: bool = False) -> float:
    """Mean SSIM (Wang et al. 2004: 8-bit, K1 0.01, K2 0.03) over 8x8 windows, grey. `textured_only`: only the
    windows where the source has texture (the ultrasound fan, not the black around it, which any codec gets right)."""
    import numpy as np

    a, b = a.astype(np.float64), b.astype(np.float64)
    h, w = (a.shape[0] // 8) * 8, (a.shape[1] // 8) * 8

    def blocks(x):
        return x[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2).reshape(-1, 64)

    x, y = blocks(a), blocks(b)
    mx, my = x.mean(1), y.mean(1)
    vx, vy = x.var(1), y.var(1)
    cov = ((x - mx[:, None]) * (y - my[:, None])).mean(1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    m = (((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(m[vx > 25].mean() if textured_only else m.mean())


def test_a_decoded_tablet_frame_matches_its_source_frame(demo, browser):
    """Issue 19: what the tablet paints from the shared H.264 stream against the captured frame it came from
    (the snapshot's lossless PNG of that frame, by its capture number): SSIM at least 0.95 at default settings."""
    from pathlib import Path

    import numpy as np

    ctx, page, errors = _page(browser, demo)
    try:
        assert page.evaluate(STATE)["video"] == "h264"
        page.evaluate(RING)
        page.wait_for_timeout(1500)
        scores = []
        for _ in range(3):
            status, body = _post(demo, "snapshot")
            assert status == 200, body
            png = Path(body["png"]) if Path(body["png"]).is_absolute() else next(demo.recordings.rglob(Path(body["png"]).name))
            seq = body["seq"]
            page.wait_for_function(f"() => window.__painted.has({seq}) || [...window.__painted.keys()].some((k) => k > {seq} + 5)",
                                   timeout=10_000)
            got = page.evaluate(f"() => window.__painted.has({seq}) ? [...window.__painted.get({seq})] : null")
            # A control: a frame painted a little later, which the measure must tell apart from the right one.
            later = page.evaluate(f"() => {{ const k = [...window.__painted.keys()].find((k) => k >= {seq} + 2);"
                                  " return k === undefined ? null : [...window.__painted.get(k)]; }")
            dims = page.evaluate("() => [document.getElementById('video').width, document.getElementById('video').height]")
            if got is None:
                continue   # the tablet skipped that frame (it paints the newest): take another
            raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(png), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                                 capture_output=True, check=True).stdout
            w, h = dims
            source = np.frombuffer(raw, np.uint8)
            assert source.size == w * h, (source.size, dims, "the canvas is the source's size in full view")
            src, painted = source.reshape(h, w), np.array(got, np.uint8).reshape(h, w)
            scores.append((_ssim(src, painted), _ssim(src, painted, textured_only=True),
                           _ssim(src, np.array(later, np.uint8).reshape(h, w), textured_only=True) if later else None))
            page.wait_for_timeout(400)
        print("\nSSIM of painted H.264 frames against their source frames (whole, fan only, fan against a later frame): "
              f"{[tuple(round(x, 4) if x is not None else None for x in s) for s in scores]}")
        assert scores, "no snapshot frame was painted"
        # The whole picture (the standard measure) at least 0.95. The speckle inside the fan is noise-like, the
        # hardest texture for any codec: some frames there came out at 0.88-0.90 under the 6 Mbit/s cap on a busy
        # machine (docs/performance.md); the floor here is what must never happen (a frame of blocks).
        assert min(s[0] for s in scores) >= 0.95 and min(s[1] for s in scores) >= 0.85, scores
        controls = [s[2] for s in scores if s[2] is not None]
        assert controls and max(controls) < min(s[1] for s in scores) - 0.02, ("the measure tells frames apart", scores)
        assert not errors, errors
    finally:
        ctx.close()


def _post(b, path: str) -> tuple[int, dict]:
    import json as _json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{b.base_url}/api/{path}?token={b.token}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, _json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, _json.loads(e.read() or b"{}")
