#!/usr/bin/env python3
"""Tablets over an emulated Wi-Fi link: JPEG against H.264 in the same run.

A network namespace joined to this one by a veth pair with a `tc tbf` rate limit on the host side stands for the
clinic's Wi-Fi (these machines' kernel has `tbf` and `htb`, not `netem`: a rate, no added delay or loss). Bedside
runs here, bound to the veth's address; the tablets are Chromium pages (Playwright, Debian's Chromium) inside the
namespace. With --slow-tablet RATE one more tablet sits in a second namespace behind its own, slower link.

For each codec it reports per tablet: painted frames/s, Mbit/s received, capture -> drawn p50/p99 (Bedside's own
clock, from the pages' `drawn` reports), time to the first picture; the link's total Mbit/s (tc's byte counter)
and Bedside's CPU. Needs root (ip netns, tc). Everything it makes it removes, and traffic stays in what it made.

    sudo .venv/bin/python scripts/bench_wifi.py                       # 1080p30, 4 tablets, 100 Mbit/s, 20 s each
    sudo .venv/bin/python scripts/bench_wifi.py --tablets 2 --seconds 10 --slow-tablet 2mbit

The tablets reach Bedside as in a clinic: HTTPS at the LAN address, with Bedside's own CA installed in their
Chromium's certificate store (certutil, as the pairing page says for Linux), so the TLS cost is in the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from bench_screen import TICK, cpu_model, proc_ticks  # noqa: E402

HOST_IP, TABLET_IP, SLOW_HOST_IP, SLOW_IP = "10.77.0.1", "10.77.0.2", "10.78.0.1", "10.78.0.2"
PAGE_STATE = """() => { const S = window.__bedside && window.__bedside.state; if (!S) return null;
  return { frames: S.frame.count, bytes: S.bytesIn, video: S.video, first: S.firstPaintMs }; }"""


def sh(*cmd: str, check: bool = True) -> str:
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


class Link:
    """A namespace behind a veth pair, rate-limited (host -> tablets) with tbf."""

    def __init__(self, tag: str, host_ip: str, ns_ip: str, rate: str) -> None:
        self.ns, self.host_dev, self.ns_dev = f"bedside-{tag}", f"bh-{tag}", f"bt-{tag}"
        self.remove()
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_dev, "type", "veth", "peer", "name", self.ns_dev)
        sh("ip", "link", "set", self.ns_dev, "netns", self.ns)
        sh("ip", "addr", "add", f"{host_ip}/24", "dev", self.host_dev)
        sh("ip", "link", "set", self.host_dev, "up")
        sh("ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{ns_ip}/24", "dev", self.ns_dev)
        sh("ip", "netns", "exec", self.ns, "ip", "link", "set", self.ns_dev, "up")
        sh("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")
        sh("tc", "qdisc", "add", "dev", self.host_dev, "root", "tbf", "rate", rate, "burst", "64kb", "latency", "100ms")

    def sent_bytes(self) -> int:
        out = sh("tc", "-s", "qdisc", "show", "dev", self.host_dev)
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Sent "):
                return int(line.split()[1])
        return 0

    def remove(self) -> None:
        sh("ip", "link", "del", getattr(self, "host_dev", ""), check=False)
        sh("ip", "netns", "del", getattr(self, "ns", ""), check=False)


def start_bedside(args, tmp: Path) -> tuple[subprocess.Popen, int, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "bedside.yaml").write_text(
        f"source: {{kind: phantom, width: {args.width}, height: {args.height}, fps: {args.fps}}}\n"
        f"models:\n  - {{name: pcbm-demo, entry: '{REPO}/researcher-template/pcbm_demo/inference.py:predict', "
        f"setup: '{REPO}/researcher-template/pcbm_demo/inference.py:load_model', input: {{format: gray, width: 288, height: 224}}}}\n"
        f"recording: {{enabled: {'true' if args.record else 'false'}, directory: '{tmp / 'rec'}'}}\n"
        f"web: {{bind: 0.0.0.0, video: {{codec: {args.codec_setting}, max_kbps: {args.max_kbps}}}}}\n")
    ready = tmp / "ready.json"
    env = dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"), BEDSIDE_STATE_DIR=str(tmp / "state"))
    proc = subprocess.Popen([args.bin, "run", "--config", str(tmp / "bedside.yaml"), "--python", args.python,
                             "--port", "0", "--ready-file", str(ready), "--allow-unmasked"],
                            stdout=subprocess.DEVNULL, stderr=(tmp / "bedside.log").open("w"), env=env)
    deadline = time.monotonic() + 90
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bedside did not start: {(tmp / 'bedside.log').read_text()[-2000:]}")
        time.sleep(0.1)
    time.sleep(0.3)
    info = json.loads(ready.read_text())
    return proc, info["port"], info["token"]


def status(port: int, token: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5) as r:
        return json.load(r)


def light_inside(args) -> None:
    """Runs in a namespace: light tablets (a WebSocket each that reads every frame and decodes nothing), for what
    the server and the link deliver without the tablets' own CPU (4 Chromiums decoding 1080p do not fit 2 cores)."""
    import ssl
    import threading

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from light_tablet import Received, read_frames

    host = args.url.split("/?")[0].replace("https://", "wss://")
    token = args.url.split("token=")[1]
    url = f"{host}/ws?token={token}" + ("" if args.jpeg else "&video=h264")
    ctx = ssl.create_default_context(cafile=args.cafile)
    counts = [Received() for _ in range(args.n)]
    stop = threading.Event()
    threads = [threading.Thread(target=read_frames, args=(url, stop, c, ctx), daemon=True) for c in counts]
    for t in threads:
        t.start()
    while any(c.frames < 5 for c in counts):
        time.sleep(0.1)
    print("ready", flush=True)
    sys.stdin.readline()
    a = [c.copy() for c in counts]
    t0 = time.monotonic()
    sys.stdin.readline()
    b = [c.copy() for c in counts]
    dt = time.monotonic() - t0
    stop.set()
    print(json.dumps([{"fps": (y.frames - x.frames) / dt, "mbit": (y.bytes - x.bytes) * 8 / dt / 1e6,
                       "video": "jpeg" if args.jpeg else "h264", "first_ms": y.first_ms} for x, y in zip(a, b)]), flush=True)


def tablets_inside(args) -> None:
    """Runs in a namespace: opens the pages, waits for 'go' on stdin, samples, prints JSON."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"],
                                    env=dict(os.environ, HOME=args.home))
        pages = []
        for _ in range(args.n):
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            # What the page says about itself (a decoder that fails, a fallback to JPEG) goes to the bench's stderr.
            page.on("console", lambda m: m.type in ("warning", "error") and print(f"tablet console: {m.text}", file=sys.stderr))
            page.goto(args.url + ("&video=jpeg" if args.jpeg else ""))
            pages.append(page)
        for page in pages:
            page.wait_for_function(f"() => ({PAGE_STATE})() && ({PAGE_STATE})().frames > 5", timeout=60_000)
        print("ready", flush=True)
        sys.stdin.readline()
        a = [pg.evaluate(PAGE_STATE) for pg in pages]
        t0 = time.monotonic()
        sys.stdin.readline()
        b = [pg.evaluate(PAGE_STATE) for pg in pages]
        dt = time.monotonic() - t0
        print(json.dumps([{"fps": (y["frames"] - x["frames"]) / dt, "mbit": (y["bytes"] - x["bytes"]) * 8 / dt / 1e6,
                           "video": y["video"], "first_ms": y["first"]} for x, y in zip(a, b)]), flush=True)
        browser.close()


def run_codec(args, links: list[tuple[Link, str, int]], port: int, token: str, jpeg: bool, bedside_pid: int) -> dict:
    helpers = []
    for link, ip, n in links:
        url = f"https://{ip}:{port}/?token={token}"
        helpers.append(subprocess.Popen(
            ["ip", "netns", "exec", link.ns, args.python_playwright, __file__, "--inside", "--url", url, "--n", str(n),
             "--home", args.home, "--cafile", args.cafile]
            + (["--jpeg"] if jpeg else []) + (["--light"] if args.light else []), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for h in helpers:
        assert h.stdout.readline().strip() == "ready", "the tablets did not start"
    time.sleep(args.warmup)
    s0, c0, l0 = status(port, token), proc_ticks(bedside_pid), [lk.sent_bytes() for lk, _, _ in links]
    t0 = time.monotonic()
    for h in helpers:
        h.stdin.write("go\n")
        h.stdin.flush()
    time.sleep(args.seconds)
    for h in helpers:
        h.stdin.write("stop\n")
        h.stdin.flush()
    dt = time.monotonic() - t0
    s1, c1, l1 = status(port, token), proc_ticks(bedside_pid), [lk.sent_bytes() for lk, _, _ in links]
    tablets = []
    for h, (link, _, _) in zip(helpers, links):
        for t in json.loads(h.stdout.readline()):
            t["link"] = link.ns
            tablets.append(t)
        h.wait(timeout=60)
    lat = s1["viewers_latency"]
    return {"codec": "jpeg" if jpeg else "h264", "tablets": tablets,
            "link_mbit": [(b - a) * 8 / dt / 1e6 for a, b in zip(l0, l1)],
            "bedside_cpu": (c1 - c0) / TICK / dt * 100,
            "source_fps": (s1["source"]["frames_captured"] - s0["source"]["frames_captured"]) / dt,
            "drawn": lat["capture_to_drawn_ms"], "per_viewer": lat["per_viewer"], "stream": s1.get("stream"),
            "stages": lat.get("stages_ms")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--home", default="", help=argparse.SUPPRESS)
    ap.add_argument("--cafile", default="", help=argparse.SUPPRESS)
    ap.add_argument("--light", action="store_true",
                    help="light tablets (a WebSocket reading every frame, no decoding) instead of Chromium pages")
    ap.add_argument("--jpeg", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tablets", type=int, default=4)
    ap.add_argument("--rate", default="100mbit", help="the link's rate (tc tbf syntax)")
    ap.add_argument("--slow-tablet", default="", help="one more tablet behind its own link of this rate, e.g. 2mbit")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--max-kbps", type=int, default=6000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--record", action="store_true", help="record beside it (off by default)")
    ap.add_argument("--bin", default=str(REPO / ".build/release/bedside"))
    ap.add_argument("--python", default=str(REPO / ".venv/bin/python"), help="the model's Python")
    ap.add_argument("--python-playwright", default=str(REPO / ".venv/bin/python"))
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()
    if args.inside:
        light_inside(args) if args.light else tablets_inside(args)
        return
    args.codec_setting = "auto"
    links = [(Link("wifi", HOST_IP, TABLET_IP, args.rate), HOST_IP, args.tablets)]
    try:
        if args.slow_tablet:
            links.append((Link("slow", SLOW_HOST_IP, SLOW_IP, args.slow_tablet), SLOW_HOST_IP, 1))
        tmp = Path("/tmp") / f"bench-wifi-{os.getpid()}"
        proc, port, token = start_bedside(args, tmp)
        try:
            # The tablets' certificate store, with Bedside's CA in it (what a clinic's tablets have once paired).
            home = tmp / "tablet-home"
            (home / ".pki/nssdb").mkdir(parents=True, exist_ok=True)
            db = f"sql:{home}/.pki/nssdb"
            sh("certutil", "-d", db, "-N", "--empty-password")
            sh("certutil", "-d", db, "-A", "-t", "C,,", "-n", "Bedside local CA", "-i", str(tmp / "state/tls/bedside-ca.pem"))
            args.home, args.cafile = str(home), str(tmp / "state/tls/bedside-ca.pem")
            results = [run_codec(args, links, port, token, jpeg, proc.pid) for jpeg in (True, False)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    finally:
        for link, _, _ in links:
            link.remove()
    print(f"\n{args.width}x{args.height}@{args.fps}, {args.tablets} {'light ' if args.light else ''}tablets on {args.rate}"
          f"{f' + 1 on {args.slow_tablet}' if args.slow_tablet else ''}, {args.seconds:.0f} s each, {cpu_model()}, "
          f"{os.cpu_count()} CPUs\n")
    print("| codec | tablet | link | painted fps | Mbit/s | first picture ms |")
    print("|---|---|---|---|---|---|")
    for r in results:
        for i, t in enumerate(r["tablets"]):
            first = f"{t['first_ms']:.0f}" if t["first_ms"] is not None else "-"
            print(f"| {r['codec']} ({t['video']}) | {i + 1} | {t['link']} | {t['fps']:.1f} | {t['mbit']:.2f} | {first} |")
    print("\n| codec | link Mbit/s | capture->drawn p50 / p99 ms | Bedside CPU % | source fps | H.264 encode ms |")
    print("|---|---|---|---|---|---|")
    for r in results:
        d, st = r["drawn"], r["stream"] or {}
        print(f"| {r['codec']} | {' + '.join(f'{x:.1f}' for x in r['link_mbit'])} | {d['p50']} / {d['p99']} | "
              f"{r['bedside_cpu']:.0f} | {r['source_fps']:.1f} | {st.get('h264_encode_ms_mean')} |")
    # Where capture -> drawn goes (Chromium tablets only: light tablets draw nothing), frame by frame: Bedside until
    # the frame is handed to the sockets, the network (TLS, the link, the page's WebSocket), the decoder, the paint.
    print("\n| codec | Bedside | network | decode | paint | frames | (each p50 / p99 ms, per frame) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        st = r["stages"] or {}
        if not st or not st["paint"]["n"]:
            continue
        cells = [f"{st[k]['p50']} / {st[k]['p99']}" for k in ("bedside", "network", "decode", "paint")]
        print(f"| {r['codec']} | {' | '.join(cells)} | {st['paint']['n']} | |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
