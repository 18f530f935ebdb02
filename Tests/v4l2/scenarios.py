"""Capture scenarios against a real V4L2 driver (vivid, v4l2loopback), run INSIDE the test VM.

Started by Tests/v4l2/run.sh through vm.sh; uses the host's release binary and venv, unchanged.
Each scenario starts `bedside run` on the device, drives the driver with v4l2-ctl, and checks what
Bedside reports in /api/status. Prints one line per scenario and a closing 'N passed, N failed'.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".build" / "release" / "bedside"
PY = sys.executable
OUT = Path(os.environ.get("BEDSIDE_V4L2_OUT", tempfile.mkdtemp()))
ONLY = set(sys.argv[1:])
results: list[tuple[str, bool, str]] = []
# Rows of docs/reliability.md (Tests/e2e/faults.py), written into the VM's output folder; scripts/test.sh adds them
# to artifacts/reliability.jsonl.
os.environ.setdefault("BEDSIDE_RELIABILITY_OUT", str(OUT / "reliability.jsonl"))
sys.path.insert(0, str(REPO / "Tests" / "e2e"))
from faults import record  # noqa: E402


def ctl(*args: str, device: str = "/dev/video0", check: bool = True) -> str:
    r = subprocess.run(["v4l2-ctl", "-d", device, *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"v4l2-ctl {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout + r.stderr


def hdmi_mode(timings: int) -> None:
    """Select a DV timings preset on vivid's HDMI input (9 = 720p60, 16 = 1080p60)."""
    ctl("-c", f"dv_timings_signal_mode=4,dv_timings={timings}")
    ctl("--set-dv-bt-timings", "query", check=False)


class Bedside:
    def __init__(self, name: str, source: str, model: bool = False, record: bool = False):
        self.dir = OUT / name
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg = self.dir / "bedside.yaml"
        # Under emulation x264 is slow: a short queue keeps the shutdown drain short.
        text = (f"source: {source}\nrecording: {{enabled: {'true' if record else 'false'}, "
                f"directory: {self.dir / 'rec'}, queue_frames: 4}}\n"
                # The HDMI picture's top rows stand in for a scanner's patient banner: masked, so it may be recorded.
                "privacy: {masks: [{x: 0, y: 0, width: 7680, height: 16}]}\n")
        if model:
            text += ("models:\n  - name: echo\n    entry: " + str(REPO / "Tests/e2e/models/slow_model.py") +
                     ":predict\n    input: {format: gray, width: 64, height: 36}\n    timeout_s: 30\n")
        cfg.write_text(text)
        ready = self.dir / "ready.json"
        ready.unlink(missing_ok=True)  # a stale one from an earlier run in the same folder would be read as this one's
        self.log = (self.dir / "bedside.log").open("w")
        env = dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"))
        self.proc = subprocess.Popen(
            [str(BIN), "run", "--config", str(cfg), "--python", PY, "--port", "0", "--ready-file", str(ready)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bedside did not start: {(self.dir / 'bedside.log').read_text()[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.1)
        info = json.loads(ready.read_text())
        self.url = f"http://127.0.0.1:{info['port']}/api/status?token={info['token']}"

    def status(self) -> dict:
        with urllib.request.urlopen(self.url, timeout=10) as r:
            return json.load(r)

    def wait(self, predicate, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        last = {}
        while time.monotonic() < deadline:
            last = self.status()
            if predicate(last):
                return last
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last source status: {last.get('source')}")

    def rate(self, seconds: float) -> float:
        a = self.status()["source"]["frames_captured"]
        time.sleep(seconds)
        return (self.status()["source"]["frames_captured"] - a) / seconds

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise AssertionError("bedside did not stop within 30 s of SIGTERM") from None
            assert code == 0, f"bedside exited with {code}"


def scenario(fn):
    name = fn.__name__
    if ONLY and name not in ONLY:
        return fn
    t = time.monotonic()
    os.environ["PYTEST_CURRENT_TEST"] = f"Tests/v4l2/scenarios.py::{name} (call)"
    try:
        detail = fn() or ""
        results.append((name, True, f"{detail} ({time.monotonic() - t:.1f} s)"))
    except Exception as e:  # noqa: BLE001 - report every failure and go on
        results.append((name, False, f"{type(e).__name__}: {e}"))
    print(f"{'PASS' if results[-1][1] else 'FAIL'} {name}: {results[-1][2]}", flush=True)
    return fn


@scenario
def devices_lists_vivid():
    hdmi_mode(16)
    out = subprocess.run([str(BIN), "devices"], capture_output=True, text=True, timeout=30).stdout
    (OUT / "devices.txt").write_text(out)
    print(out)
    assert "vivid" in out.lower() and "HDMI" in out and "YUYV" in out, out
    j = json.loads(subprocess.run([str(BIN), "devices", "--json"], capture_output=True, text=True, timeout=30).stdout)
    assert j[0]["inputs"][0]["hdmi"] is True
    return "vivid listed with its HDMI input and formats"


@scenario
def hdmi_1080p60_yuyv():
    hdmi_mode(16)
    ref = ctl("--set-fmt-video=width=1920,height=1080,pixelformat=YUYV", "--stream-mmap", "--stream-count=120")
    b = Bedside("1080p60", "{kind: v4l2, device: /dev/video0, format: yuyv}")
    try:
        s = b.wait(lambda s: s["source"].get("mode", "").startswith("YUYV 1920x1080"), 30, "1080p YUYV")
        b.rate(2)  # warm up
        fps = b.rate(5)
    finally:
        b.stop()
    rates = [line.strip().lstrip("<").strip() for line in ref.replace("\r", "\n").splitlines() if "fps" in line]
    return f"mode {s['source']['mode']}, Bedside's V4L2 source {fps:.1f} fps; v4l2-ctl same boot: {rates[-1] if rates else '?'}"


@scenario
def model_and_recording_from_hdmi():
    hdmi_mode(9)
    b = Bedside("pipeline", "{kind: v4l2, device: /dev/video0}", model=True, record=True)
    try:
        s = b.wait(lambda s: s["models"][0]["predictions"] >= 3, 90, "predictions from captured frames")
        rec = s["recording"]
        assert rec["state"] == "recording" and rec["frames_written"] > 0, rec
    finally:
        b.stop()
    return f"{s['models'][0]['predictions']} predictions, {rec['frames_written']} frames recorded"


@scenario
def hdmi_720p_nv12():
    hdmi_mode(9)
    b = Bedside("720p-nv12", "{kind: v4l2, device: /dev/video0, format: nv12}")
    try:
        s = b.wait(lambda s: s["source"].get("mode", "").startswith("NV12 1280x720"), 30, "720p NV12")
        fps = b.rate(3)
        assert fps > 10, f"{fps} fps"
    finally:
        b.stop()
    return f"mode {s['source']['mode']}, {fps:.1f} fps"


@scenario
def resolution_change_is_followed():
    hdmi_mode(9)
    b = Bedside("modechange", "{kind: v4l2, device: /dev/video0}")
    try:
        b.wait(lambda s: "1280x720" in s["source"].get("mode", ""), 30, "720p first")
        hdmi_mode(16)
        t = time.monotonic()
        s = b.wait(lambda s: "1920x1080" in s["source"].get("mode", "") and s["source"]["state"] == "ok", 30,
                   "Bedside to follow the change to 1080p")
        followed = time.monotonic() - t
        before = s["source"]["frames_captured"]
        s = b.wait(lambda s: s["source"]["frames_captured"] > before + 30, 30, "frames after the change")
        assert b.proc.poll() is None
    finally:
        b.stop()
    record("capture", "resolution change on the HDMI input (vivid: 720p60 -> 1080p60, DV timings)",
           f"followed: renegotiated the format ({s['source'].get('renegotiations')} renegotiation(s)), now "
           f"{s['source']['mode']}, capture going on",
           "the frames of the switch itself (the driver stops streaming while the timings change)", followed)
    return f"720p -> {s['source']['mode']}, renegotiations {s['source'].get('renegotiations')}"


@scenario
def signal_loss_and_recovery():
    hdmi_mode(16)
    b = Bedside("signal", "{kind: v4l2, device: /dev/video0}")
    try:
        b.wait(lambda s: s["source"]["state"] == "ok", 30, "streaming")
        ctl("-c", "dv_timings_signal_mode=1")
        t = time.monotonic()
        s = b.wait(lambda s: s["source"]["state"] == "no signal", 30, "'no signal'")
        lost_after = time.monotonic() - t
        assert b.proc.poll() is None, "Bedside keeps running without a signal"
        hdmi_mode(16)
        t = time.monotonic()
        before = s["source"]["frames_captured"]
        b.wait(lambda s: s["source"]["state"] == "ok" and s["source"]["frames_captured"] > before + 10, 30, "recovery")
        back_after = time.monotonic() - t
    finally:
        b.stop()
    record("capture", "no signal on the HDMI input (vivid: signal mode 'no signal'), then the signal back",
           f"status `no signal` {lost_after:.1f} s after the loss ({s['source'].get('detail')}); kept running and "
           "serving; streaming again by itself", "the frames while there was no signal (none exist)", back_after)
    return f"'no signal' after {lost_after:.1f} s ({s['source'].get('detail')}); recovered {back_after:.1f} s after the signal returned"


def vmctl(request: str, timeout: float = 40, wait: bool = True) -> None:
    """Ask the VM's /init to unload or load vivid (modules cannot be loaded from this chroot)."""
    d = Path("/run/vmctl")
    (d / "done").unlink(missing_ok=True)
    (d / "request.tmp").write_text(request)
    (d / "request.tmp").rename(d / "request")
    if wait:
        vmctl_done(request, timeout)


def vmctl_done(request: str, timeout: float = 40) -> None:
    d = Path("/run/vmctl")
    deadline = time.monotonic() + timeout
    while not (d / "done").exists():
        assert time.monotonic() < deadline, f"the VM did not answer {request!r}"
        time.sleep(0.1)
    rc = (d / "done").read_text().strip()
    err = (d / "err").read_text().strip() if (d / "err").exists() else ""
    assert rc == "0", f"{request!r} failed ({rc}): {err}"


def wait_path(path: str, present: bool, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while Path(path).exists() != present:
        assert time.monotonic() < deadline, f"{path} {'did not appear' if present else 'is still there'}"
        time.sleep(0.05)


@scenario
def stall_without_an_error():
    """The driver keeps the device open and streaming but delivers no buffer (vivid drops 100 %)."""
    hdmi_mode(9)
    b = Bedside("stall", "{kind: v4l2, device: /dev/video0}")
    try:
        b.wait(lambda s: s["source"]["state"] == "ok" and s["source"]["frames_captured"] > 10, 30, "streaming")
        ctl("-c", "percentage_of_dropped_buffers=100")
        t = time.monotonic()
        s = b.wait(lambda s: s["source"]["state"] != "ok", 30, "Bedside to notice the stall")
        noticed = time.monotonic() - t
        assert b.proc.poll() is None and b.status()["type"] == "status", "Bedside keeps serving"
        ctl("-c", "percentage_of_dropped_buffers=0")
        t = time.monotonic()
        before = b.status()["source"]["frames_captured"]
        b.wait(lambda s: s["source"]["state"] == "ok" and s["source"]["frames_captured"] > before + 10, 30, "recovery")
        back = time.monotonic() - t
    finally:
        b.stop()
    record("capture", "capture device that stalls without an error (vivid: 100 % of buffers dropped, the device "
           "open and streaming)",
           f"status `{s['source']['state']}` ({s['source'].get('detail')}) {noticed:.1f} s after the stall began; kept "
           "serving; reopened the device with backoff; streaming again by itself when buffers came back",
           "the frames while the driver delivered none (none exist)", back)
    return f"stall noticed after {noticed:.1f} s ({s['source'].get('detail')}); streaming {back:.1f} s after buffers returned"


@scenario
def second_bedside_on_the_same_device():
    hdmi_mode(9)
    a = Bedside("first", "{kind: v4l2, device: /dev/video0}", record=True)
    b = None
    try:
        a.wait(lambda s: s["source"]["state"] == "ok" and s["source"]["frames_captured"] > 10, 30, "the first streaming")
        rate_before = a.rate(3)
        b = Bedside("second", "{kind: v4l2, device: /dev/video0}")
        s2 = b.wait(lambda s: s["source"]["state"] not in ("ok", "connecting"), 30, "the second to say why it gets nothing")
        # The first goes on: frames in every second while the second runs (its rate under emulation depends on
        # the CPU the second's start-up takes, so only reported, not asserted).
        per_second = []
        for _ in range(3):
            c0 = a.status()["source"]["frames_captured"]
            time.sleep(1)
            per_second.append(a.status()["source"]["frames_captured"] - c0)
        rate_during = sum(per_second) / 3
        s1 = a.status()
        assert s1["source"]["state"] == "ok" and s1["recording"]["state"] == "recording", s1["source"]
        assert all(n > 0 for n in per_second), per_second
        assert s2["source"]["state"] == "in use" and "busy" in (s2["source"].get("detail") or "").lower(), s2["source"]
        assert s2["source"]["frames_captured"] == 0
    finally:
        if b:
            b.stop()
        a.stop()
    record("process", "a second Bedside on the same capture device (the first streaming and recording)",
           f"the second serves its page and says `{s2['source']['state']}`: {s2['source'].get('detail')!r}, retrying "
           f"with backoff; the first kept streaming ({rate_before:.1f} fps before, {rate_during:.1f} fps during) and "
           "recording; both exit 0", "nothing for the first; the second gets no frames (the device is taken)", None)
    return f"second: {s2['source'].get('detail')}; first {rate_before:.1f} -> {rate_during:.1f} fps"


@scenario
def unplug_then_replug_as_another_node():
    """The capture box is pulled out (vivid's Disconnect), then comes back as /dev/video3 (module reloaded with
    another node number), as a USB box plugged into another port does."""
    hdmi_mode(9)
    b = Bedside("unplug", "{kind: v4l2, device: /dev/video0}", record=True)
    try:
        s = b.wait(lambda s: s["source"]["state"] == "ok" and s["recording"]["frames_written"] > 10, 60,
                   "streaming and recording")
        session = s["recording"]["session"]
        # A real unplug takes the node away; vivid's Disconnect only fails the open handles (the node comes back
        # once they are closed). So the driver is unloaded as soon as Bedside has let go: the unload is asked
        # first, and it retries until Bedside's handle is closed after the Disconnect.
        vmctl("unload vivid", wait=False)
        ctl("-c", "disconnect=1")
        t = time.monotonic()
        vmctl_done("unload vivid")
        wait_path("/dev/video0", False)
        gone = b.wait(lambda s: s["source"]["state"] == "disconnected", 30, "'disconnected'")
        noticed = time.monotonic() - t
        time.sleep(1)
        written = b.status()["recording"]["frames_written"]
        vmctl("load vivid vid_cap_nr=3")
        wait_path("/dev/video3", True)
        t = time.monotonic()
        before = b.status()["source"]["frames_captured"]
        b.wait(lambda s: s["source"]["state"] == "ok" and s["source"]["frames_captured"] > before + 10, 60,
                      "capture from /dev/video3")
        back_s = time.monotonic() - t
        rec = b.wait(lambda s: s["recording"]["frames_written"] > written + 10, 60, "recording again")["recording"]
        log = (b.dir / "bedside.log").read_text()
        assert "using /dev/video3" in log, log[-2000:]
        assert b.proc.poll() is None
    finally:
        b.stop()
        # Put the driver back as the other scenarios expect it (/dev/video0).
        try:
            vmctl("unload vivid")
            vmctl("load vivid")
            wait_path("/dev/video0", True)
        except AssertionError as e:
            print(f"could not restore vivid: {e}", flush=True)
    record("capture", "capture box unplugged while streaming and recording (vivid's Disconnect), then plugged back "
           "in as another node (/dev/video3 instead of /dev/video0)",
           f"status `disconnected` {noticed:.1f} s after the unplug ({gone['source'].get('detail')!r}); kept serving "
           f"and the recording session open; found the same box (its card name) at /dev/video3 and streamed "
           f"{back_s:.1f} s after it appeared; recording went on in the same session "
           f"({'same folder' if rec['session'] == session else 'a new folder'})",
           "the frames while it was unplugged (none exist)", back_s)
    return f"disconnected after {noticed:.1f} s; back on /dev/video3 {back_s:.1f} s after it appeared"


@scenario
def mjpeg_through_v4l2loopback():
    if not Path("/dev/video10").exists():
        raise RuntimeError("no /dev/video10: boot with --loopback")
    feeder = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-c:v", "mjpeg",
         "-f", "v4l2", "/dev/video10"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while "Video Capture" not in ctl("-D", device="/dev/video10", check=False):
            assert time.monotonic() < deadline, "v4l2loopback never offered capture"
            time.sleep(0.2)
        b = Bedside("mjpeg", "{kind: v4l2, device: /dev/video10, format: mjpeg, width: 1280, height: 720}")
        try:
            s = b.wait(lambda s: s["source"].get("mode", "").startswith("MJPG"), 30, "MJPEG mode")
            s = b.wait(lambda s: s["source"]["frames_captured"] >= 30, 60, "30 decoded frames")
            fps = b.rate(3)
        finally:
            b.stop()
    finally:
        feeder.kill()
    return f"mode {s['source']['mode']}, {fps:.1f} fps decoded"


passed = sum(ok for _, ok, _ in results)
failed = len(results) - passed
print(f"v4l2 scenarios: {passed} passed, {failed} failed")
(OUT / "summary.json").write_text(json.dumps([{"name": n, "ok": ok, "detail": d} for n, ok, d in results], indent=1))
sys.exit(1 if failed else 0)
