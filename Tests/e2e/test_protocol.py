"""Protocol features seen from outside: model info in status, pipelines, heartbeats, worker timings."""
from __future__ import annotations

import json
import os
import signal
import sys

from conftest import REPO, start_bedside, wait_for

MODELS = REPO / "Tests/e2e/models"


def test_pipeline_model_gets_each_frame_with_the_upstream_answer(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 15}\n"
        "models:\n"
        f"  - {{name: detect, entry: '{MODELS / 'pipeline.py'}:detect', input: {{format: gray, width: 64, height: 48}}}}\n"
        f"  - {{name: refine, entry: '{MODELS / 'pipeline.py'}:refine', input: {{format: gray, width: 64, height: 48}},"
        " upstream: detect}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        wait_for(lambda: all(m["predictions"] >= 10 for m in b.status()["models"]), 60, what="both models answering")
        models = {m["name"]: m for m in b.status()["models"]}
        assert models["refine"]["upstream"] == "detect"
        assert models["refine"]["errors"] == 0, models["refine"]["last_error"]
        assert models["detect"]["info"] == {
            "version": "0.3.1", "classes": ["background", "skull"], "concepts": ["skull visible"]}
    finally:
        assert b.stop() == 0
    lines = [json.loads(line) for line in next(b.recordings.glob("*/predictions.jsonl")).read_text().splitlines()]
    detect = {p["seq"]: p for p in lines if p["model"] == "detect"}
    refine = [p for p in lines if p["model"] == "refine"]
    assert len(refine) >= 10
    for p in refine:
        extra = p["result"]["extra"]
        assert p["upstream"] == "detect" and extra["upstream_model"] == "detect"
        assert extra["upstream_seq"] == p["seq"], "the upstream answer is for the same frame"
        assert p["seq"] in detect, "refine only sees frames detect answered"
        assert extra["upstream_mean"] == detect[p["seq"]]["result"]["extra"]["mean"] == extra["mean"]
    # Worker clock readings: in order, inside Bedside's dispatch..receive window (one clock on one machine).
    for p in lines:
        assert p["dispatched_ns"] <= p["worker_received_ns"] <= p["predict_start_ns"] <= p["predict_end_ns"] <= p["received_ns"]
        assert p["worker_queue_ms"] >= 0


def test_a_silent_idle_worker_is_restarted(tmp_path):
    # A pipeline model whose upstream never answers sits idle: only its heartbeats show it is alive.
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 15}\n"
        f"models:\n  - {{name: fails, entry: '{MODELS / 'pipeline.py'}:fails'}}\n"
        f"  - {{name: idle, entry: '{MODELS / 'pipeline.py'}:detect', upstream: fails}}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable, "--no-record"], tmp_path)
    try:
        wait_for(lambda: b.status()["models"][1]["state"] == "running", 60, what="the worker to be ready")
        pid = b.status()["models"][1]["pid"]
        os.kill(pid, signal.SIGSTOP)  # alive to the kernel, silent to Bedside
        m = wait_for(lambda: (lambda m: m if m["restarts"] >= 1 else None)(b.status()["models"][1]), 30,
                     what="the stopped worker to be replaced")
        assert "heartbeat" in m["last_error"], m
        wait_for(lambda: b.status()["models"][1]["state"] == "running" and b.status()["models"][1]["pid"] != pid, 30,
                 what="a new worker")
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
                 10, what="the stopped worker to be killed")
    finally:
        assert b.stop() == 0


def test_a_launcher_command_runs_the_model(tmp_path):
    # `command:` for conda run / uv run / a wrapper: here `env VAR=... python`, which proves the launcher ran.
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 15}\n"
        f"models:\n  - {{name: launched, entry: '{MODELS / 'launcher_env.py'}:predict',"
        f" command: [env, BEDSIDE_TEST_LAUNCHER=yes, '{sys.executable}']}}\n"
    )
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] >= 3, 60, what="predictions")
    finally:
        assert b.stop() == 0
    lines = [json.loads(line) for line in next(b.recordings.glob("*/predictions.jsonl")).read_text().splitlines()]
    assert lines and all(p["result"]["extra"]["launcher"] == "yes" for p in lines)
