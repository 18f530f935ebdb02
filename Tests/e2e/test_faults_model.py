"""Model faults (issue 9), each a row of the reliability table with what Bedside did, what was lost and how long
recovery took:

- the misbehaviour zoo (Tests/e2e/zoo, as test_zoo.py runs it: all at once, beside capture and recording), one row
  per model;
- the model's interpreter missing, the bridge's packages missing in it, the research function with the wrong
  signature, and fake workers (pyzmq, speaking the bridge protocol) that answer for the wrong frame, die during the
  handshake (before hello, after hello) or say hello with a newer protocol version: all in one Bedside;
- a remote worker (TCP + CURVE) killed while a slow model predicts, started again a second later.

Recovery times come from polling /api/status (every 0.1-0.25 s: that is their resolution).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

from test_faults_process import exit_code_after_sigterm, missing_frames
from test_faults_process import record_row as record
from test_recording import ffprobe_frames
from test_remote import bedside_with_remote, make_keys, start_worker

from conftest import REPO, start_bedside, wait_for

ZOO = REPO / "Tests/e2e/zoo"
LONG = os.environ.get("BEDSIDE_LONG") == "1"


def by_name(b) -> dict[str, dict]:
    return {m["name"]: m for m in b.status()["models"]}


def session_check(b, fps: float, captured: int) -> tuple[dict, int, int, int]:
    """After Bedside stopped: session.json, decodable frames, frames missing in the video's timeline (capture
    losses) and recorded frames lost (captured at the last status but neither written nor decodable)."""
    session = sorted(p for p in b.recordings.iterdir() if (p / "session.json").exists())[-1]
    info = json.loads((session / "session.json").read_text())
    times = ffprobe_frames(session / "video-000.mp4")
    gaps, _ = missing_frames(times, fps)
    lost_recording = max(0, captured - info["frames_written"]) + (info["frames_written"] - len(times)) + info["frames_dropped"]
    return info, len(times), gaps, lost_recording


# --- the zoo -----------------------------------------------------------------------------------------------------

ZOO_MODELS = {  # as test_zoo.py: name -> (file, what the research code does)
    "import-error": ("import_error.py", "model's packages missing: ImportError at import"),
    "error-at-frame": ("error_at_frame.py", "raises on every 3rd frame"),
    "sys-exit": ("sys_exit.py", "calls sys.exit() in predict"),
    "segfault": ("segfault.py", "segfaults (C extension) on its 2nd frame"),
    "infinite-loop": ("infinite_loop.py", "infinite loop in predict (timeout_s 2)"),
    "not-json": ("not_json.py", "returns an object JSON cannot hold"),
    "huge-result": ("huge_result.py", "returns 50 MB per frame"),
    "chatty": ("chatty.py", "prints 2000 lines per frame"),
    "forks-child": ("forks_child.py", "forks a child process that would outlive it"),
    "sleeps-too-long": ("sleeps_too_long.py", "blocks for an hour in predict (timeout_s 2)"),
    "slow-leak": ("slow_leak.py", "leaks 4 MB per frame (max_memory_mb 150)"),
}


def test_misbehaviour_zoo_rows(tmp_path):
    fps = 15
    pid_file = tmp_path / "child.pid"
    lines = [f"source: {{kind: phantom, width: 320, height: 240, fps: {fps}}}", "models:"]
    for name, (file, _) in ZOO_MODELS.items():
        timeout = 2 if name in ("infinite-loop", "sleeps-too-long") else 15
        lines += [f"  - name: {name}", f"    entry: {ZOO / file}:predict",
                  "    input: {format: gray, width: 32, height: 24}", f"    timeout_s: {timeout}",
                  f"    env: {{ZOO_CHILD_PID_FILE: {pid_file}}}"]
        if name == "slow-leak":
            lines.append("    max_memory_mb: 150")
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    t0 = time.monotonic()
    # Per model: when a restart was first seen, and when it was running again after it.
    first_restart: dict[str, float] = {}
    preds_at_restart: dict[str, int] = {}
    back: dict[str, float] = {}
    seen_states: dict[str, set] = {n: set() for n in ZOO_MODELS}
    restarting = ("segfault", "infinite-loop", "sleeps-too-long", "slow-leak")
    try:
        deadline = t0 + (150 if LONG else 75)
        while time.monotonic() < deadline:
            now = time.monotonic()
            m = by_name(b)
            for n, x in m.items():
                seen_states[n].add(x["state"])
                if x["restarts"] >= 1 and n not in first_restart:
                    first_restart[n] = now
                    preds_at_restart[n] = x["predictions"]
                # Back: the restarted worker is ready (running) or has answered (a worker that dies on its 2nd frame
                # may be running for less than one poll).
                if n in first_restart and n not in back and now > first_restart[n] and (
                        x["state"] == "running" or x["predictions"] > preds_at_restart[n]):
                    back[n] = now
            shown = (m["error-at-frame"]["errors"] >= 1 and m["not-json"]["errors"] >= 1
                     and m["huge-result"]["errors"] >= 1 and m["sys-exit"]["errors"] >= 1
                     and m["chatty"]["predictions"] >= 2 and pid_file.exists() and m["import-error"]["restarts"] >= 2)
            if shown and all(n in back for n in restarting) and now - t0 > (60 if LONG else 0):
                break
            time.sleep(0.25)
        observed_s = time.monotonic() - t0
        s = b.status()
        m = {x["name"]: x for x in s["models"]}
        captured = s["source"]["frames_captured"]
        child = int(pid_file.read_text()) if pid_file.exists() else None
    finally:
        code = exit_code_after_sigterm(b)
    child_left = child is not None and os.path.exists(f"/proc/{child}") and \
        open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    info, decodable, capture_gaps, lost_recording = session_check(b, fps, captured)
    print(f"\nobserved {observed_s:.1f} s; captured {captured}, written {info['frames_written']}, decodable {decodable}, "
          f"capture gaps {capture_gaps}, recording lost {lost_recording}; exit {code}")
    for n, (_, what) in ZOO_MODELS.items():
        x = m[n]
        lost = x["frames_sent"] - x["predictions"]
        rec = (back[n] - first_restart[n]) if n in back and n in first_restart else None
        if n in first_restart and n not in back:
            recovered = f"not running again within the {observed_s:.0f} s observed"
        elif rec is not None:
            recovered = f"running again {rec:.1f} s after the restart was seen"
        else:
            recovered = "worker kept (no restart)"
        did = (f"state `{x['state']}` (seen: {', '.join(sorted(seen_states[n]))}), {x['restarts']} restarts, "
               f"{x['errors']} errors, {x['predictions']} predictions in {observed_s:.0f} s; {recovered}; "
               f"last_error: {(x.get('last_error') or '-').replace(str(tmp_path), '<tmp>').replace(str(ZOO), '<zoo>')[:110]!r}")
        if n == "forks-child":
            did += f"; the forked child {'outlived' if child_left else 'died with'} Bedside's shutdown"
        print(f"{n}: {did}")
        record("model", f"zoo: {what}", did,
               f"{lost} of {x['frames_sent']} frames handed to it got no prediction; capture {capture_gaps} frames, "
               f"recording {lost_recording} frames (all {len(ZOO_MODELS)} zoo models at once)",
               recovery_s=rec, crashes=0 if code == 0 else 1)
    assert code == 0
    assert info["frames_dropped"] == 0 and lost_recording == 0, (info, decodable, captured)
    # Capture is the phantom, rendered inside Bedside: on a 2-core CI box, 11 interpreters importing numpy at once
    # can starve its thread for a tick or two at start-up (measured: 0-2 frames). The row records the count.
    assert capture_gaps <= 0.02 * captured, f"{capture_gaps} frames missing in the recording's timeline"
    assert not child_left
    assert all(n in back for n in restarting), f"not back: {set(restarting) - set(back)}"


# --- config, signature and protocol faults, with fake workers ----------------------------------------------------

FAKE_WORKER = r'''
"""A fake bridge worker: speaks protocol 1 on the endpoint Bedside passes, misbehaves as FAKE_MODE says.

Bedside starts it as `python fake_worker.py -u -m bridge --endpoint ... --entry ...` (the model's `command:`).
The first incarnation misbehaves (and writes the time to FAKE_MARKER); later ones are correct workers, except in
mode newer-protocol, which always says protocol 2 (as a newer bridge would)."""
import json, os, sys, time
import zmq

os.setpgrp()
parent = os.getppid()


def orphaned():  # never outlive Bedside, even if it is killed
    return os.getppid() != parent


argv = sys.argv[1:]
endpoint = argv[argv.index("--endpoint") + 1]
mode, marker = os.environ["FAKE_MODE"], os.environ["FAKE_MARKER"]
first = not os.path.exists(marker)


def mark():
    with open(marker, "a") as f:
        f.write(f"{time.time()} {os.getpid()}\n")


ctx = zmq.Context()
sock = ctx.socket(zmq.DEALER)
sock.setsockopt(zmq.LINGER, 1000)
sock.connect(endpoint)


def send(**m):
    sock.send(json.dumps(m).encode())


if first and mode == "exit-before-hello":
    time.sleep(0.3)
    mark()
    os._exit(1)
hello = {"type": "hello", "protocol": 1, "pid": os.getpid(), "name": "fake", "python": "3", "bridge": "fake"}
if mode == "newer-protocol":
    hello["protocol"] = 2
send(**hello)
if mode == "newer-protocol":
    if first:
        mark()
    for _ in range(600):
        if orphaned():
            break
        time.sleep(0.1)
    os._exit(0)
if first and mode == "exit-after-hello":
    time.sleep(0.3)
    mark()
    os._exit(1)
send(type="ready", setup_ms=1.0)
answered = []
while True:
    if orphaned():
        break
    if not sock.poll(1000):
        send(type="heartbeat", time_ns=time.monotonic_ns())
        continue
    m = json.loads(sock.recv_multipart()[0])
    if m["type"] == "shutdown":
        break
    seq = m["seq"]
    if first and mode == "wrong-seq" and answered:
        # Answers frame `seq` under the number of the frame before it (an off-by-one in a queue, say).
        mark()
        send(type="result", seq=answered[-1], model_ms=1.0, recv_to_send_ms=1.0,
             result={"plane": {"name": "none", "status": "unknown"}, "extra": {"wrong": True, "for_seq": seq}})
        continue
    answered.append(seq)
    send(type="result", seq=seq, model_ms=1.0, recv_to_send_ms=1.0,
         result={"plane": {"name": "none", "status": "unknown"}, "extra": {"for_seq": seq}})
'''

NO_ARGS = "def predict():\n    return {}\n"
THREE_ARGS = "def predict(image, spacing, depth):\n    return {}\n"


def test_config_signature_and_protocol_faults(tmp_path):
    fps = 15
    fake = tmp_path / "fake_worker.py"
    fake.write_text(FAKE_WORKER)
    (tmp_path / "no_args.py").write_text(NO_ARGS)
    (tmp_path / "three_args.py").write_text(THREE_ARGS)
    # An interpreter without the bridge's packages: the venv's python with site-packages off (-S).
    bare = tmp_path / "python-without-packages"
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(0o755)
    inp = "input: {format: gray, width: 32, height: 24}"
    models = [
        f"  - {{name: no-interpreter, python: {tmp_path / 'venv-that-was-deleted/bin/python'}, entry: '{tmp_path / 'no_args.py'}:predict', {inp}}}",
        f"  - {{name: no-bridge-packages, python: {bare}, entry: '{REPO / 'Tests/e2e/models/slow_model.py'}:predict', {inp}}}",
        f"  - {{name: predict-no-args, python: {sys.executable}, entry: '{tmp_path / 'no_args.py'}:predict', {inp}}}",
        f"  - {{name: predict-three-args, python: {sys.executable}, entry: '{tmp_path / 'three_args.py'}:predict', {inp}}}",
    ]
    for mode in ("wrong-seq", "exit-before-hello", "exit-after-hello", "newer-protocol"):
        models.append(f"  - {{name: {mode}, entry: fake.py:predict, command: ['{sys.executable}', '{fake}'], {inp},"
                      f" env: {{FAKE_MODE: {mode}, FAKE_MARKER: '{tmp_path / (mode + '.marker')}'}}}}")
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(f"source: {{kind: phantom, width: 320, height: 240, fps: {fps}}}\nmodels:\n" + "\n".join(models) + "\n")
    # No --python here: it would override each model's `python:` and drop its `command:`.
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    t0 = time.monotonic()
    transient = ("wrong-seq", "exit-before-hello", "exit-after-hello")
    back: dict[str, float] = {}  # wall time when the fake was answering again after its one fault
    seen: dict[str, set] = {}
    try:
        while time.monotonic() - t0 < (90 if LONG else 30):
            m = by_name(b)
            for n, x in m.items():
                seen.setdefault(n, set()).add(x["state"])
                if n in transient and n not in back and x["restarts"] >= 1 and x["state"] == "running" \
                        and x["predictions"] >= (2 if n == "wrong-seq" else 1):
                    back[n] = time.time()
            # At least 9 s: long enough for the permanent faults' backoff to reach `failing` (5 failures); the long
            # run watches a minute of slow retries.
            if (time.monotonic() - t0 > (60 if LONG else 9) and all(n in back for n in transient) and m["no-interpreter"]["restarts"] >= 2
                    and m["no-bridge-packages"]["restarts"] >= 2 and m["newer-protocol"]["restarts"] >= 1
                    and m["predict-no-args"]["restarts"] >= 2 and m["predict-three-args"]["restarts"] >= 2):
                break
            time.sleep(0.1)
        observed_s = time.monotonic() - t0
        s = b.status()
        m = {x["name"]: x for x in s["models"]}
        captured = s["source"]["frames_captured"]
    finally:
        code = exit_code_after_sigterm(b)
    info, decodable, capture_gaps, lost_recording = session_check(b, fps, captured)
    session = sorted(p for p in b.recordings.iterdir() if (p / "session.json").exists())[-1]
    preds = [json.loads(line) for line in (session / "predictions.jsonl").read_text().splitlines()]
    faults_at = {n: float((tmp_path / f"{n}.marker").read_text().split()[0])
                 for n in transient + ("newer-protocol",) if (tmp_path / f"{n}.marker").exists()}
    log = b.output()
    for n, x in m.items():
        print(f"{n}: state={x['state']} seen={sorted(seen[n])} restarts={x['restarts']} errors={x['errors']} "
              f"predictions={x['predictions']} sent={x['frames_sent']} last_error={x.get('last_error')!r}")
    shared_loss = f"capture {capture_gaps} frames, recording {lost_recording} frames (8 faulty models at once)"

    def row(name: str, fault: str, did: str, lost: str, recovery: float | None) -> None:
        x = m[name]
        last_error = (x.get("last_error") or "-").replace(str(tmp_path), "<tmp>")
        record("model", fault, f"{did}; state `{x['state']}` (seen: {', '.join(sorted(seen[name]))}), {x['restarts']} "
                               f"restarts in {observed_s:.0f} s; last_error: {last_error[:200]!r}",
               f"{lost}; {shared_loss}", recovery_s=recovery, crashes=0 if code == 0 else 1)

    row("no-interpreter", "the model's interpreter path does not exist (`python:` of a deleted venv)",
        "no process started; retried with backoff", f"{m['no-interpreter']['frames_sent']} frames sent (none can be)", None)
    row("no-bridge-packages", "the model's interpreter lacks the bridge's packages (pyzmq, numpy)",
        "worker exits at once; retried with backoff; stderr tail kept in status",
        f"{m['no-bridge-packages']['frames_sent']} frames sent", None)
    for name in ("predict-no-args", "predict-three-args"):
        assert m[name]["frames_sent"] == 0 and "signature failed" in (m[name].get("last_error") or ""), m[name]
        assert "Fix:" in m[name]["last_error"], m[name]
    row("predict-no-args", "research function with the wrong signature: predict() takes no arguments",
        "refused at start-up (fatal, stage `signature`, naming the signature Bedside calls and the fix), before any "
        "frame; retried with backoff",
        f"{m['predict-no-args']['frames_sent']} frames sent (none can be answered)", None)
    row("predict-three-args", "research function with the wrong signature: predict(image, spacing, depth), 3 required",
        "refused at start-up (fatal, stage `signature`, naming the missing argument and the fix), before any frame; "
        "retried with backoff",
        f"{m['predict-three-args']['frames_sent']} frames sent (none can be answered)", None)
    wrong = [p for p in preds if p["model"] == "wrong-seq"]
    attached_wrong = [p for p in wrong if p["result"].get("extra", {}).get("wrong")
                      or p["result"].get("extra", {}).get("for_seq") != p["seq"]]
    dup = len(wrong) - len({p["seq"] for p in wrong})
    row("wrong-seq", "worker answers a frame under the previous frame's sequence number (fake worker)",
        f"refused the answer and restarted the worker; {len(attached_wrong)} answers attached to a frame they were not "
        f"for in predictions.jsonl (what the page is sent too), {dup} duplicate seqs; the restarted worker answered "
        "correctly",
        f"{m['wrong-seq']['frames_sent'] - m['wrong-seq']['predictions']} of {m['wrong-seq']['frames_sent']} frames "
        "sent got no prediction (the one answered wrongly)",
        back["wrong-seq"] - faults_at["wrong-seq"] if "wrong-seq" in back else None)
    row("exit-before-hello", "worker dies during the handshake: connects, exits before hello (fake worker)",
        "restarted it; the restarted worker served",
        f"{m['exit-before-hello']['frames_sent'] - m['exit-before-hello']['predictions']} frames",
        back["exit-before-hello"] - faults_at["exit-before-hello"] if "exit-before-hello" in back else None)
    row("exit-after-hello", "worker dies during the handshake: after hello, before ready (fake worker)",
        "restarted it; the restarted worker served",
        f"{m['exit-after-hello']['frames_sent'] - m['exit-after-hello']['predictions']} frames",
        back["exit-after-hello"] - faults_at["exit-after-hello"] if "exit-after-hello" in back else None)
    row("newer-protocol", "worker says hello with a newer protocol version (2; fake worker)",
        "refused it before any frame, killed and retried it with backoff (it never can work: the fix is to install "
        "the matching bridge)", f"{m['newer-protocol']['frames_sent']} frames sent", None)

    assert code == 0 and lost_recording == 0 and capture_gaps == 0, (code, lost_recording, capture_gaps)
    assert "does not exist" in m["no-interpreter"]["last_error"] and "python:" in m["no-interpreter"]["last_error"]
    assert m["no-interpreter"]["frames_sent"] == 0 and m["newer-protocol"]["frames_sent"] == 0
    assert "pyzmq" in m["no-bridge-packages"]["last_error"]
    assert "TypeError" in m["predict-no-args"]["last_error"] and "TypeError" in m["predict-three-args"]["last_error"]
    assert not attached_wrong and dup == 0, attached_wrong
    assert "which it was not given" in log
    assert "protocol 2" in m["newer-protocol"]["last_error"]
    assert all(n in back for n in transient), f"not recovered: {set(transient) - set(back)}"


def test_remote_worker_killed_mid_frame_and_started_again(tmp_path):
    keys = tmp_path / "keys"
    server_pub = make_keys(keys)
    b, port = bedside_with_remote(tmp_path, keys)
    log = tmp_path / "worker.log"
    worker = start_worker(port, server_pub, keys / "worker.key", log.open("w"))
    worker2 = None
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] >= 3, 30, what="the remote worker's answers")
        # Mid-frame: the slow model (300 ms) holds a frame (sent, not yet answered).
        m = wait_for(lambda: (lambda m: m if m["frames_sent"] > m["predictions"] + m["errors"] else None)(
            b.status()["models"][0]), 10, interval=0.02, what="a frame in flight")
        worker.send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        worker.wait(timeout=5)
        at_kill = m["predictions"]
        states = []
        noticed_s = None
        while time.monotonic() - t0 < 1.0:
            st = b.status()["models"][0]
            states.append(st["state"])
            if noticed_s is None and "disconnected" in (st.get("last_error") or ""):
                noticed_s = time.monotonic() - t0
            time.sleep(0.05)
        worker2 = start_worker(port, server_pub, keys / "worker.key", (tmp_path / "worker2.log").open("w"))
        m2 = wait_for(lambda: (lambda m: m if m["predictions"] > at_kill + 1 else None)(b.status()["models"][0]), 40,
                      interval=0.05, what="answers from the restarted worker")
        recovery_s = time.monotonic() - t0
        lost_frames = m2["frames_sent"] - m2["predictions"] - m2["errors"]
        not_back = None
        if LONG:  # the worker does not come back: how long until Bedside says so
            worker2.send_signal(signal.SIGKILL)
            worker2.wait(timeout=5)
            t1 = time.monotonic()
            wait_for(lambda: b.status()["models"][0]["state"] != "running", 40, what="Bedside to notice")
            not_back = time.monotonic() - t1
    finally:
        for w in (worker, worker2):
            if w is not None and w.poll() is None:
                w.terminate()
                w.wait(timeout=10)
        code = exit_code_after_sigterm(b)
    print(f"\nkilled mid-frame; states in the next second {sorted(set(states))}; answers again {recovery_s:.2f} s after "
          f"the kill (worker restarted after 1 s); {m2['restarts']} restarts; last_error {m2.get('last_error')!r}; "
          f"frames sent without an answer {lost_frames}; not-back detection {not_back}")
    record("model", "remote worker (TCP + CURVE) killed mid-frame (300 ms model), started again 1 s later",
           f"the disconnect was noticed {f'{noticed_s:.2f} s' if noticed_s is not None else 'NOT within 1 s'} after "
           f"the kill (ZeroMQ's disconnect event; the frame in "
           f"flight given up then, not at timeout_s), status showed `{'`/`'.join(sorted(set(states)))}` while it was "
           f"gone, last_error `{(m2.get('last_error') or '')[:80]}`; the restarted worker reconnected and said "
           f"hello/ready, and got the newest frame: answers again {recovery_s:.1f} s after the kill, "
           f"{m2['restarts']} restarts of the model's socket"
           + (f"; a worker that does not come back: state left `running` {not_back:.1f} s after the kill" if not_back else ""),
           f"{lost_frames} frame(s) sent without an answer, no predictions for "
           f"{recovery_s:.1f} s; capture and the page unaffected (recording off in this config)",
           recovery_s=recovery_s, crashes=0 if code == 0 else 1)
    assert code == 0
    assert noticed_s is not None and noticed_s < 1.0, f"the disconnect was not noticed within 1 s: {states}"
    assert lost_frames <= 2
