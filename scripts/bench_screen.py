#!/usr/bin/env python3
"""Capture to screen: how long from capturing a frame until a tablet page has painted it, measured by Bedside.

Each page reports the frames it painted (`drawn` messages over its WebSocket); Bedside works out capture -> drawn
with its own monotonic clock and shows p50/p99 in /api/status (`viewers_latency`). This script starts Bedside
(release build) with a phantom at 30 fps, without and with a 20 ms model, opens 1 and 4 Chromium pages on
loopback (Playwright, Debian's Chromium), lets each case run for --seconds and prints a Markdown table. The
pages run on the same CPUs as Bedside; the machine is named in the output.

    .venv/bin/python scripts/bench_screen.py                 # 4 cases x 20 s
    .venv/bin/python scripts/bench_screen.py --quick         # 4 cases x 5 s
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")

MODEL = """import time


def predict(image):
    time.sleep(0.020)
    return {"plane": {"name": "head", "status": "unknown"}}
"""

PAINTED = "() => (window.__bedside && window.__bedside.paint) ? window.__bedside.paint.count : 0"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def proc_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU jiffies) of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return out


def subtree(table: dict[int, tuple[int, int]], root: int) -> set[int]:
    found, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def cpu_split(bedside_pid: int) -> dict[str, int]:
    """CPU jiffies so far: Bedside with its model processes, and the browser (Playwright's driver and Chromium, the
    rest of this script's children). Processes that end between two samples are missed (none should)."""
    table = process_table()
    ours = subtree(table, os.getpid())
    bedside = subtree(table, bedside_pid)
    return {"bedside": sum(table[p][1] for p in bedside if p in table),
            "browser": sum(table[p][1] for p in ours - bedside - {os.getpid()} if p in table),
            "script": table.get(os.getpid(), (0, 0))[1]}


class Bedside:
    def __init__(self, binary: str, python: str, tmp: Path, width: int, height: int, fps: int, display_width: int,
                 model: bool) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        models = "models: []\n"
        if model:
            (tmp / "model.py").write_text(MODEL)
            models = (f"models:\n  - {{name: m20, entry: '{tmp / 'model.py'}:predict', "
                      "input: {format: gray, width: 288, height: 224}}\n")
        (tmp / "bedside.yaml").write_text(
            f"source: {{kind: phantom, width: {width}, height: {height}, fps: {fps}}}\n" + models
            + "recording: {enabled: false}\n"
            + f"web: {{display_width: {display_width}}}\n")
        ready = tmp / "ready.json"
        self.log = tmp / "bedside.log"
        env = dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"), BEDSIDE_STATE_DIR=str(tmp / "state"))
        self.proc = subprocess.Popen([binary, "run", "--config", str(tmp / "bedside.yaml"), "--python", python,
                                      "--port", "0", "--ready-file", str(ready)], stdout=subprocess.DEVNULL,
                                     stderr=self.log.open("w"), env=env)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"bedside did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.2)
        info = json.loads(ready.read_text())
        self.port, self.token = info["port"], info["token"]
        if model:
            deadline = time.monotonic() + 60
            while not (self.status()["models"] and self.status()["models"][0]["state"] == "running"):
                if time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"the model did not start: {self.log.read_text()[-2000:]}")
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/status?token={self.token}", timeout=5) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_case(browser, args, tmp: Path, model: bool, viewers: int) -> dict:
    b = Bedside(args.bin, args.python, tmp, args.width, args.height, args.fps, args.display_width, model)
    contexts, pages, errors = [], [], []
    try:
        for _ in range(viewers):
            ctx = browser.new_context(viewport={"width": 1280, "height": 800})
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(b.url + f"&video={args.video}")
            contexts.append(ctx)
            pages.append(page)
        for page in pages:
            page.wait_for_function(f"() => ({PAINTED})() >= 10", timeout=30_000)
        time.sleep(args.warmup)
        s0 = b.status()
        painted0 = [p.evaluate(PAINTED) for p in pages]
        m0, bt0, c0 = machine_ticks(), proc_ticks(b.proc.pid), cpu_split(b.proc.pid)
        t0 = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - t0
        painted1 = [p.evaluate(PAINTED) for p in pages]
        m1, bt1, c1 = machine_ticks(), proc_ticks(b.proc.pid), cpu_split(b.proc.pid)
        s1 = b.status()
    finally:
        for ctx in contexts:
            ctx.close()
        b.stop()
    lat = s1["viewers_latency"]
    rates = [(c1 - c0) / elapsed for c0, c1 in zip(painted0, painted1)]
    return {
        "model": model, "viewers": viewers, "elapsed": elapsed, "rates": rates,
        "source_fps": (s1["source"]["frames_captured"] - s0["source"]["frames_captured"]) / elapsed,
        "drawn": lat["capture_to_drawn_ms"], "sent": lat["capture_to_sent_ms"],
        "per_viewer": [(v["p50"], v["p99"], v["n"]) for v in lat["per_viewer"]],
        "cpu_machine": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * 100 * (os.cpu_count() or 1),
        "cpu_browser": (c1["browser"] - c0["browser"]) / TICK / elapsed * 100,
        "cpu_all_bedside": (c1["bedside"] - c0["bedside"]) / TICK / elapsed * 100,
        "cpu_script": (c1["script"] - c0["script"]) / TICK / elapsed * 100,
        "cpu_bedside": (bt1 - bt0) / TICK / elapsed * 100,
        "predictions_hz": (s1["models"][0]["predictions"] - s0["models"][0]["predictions"]) / elapsed
        if model and s1["models"] else None,
        "version": s1.get("version", "?"), "errors": errors, "window": lat["window"], "window_s": lat["window_s"],
    }


def fmt(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("BEDSIDE_BIN", str(REPO / ".build/release/bedside")))
    ap.add_argument("--python", default=sys.executable, help="Python for the model (the venv's)")
    ap.add_argument("--chromium", default=os.environ.get("BEDSIDE_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--seconds", type=float, default=20, help="measured time per case (default 20)")
    ap.add_argument("--quick", action="store_true", help="5 s per case (CI)")
    ap.add_argument("--size", default="1920x1080", help="phantom size, e.g. 1280x720 (default 1920x1080)")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--display-width", type=int, default=1280, help="web.display_width: JPEG width for tablets")
    ap.add_argument("--video", choices=["jpeg", "h264"], default="jpeg",
                    help="what the pages ask for (default jpeg, what docs/performance.md's numbers were measured with; "
                         "H.264 is compared in scripts/bench_wifi.py)")
    ap.add_argument("--out", help="also write the report here")
    args = ap.parse_args()
    if args.quick:
        args.seconds = 5
    args.warmup = 2 if args.quick else 3
    args.width, args.height = (int(x) for x in args.size.lower().split("x"))
    if not Path(args.bin).exists():
        raise SystemExit(f"{args.bin} is missing: swift build -c release --product bedside")

    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    interval = 1000 / args.fps
    target = 2 * interval
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="bedside-screen-"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        try:
            chromium_version = browser.version
            for i, (model, viewers) in enumerate([(False, 1), (False, 4), (True, 1), (True, 4)]):
                r = run_case(browser, args, tmp / f"case{i}", model, viewers)
                results.append(r)
                print(f"  {'20 ms model' if model else 'no model'}, {viewers} viewer(s): p50 {fmt(r['drawn']['p50'])} ms, "
                      f"p99 {fmt(r['drawn']['p99'])} ms, {min(r['rates']):.1f}-{max(r['rates']):.1f} fps", file=sys.stderr)
        finally:
            browser.close()

    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        "## Capture to screen (`scripts/bench_screen.py`)", "",
        f"Machine: {ncpu} CPUs ({cpu_model()}), {platform.system()} {platform.release()}; Bedside {results[0]['version']} "
        f"(release), Chromium {chromium_version} headless, {datetime.date.today().isoformat()}; load average "
        f"{load_before:.2f} before the run.",
        f"Phantom {args.width}x{args.height} at {args.fps} fps, JPEG for tablets at {min(args.display_width, args.width)} px "
        f"wide, no recording; Chromium pages (1280x800) on loopback, on the same {ncpu} CPUs as Bedside. "
        f"{args.seconds:.0f} s per case after {args.warmup} s of warm-up. p50/p99: the server's window at the end of "
        f"the case (each viewer's painted frames of the last {results[0]['window_s']:.0f} s, at most "
        f"{results[0]['window']}), all viewers together.", "",
        "| case | viewers | frames drawn /s per viewer | capture -> drawn p50 / p99 ms | of which capture -> sent p50 / p99 ms "
        "| CPU, % of one core: Bedside / model / Chromium / rest (other processes, kernel) | target: p50 <= "
        f"{target:.1f} ms (2 frame intervals) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rates = ", ".join(f"{x:.1f}" for x in r["rates"])
        p50 = r["drawn"]["p50"]
        verdict = "-" if p50 is None else ("**met**" if p50 <= target else "**missed**")
        model_cpu = r["cpu_all_bedside"] - r["cpu_bedside"]
        rest = r["cpu_machine"] - r["cpu_all_bedside"] - r["cpu_browser"] - r["cpu_script"]
        cpu = (f"{r['cpu_bedside']:.0f} / {f'{model_cpu:.0f}' if r['model'] else '-'} / {r['cpu_browser']:.0f} / "
               f"{max(0.0, rest):.0f} (machine {r['cpu_machine']:.0f} of {100 * (os.cpu_count() or 1)})")
        case = "no model"
        if r["model"]:
            case = "20 ms model" + (f" ({r['predictions_hz']:.0f} pred/s)" if r["predictions_hz"] is not None else "")
        lines.append(
            f"| {case} | {r['viewers']} | {rates} | {fmt(p50)} / {fmt(r['drawn']['p99'])} (n {r['drawn']['n']}) "
            f"| {fmt(r['sent']['p50'])} / {fmt(r['sent']['p99'])} | {cpu} | {verdict} |")
    errors = [e for r in results for e in r["errors"]]
    if errors:
        lines += ["", f"Page errors: {errors[:5]}"]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
