"""`sandbox: true`: research code cannot reach the network even with `network: allow`; without it, it can."""
from __future__ import annotations

import socket
import sys

import pytest
from test_e2e import collect_predictions

from conftest import REPO, start_bedside


@pytest.mark.parametrize("sandbox", [False, True])
def test_sandbox_blocks_the_network(tmp_path, sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(
        "source: {kind: phantom, width: 320, height: 240, fps: 10}\n"
        "models:\n  - name: telemetry\n    entry: " + str(REPO / "Tests/e2e/models/phone_home.py") + ":predict\n"
        f"    sandbox: {'true' if sandbox else 'false'}\n    env: {{PHONE_HOME_PORT: '{port}'}}\n"
        "    network: allow\n"  # the bridge's own deny would block it too: here only the OS sandbox decides
        "    input: {format: gray, width: 32, height: 24}\n"
        "recording: {enabled: false}\n"
    )
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        predictions, _ = collect_predictions(b.ws_url, 3, timeout=60)
    finally:
        assert b.stop() == 0
        server.close()
    assert len(predictions) >= 3, b.output()[-2000:]
    extra = predictions[-1]["result"]["extra"]
    print(f"\nsandbox={sandbox}: {extra}")
    assert extra["reached"] is (not sandbox), extra
