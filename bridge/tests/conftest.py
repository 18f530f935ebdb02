"""A fake Bedside for integration tests: binds a DEALER, starts a real worker, writes frames to /dev/shm."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import pytest
import zmq

BRIDGE_ROOT = Path(__file__).resolve().parents[1]
MODELS = BRIDGE_ROOT / "tests" / "models"
sys.path.insert(0, str(BRIDGE_ROOT))  # the package, not the /work/main/bridge folder as a namespace

TIMEOUT_S = 15.0
SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


class FakeBedside:
    """The Bedside end of one worker incarnation."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="bb-", dir="/tmp")  # short: ipc paths are limited to ~100 bytes
        self.endpoint = f"ipc://{self.dir}/worker.sock"
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.endpoint)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.shm_files: List[str] = []
        self.heartbeats: List[Dict[str, Any]] = []

    def start(self, *args: str, via_shell: bool = False) -> None:
        """Start `python -m bridge --endpoint ... *args` (optionally as a grandchild, under sh)."""
        cmd = [sys.executable, "-m", "bridge", "--endpoint", self.endpoint, *args]
        if via_shell:
            cmd = ["sh", "-c", '"$@" & wait', "sh", *cmd]
        env = {**os.environ, "PYTHONPATH": str(BRIDGE_ROOT)}
        with open(self.path("stdout"), "wb") as out, open(self.path("stderr"), "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=self.dir, env=env, stdout=out, stderr=err)

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def output(self, name: str) -> str:
        with open(self.path(name), encoding="utf-8", errors="replace") as f:
            return f.read()

    def send(self, message: Dict[str, Any], *extra: bytes) -> None:
        self.sock.send_multipart([json.dumps(message).encode(), *extra])

    def recv(self, timeout_s: float = TIMEOUT_S, heartbeats: bool = False) -> Dict[str, Any]:
        """The next message; heartbeats are collected in `self.heartbeats` and skipped unless asked for."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                raise AssertionError(f"no message from the worker in {timeout_s} s; stderr:\n{self.output('stderr')}")
            parts = self.sock.recv_multipart()
            assert len(parts) == 1, f"worker sent {len(parts)} frames"
            message = json.loads(parts[0])
            assert isinstance(message, dict) and "type" in message
            if message["type"] == "heartbeat" and not heartbeats:
                self.heartbeats.append(message)
                continue
            return message  # type: ignore[no-any-return]

    def handshake(self) -> Dict[str, Any]:
        hello = self.recv()
        assert hello["type"] == "hello", hello
        ready = self.recv()
        assert ready["type"] == "ready", ready
        return hello

    def write_shm(self, data: bytes) -> str:
        path = os.path.join(SHM_DIR, f"bedside-test-{uuid.uuid4().hex}")
        self.shm_files.append(path)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def frame(
        self, seq: int, pixels: np.ndarray, pad: int = 0, offset: int = 0, remote: bool = False, **fields: Any
    ) -> None:
        """Send `pixels` (uint8, (h, w) or (h, w, 3)) with `pad` junk bytes per row and `offset` junk bytes first."""
        height, width = pixels.shape[:2]
        fmt = "gray8" if pixels.ndim == 2 else "rgb24"
        row = pixels.reshape(height, -1)
        stride = row.shape[1] + pad
        padded = np.full((height, stride), 0xAB, dtype=np.uint8)
        padded[:, : row.shape[1]] = row
        data = b"\xcd" * offset + padded.tobytes()
        message: Dict[str, Any] = {
            "type": "frame", "seq": seq, "pts_ns": 123_000_000 + seq, "width": width, "height": height,
            "format": fmt, "stride": stride, "offset": offset, "size": stride * height, **fields,
        }
        if remote:
            self.send(message, data)
        else:
            self.send({**message, "shm": self.write_shm(data)})

    def wait(self, timeout_s: float = TIMEOUT_S) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT_S)
        self.sock.close()
        self.ctx.term()
        for path in self.shm_files:
            if os.path.exists(path):
                os.unlink(path)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def bedside() -> Iterator[FakeBedside]:
    fake = FakeBedside()
    try:
        yield fake
    finally:
        fake.close()


def process_gone(pid: int, timeout_s: float = TIMEOUT_S) -> bool:
    """Wait until `pid` no longer runs (a zombie left for an absent reaper counts as gone)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# The Bedside and hub variables a worker reads, cleared for each test that uses `env` (test_network, test_hub).
BEDSIDE_ENV = ("BEDSIDE_NETWORK", "BEDSIDE_NETWORK_LOG", "BEDSIDE_MODEL_CACHE", "BEDSIDE_CONFIG", "BEDSIDE_PREPARE",
               "TORCH_HOME", "HF_HOME", "XDG_CACHE_HOME", "HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the worker's environment (inherited by FakeBedside.start) from a clean slate."""
    from bridge import network

    for name in (*BEDSIDE_ENV, *network.OFFLINE_SWITCHES):
        monkeypatch.delenv(name, raising=False)

    def setenv(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))

    return setenv


