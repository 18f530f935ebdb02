"""A remote worker (e.g. a GPU box) joins over TCP with CURVE; a worker with an unknown key is refused."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from test_e2e import collect_predictions

from conftest import BIN, REPO, start_bedside, wait_for


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_worker(port: int, server_pub: str, key_file, log):
    env = dict(os.environ, PYTHONPATH=str(REPO / "bridge"))
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", "--endpoint", f"tcp://127.0.0.1:{port}", "--name", "gpu",
         "--entry", str(REPO / "Tests/e2e/models/slow_model.py") + ":predict",
         "--server-key" + ("=" + server_pub if isinstance(server_pub, str) else ""),
         *([] if isinstance(server_pub, str) else [str(server_pub)]), "--key-file", str(key_file)],
        env=env, stdout=log, stderr=subprocess.STDOUT)


def bedside_with_remote(tmp_path, keys, port=None, name="bedside"):
    port = port or free_port()
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 15}\n"
        "models:\n  - name: gpu\n    entry: slow_model.py:predict\n"
        f"    remote: {{bind: 'tcp://127.0.0.1:{port}', keys: {keys}}}\n"
        "    input: {format: gray, width: 64, height: 48}\n"
        "recording: {enabled: false}\n")
    return start_bedside(["run", "--config", str(cfg)], tmp_path, name=name), port


def make_keys(folder):
    subprocess.run([str(BIN), "keys", "--out", str(folder)], check=True, capture_output=True)
    return (folder / "server.pub").read_text().strip()


def test_authorized_remote_worker_gets_frames_over_curve(tmp_path):
    keys = tmp_path / "keys"
    make_keys(keys)
    b, port = bedside_with_remote(tmp_path, keys)
    # The server.pub path, as `bedside keys` suggests (the other tests pass the key itself, as --server-key=KEY).
    worker = start_worker(port, keys / "server.pub", keys / "worker.key", (tmp_path / "worker.log").open("w"))
    try:
        wait_for(lambda: b.status()["models"][0]["state"] == "running", 30, what="the remote worker to join")
        predictions, _ = collect_predictions(b.ws_url, 3, timeout=30)
        assert len(predictions) >= 3
        assert "mean" in predictions[-1]["result"]["extra"], "the worker saw the frame's pixels"
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        assert b.stop() == 0


def test_worker_with_an_unknown_key_is_refused(tmp_path):
    keys = tmp_path / "keys"
    server_pub = make_keys(keys)
    intruder_keys = tmp_path / "intruder"
    make_keys(intruder_keys)  # a valid key pair, but not in keys/authorized_workers
    b, port = bedside_with_remote(tmp_path, keys)
    worker = start_worker(port, server_pub, intruder_keys / "worker.key", (tmp_path / "intruder.log").open("w"))
    try:
        time.sleep(6)
        m = b.status()["models"][0]
        assert m["state"] != "running" and m["frames_sent"] == 0 and m["predictions"] == 0, m
        assert "waiting for the remote worker" in (m["last_error"] or ""), m
        assert m["refused_workers"] >= 1 and "not in authorized_workers" in m["last_error"], m
        assert "not in authorized_workers" in (tmp_path / "bedside.log").read_text()
        # The worker reads its connection events once its model is loaded: on a busy CI machine that is after the
        # 6 s above, so wait for its line rather than expect it already.
        wait_for(lambda: "refused this worker" in (tmp_path / "intruder.log").read_text(), 60,
                 what="the refused worker to say it was refused")
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        assert b.stop() == 0


def test_a_refused_stranger_does_not_disturb_the_working_worker(tmp_path):
    """A stranger's refused connection is disconnected by ZeroMQ too: only the authorised worker's own
    disconnect may restart the model (else anyone on the network could knock the model over)."""
    keys = tmp_path / "keys"
    server_pub = make_keys(keys)
    intruder_keys = tmp_path / "intruder"
    make_keys(intruder_keys)
    b, port = bedside_with_remote(tmp_path, keys)
    worker = start_worker(port, server_pub, keys / "worker.key", (tmp_path / "worker.log").open("w"))
    strangers = []
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] >= 3, 30, what="the worker's answers")
        before = b.status()["models"][0]
        for i in range(3):  # each retries its handshake (and is refused) until stopped
            strangers.append(start_worker(port, server_pub, intruder_keys / "worker.key",
                                          (tmp_path / f"stranger{i}.log").open("w")))
        wait_for(lambda: b.status()["models"][0]["refused_workers"] >= 3, 60, what="the strangers to be refused")
        for w in strangers:
            w.terminate()
            w.wait(timeout=10)
        time.sleep(2)
        after = b.status()["models"][0]
    finally:
        for w in [worker, *strangers]:
            if w.poll() is None:
                w.terminate()
                w.wait(timeout=10)
        assert b.stop() == 0
    assert after["restarts"] == before["restarts"] == 0, after
    assert after["state"] == "running" and after["predictions"] > before["predictions"] + 5, (before, after)


def test_remote_worker_rejoins_a_restarted_bedside(tmp_path):
    """The GPU box's worker outlives Bedside: after a restart on the same port it says hello again by itself."""
    keys = tmp_path / "keys"
    server_pub = make_keys(keys)
    b, port = bedside_with_remote(tmp_path, keys)
    log = tmp_path / "worker.log"
    worker = start_worker(port, server_pub, keys / "worker.key", log.open("w"))
    try:
        wait_for(lambda: b.status()["models"][0]["state"] == "running", 30, what="the remote worker to join")
        assert b.stop() == 0
        assert worker.poll() is None, "the worker stays up while Bedside is away"
        b2, _ = bedside_with_remote(tmp_path, keys, port, name="bedside2")
        try:
            wait_for(lambda: b2.status()["models"][0]["state"] == "running", 30, what="the worker to rejoin")
            predictions, _ = collect_predictions(b2.ws_url, 3, timeout=30)
            assert len(predictions) >= 3
        finally:
            assert b2.stop() == 0
        text = log.read_text()
        assert "connection 2" in text and "lost the connection" in text, text
    finally:
        worker.terminate()
        worker.wait(timeout=10)
