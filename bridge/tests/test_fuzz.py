"""Fuzzing of the bridge's side of the protocol (issue 9): `decode`, the frame header, and a real worker.

- `decode` with seeded random bytes and mutations of every message type (byte level and structure level):
  a Message comes out, or ProtocolError (its documented exception), nothing else.
- `frame_image` with mutated frame headers and buffers of random sizes: a read-only view inside the buffer,
  or ProtocolError.
- A real worker (`python -m bridge`) fed a stream of mutated frames that `decode` and `frame_image` accept answers
  each one for its own seq and stays up; frames they refuse end the worker with `fatal` (stage protocol, fault
  bridge) and exit code 3, as docs/protocol.md says.

CI runs 4 x 5000 = 20,000 decoder cases (BEDSIDE_FUZZ_CASES=N runs 4 x N); BEDSIDE_FUZZ_SEED picks another seed.
Each test prints a `FUZZ ...` line and records its row in the reliability table (Tests/e2e/faults.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from bridge import Frame, Message, ProtocolError, decode, frame_image
from bridge.core import FORMATS
from conftest import MODELS, FakeBedside

REPO = Path(__file__).resolve().parents[2]
CASES = int(os.environ.get("BEDSIDE_FUZZ_CASES", "5000"))
SEED = int(os.environ.get("BEDSIDE_FUZZ_SEED", "20261128"))
ECHO = f"{MODELS / 'echo.py'}:predict"


def _faults():
    spec = importlib.util.spec_from_file_location("bedside_faults", REPO / "Tests/e2e/faults.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


record = _faults().record

# --- valid messages of every type, both directions (docs/protocol.md) ------------------------------------------

VALID: List[Dict[str, Any]] = [
    {"type": "hello", "protocol": 1, "pid": 42, "name": "pcbm-demo", "python": "3.11.2", "bridge": "0.4.0"},
    {"type": "ready", "setup_ms": 812.5, "model": {"version": "0.1.0", "classes": ["bg", "skull"]}},
    {"type": "heartbeat", "time_ns": 123456789},
    {"type": "network", "attempts": [{"host": "example.org", "port": 443, "url": "https://example.org/w.pth",
                                      "event": "urllib.Request", "where": "m.py:3", "function": "load", "count": 1,
                                      "denied": True}]},
    {"type": "fatal", "stage": "import", "error": "ImportError: x", "traceback": "tb", "fault": "researcher"},
    {"type": "frame", "protocol": 1, "seq": 7, "pts_ns": 5, "width": 64, "height": 48, "format": "gray8",
     "stride": 64, "shm": "/dev/shm/bedside-1-m-1-0-1", "offset": 3072, "size": 3072},
    {"type": "frame", "seq": 8, "width": 4, "height": 2, "format": "rgb24", "offset": 0,
     "upstream": {"model": "det", "seq": 8, "result": {"plane": {"name": "head"}}}},
    {"type": "result", "seq": 7, "model_ms": 1.5, "recv_to_send_ms": 2.0, "result": {"plane": {"name": "head"}},
     "received_ns": 1, "start_ns": 2, "end_ns": 3},
    {"type": "error", "seq": 7, "model_ms": 1.5, "error": "ValueError: x", "traceback": "tb", "fault": "result"},
    {"type": "shutdown"},
]

NASTY: List[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, 2**64, -2**63 - 1, 10**30, 1e308, -1e308, 1.5, -0.0, float("nan"),
    float("inf"), "", "x", "\u0000", "\ud800", "gray8", "rgb24", "/dev/shm/x", "relative/path", "1", [], {}, [1, 2],
    {"a": 1}, [[[]]], "a" * 10_000,
]

# Exceptions other than ProtocolError that `decode` is known to raise today (findings, reported, not fixed here):
# a `type` (or a frame's `format`, when `stride` is left out) that is a JSON array or object reaches a dict lookup
# and raises TypeError; JSON nested deeper than Python's recursion limit raises RecursionError from json.loads.
KNOWN = {
    ("TypeError", "unhashable type: 'list'"), ("TypeError", "unhashable type: 'dict'"),
    ("RecursionError", "maximum recursion depth exceeded"),
}


class Gen:
    """Seeded generator of fuzz inputs."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self, depth: int = 0) -> Any:
        r = self.rng
        k = r.randrange(10)
        if k < 5 or depth > 3:
            return r.choice(NASTY)
        if k == 5:
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        if k == 6:
            return {r.choice(["type", "seq", "x", ""]): self.value(depth + 1) for _ in range(r.randrange(3))}
        if k == 7:
            return r.randrange(-10, 5000)
        if k == 8:
            return r.choice(list(FORMATS) + ["GRAY8", "yuyv", ""])
        return r.choice(["frame", "hello", "result", "shutdown", "nonsense"])

    def structure(self) -> Dict[str, Any]:
        """A valid message with 1-4 field-level mutations."""
        r = self.rng
        msg = dict(r.choice(VALID))
        for _ in range(r.randrange(1, 5)):
            op = r.randrange(6)
            keys = list(msg)
            if op == 0 and keys:
                del msg[r.choice(keys)]
            elif op in (1, 2) and keys:
                msg[r.choice(keys)] = self.value()
            elif op == 3:
                msg[r.choice(["protocol", "extra", "stride", "size", "offset", "shm", "upstream"])] = self.value()
            elif op == 4 and keys:  # a number nudged (off by one, sign, scale)
                key = r.choice(keys)
                if isinstance(msg[key], int) and not isinstance(msg[key], bool):
                    msg[key] = r.choice([msg[key] + 1, msg[key] - 1, -msg[key], msg[key] * 1000, 0])
            else:
                msg["type"] = self.value()
        return msg

    def dumps(self, msg: Dict[str, Any]) -> bytes:
        return json.dumps(msg, allow_nan=True).encode("utf-8", errors="surrogatepass")

    def raw(self) -> bytes:
        """Byte-level cases: random bytes, truncated, flipped, spliced; JSON that is not an object; deep nesting."""
        r = self.rng
        k = r.randrange(6)
        if k == 0:
            return bytes(r.randrange(256) for _ in range(r.randrange(200)))
        base = bytearray(self.dumps(r.choice(VALID)))
        if k == 1:
            return bytes(base[: r.randrange(len(base) + 1)])
        if k == 2:
            for _ in range(r.randrange(1, 8)):
                p = r.randrange(len(base))
                base[p] ^= 1 << r.randrange(8)
            return bytes(base)
        if k == 3:
            other = self.dumps(r.choice(VALID))
            return bytes(base[: r.randrange(len(base))]) + other[r.randrange(len(other)):]
        if k == 4:
            return r.choice([b"[]", b"1", b'"frame"', b"null", b"", b"\xef\xbb\xbf{}", b'{"type":"frame"}\x00',
                             b'{"type":"shutdown","type":"frame"}', "{\"type\":\"shutdown\"}".encode("utf-16"),
                             b'{"type":"heartbeat","time_ns":' + b"9" * 5000 + b"}", b"NaN", b'{"type":NaN}'])
        depth = r.choice([10, 100, 900, 5000, 100_000])
        opener, closer = r.choice([(b"[", b"]"), (b'{"a":', b"}")])
        return b'{"type":"frame","upstream":' + opener * depth + b"1" + closer * depth + b"}"

    def case(self) -> bytes:
        return self.raw() if self.rng.random() < 0.4 else self.dumps(self.structure())


def classify(data: bytes) -> Tuple[str, Any]:
    """('message', msg) | ('protocol', error) | ('known', (type, text)) | ('other', (type, text))."""
    try:
        return "message", decode(data)
    except ProtocolError as exc:
        return "protocol", exc
    except Exception as exc:  # noqa: BLE001 - the property under test
        text = str(exc)
        if isinstance(exc, RecursionError):  # the wording after this differs between Python versions
            text = "maximum recursion depth exceeded" if text.startswith("maximum recursion depth exceeded") else text
        sig = (type(exc).__name__, text)
        return ("known" if sig in KNOWN else "other"), sig


def test_decode_gives_a_message_or_protocol_error():
    gen = Gen(SEED)
    n = 4 * CASES
    tally: Counter = Counter()
    by_type: Counter = Counter()
    others: List[str] = []
    known: Counter = Counter()
    start = time.perf_counter()
    for _ in range(n):
        data = gen.case()
        kind, what = classify(data)
        tally[kind] += 1
        if kind == "message":
            assert isinstance(what, Message.__args__)  # type: ignore[attr-defined]
            by_type[what.type] += 1
        elif kind == "known":
            known[what] += 1
        elif kind == "other":
            others.append(f"{what[0]}: {what[1][:200]} <- {data[:200]!r}")
    seconds = time.perf_counter() - start
    print(f"\nFUZZ bridge-decode cases={n} messages={tally['message']} protocol_error={tally['protocol']} "
          f"known_other={tally['known']} other={tally['other']} seconds={seconds:.1f} seed={SEED} "
          f"by_type={dict(by_type)} known={dict(known)}")
    known_text = ", ".join(f"{c} {t} `{m}`" for (t, m), c in sorted(known.items())) or "none"
    record("input", "fuzzed messages at the bridge's decoder (bridge.core.decode: random bytes, truncated/bit-flipped/"
           "spliced and field-mutated messages of all 10 types, huge numbers, NaN, nesting to 100,000)",
           f"{tally['message']} decoded, {tally['protocol']} refused with ProtocolError, {tally['known']} other "
           f"exceptions (known findings: {known_text}; the worker turns them into `fatal` too), "
           f"{tally['other']} unexpected ({seconds:.1f} s)",
           "nothing (decoding only)", cases=n, crashes=0)
    assert not others, "exceptions other than ProtocolError:\n" + "\n".join(others[:10])
    assert tally["message"] > 0 and tally["protocol"] > 0


@pytest.mark.parametrize("data", [b'{"type": []}', b'{"type": {}}',
                                  b'{"type": "frame", "seq": 1, "width": 2, "height": 2, "format": []}'],
                         ids=["type-list", "type-object", "frame-format-list"])
def test_unhashable_type_or_format_is_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        decode(data)


def test_deep_nesting_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        decode(b'{"type":"heartbeat","time_ns":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}")


def frame_header(gen: Gen) -> Dict[str, Any]:
    """A plausible frame header, then mutated; sizes kept small so the buffers stay small."""
    r = gen.rng
    fmt = r.choice(list(FORMATS))
    w, h = r.randrange(1, 40), r.randrange(1, 30)
    ch = FORMATS[fmt]
    stride = w * ch + r.choice([0, 0, 0, 1, 7])
    msg: Dict[str, Any] = {"type": "frame", "seq": r.randrange(10**6), "pts_ns": 0, "width": w, "height": h,
                           "format": fmt, "stride": stride, "offset": r.choice([0, 0, 1, 16]),
                           "size": stride * h}
    for _ in range(r.randrange(4)):
        key = r.choice(["width", "height", "stride", "offset", "size", "format", "seq"])
        msg[key] = r.choice([
            0, -1, 1, 2, msg.get(key, 1) + 1 if isinstance(msg.get(key), int) else 1,
            msg.get(key, 1) - 1 if isinstance(msg.get(key), int) else 1, 2**31, 2**62, 10**30, None, "3", 1.5,
            r.choice(list(FORMATS))])
        if r.random() < 0.1:
            del msg[key]
    return msg


def test_frame_header_and_buffer_give_a_view_inside_the_buffer_or_protocol_error():
    gen = Gen(SEED + 1)
    n = CASES
    tally: Counter = Counter()
    others: List[str] = []
    start = time.perf_counter()
    for _ in range(n):
        header = frame_header(gen)
        kind, frame = classify(json.dumps(header).encode())
        if kind != "message":
            tally["header-" + kind] += 1
            if kind == "other":
                others.append(f"decode {frame} <- {header}")
            continue
        assert isinstance(frame, Frame)
        need = frame.offset + frame.nbytes
        size = max(0, need + gen.rng.choice([-50, -1, 0, 0, 0, 1, 100])) if need < 1 << 20 else gen.rng.randrange(4096)
        buffer = bytes(gen.rng.randrange(256) for _ in range(min(size, 4096))) + bytes(max(0, size - 4096))
        try:
            image = frame_image(frame, buffer)
        except ProtocolError:
            tally["buffer-refused"] += 1
            continue
        except Exception as exc:  # noqa: BLE001
            others.append(f"frame_image {type(exc).__name__}: {exc} <- {header} buffer {len(buffer)}")
            continue
        tally["image"] += 1
        assert image.shape[:2] == (frame.height, frame.width)
        assert not image.flags.writeable
        # The view never reaches past the buffer: its last pixel is the buffer's byte it claims to be.
        last = frame.offset + frame.stride * (frame.height - 1) + frame.width * frame.channels - 1
        assert last < len(buffer)
        assert image.reshape(frame.height, -1)[-1, -1] == buffer[last]
    seconds = time.perf_counter() - start
    print(f"\nFUZZ bridge-frame cases={n} {dict(tally)} other={len(others)} seconds={seconds:.1f}")
    record("input", "fuzzed frame headers and pixel buffers at the bridge (decode + frame_image: sizes, strides, "
           "offsets, formats off by one, negative, huge, wrong types; buffers short and long)",
           f"{tally['image']} views inside the buffer, {tally['buffer-refused']} refused for the buffer size, "
           f"{tally['header-protocol']} headers refused with ProtocolError, {len(others)} other exceptions "
           f"({seconds:.1f} s)", "nothing (decoding only)", cases=n, crashes=0)
    assert not others, "\n".join(others[:10])


def test_real_worker_answers_mutated_frames_it_accepts_and_exits_3_on_the_ones_it_refuses(tmp_path):
    """Differential: what decode + frame_image accept in-process, the real worker answers (same seq, still up);
    what they refuse ends the worker with fatal (protocol, bridge) and exit code 3."""
    gen = Gen(SEED + 2)
    want = max(50, CASES // 25)
    accepted: List[Tuple[Dict[str, Any], bytes]] = []
    refused: List[Tuple[str, Dict[str, Any], bytes]] = []  # 3 refused by decode, 3 by frame_image
    while len(accepted) < want or len(refused) < 6:
        header = frame_header(gen)
        kind, frame = classify(json.dumps(header).encode())
        size = 0
        if kind == "message":
            need = frame.offset + frame.nbytes
            size = max(0, need + gen.rng.choice([-1, 0, 0, 5])) if need < 1 << 20 else 64
        buffer = bytes(gen.rng.randrange(18, 256) for _ in range(size))  # first pixel >= 18: echo's normal answer
        if kind == "message":
            try:
                frame_image(frame, buffer)
                if len(accepted) < want:
                    accepted.append((header, buffer))
            except ProtocolError:
                if sum(r[0] == "buffer" for r in refused) < 3:
                    refused.append(("buffer", header, buffer))
        elif kind == "protocol" and sum(r[0] == "header" for r in refused) < 3:
            refused.append(("header", header, buffer))

    start = time.perf_counter()
    fake = FakeBedside()
    answered = 0
    try:
        fake.start("--entry", ECHO)
        fake.handshake()
        for header, buffer in accepted:
            fake.send(header, buffer)
            reply = fake.recv()
            assert reply["type"] in ("result", "error") and reply["seq"] == header["seq"], (header, reply)
            answered += 1
        assert fake.proc is not None and fake.proc.poll() is None
        fake.send({"type": "shutdown"})
        assert fake.wait() == 0
    finally:
        fake.close()

    fatal = 0
    for _, header, buffer in refused:
        fake = FakeBedside()
        try:
            fake.start("--entry", ECHO)
            fake.handshake()
            fake.send(header, buffer)
            reply = fake.recv()
            assert (reply["type"], reply.get("stage"), reply.get("fault")) == ("fatal", "protocol", "bridge"), (header, reply)
            assert fake.wait() == 3
            fatal += 1
        finally:
            fake.close()
    seconds = time.perf_counter() - start
    print(f"\nFUZZ bridge-worker accepted={len(accepted)} answered={answered} refused={len(refused)} "
          f"fatal_exit_3={fatal} seconds={seconds:.1f}")
    record("input", "mutated frames at a real bridge worker (pixels in the message; headers that decode accepts and "
           "ones it refuses)",
           f"{answered} of {len(accepted)} accepted frames answered for their own seq by one worker that stayed up and "
           f"exited 0 on shutdown; {fatal} of {len(refused)} refused frames ended their worker with fatal "
           f"(protocol, bridge) and exit 3 ({seconds:.1f} s)",
           "nothing: every accepted frame answered", cases=len(accepted) + len(refused), crashes=0)
