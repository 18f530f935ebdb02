"""Replicas of a slow model multiply its prediction rate; results stay in order."""
from __future__ import annotations

import sys
import time

import pytest
from test_e2e import collect_predictions

from conftest import REPO, start_bedside, wait_for


@pytest.mark.parametrize("replicas", [1, 2, 4])
def test_k_replicas_give_k_times_the_rate(tmp_path, replicas):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 30}\n"
        "models:\n  - name: slow\n    entry: " + str(REPO / "Tests/e2e/models/one_second_model.py") + ":predict\n"
        f"    replicas: {replicas}\n    input: {{format: gray, width: 64, height: 48}}\n"
        "recording: {enabled: false}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        wait_for(lambda: b.status()["models"][0]["replicas_ready"] == replicas, 60, what=f"{replicas} replicas ready")
        wait_for(lambda: b.status()["models"][0]["predictions"] >= replicas, 30, what="first answers")
        start_count, t0 = b.status()["models"][0]["predictions"], time.monotonic()
        predictions, _ = collect_predictions(b.ws_url, 10_000, timeout=8)
        rate = (b.status()["models"][0]["predictions"] - start_count) / (time.monotonic() - t0)
    finally:
        assert b.stop() == 0
    seqs = [p["seq"] for p in predictions]
    print(f"\n{replicas} replica(s): {rate:.2f} predictions/s, {len(seqs)} shown")
    assert rate >= 0.9 * replicas, f"{rate:.2f}/s with {replicas} replicas"
    assert all(a < b_ for a, b_ in zip(seqs, seqs[1:])), f"results shown out of order: {seqs}"
