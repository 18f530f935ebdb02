"""Fixtures that run the real `bedside` binary (release build) on free ports."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("BEDSIDE_BIN", REPO / ".build" / "release" / "bedside"))
ARTIFACTS = Path(os.environ.get("BEDSIDE_ARTIFACTS", REPO / "artifacts"))


# Logs of every Bedside started by the running test: shown when it fails (CI keeps nothing else).
_STARTED: list[Path] = []


@pytest.fixture(autouse=True)
def _forget_started_logs():
    _STARTED.clear()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for log in _STARTED:
            try:
                lines = log.read_text(errors="replace").splitlines()
            except OSError:
                continue
            report.sections.append((f"bedside log {log.name} (last 200 lines)", "\n".join(lines[-200:])))


@dataclass
class Bedside:
    proc: subprocess.Popen
    base_url: str
    port: int
    token: str
    recordings: Path
    artifacts: Path
    log: Path
    admin_pin: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?token={self.token}"

    def status(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"{self.base_url}/api/status?token={self.token}", timeout=5) as r:
            return json.load(r)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"bedside did not exit within {timeout} s of signal {sig}") from None
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_bedside(args: list[str], tmp: Path, name: str = "bedside", recordings: Path | None = None,
                  port: int = 0, allow_unmasked: bool = True) -> Bedside:
    """Starts Bedside and waits until it serves. Most tests' phantoms have no privacy masks, so they pass
    --allow-unmasked (recording would wait for masks otherwise); the privacy tests pass allow_unmasked=False."""
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: build it with `swift build -c release` (scripts/test.sh does)")
    tmp.mkdir(parents=True, exist_ok=True)
    ready = tmp / f"{name}-ready.json"
    log = tmp / f"{name}.log"
    recordings = recordings or tmp / "recordings"
    ready.unlink(missing_ok=True)  # a restart in the same folder must not read the last run's file
    cmd = [str(BIN), *args, "--port", str(port), "--ready-file", str(ready), "--recordings", str(recordings)]
    if allow_unmasked and args and args[0] == "run":
        cmd.append("--allow-unmasked")
    env = dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"), BEDSIDE_STATE_DIR=str(tmp / f"{name}-state"))
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail(f"bedside exited with {proc.returncode} before serving:\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"bedside did not start serving within 60 s:\n{log.read_text()}")
        time.sleep(0.1)
    time.sleep(0.05)
    _STARTED.append(log)
    info = json.loads(ready.read_text())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return Bedside(
        proc=proc,
        base_url=f"http://127.0.0.1:{info['port']}",
        port=info["port"],
        token=info["token"],
        recordings=recordings,
        artifacts=ARTIFACTS,
        log=log,
        admin_pin=info.get("admin_pin", ""),
    )


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def bedside(tmp_path_factory):
    """A demo Bedside (phantom + demo model) shared by a module's tests."""
    tmp = tmp_path_factory.mktemp("bedside")
    b = start_bedside(["demo", "--python", sys.executable], tmp)
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] > 0, 60, what="the first prediction")
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module; skipped where either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = os.environ.get("BEDSIDE_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        pytest.skip(f"no Chromium at {chromium} (set BEDSIDE_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
