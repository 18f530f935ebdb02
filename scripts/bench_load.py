#!/usr/bin/env python3
"""Load and soak benchmark: the whole of Bedside on this machine, measured from outside.

A 1080p30 phantom, H.264 recording, a 20 ms model and 4 viewers that read every frame, for --seconds
(300 by default: the issue's 5-minute run; --seconds 3600 for the 1 h soak). Samples once a second:
CPU per component (by thread name), resident memory and open descriptors of Bedside, CPU of the model
process. Prints a Markdown section for docs/performance.md (and writes it to --out).

    .venv/bin/python scripts/bench_load.py --seconds 300 --out /tmp/load.md

`--model torch` puts the reference case in the model's place (issue 17): the PCBM-shaped PyTorch model
(Tests/e2e/models/pcbm_torch.py, made about as heavy as PCBM on CPU) in .venv-torch, no viewers by default.
`--threads default` leaves its threads to Bedside (all cores but one); `--threads all` is the old way (torch's
own default: a thread per core). The report adds capture gaps, read from the recording's timestamps (which are
the capture times).

    .venv/bin/python scripts/bench_load.py --model torch --viewers 0 --seconds 300 --threads default
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from light_tablet import Received, read_frames  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")

MODEL = """import time


def predict(image):
    time.sleep(0.020)
    return {"plane": {"name": "head", "status": "unknown"}}
"""

# Thread names (Linux keeps 15 characters) -> the component they belong to. Threads a library starts
# (x264's) inherit their creator's name.
GROUPS = [
    ("phantom", "capture (phantom rendering)"), ("v4l2", "capture"), ("recorder", "recording (H.264, x264's threads too)"),
    ("jpeg", "JPEG for viewers"), ("model-output", "model output reader"), ("model-", "model runner (Bedside side)"),
    ("NIO-", "web server"), ("ZMQbg", "ZeroMQ I/O"),
]


def group_of(comm: str) -> str:
    for prefix, name in GROUPS:
        if comm.startswith(prefix):
            return name
    return "other (Swift runtime, dispatch)"


def thread_ticks(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[group_of(comm)] = out.get(group_of(comm), 0) + int(fields[11]) + int(fields[12])
    return out


def proc_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def capture_gaps(folder: Path) -> dict:
    """The gaps between consecutive frames of each recorded segment (its timestamps are the capture times)."""
    gaps: list[float] = []
    frames = 0
    for video in sorted(folder.glob("video-*.mp4")):
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                              "-of", "csv=p=0", str(video)], capture_output=True, text=True).stdout
        times = sorted(float(t) for t in out.split() if t.strip() and t.strip() != "N/A")
        frames += len(times)
        gaps += [(b - a) * 1000 for a, b in zip(times, times[1:])]
    return {"max_ms": max(gaps, default=0.0), "over_100": sum(g > 100 for g in gaps),
            "over_50": sum(g > 50 for g in gaps), "frames": frames}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(REPO / ".build/release/bedside"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--viewers", type=int, default=4)
    ap.add_argument("--video", choices=["jpeg", "h264"], default="jpeg",
                    help="what the viewers ask for: JPEG (the old way) or the shared H.264 stream (issue 19's soak)")
    ap.add_argument("--series", help="also write the RSS and descriptor series (one sample a second) here, as JSON")
    ap.add_argument("--out")
    ap.add_argument("--model", choices=["sleep", "torch"], default="sleep",
                    help="sleep: a 20 ms Python model; torch: the PCBM-shaped PyTorch model")
    ap.add_argument("--threads", default="default",
                    help="torch: `default` (Bedside's: all cores but one), `all` (a thread per core), or a number")
    ap.add_argument("--depth", type=int, default=40, help="torch: extra conv layers (40: about 1.2 s a frame)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bedside-load-"))
    (tmp / "model.py").write_text(MODEL)
    if args.model == "torch":
        torch_python = REPO / ".venv-torch/bin/python"
        python = str(torch_python) if torch_python.exists() else "/usr/bin/python3"
        env_block = {"PCBM_DEPTH": str(args.depth)}
        threads = ""
        if args.threads == "all":
            env_block.update({v: str(os.cpu_count()) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        elif args.threads != "default":
            threads = f", threads: {int(args.threads)}"
        planes = ["head", "abdomen", "femur", "thorax"]
        output = {  # the model returns its own tensors (as Tests/e2e/test_cadence.py): the output: block maps them
            "segmentation": {"from": "seg", "classes": ["background"] + [f"s{i}" for i in range(1, 14)]},
            "concepts": {"from": "concepts", "names": [f"c{i}" for i in range(27)], "scale": "probability",
                         "mask": "concept_mask"},
            "plane": {"from": "logits", "kind": "logits",
                      "classes": [[p, s] for p in planes for s in ("standard", "non-standard")]},
        }
        model = (f"{{name: pcbm-torch, python: '{python}', entry: '{REPO}/Tests/e2e/models/pcbm_torch.py:predict', "
                 f"env: {json.dumps(env_block)}, input: {{format: gray, width: 288, height: 224}}{threads}, "
                 f"output: {json.dumps(output)}}}")
        model_what = f"the PCBM-shaped PyTorch model (depth {args.depth}, threads {args.threads})"
    else:
        model = f"{{name: m20, entry: '{tmp / 'model.py'}:predict', input: {{format: gray, width: 288, height: 224}}}}"
        model_what = "a 20 ms model"
    (tmp / "bedside.yaml").write_text(
        "source: {kind: phantom, width: 1920, height: 1080, fps: 30}\n"
        "privacy: {masks: [{x: 0, y: 0, width: 1920, height: 40}]}\n"
        f"models:\n  - {model}\n"
        f"recording: {{directory: {tmp / 'rec'}}}\n"
        "web: {display_width: 1280}\n"
    )
    ready = tmp / "ready.json"
    env = dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"), BEDSIDE_STATE_DIR=str(tmp / "state"))
    python_arg = [] if args.model == "torch" else ["--python", args.python]  # the torch model names its own
    proc = subprocess.Popen([args.bin, "run", "--config", str(tmp / "bedside.yaml"), *python_arg,
                             "--port", "0", "--ready-file", str(ready)], stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "bedside.log", "w"), env=env)
    try:
        while not ready.exists():
            if proc.poll() is not None:
                raise SystemExit(f"bedside exited: {(tmp / 'bedside.log').read_text()[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.2)
        info = json.loads(ready.read_text())

        def status() -> dict:
            import urllib.request
            with urllib.request.urlopen(f"http://127.0.0.1:{info['port']}/api/status?token={info['token']}", timeout=5) as r:
                return json.load(r)

        while status()["models"][0]["state"] != "running":
            if status()["models"][0].get("restarts", 0) > 2:
                raise SystemExit(f"the model does not start: {status()['models'][0].get('last_error')}")
            if proc.poll() is not None:
                raise SystemExit(f"bedside exited: {(tmp / 'bedside.log').read_text()[-2000:]}")
            time.sleep(0.2)
        stop = threading.Event()
        counts = [Received() for _ in range(args.viewers)]
        ws_url = f"ws://127.0.0.1:{info['port']}/ws?token={info['token']}" + ("&video=h264" if args.video == "h264" else "")
        threads = [threading.Thread(target=read_frames, args=(ws_url, stop, c), daemon=True) for c in counts]
        for t in threads:
            t.start()
        time.sleep(2)
        s0 = status()
        worker = s0["models"][0]["pid"]
        t0 = time.monotonic()
        ticks0, wticks0, counts0 = thread_ticks(proc.pid), proc_ticks(worker), [c.copy() for c in counts]
        rss, fds = [], []
        while time.monotonic() - t0 < args.seconds:
            time.sleep(1)
            rss.append(rss_mb(proc.pid))
            fds.append(len(os.listdir(f"/proc/{proc.pid}/fd")))
        elapsed = time.monotonic() - t0
        ticks1, wticks1, s1 = thread_ticks(proc.pid), proc_ticks(worker), status()
        viewer_fps = [(c1.frames - c0.frames) / elapsed for c0, c1 in zip(counts0, counts)]
        stop.set()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    session = next((tmp / "rec").glob("*/session.json"))
    sess = json.loads(session.read_text())
    gaps = capture_gaps(session.parent)
    captured = s1["source"]["frames_captured"]
    cpu = {k: (ticks1.get(k, 0) - ticks0.get(k, 0)) / TICK / elapsed * 100 for k in ticks1}
    total = sum(cpu.values())
    minute = max(1, min(60, len(rss) // 5))
    growth = (sum(rss[-minute:]) / minute) / (sum(rss[:minute]) / minute) * 100 - 100 if rss else 0
    # After the first 10 minutes (caches, pools and the encoder's buffers have filled): the soak's measure.
    settled = rss[600:660] if len(rss) >= 1200 else []
    growth_settled = (sum(rss[-60:]) / 60) / (sum(settled) / len(settled)) * 100 - 100 if settled else None
    if args.series:
        Path(args.series).write_text(json.dumps({"interval_s": 1, "rss_mb": rss, "fds": fds, "video": args.video}))
    lines = [
        "## Load on this machine (`scripts/bench_load.py`)", "",
        f"1080p30 phantom, H.264 recording, {model_what} (grey 288x224 input), {args.viewers} viewers reading every "
        f"frame ({'JPEG at 1280 px' if args.video == 'jpeg' else 'the shared H.264 stream'}), for {elapsed:.0f} s. "
        "CPU is % of one core.", "",
        "| component | CPU % |", "|---|---|",
        *[f"| {k} | {v:.1f} |" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 0.05],
        f"| **Bedside total** | **{total:.1f}** |",
        f"| model process ({model_what}) | {(wticks1 - wticks0) / TICK / elapsed * 100:.1f} |", "",
        "| measure | value | target |", "|---|---|---|",
        f"| capture rate | {(captured - s0['source']['frames_captured']) / elapsed:.2f} fps | 30 |",
        f"| frames captured (last status) / recorded (whole run) | {captured} / {sess['frames_written']} | recorded >= captured |",
        f"| recording drops | {sess['frames_dropped']} | 0 |",
        f"| capture gaps in the recording: largest, over 100 ms, over 50 ms | {gaps['max_ms']:.0f} ms, {gaps['over_100']}, "
        f"{gaps['over_50']} (of {gaps['frames']} frames) | none over 100 ms |",
        f"| model time per frame (median) | {s1['models'][0].get('model_ms') or 0:.0f} ms | |",
        f"| viewer frame rates | {', '.join(f'{v:.1f}' for v in viewer_fps)} fps | 30 |",
        f"| model answers refused (errors) | {s1['models'][0].get('errors', 0)} | 0 |",
        f"| model predictions/s | {s1['models'][0]['rate_hz']:.2f} | "
        f"{'30: every captured frame (a 20 ms model keeps up)' if args.model == 'sleep' else 'as fast as the model can'} |",
        f"| RSS first -> last minute, max | {rss[0]:.0f} -> {rss[-1]:.0f} MB, max {max(rss):.0f} MB ({growth:+.1f} %) | < 5 % growth |",
        f"| open descriptors first -> last | {fds[0]} -> {fds[-1]} | flat |",
    ]
    if growth_settled is not None:
        lines.append(f"| RSS minute 10 -> last minute | {sum(settled) / len(settled):.0f} -> {sum(rss[-60:]) / 60:.0f} MB "
                     f"({growth_settled:+.1f} %) | < 5 % growth |")
    # Over time: ten points across the run (each the mean of the minute ending there, or of what there is).
    if len(rss) >= 20:
        lines += ["", "RSS and open descriptors over the run:", "",
                  "| at | RSS (MB, mean of the minute before) | descriptors |", "|---|---|---|"]
        for k in range(1, 11):
            end = round(len(rss) * k / 10)
            window = rss[max(0, end - 60):end]
            lines.append(f"| {end / 60:.1f} min | {sum(window) / len(window):.1f} | {fds[end - 1]} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
