"""Unit tests for bridge.core: messages, version check, result conversion, RLE, frame views."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bridge import core
from bridge.core import (
    Error,
    Fatal,
    Frame,
    Hello,
    ProtocolError,
    Ready,
    Result,
    ResultError,
    Shutdown,
    convert_result,
    decode,
    encode,
    error_line,
    format_traceback,
    frame_image,
    rle_decode,
    rle_encode,
    to_json,
)

# --- messages -------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        Hello(pid=12, name="demo", python="3.11.7", bridge="0.1.0"),
        Ready(setup_ms=12.5),
        Fatal(stage="import", error="ImportError: x", traceback="tb", fault="researcher"),
        Frame(seq=1, width=4, height=2, format="rgb24", stride=16, pts_ns=99, shm="/dev/shm/a", offset=8, size=32),
        Frame(seq=2, width=4, height=2, format="gray8", stride=4),
        Result(seq=3, model_ms=1.5, recv_to_send_ms=2.0, result={"plane": {"name": "head"}}),
        Error(seq=4, model_ms=0.1, error="ValueError: no", traceback="tb", fault="result"),
        Shutdown(),
    ],
)
def test_encode_decode_round_trip(message: core.Message) -> None:
    data = encode(message)
    body = json.loads(data)
    assert body["type"] == message.type
    assert decode(data) == message


def test_encode_leaves_out_none_and_writes_protocol() -> None:
    assert json.loads(encode(Frame(seq=1, width=2, height=2, format="gray8", stride=2))) == {
        "type": "frame", "seq": 1, "width": 2, "height": 2, "format": "gray8", "stride": 2, "pts_ns": 0, "offset": 0,
    }
    assert json.loads(encode(Hello(pid=1, name="n", python="3.9", bridge="0.1.0")))["protocol"] == 1


def test_decode_frame_defaults_and_unknown_fields() -> None:
    frame = decode(b'{"type":"frame","seq":7,"width":3,"height":2,"format":"rgb24","future":true}')
    assert frame == Frame(seq=7, width=3, height=2, format="rgb24", stride=9)
    assert isinstance(frame, Frame) and frame.channels == 3 and frame.nbytes == 18


def test_decode_int_passes_as_float() -> None:
    ready = decode(b'{"type":"ready","setup_ms":3}')
    assert isinstance(ready, Ready) and isinstance(ready.setup_ms, float)


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"seq": 1}',
        b'{"type": "bogus"}',
        b'{"type": "frame", "seq": 1, "width": 2, "height": 2}',
        b'{"type": "frame", "seq": "1", "width": 2, "height": 2, "format": "gray8"}',
        b'{"type": "frame", "seq": true, "width": 2, "height": 2, "format": "gray8"}',
        b'{"type": "frame", "seq": 1, "width": 2, "height": 2, "format": "yuv420p"}',
        b'{"type": "frame", "seq": 1, "width": 0, "height": 2, "format": "gray8"}',
        b'{"type": "frame", "seq": 1, "width": 4, "height": 2, "format": "rgb24", "stride": 8}',
        b'{"type": "frame", "seq": 1, "width": 2, "height": 2, "format": "gray8", "size": 3}',
        b'{"type": "frame", "seq": 1, "width": 2, "height": 2, "format": "gray8", "shm": "rel/path"}',
        b'{"type": "fatal", "stage": "later", "error": "e", "traceback": "", "fault": "bridge"}',
        b'{"type": "error", "seq": 1, "model_ms": 1, "error": "e", "traceback": "", "fault": "bridge"}',
    ],
)
def test_decode_rejects(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(data)


def test_version_check() -> None:
    core.check_protocol(1)
    for bad in (0, 2, "1", True, None):
        with pytest.raises(ProtocolError, match="bridge protocol"):
            core.check_protocol(bad)
    with pytest.raises(ProtocolError, match="bridge protocol"):
        decode(b'{"type":"hello","protocol":2,"pid":1,"name":"n","python":"3","bridge":"0"}')
    with pytest.raises(ProtocolError, match="bridge protocol"):
        decode(b'{"type":"shutdown","protocol":9}')


def test_error_line_is_one_line() -> None:
    assert error_line(ValueError("bad\n  value\tthere")) == "ValueError: bad value there"
    assert error_line(KeyError("k")) == "KeyError: 'k'"
    assert error_line(RuntimeError()) == "RuntimeError"
    assert len(error_line(ValueError("x" * 5000))) == core.MAX_ERROR_LINE


def test_format_traceback_skips_outer_frames() -> None:
    def inner() -> None:
        raise ValueError("deep")

    try:
        inner()
    except ValueError as exc:
        full, trimmed = format_traceback(exc), format_traceback(exc, skip=1)
    assert "test_format_traceback_skips_outer_frames" in full and "inner" in full
    assert "test_format_traceback_skips_outer_frames" not in trimmed and "inner" in trimmed
    assert trimmed.rstrip().endswith("ValueError: deep")


# --- results --------------------------------------------------------------


def test_numpy_values_become_json() -> None:
    out = to_json({
        "i": np.int64(3), "u": np.uint8(250), "f": np.float32(0.5), "b": np.bool_(True), "s": np.str_("x"),
        "a": np.arange(6, dtype=np.int16).reshape(2, 3), "fa": np.array([0.25, 1.0]), "ba": np.array([True, False]),
        "t": (1, np.int32(2)), "n": None, "nested": [{"x": np.float64(1.5)}],
    })
    assert out == {
        "i": 3, "u": 250, "f": 0.5, "b": True, "s": "x", "a": [[0, 1, 2], [3, 4, 5]], "fa": [0.25, 1.0],
        "ba": [True, False], "t": [1, 2], "n": None, "nested": [{"x": 1.5}],
    }
    assert type(out["i"]) is int and type(out["f"]) is float and type(out["b"]) is bool
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize(
    "value, where",
    [
        ({"plane": {"score": float("nan")}}, "result['plane']['score']"),
        ({"extra": {"x": np.float32("inf")}}, "result['extra']['x']"),
        ({"scores": np.array([0.1, np.nan])}, "result['scores']"),
        ({"concepts": [{"score": -math.inf}]}, "result['concepts'][0]['score']"),
        ({"extra": {"when": object()}}, "result['extra']['when']"),
        ({"extra": {1: "int key"}}, "result['extra']"),
        ({"extra": np.array([1 + 2j])}, "result['extra']"),
    ],
)
def test_bad_values_are_result_errors(value: object, where: str) -> None:
    with pytest.raises(ResultError) as info:
        convert_result(value)
    assert info.value.fault == "result"
    assert where in str(info.value)


@pytest.mark.parametrize("value", [None, [1, 2], "ok", 3.0, np.zeros(3)])
def test_non_dict_is_a_result_error(value: object) -> None:
    with pytest.raises(ResultError, match="expected a dict"):
        convert_result(value)


def test_to_dict_objects_are_accepted() -> None:
    class Answer:
        def to_dict(self) -> dict:
            return {"guidance": {"text": "left", "arrow": "left"}}

    assert convert_result(Answer()) == {"guidance": {"text": "left", "arrow": "left"}}


def test_full_result_passes_and_unknown_keys_go_to_extra() -> None:
    value = {
        "plane": {"name": "head", "status": "standard", "score": np.float64(0.93)},
        "concepts": [{"name": "skull_complete", "plane": "head", "score": 8.5, "present": np.bool_(True)}],
        "guidance": {"text": "move the probe left", "arrow": "left"},
        "extra": {"mine": 1, "shared": "from extra"},
        "debug": np.array([1, 2]),
        "shared": "top level",
    }
    out = convert_result(value)
    assert out["plane"] == {"name": "head", "status": "standard", "score": 0.93}
    assert out["concepts"][0]["present"] is True
    assert out["extra"] == {"debug": [1, 2], "mine": 1, "shared": "from extra"}
    assert "debug" not in out
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize(
    "given, reported",
    [
        ("standard", "standard"),
        ("close", "close"),
        ("unknown", "unknown"),
        ("non-standard", "close"),
        (None, "unknown"),
    ],
)
def test_plane_status(given: object, reported: str) -> None:
    plane = {"name": "head"} if given is None else {"name": "head", "status": given}
    assert convert_result({"plane": plane})["plane"]["status"] == reported


@pytest.mark.parametrize("status", ["Standard", "nonstandard", "good", 1, ""])
def test_bad_plane_status_is_a_result_error(status: object) -> None:
    with pytest.raises(ResultError, match="status"):
        convert_result({"plane": {"name": "head", "status": status}})


@pytest.mark.parametrize(
    "value",
    [{"plane": "head"}, {"concepts": {"a": 1}}, {"concepts": [1]}, {"guidance": "left"}, {"extra": [1]}],
)
def test_wrong_shapes_are_result_errors(value: object) -> None:
    with pytest.raises(ResultError):
        convert_result(value)


# --- segmentation / RLE ---------------------------------------------------


def test_rle_known_runs() -> None:
    labels = np.array([[0, 0, 1], [1, 1, 2]], dtype=np.uint8)
    assert rle_encode(labels) == [0, 2, 1, 3, 2, 1]


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.uint16, np.bool_])
def test_rle_round_trip(dtype: type) -> None:
    rng = np.random.default_rng(7)
    labels = (rng.random((37, 53)) * 3).astype(int)
    labels[5:20, 10:40] = 1  # long runs across rows
    labels = labels.astype(dtype)
    data = rle_encode(labels)
    assert all(type(x) is int for x in data)
    assert sum(data[1::2]) == labels.size
    assert np.array_equal(rle_decode(data, 53, 37), labels.astype(np.int64))


def test_rle_is_row_major_even_for_fortran_arrays() -> None:
    labels = np.asfortranarray(np.array([[1, 2], [3, 4]]))
    assert rle_encode(labels) == [1, 1, 2, 1, 3, 1, 4, 1]
    assert rle_encode(np.array([[5, 5, 5]]).T) == [5, 3]


def test_rle_decode_checks_coverage() -> None:
    with pytest.raises(ValueError):
        rle_decode([0, 5], 2, 2)


def test_segmentation_label_map_becomes_rle() -> None:
    labels = np.zeros((4, 6), dtype=np.int64)
    labels[1:3, 2:5] = 2
    out = convert_result({"segmentation": {"labels": labels, "classes": ["background", "skull", "brain"]}})
    seg = out["segmentation"]
    assert seg["width"] == 6 and seg["height"] == 4 and seg["encoding"] == "rle"
    assert seg["classes"] == ["background", "skull", "brain"]
    assert np.array_equal(rle_decode(seg["data"], 6, 4), labels)
    assert list(seg) == ["width", "height", "encoding", "classes", "data"]


def test_segmentation_bare_array_and_nested_list() -> None:
    assert convert_result({"segmentation": np.array([[1, 1], [1, 0]], dtype=np.uint8)})["segmentation"] == {
        "width": 2, "height": 2, "encoding": "rle", "data": [1, 3, 0, 1],
    }
    assert convert_result({"segmentation": {"labels": [[0, 1]]}})["segmentation"]["data"] == [0, 1, 1, 1]


def test_segmentation_already_encoded_passes() -> None:
    seg = {"width": 2, "height": 1, "encoding": "rle", "data": [3, 2]}
    assert convert_result({"segmentation": seg})["segmentation"] == seg


@pytest.mark.parametrize(
    "seg", [np.zeros((2, 2), dtype=np.float32), np.zeros(4, dtype=np.int64), np.zeros((1, 2, 2), np.uint8), "mask"]
)
def test_segmentation_that_is_not_a_label_map_is_a_result_error(seg: object) -> None:
    with pytest.raises(ResultError, match="label map"):
        convert_result({"segmentation": seg})
    with pytest.raises(ResultError, match="label map"):
        convert_result({"segmentation": {"labels": seg}})


# --- frames ---------------------------------------------------------------


def test_frame_image_gray_honours_stride_and_offset() -> None:
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    padded = np.full((3, 6), 255, dtype=np.uint8)
    padded[:, :4] = pixels
    buffer = b"\x00" * 5 + padded.tobytes()
    frame = Frame(seq=1, width=4, height=3, format="gray8", stride=6, offset=5, size=18)
    image = frame_image(frame, buffer)
    assert image.shape == (3, 4) and image.dtype == np.uint8
    assert np.array_equal(image, pixels)
    assert not image.flags.writeable


def test_frame_image_rgb_is_a_read_only_view() -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    buffer = bytearray(pixels.tobytes())
    image = frame_image(Frame(seq=1, width=3, height=2, format="rgb24", stride=9), buffer)
    assert image.shape == (2, 3, 3) and np.array_equal(image, pixels)
    with pytest.raises(ValueError):
        image[0, 0, 0] = 1
    buffer[0] = 200  # a view, not a copy
    assert image[0, 0, 0] == 200


def test_frame_image_checks_buffer_size() -> None:
    with pytest.raises(ProtocolError):
        frame_image(Frame(seq=1, width=4, height=4, format="gray8", stride=4), b"\x00" * 15)
    with pytest.raises(ProtocolError):
        frame_image(Frame(seq=1, width=4, height=4, format="gray8", stride=4, offset=4, size=16), b"\x00" * 16)
    last_row_unpadded = Frame(seq=1, width=2, height=2, format="gray8", stride=4)
    assert frame_image(last_row_unpadded, b"\x01\x02xx\x03\x04").tolist() == [[1, 2], [3, 4]]
