"""A light tablet for the benchmarks: one WebSocket that reads every frame Bedside sends and decodes nothing, so
many of them measure what the server and the link deliver without the tablets' own CPU (scripts/bench_load.py,
scripts/bench_wifi.py)."""
from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass


@dataclass
class Received:
    frames: int = 0
    bytes: int = 0
    first_ms: float | None = None   # from the WebSocket's opening to its first frame

    def copy(self) -> Received:
        return Received(self.frames, self.bytes, self.first_ms)


def read_frames(url: str, stop: threading.Event, into: Received, context: ssl.SSLContext | None = None) -> None:
    """Reads `url` (ws:// or wss://) until `stop`, counting binary messages (frames) and their bytes in `into`."""
    from websockets.sync.client import connect

    t0 = time.monotonic()
    with connect(url, ssl=context, max_size=None, open_timeout=10) as ws:
        while not stop.is_set():
            try:
                m = ws.recv(timeout=1)
            except TimeoutError:
                continue
            if isinstance(m, bytes):
                into.frames += 1
                into.bytes += len(m)
                if into.first_ms is None:
                    into.first_ms = (time.monotonic() - t0) * 1000
