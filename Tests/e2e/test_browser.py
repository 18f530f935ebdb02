"""Browser test of the tablet page against a running Bedside server.

The `bedside` fixture (Tests/e2e/conftest.py) yields an object with `base_url`, `token` and
`artifacts` (a folder for screenshots). Chromium is the system one at /usr/bin/chromium.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("BEDSIDE_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 30_000
LANDSCAPE = {"width": 1280, "height": 800}
PORTRAIT = {"width": 800, "height": 1280}

# JS helpers evaluated in the page.
Q = "(id) => document.querySelector(`[data-testid=\"${id}\"]`)"
READ_STATE = f"""() => {{
  const q = {Q};
  const banner = q('plane-banner');
  return {{
    frames: Number(q('frame-count').textContent),
    seq: q('prediction-seq').textContent.trim(),
    status: banner.getAttribute('data-status'),
    plane: banner.getAttribute('data-plane'),
    connection: q('connection').getAttribute('data-state'),
    statusLine: q('status-line').textContent,
    conceptRows: q('concepts').querySelectorAll('[data-concept]').length,
  }};
}}"""
LIVE_WITH_PREDICTION = f"""() => {{
  const q = {Q};
  const frames = Number(q('frame-count').textContent);
  const seq = q('prediction-seq').textContent.trim();
  const status = q('plane-banner').getAttribute('data-status');
  return frames >= 10 && seq !== '' && ['standard', 'close', 'unknown'].includes(status);
}}"""
CANVAS_HAS_IMAGE = """() => {
  const c = document.querySelector('[data-testid="video-canvas"]');
  const ctx = c.getContext('2d');
  const w = Math.min(c.width, 400), h = Math.min(c.height, 400);
  const d = ctx.getImageData((c.width - w) >> 1, (c.height - h) >> 1, w, h).data;
  let max = 0;
  for (let i = 0; i < d.length; i += 4) max = Math.max(max, d[i], d[i + 1], d[i + 2]);
  return max;
}"""
NO_HORIZONTAL_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (set BEDSIDE_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _new_page(browser: Any, viewport: dict) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def test_live_video_and_predictions(bedside: Any, browser: Any) -> None:
    context, page, errors = _new_page(browser, LANDSCAPE)
    try:
        page.goto(f"{bedside.base_url}/?token={bedside.token}")
        page.wait_for_function(LIVE_WITH_PREDICTION, timeout=TIMEOUT_MS)
        first = page.evaluate(READ_STATE)
        assert first["connection"] == "open", first
        assert first["status"] in ("standard", "close", "unknown"), first
        assert page.evaluate(CANVAS_HAS_IMAGE) > 0, "the video canvas is blank"
        assert first["statusLine"].strip(), "empty status line"

        # Video keeps flowing and newer predictions replace older ones.
        page.wait_for_function(
            f"""([frames, seq]) => {{
              const q = {Q};
              return Number(q('frame-count').textContent) >= frames + 20
                && q('prediction-seq').textContent.trim() !== seq;
            }}""",
            arg=[first["frames"], first["seq"]],
            timeout=TIMEOUT_MS,
        )
        later = page.evaluate(READ_STATE)
        assert later["frames"] > first["frames"], (first, later)
        assert later["seq"] != first["seq"], (first, later)
        assert later["connection"] == "open", later

        assert page.evaluate(NO_HORIZONTAL_OVERFLOW), "landscape layout overflows horizontally"
        page.screenshot(path=str(bedside.artifacts / "browser-landscape.png"))

        # Portrait: the same page re-lays itself out and keeps playing.
        page.set_viewport_size(PORTRAIT)
        before = page.evaluate(READ_STATE)
        page.wait_for_function(
            f"(frames) => Number(({Q})('frame-count').textContent) >= frames + 10",
            arg=before["frames"],
            timeout=TIMEOUT_MS,
        )
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW), "portrait layout overflows horizontally"
        page.screenshot(path=str(bedside.artifacts / "browser-portrait.png"))

        # A reload without the token in the URL still works (the token is kept in sessionStorage).
        page.goto(f"{bedside.base_url}/")
        page.wait_for_function(
            f"""() => {{
              const q = {Q};
              return q('connection').getAttribute('data-state') === 'open'
                && Number(q('frame-count').textContent) >= 3;
            }}""",
            timeout=TIMEOUT_MS,
        )
        assert not errors, f"page errors: {errors}"
    finally:
        context.close()


@pytest.mark.parametrize("case", ["no-token", "wrong-token"])
def test_unpaired_tablet_is_refused(bedside: Any, browser: Any, case: str) -> None:
    context, page, errors = _new_page(browser, LANDSCAPE)
    try:
        query = "" if case == "no-token" else f"?token={bedside.token}-wrong"
        page.goto(f"{bedside.base_url}/{query}")
        page.wait_for_function(
            f"() => ({Q})('connection').getAttribute('data-state') === 'unauthorized'",
            timeout=TIMEOUT_MS,
        )
        assert page.get_by_text("This tablet is not paired").is_visible()
        # Give a (wrongly) accepted socket time to deliver frames, then check none was drawn.
        page.wait_for_timeout(2000)
        state = page.evaluate(READ_STATE)
        assert state["connection"] == "unauthorized", state
        assert state["frames"] == 0, state
        assert state["seq"] == "", state
        assert page.evaluate(CANVAS_HAS_IMAGE) == 0, "a video frame was drawn for an unpaired tablet"
        page.screenshot(path=str(bedside.artifacts / f"browser-unpaired-{case}.png"))
        assert not errors, f"page errors: {errors}"
    finally:
        context.close()
