"""Command-line behaviour: config errors name the key, the line and the fix."""
from __future__ import annotations

import subprocess
import sys

from conftest import BIN, REPO


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=30)


def test_check_runs_the_template_model_once_and_says_what_it_returned():
    r = run("check", "--config", str(REPO / "researcher-template/bedside.yaml"), "--python", sys.executable)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pcbm-demo" in r.stdout
    assert "✓ loaded in" in r.stdout and "predict took" in r.stdout
    assert "plane head (standard)" in r.stdout and "11 concepts" in r.stdout and "segmentation 288x224" in r.stdout
    assert "declares: version 0.1.0, 8 segmentation classes, 11 concepts, 3 planes" in r.stdout


def test_check_with_an_interpreter_path_relative_to_the_current_folder(tmp_path):
    # The worker starts inside the model's workdir; a relative --python must still mean the caller's folder.
    rel = __import__("os").path.relpath(sys.executable, tmp_path)
    r = subprocess.run([str(BIN), "check", "--config", str(REPO / "researcher-template/bedside.yaml"), "--python", rel],
                       capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "✓ loaded in" in r.stdout


def test_check_explains_a_model_that_cannot_import(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(f"models:\n  - name: broken\n    entry: {REPO / 'Tests/e2e/zoo/import_error.py'}:predict\n")
    r = run("check", "--config", str(cfg), "--python", sys.executable)
    assert r.returncode == 1
    assert "import failed: ModuleNotFoundError: No module named 'numpy_that_does_not_exist'" in r.stdout


def test_check_without_running(tmp_path):
    r = run("check", "--config", str(REPO / "researcher-template/bedside.yaml"), "--no-run")
    assert r.returncode == 0 and "is valid" in r.stdout and "starting it" not in r.stdout


def test_check_names_a_misspelt_key_with_line_and_fix(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source:\n  kind: phantom\n  widht: 640\n")
    r = run("check", "--config", str(cfg))
    assert r.returncode == 2
    assert "source.widht" in r.stdout and ":3" in r.stdout and "Did you mean `width`" in r.stdout


def test_run_with_a_missing_interpreter_keeps_serving_and_says_why(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 10}\n"
        "models:\n  - name: m\n    python: /nonexistent/venv/bin/python\n    entry: x.py:predict\n"
        "recording: {enabled: false}\n"
    )
    from conftest import start_bedside, wait_for

    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        s = wait_for(lambda: (lambda s: s if s["models"][0]["last_error"] else None)(b.status()), 20,
                     what="the model error in the status")
        assert "/nonexistent/venv/bin/python" in s["models"][0]["last_error"]
        assert s["models"][0]["state"] == "restarting"
        assert s["source"]["frames_captured"] > 0, "capture goes on without the model"
    finally:
        assert b.stop() == 0


def test_bench_quick_mode_writes_a_complete_report(tmp_path):
    # Asserts nothing about speed: only that every scenario ran and produced its table.
    out = tmp_path / "report.md"
    r = subprocess.run([str(BIN), "bench", "all", "--quick", "--python", sys.executable, "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    report = out.read_text()
    for section in ("Overhead vs native", "Naive baseline", "Staleness", "Replicas", "Start-up", "Recording cost"):
        assert f"## {section}" in report, f"missing section {section}"
    assert "| 1920x1080 | shm | noop |" in report and "| 1920x1080 | tcp | noop |" in report
    assert "Machine:" in report and "cores" in report
