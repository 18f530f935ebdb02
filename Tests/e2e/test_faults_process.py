"""Process faults (issue 9): SIGKILL of Bedside mid-recording and the restart after it, SIGTERM while a model is
still importing, and a second Bedside on the port of a running one. Each test records its row in the reliability
table (faults.record) with what it measured.

Also holds the small helpers the other test_faults_* modules share (frame gaps, /proc scans, timed waits).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import record
from test_recording import ffprobe_frames

from conftest import BIN, REPO, start_bedside, wait_for

MODELS = REPO / "Tests/e2e/models"


# --- helpers shared by the test_faults_* modules ---------------------------------------------------------------

_TMP = re.compile(r"/tmp/pytest-of-[^/\s]+/pytest-\d+/[^/\s'\"]+")


def short(text: str) -> str:
    """A message with pytest's temporary folders shown as <tmp> (the table is read by people)."""
    return _TMP.sub("<tmp>", text)


def record_row(area: str, fault: str, did: str, lost: str, **kw) -> None:
    """faults.record, with temporary paths shortened."""
    record(area, fault, short(did), short(lost), **kw)


def timed_wait(predicate, timeout: float, what: str, interval: float = 0.1) -> tuple[object, float]:
    """wait_for, also returning how long it took (seconds)."""
    t = time.monotonic()
    value = wait_for(predicate, timeout, interval=interval, what=what)
    return value, time.monotonic() - t


def missing_frames(times: list[float], fps: float) -> tuple[int, float]:
    """Frames missing from a series of presentation (= capture) times at `fps`: (count, longest gap in s).

    Counted against the time span (frames expected between the first and the last one), so a late frame followed
    by an early one (jitter) is not a loss; a source that skipped ticks or a recording with a hole is."""
    if len(times) < 2:
        return 0, 0.0
    longest = max(b - a for a, b in zip(times, times[1:]))
    return max(0, round((times[-1] - times[0]) * fps) + 1 - len(times)), longest


def pids_running(text: str) -> list[int]:
    """Live (not zombie) processes whose command line mentions `text`, this test process excluded."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            found.append(int(d.name))
    return found


def sessions(recordings: Path) -> list[Path]:
    return sorted(p for p in recordings.iterdir() if p.is_dir()) if recordings.exists() else []


def exit_code_after_sigterm(b) -> int:
    """Bedside must still be running (it never died on its own) and exit 0 on SIGTERM: 1 crash otherwise."""
    assert b.proc.poll() is None, f"Bedside exited on its own with {b.proc.returncode}:\n{b.output()[-3000:]}"
    return b.stop()


# --- tests -------------------------------------------------------------------------------------------------------

def test_sigkill_mid_recording_then_restart(tmp_path):
    """kill -9 while recording (a model running too): the killed mp4 plays up to its last fragment, the worker
    does not outlive Bedside, and the next start records a new session cleanly beside the killed one."""
    fps = 30
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        f"source: {{kind: phantom, width: 640, height: 480, fps: {fps}}}\n"
        f"models:\n  - {{name: slow, entry: '{MODELS / 'slow_model.py'}:predict', input: {{format: gray, width: 64, height: 48}}}}\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    wait_for(lambda: b.status()["recording"]["frames_written"] >= 5 * fps and b.status()["models"][0]["predictions"] > 0,
             60, what="5 s recorded and a prediction")
    s = b.status()
    worker = s["models"][0]["pid"]
    b.proc.send_signal(signal.SIGKILL)
    kill_ns = time.monotonic_ns()
    b.proc.wait(timeout=10)
    killed = Path(s["recording"]["session"])
    # The worker notices its parent is gone (checked every second) and exits.
    _, orphan_s = timed_wait(lambda: not os.path.exists(f"/proc/{worker}") or
                             open(f"/proc/{worker}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                             10, "the model worker to exit after Bedside was killed")
    times = ffprobe_frames(killed / "video-000.mp4")
    info = json.loads((killed / "session.json").read_text())
    killed_at_s = (kill_ns - info["first_frame_pts_ns"]) / 1e9
    lost_s = max(0.0, killed_at_s - (times[-1] + 1 / fps)) if times else killed_at_s
    gaps, _ = missing_frames(times, fps)
    print(f"\nkilled after {killed_at_s:.2f} s of video; {len(times)} frames decodable, last at {times[-1]:.2f} s; "
          f"{lost_s:.2f} s lost; status said {s['recording']['frames_written']} written just before; worker gone "
          f"{orphan_s:.1f} s after; session.json state {info['state']}, frames_written {info['frames_written']}")
    assert len(times) >= s["recording"]["frames_written"] - fps, "more than 1 s lost before the last status"
    assert lost_s <= 1.5, f"{lost_s:.2f} s lost"
    assert info["state"] == "recording", "a killed session says it was never finished"
    # What the killed process left in /dev/shm (frame rings) and /tmp (its runtime folder with the sockets).
    pid = b.proc.pid
    shm_left = [p for p in Path("/dev/shm").glob(f"bedside-{pid}-*")]
    runtime_left = [p.parent for p in Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp")).glob("bedside-*/bedside.pid")
                    if p.read_text().strip() == str(pid)]
    assert shm_left and runtime_left, "a SIGKILLed Bedside cannot clean up: the test expects leftovers"

    # Restart with the same recordings folder.
    t0 = time.monotonic()
    b2 = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path / "second", name="second",
                       recordings=b.recordings)
    try:
        s2, _ = timed_wait(lambda: (lambda s: s if s["recording"]["state"] == "recording"
                                    and s["recording"]["frames_written"] > 0 else None)(b2.status()),
                           60, "the new session to record")
        restart_s = time.monotonic() - t0  # from the restart command to the first frame written
        wait_for(lambda: b2.status()["recording"]["frames_written"] >= fps, 30, what="1 s in the new session")
        new = Path(s2["recording"]["session"])
        assert new != killed and new.parent == killed.parent
        wait_for(lambda: b2.status()["models"][0]["predictions"] > 0, 60, what="the model after the restart")
    finally:
        code = exit_code_after_sigterm(b2)
    info2 = json.loads((new / "session.json").read_text())
    n2 = len(ffprobe_frames(new / "video-000.mp4"))
    assert code == 0 and info2["state"] == "finished" and n2 == info2["frames_written"], (code, info2["state"], n2)
    after = json.loads((killed / "session.json").read_text())
    assert after["state"] == "interrupted" and "interrupted_found_wall" in after, after
    assert "stopped without finishing" in after["error"], after
    assert "marked it interrupted" in b2.output()
    still = [str(p) for p in shm_left + runtime_left if p.exists()]
    assert not still, f"the restart did not remove the killed process's leftovers: {still}"
    record_row("process", "SIGKILL of Bedside mid-recording (phantom 640x480@30 + a model), then restart",
           f"killed session's mp4 plays: {len(times)} frames decodable up to {times[-1]:.2f} s (killed at "
           f"{killed_at_s:.2f} s), its session.json (frames_written {info['frames_written']}, written every 10 s) "
           f"marked `interrupted` by the restart; model worker exited {orphan_s:.1f} s after the kill; the restart "
           f"removed the killed process's {len(shm_left)} frame ring folder(s) in /dev/shm and its runtime folder, opened "
           f"a new session folder beside it, first frame written {restart_s:.1f} s after the restart command, finished "
           f"cleanly ({n2} frames, all decodable)",
           f"{lost_s:.2f} s of recording ({round(lost_s * fps)} frames: the last fragment), {gaps} frames missing inside "
           f"the file, 0 frames of the next session",
           recovery_s=restart_s, crashes=0)


SLOW_IMPORT = """
import time
time.sleep(5)  # a heavy import (torch, weights) that is still running when Bedside is stopped


def predict(image):
    return {}
"""


def test_sigterm_while_the_model_is_still_importing(tmp_path):
    model = tmp_path / "slow_import_model.py"
    model.write_text(SLOW_IMPORT)
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\n"
                   f"models:\n  - {{name: slow-import, entry: '{model}:predict'}}\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    m = wait_for(lambda: (lambda m: m if m.get("pid") else None)(b.status()["models"][0]), 20, what="the worker pid")
    pid = m["pid"]
    wait_for(lambda: pids_running(str(model)), 10, what="the worker process")
    time.sleep(1.0)  # well inside the 5 s import
    shown = b.status()["models"][0]["state"]
    assert b.status()["recording"]["frames_written"] > 0
    t0 = time.monotonic()
    code = exit_code_after_sigterm(b)
    exit_s = time.monotonic() - t0
    # The worker goes with Bedside: no process left that runs the entry file.
    left = pids_running(str(model))
    worker_alive = os.path.exists(f"/proc/{pid}") and \
        open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    session = sorted(b.recordings.iterdir())[-1]
    info = json.loads((session / "session.json").read_text())
    n = len(ffprobe_frames(session / "video-000.mp4"))
    print(f"\nstate shown while importing: {shown!r}; exit {code} after {exit_s:.2f} s; leftover processes {left}; "
          f"recording {info['state']} {n}/{info['frames_written']} frames")
    record_row("process", "SIGTERM while a model is still importing (import sleeps 5 s)",
           f"exited {code} {exit_s:.1f} s after SIGTERM (before the import finished); the worker (pid {pid}) was "
           f"stopped with it, {len(left)} processes left running the entry file; recording finalised "
           f"({info['state']}, {n} frames decodable); status showed the loading model as `{shown}`",
           f"0 frames ({info['frames_written'] - n} of {info['frames_written']} recorded frames not decodable)",
           recovery_s=None, crashes=0 if code == 0 else 1)
    assert code == 0
    assert exit_s < 5, f"Bedside took {exit_s:.1f} s to stop while the model imported"
    assert not left and not worker_alive, f"orphan worker(s) {left or [pid]} outlived Bedside"
    assert info["state"] == "finished" and n == info["frames_written"]
    if shown != "loading":
        pytest.xfail(f"bug: /api/status shows a model that is importing as {shown!r}, not 'loading' "
                     "(ModelRunner.updateStatus's state order lacks 'loading')")


def test_a_second_bedside_on_the_same_port_leaves_the_first_alone(tmp_path):
    fps = 15
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(f"source: {{kind: phantom, width: 320, height: 240, fps: {fps}}}\nmodels: []\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        wait_for(lambda: b.status()["recording"]["frames_written"] >= fps, 30, what="the first to record")
        first_session = Path(b.status()["recording"]["session"])
        before = sessions(b.recordings)
        c0 = b.status()["source"]["frames_captured"]
        t0 = time.monotonic()
        second = subprocess.run(
            [str(BIN), "run", "--config", str(cfg), "--port", str(b.port), "--ready-file", str(tmp_path / "second.json"),
             "--recordings", str(b.recordings), "--allow-unmasked"],
            capture_output=True, text=True, timeout=60, cwd=REPO,
            env=dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"), BEDSIDE_STATE_DIR=str(tmp_path / "state2")))
        second_s = time.monotonic() - t0
        out = (second.stdout + second.stderr).strip()
        error_lines = [line for line in out.splitlines() if "rror" in line]
        time.sleep(2)
        s = b.status()
        assert s["source"]["frames_captured"] > c0 + fps, "the first keeps capturing"
        assert s["recording"]["state"] == "recording" and Path(s["recording"]["session"]) == first_session
        litter = [p for p in sessions(b.recordings) if p not in before]
    finally:
        code = exit_code_after_sigterm(b)
    times = ffprobe_frames(first_session / "video-000.mp4")
    missing, longest = missing_frames(times, fps)
    info = json.loads((first_session / "session.json").read_text())
    litter_desc = ", ".join(
        f"{p.name} ({', '.join(sorted(f.name for f in p.iterdir()))}; "
        f"{len(ffprobe_frames(p / 'video-000.mp4')) if (p / 'video-000.mp4').exists() else 0} frames)" for p in litter)
    print(f"\nsecond: exit {second.returncode} after {second_s:.2f} s: {error_lines}\nleft behind: {litter_desc or 'nothing'}"
          f"\nfirst: {len(times)} frames, {missing} missing, longest gap {longest * 1000:.0f} ms, exit {code}")
    record_row("process", "a second Bedside started on the port of a running one (same config and recordings folder)",
           f"second exited {second.returncode} after {second_s:.1f} s with: {error_lines[-1] if error_lines else out[-200:]!r}; "
           f"it left {len(litter)} session folder(s) in the shared recordings folder"
           f"{': ' + litter_desc if litter else ''}; the first kept serving and recording (exit {code} on SIGTERM)",
           f"0 frames of the first ({missing} missing in its recording, longest gap {longest * 1000:.0f} ms, "
           f"{info['frames_dropped']} dropped)",
           recovery_s=None, crashes=0 if code == 0 else 1)
    assert code == 0 and missing == 0 and info["frames_dropped"] == 0 and info["state"] == "finished"
    assert second.returncode != 0 and error_lines, out
    assert str(b.port) in out or "in use" in out, out
    if litter:
        pytest.xfail(f"bug: the refused second Bedside left a session folder in the recordings folder: {litter_desc}")


def test_missing_page_files_leave_capture_and_recording_running(tmp_path, monkeypatch):
    """The binary copied without its bedside_Web.resources folder (a hand-made install): the page answers 500 with
    what is missing and the fix; capture, recording and the API go on (SwiftPM's resource accessor used to end the
    process at the first page request)."""
    import shutil
    import urllib.error
    import urllib.request

    import conftest
    lone = tmp_path / "bin" / "bedside"
    lone.parent.mkdir()
    shutil.copy2(BIN, lone)
    monkeypatch.setattr(conftest, "BIN", lone)
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    answers = {}
    try:
        for path in ["/", "/app.js", "/admin"]:
            try:
                with urllib.request.urlopen(f"{b.base_url}{path}?token={b.token}", timeout=10) as r:
                    answers[path] = (r.status, r.read().decode())
            except urllib.error.HTTPError as e:
                answers[path] = (e.code, e.read().decode())
        s = wait_for(lambda: (lambda s: s if s["recording"]["frames_written"] >= 30 else None)(b.status()), 30,
                     what="recording to go on")
        assert b.proc.poll() is None
    finally:
        code = b.stop()
    print(f"\npage answers without the page files: { {p: a[0] for p, a in answers.items()} }; recorded "
          f"{s['recording']['frames_written']} frames")
    assert code == 0
    assert all(a[0] == 500 and "bedside_Web.resources" in a[1] and "bedside install" in a[1] for a in answers.values()), answers
    assert "page files are missing" in b.output()
    record_row("process", "the binary started without its page files (bedside_Web.resources missing beside it)",
               f"start-up logs what is missing and the fix; every page request answered 500 with the same text "
               f"({len(answers)} tried); capture, the API and recording went on ({s['recording']['frames_written']} "
               "frames written); exit 0 on SIGTERM",
               "the page (until the folder is copied); no frames", recovery_s=None, crashes=0 if code == 0 else 1)
