"""The misbehaviour zoo: research code that fails in every way we have seen, all at once, next to capture
and recording. Bedside stays up, capture and recording go on, and the status tells the truth per model."""
from __future__ import annotations

import os
import sys
import time

from conftest import REPO, start_bedside, wait_for

ZOO = REPO / "Tests/e2e/zoo"


def test_misbehaving_models_never_take_bedside_down(tmp_path):
    pid_file = tmp_path / "child.pid"
    models = {
        "import-error": "import_error.py", "error-at-frame": "error_at_frame.py", "sys-exit": "sys_exit.py",
        "segfault": "segfault.py", "infinite-loop": "infinite_loop.py", "not-json": "not_json.py",
        "huge-result": "huge_result.py", "chatty": "chatty.py", "forks-child": "forks_child.py",
        "sleeps-too-long": "sleeps_too_long.py", "slow-leak": "slow_leak.py",
    }
    lines = ["source: {kind: phantom, width: 320, height: 240, fps: 15}", "models:"]
    for name, file in models.items():
        # Generous per-frame timeouts (a loaded CI box must not turn a slow frame into a hang), except for the
        # model whose hang is the point.
        timeout = 2 if name in ("infinite-loop", "sleeps-too-long") else 15
        lines += [f"  - name: {name}", f"    entry: {ZOO / file}:predict",
                  "    input: {format: gray, width: 32, height: 24}", f"    timeout_s: {timeout}",
                  f"    env: {{ZOO_CHILD_PID_FILE: {pid_file}}}"]
        if name == "slow-leak":
            lines.append("    max_memory_mb: 150")
    lines.append(f"recording: {{enabled: true, directory: {tmp_path / 'rec'}}}")
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        def by_name():
            return {m["name"]: m for m in b.status()["models"]}

        wait_for(lambda: (lambda m: m["segfault"]["restarts"] >= 1 and m["infinite-loop"]["restarts"] >= 1
                          and m["error-at-frame"]["errors"] >= 1 and m["not-json"]["errors"] >= 1
                          and m["huge-result"]["errors"] >= 1 and m["sys-exit"]["errors"] >= 1
                          and m["chatty"]["predictions"] >= 2 and pid_file.exists()
                          and m["sleeps-too-long"]["restarts"] >= 1 and m["slow-leak"]["restarts"] >= 1)(by_name()),
                 90, what="every model to have shown its misbehaviour")
        s1 = b.status()
        time.sleep(2)
        s2 = b.status()
        m = {x["name"]: x for x in s2["models"]}
        print("\n" + "\n".join(f"{n}: state={x['state']} restarts={x['restarts']} errors={x['errors']} "
                               f"predictions={x['predictions']} last_error={x.get('last_error')}" for n, x in m.items()))
        assert s2["source"]["frames_captured"] > s1["source"]["frames_captured"], "capture goes on"
        assert s2["recording"]["frames_written"] > s1["recording"]["frames_written"], "recording goes on"
        assert s2["recording"]["state"] == "recording"
        assert m["import-error"]["state"] in ("restarting", "failing")
        assert "numpy_that_does_not_exist" in m["import-error"]["last_error"]
        assert m["error-at-frame"]["state"] == "running" and m["error-at-frame"]["predictions"] >= 2
        assert "RuntimeError" in m["error-at-frame"]["last_error"]
        assert "exited" in (m["segfault"]["last_error"] or "") or m["segfault"]["restarts"] >= 1
        assert "timeout_s" in m["infinite-loop"]["last_error"]
        assert "too large" in m["huge-result"]["last_error"] or "result" in m["huge-result"]["last_error"]
        assert m["chatty"]["state"] == "running"
        assert "timeout_s" in m["sleeps-too-long"]["last_error"]
        assert "max_memory_mb" in m["slow-leak"]["last_error"], m["slow-leak"]
        assert m["slow-leak"]["predictions"] >= 20, "the leaking model served until it was restarted"
        child = int(pid_file.read_text())
        assert os.path.exists(f"/proc/{child}"), "the forked child runs while its worker does"
    finally:
        assert b.stop() == 0
    # The worker's process group went with it: no orphan keeps running after Bedside stopped.
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.1)
    state = open(f"/proc/{child}/stat").read().split()[2] if os.path.exists(f"/proc/{child}") else "gone"
    assert state in ("gone", "Z"), f"forked child {child} outlived Bedside (state {state})"
    assert "debug line 1999" in b.output(), "the research code's prints reach Bedside's log"
