"""Issue 20: a silent model (`show: false`) runs live on the same frames as the shown one; its answers are
recorded (marked silent) and on the admin page, and not one of its messages reaches a tablet's WebSocket, in any
study arm: the test reads every message two tablets get."""
from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request

import pytest

from conftest import REPO, start_bedside, wait_for

DEMO = REPO / "researcher-template/pcbm_demo/inference.py"


def _post(b, path: str, admin: bool = True, **query: str) -> dict:
    q = "&".join(f"{k}={urllib.request.quote(str(v))}" for k, v in {"token": b.token, **query}.items())
    req = urllib.request.Request(f"{b.base_url}/api/{path}?{q}", method="POST", data=b"",
                                 headers={"X-Admin-PIN": b.admin_pin} if admin else {})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.load(r)


class Tablet:
    """A tablet's WebSocket, every text message kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[dict] = []
        self.stop, self.ready = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the tablet's WebSocket did not open"

    def run(self) -> None:
        from websockets.sync.client import connect

        with connect(self.url, max_size=None, open_timeout=10) as ws:
            self.ready.set()
            while not self.stop.is_set():
                try:
                    m = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                except Exception:
                    return
                if isinstance(m, str):
                    self.messages.append(json.loads(m))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def test_a_silent_model_is_recorded_and_on_the_admin_page_but_never_reaches_a_tablet(tmp_path):
    pytest.importorskip("websockets")
    cfg = tmp_path / "bedside.yaml"
    model = ("{{name: {name}, entry: '{demo}:predict', setup: '{demo}:load_model', "
             "input: {{format: gray, width: 288, height: 224}}{extra}}}")
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 15, sweep_seconds: 9}\n"
        "models:\n"
        f"  - {model.format(name='pcbm-demo', demo=DEMO, extra='')}\n"
        f"  - {model.format(name='pcbm-next', demo=DEMO, extra=', show: false')}\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    tablets: list[Tablet] = []
    try:
        def admin_models() -> dict:
            return {m["name"]: m for m in _post(b, "admin/overview")["status"]["models"]}

        wait_for(lambda: all(m["predictions"] > 5 for m in admin_models().values()), 90, what="both models answering")
        tablets = [Tablet(f"ws://127.0.0.1:{b.port}/ws?token={b.token}") for _ in range(2)]
        for arm in ["full", "status", "control", "full"]:
            _post(b, "study/arm", arm=arm)
            time.sleep(3)
        _post(b, "study/start", participant="P01", arm="full")
        time.sleep(3)
        _post(b, "study/end")
        time.sleep(1)

        # The admin page has it: running, answering, marked silent.
        models = admin_models()
        assert models["pcbm-next"]["silent"] is True and models["pcbm-demo"]["silent"] is False, models
        assert models["pcbm-next"]["state"] == "running" and models["pcbm-next"]["rate_hz"] > 1, models["pcbm-next"]
        # /api/status is the tablets' view: without it.
        assert [m["name"] for m in b.status()["models"]] == ["pcbm-demo"]

        for i, t in enumerate(tablets):
            kinds: dict[str, int] = {}
            for m in t.messages:
                kinds[m.get("type", "?")] = kinds.get(m.get("type", "?"), 0) + 1
            preds = [m for m in t.messages if m.get("type") == "prediction"]
            print(f"\ntablet {i}: {len(t.messages)} messages {kinds}; predictions by model: "
                  f"{ {name: sum(p['model'] == name for p in preds) for name in ('pcbm-demo', 'pcbm-next')} }")
            assert preds and all(p["model"] == "pcbm-demo" for p in preds), "only the shown model's answers"
            assert not any("pcbm-next" in json.dumps(m) for m in t.messages), "no message names the silent model"
            hello = t.messages[0]
            assert hello["type"] == "hello" and hello["models"] == ["pcbm-demo"] and hello["model"] == "pcbm-demo", hello

        # Both in predictions.jsonl, the silent one's lines marked.
        lines = [json.loads(x) for f in b.recordings.rglob("predictions.jsonl") for x in f.read_text().splitlines()]
        silent = [x for x in lines if x["model"] == "pcbm-next"]
        shown = [x for x in lines if x["model"] == "pcbm-demo"]
        assert silent and all(x.get("silent") is True for x in silent), silent[:2]
        assert shown and all("silent" not in x for x in shown)
        # The same frames: most frames the shown model answered, the silent one answered too.
        both = {x["seq"] for x in shown} & {x["seq"] for x in silent}
        assert len(both) >= 0.5 * min(len(shown), len(silent)), (len(both), len(shown), len(silent))
    finally:
        for t in tablets:
            t.close()
        b.stop()
