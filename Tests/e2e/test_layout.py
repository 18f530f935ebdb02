"""Every screen a tablet or phone has: nothing overflows, no text is cut (issue 18).

At 1280x800, 1180x820, 820x1180, 390x844 and 1920x1080, the live page (in each study arm), the pairing page and
the admin page are checked in Chromium: the document is no wider than the window, and every element that holds
text in the banner, the status line, the guidance and the landmark names shows all of it (its scrollWidth fits
its box; text cut by an ellipsis counts as cut). A screenshot of each goes to the artifacts.
"""
from __future__ import annotations

import json
import sys
import time
import urllib.request
from typing import Any

import pytest

from conftest import start_bedside, wait_for

sync_api = pytest.importorskip("playwright.sync_api")

VIEWPORTS = [(1280, 800), (1180, 820), (820, 1180), (390, 844), (1920, 1080)]

# Text elements whose content is cut: scrollWidth beyond the box (1 px of rounding allowed), in the given roots.
CLIPPED = """(selectors) => {
  const out = [];
  const seen = new Set();
  for (const sel of selectors) {
    for (const root of document.querySelectorAll(sel)) {
      for (const n of [root, ...root.querySelectorAll('*')]) {
        if (seen.has(n)) continue;
        seen.add(n);
        if (!n.getClientRects().length) continue;
        const cs = getComputedStyle(n);
        if (cs.visibility === 'hidden' || cs.display === 'none') continue;
        const own = [...n.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
        if (!own) continue;
        if (n.scrollWidth > n.clientWidth + 1 && cs.overflowX !== 'visible') {
          out.push(`${sel} ${n.id || n.className || n.tagName}: "${n.textContent.trim().slice(0, 40)}" ` +
                   `${n.scrollWidth} > ${n.clientWidth}`);
        }
        if (n.scrollHeight > n.clientHeight + 2 && cs.overflowY !== 'visible') {
          out.push(`${sel} ${n.id || n.className || n.tagName}: "${n.textContent.trim().slice(0, 40)}" ` +
                   `cut at the bottom (${n.scrollHeight} > ${n.clientHeight})`);
        }
        const r = n.getBoundingClientRect();
        if (r.right > window.innerWidth + 1 || r.left < -1) {
          out.push(`${sel} ${n.id || n.className || n.tagName}: "${n.textContent.trim().slice(0, 40)}" ` +
                   `off the screen (${Math.round(r.left)}..${Math.round(r.right)} of ${window.innerWidth})`);
        }
      }
    }
  }
  return out;
}"""
WIDE = "() => document.documentElement.scrollWidth - window.innerWidth"
LIVE = ["#banner", "#status-line", "#guidance", "#legend", "#concepts .panel-head", "#concepts .group-name",
        "#concepts .concept"]


def _api(b: Any, path: str, **query: str) -> Any:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    req = urllib.request.Request(f"{b.base_url}/api/{path}?token={b.token}{'&' + q if q else ''}", method="POST",
                                 data=b"", headers={"X-Admin-PIN": b.admin_pin})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    b = start_bedside(["demo", "--python", sys.executable], tmp_path_factory.mktemp("layout"))
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] > 0, 60, what="the first prediction")
        yield b
    finally:
        b.stop()


def _each_size(browser: Any):
    """A fresh page at each of VIEWPORTS, its context closed after the loop's body (also when it fails)."""
    for w, h in VIEWPORTS:
        context = browser.new_context(viewport={"width": w, "height": h})
        try:
            yield w, h, context.new_page()
        finally:
            context.close()


def _check(page: Any, selectors: list[str], name: str, artifacts: Any) -> list[str]:
    page.screenshot(path=str(artifacts / f"layout-{name}.png"))
    problems = page.evaluate(CLIPPED, selectors)
    wide = page.evaluate(WIDE)
    if wide > 0:
        problems.append(f"the page is {wide} px wider than the window")
    return [f"{name}: {p}" for p in problems]


def test_the_live_page_in_each_arm_fits_every_screen(demo: Any, browser: Any) -> None:
    problems: list[str] = []
    try:
        for arm in ["full", "status", "control"]:
            _api(demo, "study/arm", arm=arm)
            for w, h, page in _each_size(browser):
                page.goto(f"{demo.base_url}/?token={demo.token}")
                page.wait_for_function(f"() => document.getElementById('app').dataset.arm === '{arm}' && "
                                       "Number(document.getElementById('frame-count').textContent) > 5", timeout=20_000)
                if arm == "full":
                    page.wait_for_function("() => document.querySelectorAll('[data-concept]').length > 0", timeout=20_000)
                page.wait_for_timeout(700)
                problems += _check(page, LIVE, f"live-{arm}-{w}x{h}", demo.artifacts)
    finally:
        _api(demo, "study/arm", arm="full")
    assert not problems, "\n".join(problems)


def _pair(b: Any, name: str) -> None:
    code = _api(b, "admin/overview")["pairing_code"]
    req = urllib.request.Request(f"{b.base_url}/api/pair", method="POST", data=json.dumps({"code": code, "name": name}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_the_pairing_and_admin_pages_fit_every_screen(demo: Any, browser: Any) -> None:
    problems: list[str] = []
    # A paired tablet with a long name: its row and its Revoke button fit the card (issue 18 #15).
    _pair(demo, "Surface Pro 9, scanning room B, door side")
    for w, h, page in _each_size(browser):
        page.goto(f"{demo.base_url}/")  # no token: the pairing dialog
        page.wait_for_selector('[data-testid="pair-form"]', state="visible", timeout=20_000)
        page.wait_for_timeout(300)
        problems += _check(page, ["#banner", "[data-testid=pair-form]", "#unpaired"], f"pairing-{w}x{h}", demo.artifacts)
        page.goto(f"{demo.base_url}/admin?token={demo.token}")
        page.fill('[data-testid="admin-pin"]', demo.admin_pin)
        page.click('[data-testid="admin-unlock"]')
        page.wait_for_function("() => document.querySelector('[data-model]') !== null", timeout=20_000)
        page.wait_for_timeout(300)
        problems += _check(page, ["main"], f"admin-{w}x{h}", demo.artifacts)
    assert not problems, "\n".join(problems)


def test_other_planes_counts_are_neutral_and_the_bars_scale_is_said(demo: Any, browser: Any) -> None:
    """Issue 18 #10: the ✗ count of a plane not in view is not a failure of this scan: not red."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{demo.base_url}/?token={demo.token}")
        page.wait_for_function("() => document.querySelectorAll('.group[data-current=\"false\"]').length > 0 && "
                               "document.querySelector('.group[data-current=\"true\"]') !== null", timeout=20_000)
        colours = page.evaluate("""() => [...document.querySelectorAll('.group')].map((g) => ({
            current: g.dataset.current, bad: getComputedStyle(g.querySelector('.chip-bad')).color,
            missing: Number(g.querySelector('.chip-bad').textContent.replace(/[^0-9]/g, '')) }))""")
        red = "rgb(255, 107, 107)"
        others = [c for c in colours if c["current"] == "false"]
        assert others and all(c["bad"] != red for c in others), colours
        scale = page.locator('[data-testid="concept-scale"]')
        assert scale.is_visible() and "0 to 10" in scale.inner_text()
    finally:
        context.close()


def test_the_review_page_fits_every_screen(demo: Any, browser: Any) -> None:
    """The review page (player, timeline strip, snapshots) at every size, after a short study session."""
    start = _api(demo, "study/start", participant="L01", arm="full")
    time.sleep(2.5)
    _api(demo, "study/note", text="a-note-on-the-strip")
    snap = urllib.request.Request(f"{demo.base_url}/api/snapshot?token={demo.token}", method="POST", data=b"")
    urllib.request.urlopen(snap, timeout=10).close()
    time.sleep(1.5)
    _api(demo, "study/end")
    name = start["folder"].rstrip("/").split("/")[-1]
    wait_for(lambda: json.loads((demo.recordings / name / "session.json").read_text())["state"] == "finished", 20,
             what="the session's recording to be finalised")
    problems: list[str] = []
    for w, h, page in _each_size(browser):
        page.goto(f"{demo.base_url}/review?token={demo.token}&session={name}")
        page.fill('[data-testid="review-pin"]', demo.admin_pin)
        page.click('[data-testid="review-unlock"]')
        # The first frame is on screen (its answer, or "No answer for this frame" when the model had not answered
        # yet at 0.0 s), the snapshot's image loaded.
        page.wait_for_function("() => document.getElementById('player').dataset.time !== undefined && "
                               "document.getElementById('player-answer').childElementCount > 0 && "
                               "document.querySelectorAll('[data-testid=review-snapshot] img').length === 1 && "
                               "[...document.querySelectorAll('[data-testid=review-snapshot] img')].every((i) => i.complete)",
                               timeout=20_000)
        page.wait_for_timeout(300)
        problems += _check(page, ["main"], f"review-{w}x{h}", demo.artifacts)
    assert not problems, "\n".join(problems)


def test_the_admin_pages_certificate_step_fits_every_screen_and_names_a_tablets_address(
        tmp_path: Any, browser: Any) -> None:
    """Served to the network (Bedside's own CA), the admin page, open on the box itself (loopback), tells the
    operator the one-time certificate step: the address it names is one a tablet can open (never 127.0.0.1, the
    address this page came over), with the CA's fingerprint; the note fits at every size."""
    b = start_bedside(["demo", "--python", sys.executable, "--bind", "0.0.0.0"], tmp_path)
    problems: list[str] = []
    try:
        overview = _api(b, "admin/overview")
        t = overview["transport"]
        if not t["hosts"]:
            pytest.skip("this machine has no network address besides loopback: no address for a tablet to name")
        assert t["encryption"] == "bedside-ca", t
        assert not any(h.startswith("127.") for h in t["hosts"]), t
        for w, h, page in _each_size(browser):
            page.goto(f"{b.base_url}/admin?token={b.token}")
            page.fill('[data-testid="admin-pin"]', b.admin_pin)
            page.click('[data-testid="admin-unlock"]')
            note = page.locator('[data-testid="admin-tls"]')
            note.wait_for(state="visible", timeout=20_000)
            text = note.inner_text()
            assert f"http://{t['hosts'][0]}:{b.port}/" in text and t["ca_fingerprint"] in text, text
            assert "127.0.0.1" not in text, text
            page.wait_for_timeout(300)
            problems += _check(page, ["main"], f"admin-tls-{w}x{h}", b.artifacts)
    finally:
        b.stop()
    assert not problems, "\n".join(problems)
