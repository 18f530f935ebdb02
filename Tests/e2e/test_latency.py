"""Capture -> drawn latency: the page reports the frames it painted, the server measures and shows it in the status;
what a client sends that is not a well-formed report is ignored, never a reason to disconnect."""
from __future__ import annotations

import json
import struct
import threading
import time
from typing import Any

import pytest
from websockets.sync.client import connect

from conftest import wait_for

sync_api = pytest.importorskip("playwright.sync_api")


def _latency(bedside: Any) -> dict:
    return bedside.status()["viewers_latency"]


def test_page_reports_drawn_frames_and_status_shows_capture_to_drawn(bedside: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    try:
        page.goto(f"{bedside.base_url}/?token={bedside.token}")
        page.wait_for_function("() => window.__bedside && window.__bedside.paint.count >= 30", timeout=30_000)
        time.sleep(3)
        lat = wait_for(lambda: (lambda v: v if v["capture_to_drawn_ms"]["n"] >= 30 else None)(_latency(bedside)),
                       15, what="drawn reports in the status")
        overall = lat["capture_to_drawn_ms"]
        print(f"\ncapture -> drawn: {overall}; server's share {lat['capture_to_sent_ms']}")
        assert 0 < overall["p50"] < 5000, overall
        assert overall["p50"] <= overall["p99"] < 60_000, overall
        assert 0 <= lat["capture_to_sent_ms"]["p50"] <= overall["p50"], lat
        # Where the time goes, frame by frame: each stage reported, none negative, and together about the whole.
        st = lat["stages_ms"]
        assert st["paint"]["n"] > 0 and all(st[k]["n"] == st["paint"]["n"] for k in st), st
        assert all(st[k]["p50"] >= 0 for k in st), st
        print("stages p50: " + ", ".join(f"{k} {v['p50']}" for k, v in st.items()))
        assert sum(st[k]["p50"] for k in st) <= 2 * overall["p99"], (st, overall)
        viewers = [v for v in lat["per_viewer"] if v["n"] > 0]
        assert len(viewers) == 1 and viewers[0]["who"] == "console" and viewers[0]["total"] >= viewers[0]["n"], lat
        assert lat["window"] >= viewers[0]["n"]

        # The page's reports: batched (at most ~10 a second), each with a few frames and how long ago they were painted.
        reports = [json.loads(p) for p in sent if isinstance(p, str) and '"drawn"' in p]
        assert reports, sent[:5]
        for r in reports:
            assert r["type"] == "drawn" and 1 <= len(r["frames"]) <= 16, r
            for f in r["frames"]:
                assert isinstance(f["seq"], int) and 0 <= f["ago_ms"] < 5000, r
        painted = page.evaluate("() => window.__bedside.paint.count")
        assert len(reports) < painted, "reports are batched, not one per frame"
        assert not errors, f"page errors: {errors}"
    finally:
        context.close()
    # A viewer that left no longer counts.
    wait_for(lambda: all(v["who"] != "console" or v["n"] == 0 for v in _latency(bedside)["per_viewer"]), 10,
             what="the closed page to leave the status")


def test_malformed_and_oversized_messages_are_ignored(bedside: Any) -> None:
    ignored0 = _latency(bedside)["ignored_reports"]
    with connect(f"ws://127.0.0.1:{bedside.port}/ws?token={bedside.token}", max_size=None, open_timeout=10) as ws:
        # Read all the time, like a page: a client that stops reading holds up its own pongs (and so its reports).
        latest: list[int] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                try:
                    msg = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                except Exception:  # noqa: BLE001 - closed: the assertions below say so
                    return
                if isinstance(msg, bytes):
                    latest.append(struct.unpack_from("<Q", msg)[0])

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            wait_for(lambda: latest, 10, what="a video frame")
            junk = [
                "not json", "{", "[]", "null", '"drawn"', "{}", '{"type":"drawn"}', '{"type":"drawn","frames":"x"}',
                '{"type":"drawn","frames":[{"seq":-1,"ago_ms":1}]}', '{"type":"drawn","frames":[{"seq":1e400,"ago_ms":1}]}',
                '{"type":"drawn","frames":[{"seq":5,"ago_ms":1e308}]}', '{"type":"drawn","frames":[{"seq":"5","ago_ms":1}]}',
                '{"type":"drawn","frames":[' + ",".join(['{"seq":1,"ago_ms":0}'] * 100) + "]}",
                '{"type":"other","frames":[]}', "{" * 3000, "\u00e9\u0000\ud7ff",
                '{"type":"drawn","frames":[{"seq":1,"ago_ms":0}],"pad":"' + "x" * 200_000 + '"}',  # over 4 KiB
            ]
            for m in junk:
                ws.send(m)
            ws.send(b"\x00\x01binary")
            ws.send(iter(['{"type":"drawn",', '"frames":[]}']))  # fragmented: ignored too
            for _ in range(300):  # a flood: past 50 a second the rest is dropped unread
                ws.send('{"type":"drawn","frames":[]}')
            assert ws.ping().wait(10), "no pong: the connection is stuck"

            # Still connected, still fed; a well-formed report of a frame just received is measured (a second
            # later, past the flood's second).
            time.sleep(1.1)
            n = len(latest)
            wait_for(lambda: len(latest) > n + 3, 10, what="more video frames")
            ws.send(json.dumps({"type": "drawn", "frames": [{"seq": latest[-1], "ago_ms": 0}]}))
            assert ws.ping().wait(10), "no pong: the connection is stuck"
            lat = wait_for(lambda: (lambda v: v if any(p["who"] == "console" and p["n"] >= 1 for p in v["per_viewer"])
                                    else None)(_latency(bedside)), 10, what="the raw client's sample")
            mine = [p for p in lat["per_viewer"] if p["who"] == "console" and p["n"] >= 1]
            assert 0 <= mine[0]["p50"] < 5000, lat
            assert lat["ignored_reports"] >= ignored0 + 10, lat
            assert thread.is_alive(), "the connection was closed"
        finally:
            stop.set()
            thread.join(5)
    assert bedside.proc.poll() is None, "bedside is still running"
    assert bedside.status()["type"] == "status"
