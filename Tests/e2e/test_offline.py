"""Research code that expects the internet, in a clinic without it (issue 12).

A loopback HTTP server stands in for a model hub; no test needs the internet.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

from conftest import BIN, REPO, start_bedside, wait_for

MODELS = REPO / "bridge/tests/models"


class Hub:
    """A stand-in model hub on loopback that counts requests."""

    def __init__(self, root):
        self.requests = 0
        hub = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):
                super().__init__(*a, directory=str(root), **k)

            def do_GET(self):
                hub.requests += 1
                super().do_GET()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def env_for(tmp_path):
    return dict(os.environ, BEDSIDE_BRIDGE_PATH=str(REPO / "bridge"), BEDSIDE_STATE_DIR=str(tmp_path / "bedside-state"))


def test_download_at_import_fails_fast_offline_and_prepare_makes_it_start_offline(tmp_path):
    weights = os.urandom(200_000)
    (tmp_path / "hub/checkpoints").mkdir(parents=True)
    (tmp_path / "hub/checkpoints/tiny-net-5f4dcc3b.pth").write_bytes(weights)
    hub = Hub(tmp_path / "hub")
    url = f"http://127.0.0.1:{hub.port}/checkpoints/tiny-net-5f4dcc3b.pth"
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 10}\n"
        f"models:\n  - name: hubnet\n    entry: '{MODELS / 'hub_download.py'}:predict'\n"
        f"    env: {{BEDSIDE_TEST_HUB_URL: '{url}'}}\n"
        "    input: {format: gray, width: 64, height: 48}\n"
        "recording: {enabled: false}\n")
    try:
        # 1. On the box (network: deny by default), without a prepared cache: a clear failure, at once.
        b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
        t0 = time.monotonic()
        try:
            m = wait_for(lambda: (lambda m: m if "bedside prepare" in (m.get("last_error") or "") else None)(
                b.status()["models"][0]), 30, what="the model's failure to name `bedside prepare`")
            elapsed = time.monotonic() - t0
            print(f"deny: failed {elapsed:.2f} s after Bedside served (worker start + import included)")
            assert elapsed < 5, elapsed
            assert url in m["last_error"] and "network access is off" in m["last_error"], m["last_error"]
            attempt = m["network_attempts"][0]
            assert attempt["url"] == url and attempt["denied"] is True and attempt["port"] == hub.port, attempt
            assert attempt["where"].endswith("hub_download.py:28"), attempt
        finally:
            assert b.stop() == 0
        assert "tried the network" in b.output() and url in b.output()
        assert hub.requests == 0, "denied before anything was sent"
        # `bedside check` says the same, with the fix.
        check = subprocess.run([str(BIN), "check", "--config", str(cfg), "--python", sys.executable],
                               capture_output=True, text=True, env=env_for(tmp_path), timeout=120)
        assert check.returncode == 1, check.stdout
        assert "✗ denied " + url in check.stdout and "bedside prepare --config" in check.stdout, check.stdout

        # 2. `bedside prepare` on a machine with internet: fetches into the model's cache, writes a manifest.
        prep = subprocess.run([str(BIN), "prepare", "--config", str(cfg), "--python", sys.executable],
                              capture_output=True, text=True, env=env_for(tmp_path), timeout=120)
        assert prep.returncode == 0, prep.stdout + prep.stderr
        cache = tmp_path / "bedside-state/model-cache/hubnet"
        manifest = json.loads((cache / "manifest.json").read_text())
        assert [u["url"] for u in manifest["urls"]] == [url], manifest
        files = {f["path"]: f for f in manifest["files"]}
        f = files["torch/hub/checkpoints/tiny-net-5f4dcc3b.pth"]
        assert f["size"] == len(weights) and f["sha256"] == hashlib.sha256(weights).hexdigest()
        assert hub.requests == 1
    finally:
        hub.close()

    # 3. Back on the box, the hub gone: the model starts from its cache with no network attempt at all.
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)  # same state folder
    try:
        wait_for(lambda: b.status()["models"][0]["predictions"] >= 3, 60, what="predictions from the cached weights")
        m = b.status()["models"][0]
        assert m["network_attempts"] == [] and m["restarts"] == 0 and m["network"] == "deny", m
    finally:
        assert b.stop() == 0


def test_telemetry_per_frame_is_reported_and_denied_and_predictions_go_on(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections = []

    def accept():
        while True:
            try:
                c, _ = listener.accept()
                connections.append(c)
            except socket.timeout:
                continue
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        for policy in ("deny", "allow"):
            cfg = tmp_path / f"{policy}.yaml"
            cfg.write_text(
                "source: {kind: phantom, width: 320, height: 240, fps: 10}\n"
                f"models:\n  - name: phonehome\n    entry: '{MODELS / 'telemetry.py'}:predict'\n"
                f"    env: {{BEDSIDE_TEST_TELEMETRY: '127.0.0.1:{port}'}}\n    network: {policy}\n"
                "    input: {format: gray, width: 64, height: 48}\n"
                "recording: {enabled: false}\n")
            before = len(connections)
            b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path / policy)
            try:
                wait_for(lambda b=b: b.status()["models"][0]["predictions"] >= 5, 60, what="predictions")

                def counted(b=b):
                    model = b.status()["models"][0]
                    return model if model["network_attempts"] and model["network_attempts"][0]["count"] >= 3 else None

                m = wait_for(counted, 10, what="the attempts to be counted")
                a = m["network_attempts"][0]
                assert (a["host"], a["port"], a["denied"]) == ("127.0.0.1", port, policy == "deny"), a
                assert a["where"].endswith("telemetry.py:12") and a["function"] == "send_usage", a
                assert m["errors"] == 0 and m["restarts"] == 0, m
            finally:
                assert b.stop() == 0
            made = len(connections) - before
            if policy == "deny":
                assert made == 0, "denied attempts never reach the network"
            else:
                assert made >= 3
    finally:
        listener.close()
