"""Integration tests: a real `python -m bridge` worker against a fake Bedside on an ipc socket."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest

from bridge import __version__, rle_decode
from conftest import MODELS, TIMEOUT_S, FakeBedside, kill_quietly, process_gone

ECHO = f"{MODELS / 'echo.py'}:predict"


def pixels(shape: tuple, first: int = 1) -> np.ndarray:
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    image.flat[0] = first
    return image


def test_handshake(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO, "--name", "pcbm-demo")
    hello = bedside.handshake()
    assert bedside.proc is not None
    assert hello == {
        "type": "hello", "protocol": 1, "pid": bedside.proc.pid, "name": "pcbm-demo",
        "python": hello["python"], "bridge": __version__,
    }
    assert hello["python"].count(".") == 2


def test_ready_reports_setup_time(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    assert bedside.recv()["type"] == "hello"
    ready = bedside.recv()
    assert ready["type"] == "ready" and isinstance(ready["setup_ms"], float) and ready["setup_ms"] >= 0


@pytest.mark.parametrize("remote", [False, True], ids=["shm", "second-frame"])
def test_gray_and_rgb_frames_reach_the_model_exactly(bedside: FakeBedside, remote: bool) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    cases = [(1, pixels((48, 64)), 0, 0), (2, pixels((30, 41, 3)), 5, 64), (3, pixels((7, 9)), 3, 1)]
    for seq, image, pad, offset in cases:
        bedside.frame(seq, image, pad=pad, offset=offset, remote=remote)
        reply = bedside.recv()
        assert reply["type"] == "result", reply
        assert reply["seq"] == seq
        extra = reply["result"]["extra"]
        assert extra["sum"] == int(image.sum(dtype=np.uint64))
        assert extra["shape"] == list(image.shape)
        assert extra["dtype"] == "uint8" and extra["writeable"] is False
        assert extra["corner"] == image[:2, :2].tolist()
        assert reply["result"]["plane"] == {"name": "head", "status": "close", "score": 0.5}
        assert 0 <= reply["model_ms"] <= reply["recv_to_send_ms"]
    for stream in ("stdout", "stderr"):  # the researcher's prints arrive; the bridge adds nothing
        lines = bedside.output(stream).splitlines()
        assert len(lines) == 3 and all(line.startswith(f"researcher print to {stream}") for line in lines)


def test_shm_file_rewritten_in_place_is_seen(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    first, second = pixels((16, 16)), pixels((16, 16), first=2)
    path = bedside.write_shm(first.tobytes())
    frame = {"type": "frame", "seq": 1, "pts_ns": 1, "width": 16, "height": 16, "format": "gray8",
             "stride": 16, "shm": path, "offset": 0, "size": 256}
    bedside.send(frame)
    assert bedside.recv()["result"]["extra"]["sum"] == int(first.sum())
    with open(path, "r+b") as f:
        f.write(second.tobytes())
    bedside.send({**frame, "seq": 2})
    assert bedside.recv()["result"]["extra"]["sum"] == int(second.sum())


def test_researcher_exception_is_an_error_and_the_worker_goes_on(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    bedside.frame(5, pixels((8, 8), first=13))
    error = bedside.recv()
    assert error["type"] == "error" and error["seq"] == 5 and error["fault"] == "researcher"
    assert error["error"] == "ValueError: unlucky pixel"
    assert "echo.py" in error["traceback"] and "raise ValueError" in error["traceback"]
    assert "worker.py" not in error["traceback"]
    assert isinstance(error["model_ms"], float)
    bedside.frame(6, pixels((8, 8)))
    reply = bedside.recv()
    assert reply["type"] == "result" and reply["seq"] == 6


@pytest.mark.parametrize(
    "first, fragment",
    [(14, "NaN"), (15, "returned list"), (16, "status")],
    ids=["nan", "not-a-dict", "bad-status"],
)
def test_unusable_result_is_an_error_of_fault_result(bedside: FakeBedside, first: int, fragment: str) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    bedside.frame(9, pixels((4, 4), first=first))
    error = bedside.recv()
    assert error["type"] == "error" and error["seq"] == 9 and error["fault"] == "result", error
    assert error["error"].startswith("ResultError: ") and fragment in error["error"]
    bedside.frame(10, pixels((4, 4)))
    assert bedside.recv()["type"] == "result"


def test_sys_exit_in_the_model_is_an_error_not_an_exit(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    bedside.frame(1, pixels((4, 4), first=17))
    error = bedside.recv()
    assert error["type"] == "error" and error["fault"] == "researcher" and error["error"] == "SystemExit: leaving"
    bedside.frame(2, pixels((4, 4)))
    assert bedside.recv()["type"] == "result"


def test_label_map_comes_back_as_rle(bedside: FakeBedside) -> None:
    bedside.start("--entry", f"{MODELS / 'labels.py'}:predict")
    bedside.handshake()
    image = pixels((24, 32, 3))
    bedside.frame(3, image, pad=4)
    reply = bedside.recv()
    assert reply["type"] == "result", reply
    seg = reply["result"]["segmentation"]
    assert (seg["width"], seg["height"], seg["encoding"]) == (32, 24, "rle")
    assert seg["classes"] == ["background", "bright"]
    assert np.array_equal(rle_decode(seg["data"], 32, 24), image[..., 0] >= 128)
    assert reply["result"]["extra"] == {"confidence": 0.25}


def test_import_error_is_fatal_with_exit_code_3(bedside: FakeBedside) -> None:
    bedside.start("--entry", f"{MODELS / 'broken_import.py'}:predict")
    assert bedside.recv()["type"] == "hello"
    fatal = bedside.recv()
    assert fatal["type"] == "fatal" and fatal["stage"] == "import" and fatal["fault"] == "researcher"
    assert fatal["error"] == "ModuleNotFoundError: No module named 'definitely_not_a_module_for_bedside'"
    assert "broken_import.py" in fatal["traceback"]
    assert bedside.wait() == 3


def test_missing_entry_file_is_fatal_at_import(bedside: FakeBedside) -> None:
    bedside.start("--entry", "/nonexistent/model.py:predict")
    assert bedside.recv()["type"] == "hello"
    fatal = bedside.recv()
    assert (fatal["type"], fatal["stage"], fatal["fault"]) == ("fatal", "import", "researcher")
    assert fatal["error"].startswith("FileNotFoundError")
    assert bedside.wait() == 3


def test_setup_error_is_fatal_at_setup(bedside: FakeBedside) -> None:
    stateful = MODELS / "stateful.py"
    bedside.start("--entry", f"{stateful}:Model", "--setup", f"{stateful}:load_fails")
    assert bedside.recv()["type"] == "hello"
    fatal = bedside.recv()
    assert (fatal["type"], fatal["stage"], fatal["fault"]) == ("fatal", "setup", "researcher")
    assert fatal["error"] == "RuntimeError: weights.pt not found"
    assert bedside.wait() == 3


def test_class_entry_with_setup_state(bedside: FakeBedside) -> None:
    stateful = MODELS / "stateful.py"
    bedside.start("--entry", f"{stateful}:Model", "--setup", f"{stateful}:load")
    bedside.handshake()
    for seq in (1, 2):
        bedside.frame(seq, pixels((4, 4)))
        reply = bedside.recv()
        assert reply["type"] == "result", reply
        assert reply["result"]["extra"] == {
            "ready": True, "calls": seq, "instances": 1, "weights": 42, "offset": 1000,
        }


def test_module_entry_from_workdir(bedside: FakeBedside) -> None:
    bedside.start("--workdir", str(MODELS), "--entry", "echo:predict")
    bedside.handshake()
    bedside.frame(1, pixels((4, 4)))
    assert bedside.recv()["type"] == "result"


def test_shutdown_exits_0_promptly(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    started = time.monotonic()
    bedside.send({"type": "shutdown"})
    assert bedside.wait() == 0
    assert time.monotonic() - started < 3.0


def test_sigterm_exits_0_even_inside_the_model(bedside: FakeBedside) -> None:
    bedside.start("--entry", f"{MODELS / 'slow.py'}:predict")
    bedside.handshake()
    bedside.frame(1, pixels((4, 4)))
    time.sleep(0.5)  # the model is now sleeping
    assert bedside.proc is not None
    started = time.monotonic()
    bedside.proc.send_signal(signal.SIGTERM)
    assert bedside.wait() == 0
    assert time.monotonic() - started < 3.0


def test_sigterm_while_idle_exits_0(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    assert bedside.proc is not None
    bedside.proc.send_signal(signal.SIGTERM)
    assert bedside.wait() == 0


@pytest.mark.parametrize(
    "message",
    [
        {"type": "frame", "seq": 1},
        {"type": "hello", "protocol": 1},
        {"type": "nonsense"},
        {"type": "shutdown", "protocol": 2},
    ],
    ids=["incomplete-frame", "wrong-direction", "unknown-type", "wrong-version"],
)
def test_protocol_violation_is_fatal(bedside: FakeBedside, message: dict) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    bedside.send(message)
    fatal = bedside.recv()
    assert (fatal["type"], fatal["stage"], fatal["fault"]) == ("fatal", "protocol", "bridge"), fatal
    assert bedside.wait() == 3


def test_missing_shm_file_is_fatal(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    bedside.send({"type": "frame", "seq": 1, "pts_ns": 0, "width": 4, "height": 4, "format": "gray8", "stride": 4,
                  "shm": "/dev/shm/bedside-test-does-not-exist", "offset": 0, "size": 16})
    fatal = bedside.recv()
    assert (fatal["type"], fatal["stage"], fatal["fault"]) == ("fatal", "protocol", "bridge")
    assert fatal["error"].startswith("FileNotFoundError")
    assert bedside.wait() == 3


def test_idle_timeout_exits(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO, "--idle-timeout", "1")
    bedside.handshake()
    assert bedside.wait(timeout_s=10) == 0


def test_worker_exits_when_its_parent_dies(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO, via_shell=True)
    pid = bedside.handshake()["pid"]
    try:
        assert bedside.proc is not None and pid != bedside.proc.pid
        bedside.proc.kill()  # the shell, the worker's parent
        bedside.proc.wait(timeout=TIMEOUT_S)
        assert process_gone(pid, timeout_s=10), "the orphaned worker kept running"
    finally:
        kill_quietly(pid)



def test_ready_carries_what_the_model_declares(bedside: FakeBedside) -> None:
    bedside.start("--entry", f"{MODELS / 'declared.py'}:predict")
    assert bedside.recv()["type"] == "hello"
    ready = bedside.recv()
    assert ready["model"] == {
        "version": "2.1.0", "classes": ["background", "skull", "midline"],
        "concepts": ["midline visible", "skull symmetric"],
    }


def test_a_model_that_declares_nothing_sends_no_model_field(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    assert bedside.recv()["type"] == "hello"
    assert "model" not in bedside.recv()


def test_idle_worker_sends_heartbeats(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    first = bedside.recv(timeout_s=5, heartbeats=True)
    second = bedside.recv(timeout_s=5, heartbeats=True)
    assert first["type"] == second["type"] == "heartbeat"
    assert 0.5e9 <= second["time_ns"] - first["time_ns"] <= 3e9


def test_result_timings_are_on_the_monotonic_clock(bedside: FakeBedside) -> None:
    bedside.start("--entry", f"{MODELS / 'declared.py'}:predict")
    bedside.handshake()
    before = time.monotonic_ns()
    bedside.frame(1, pixels((8, 8)))
    reply = bedside.recv()
    after = time.monotonic_ns()
    assert reply["type"] == "result", reply
    assert before <= reply["received_ns"] <= reply["start_ns"] <= reply["end_ns"] <= after
    assert abs((reply["end_ns"] - reply["start_ns"]) / 1e6 - reply["model_ms"]) < 5


def test_upstream_result_reaches_a_model_that_asks_for_it(bedside: FakeBedside) -> None:
    bedside.start("--entry", f"{MODELS / 'declared.py'}:predict")
    bedside.handshake()
    upstream = {"model": "detector", "result": {"plane": {"name": "head", "status": "standard"}}}
    bedside.frame(1, pixels((8, 8)), upstream=upstream)
    assert bedside.recv()["result"]["extra"]["upstream"] == upstream
    bedside.frame(2, pixels((8, 8)))
    assert bedside.recv()["result"]["extra"]["upstream"] is None


def test_upstream_is_not_forced_on_a_model_without_the_parameter(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    bedside.frame(1, pixels((8, 8)), upstream={"model": "a", "result": {}})
    assert bedside.recv()["type"] == "result"


def test_frame_from_a_newer_bedside_is_a_clear_fatal(bedside: FakeBedside) -> None:
    bedside.start("--entry", ECHO)
    bedside.handshake()
    bedside.frame(1, pixels((8, 8)), protocol=2)
    fatal = bedside.recv()
    assert fatal["type"] == "fatal" and "Bedside speaks bridge protocol 2, this bridge speaks 1" in fatal["error"]
    assert "install the bridge" in fatal["error"]
    assert bedside.wait() == 3


def test_server_key_from_a_file_or_inline_even_when_it_starts_with_a_dash(tmp_path):
    """Z85 keys may begin with '-': argparse then reads `--server-key -x...` as an option (a real CI flake)."""
    import argparse

    from bridge.__main__ import server_key

    parser = argparse.ArgumentParser()
    key = "-" + "a" * 39
    assert server_key(parser, key) == key
    pub = tmp_path / "server.pub"
    pub.write_text("# Bedside's public key\n" + key + "\n")
    assert server_key(parser, str(pub)) == key
    with pytest.raises(SystemExit):
        server_key(parser, "not-a-key")
