"""Bridge protocol 1 without I/O: messages, result conversion, frame views.

Nothing here touches a socket, so Bedside-side tools and tests can use it too.
"""

from __future__ import annotations

import dataclasses
import json
import math
import traceback
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Optional, Tuple, Type, Union

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

PROTOCOL_VERSION = 1

FORMATS: Dict[str, int] = {"gray8": 1, "rgb24": 3, "bgr24": 3}  # format -> bytes per pixel
STAGES = ("import", "setup", "signature", "protocol")
FATAL_FAULTS = ("researcher", "bridge")
ERROR_FAULTS = ("researcher", "result")
PLANE_STATUSES = ("standard", "close", "unknown")
RESULT_KEYS = ("plane", "concepts", "segmentation", "guidance", "extra")

MAX_ERROR_LINE = 1000


class ProtocolError(ValueError):
    """A message that breaks the protocol (the bridge's or Bedside's fault)."""


class ResultError(ValueError):
    """The researcher's function returned something the protocol cannot carry."""

    fault = "result"


# --- Messages -------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """Worker -> Bedside, first message, sent before the researcher's code is imported."""

    type: ClassVar[str] = "hello"
    pid: int
    name: str
    python: str
    bridge: str
    protocol: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class Ready:
    """Worker -> Bedside: import and setup succeeded.

    `model` is what the research code declares about itself, each key optional: `version` (str), `classes`
    (segmentation class names, index = label), `concepts` (property concept names), `planes` (plane names).
    """

    type: ClassVar[str] = "ready"
    setup_ms: float
    model: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Heartbeat:
    """Worker -> Bedside, once a second while the worker waits for a frame: it is alive and connected."""

    type: ClassVar[str] = "heartbeat"
    time_ns: int


@dataclass(frozen=True)
class Network:
    """Worker -> Bedside: network attempts of the research code (bridge.network), new ones and new counts.

    Each attempt: `host`, `port` (when known), `url` (when known), `event` (the audit event that first saw it),
    `where` (`file:line` in the research code; a library's when no research frame was on the stack; "" when
    unknown), `function`, `count` (how often so far, in all), `denied` (refused under `network: deny`).
    An attempt is identified by (host, port, url, where): a later message repeats it with a higher count.
    """

    type: ClassVar[str] = "network"
    attempts: List[Dict[str, Any]]

    def __post_init__(self) -> None:
        for i, attempt in enumerate(self.attempts):
            where = f"network.attempts[{i}]"
            if not isinstance(attempt, dict):
                raise ProtocolError(f"{where} is not an object")
            for key, kind in _ATTEMPT_FIELDS.items():
                value = attempt.get(key)
                if key in ("port", "url") and value is None:
                    continue
                if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                    raise ProtocolError(f"{where}.{key} should be {kind.__name__}, got {value!r}")


_ATTEMPT_FIELDS: Dict[str, type] = {
    "host": str, "port": int, "url": str, "event": str, "where": str, "function": str, "count": int, "denied": bool,
}


@dataclass(frozen=True)
class Fatal:
    """Worker -> Bedside: the worker cannot go on and exits with code 3."""

    type: ClassVar[str] = "fatal"
    stage: str
    error: str
    traceback: str
    fault: str

    def __post_init__(self) -> None:
        _check_choice("stage", self.stage, STAGES)
        _check_choice("fault", self.fault, FATAL_FAULTS)


@dataclass(frozen=True)
class Frame:
    """Bedside -> worker: one image, in shared memory (`shm`) or in a second ZeroMQ frame.

    `offset`, `stride` and `size` describe the pixels inside whichever buffer holds them.
    """

    type: ClassVar[str] = "frame"
    seq: int
    width: int
    height: int
    format: str
    stride: int
    pts_ns: int = 0
    shm: Optional[str] = None
    offset: int = 0
    size: Optional[int] = None
    # Pipelines: the result an upstream model gave for this frame, {"model": name, "result": {...}}.
    upstream: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        _check_choice("format", self.format, tuple(FORMATS))
        if self.width <= 0 or self.height <= 0:
            raise ProtocolError(f"frame size {self.width}x{self.height} is empty")
        if self.stride < self.width * self.channels:
            raise ProtocolError(f"stride {self.stride} is shorter than a row ({self.width * self.channels} bytes)")
        if self.offset < 0:
            raise ProtocolError(f"offset {self.offset} is negative")
        if self.size is not None and self.size < self.nbytes:
            raise ProtocolError(f"size {self.size} is smaller than the image ({self.nbytes} bytes)")
        if self.shm is not None and not self.shm.startswith("/"):
            raise ProtocolError(f"shm path {self.shm!r} is not absolute")

    @property
    def channels(self) -> int:
        return FORMATS[self.format]

    @property
    def nbytes(self) -> int:
        """Bytes from the first pixel to the last one, padding of the last row excluded."""
        return self.stride * (self.height - 1) + self.width * self.channels


@dataclass(frozen=True)
class Result:
    """Worker -> Bedside: the converted answer for frame `seq`."""

    type: ClassVar[str] = "result"
    seq: int
    model_ms: float
    recv_to_send_ms: float
    result: Dict[str, Any]
    # CLOCK_MONOTONIC nanoseconds (the same clock as Bedside's on one machine): frame received, the research
    # function called, and returned.
    received_ns: Optional[int] = None
    start_ns: Optional[int] = None
    end_ns: Optional[int] = None


@dataclass(frozen=True)
class Error:
    """Worker -> Bedside: no answer for frame `seq`; the worker keeps serving."""

    type: ClassVar[str] = "error"
    seq: int
    model_ms: float
    error: str
    traceback: str
    fault: str

    def __post_init__(self) -> None:
        _check_choice("fault", self.fault, ERROR_FAULTS)


@dataclass(frozen=True)
class Shutdown:
    """Bedside -> worker: exit 0 now."""

    type: ClassVar[str] = "shutdown"


Message = Union[Hello, Ready, Heartbeat, Network, Fatal, Frame, Result, Error, Shutdown]
MESSAGE_TYPES: Dict[str, Type[Any]] = {
    cls.type: cls for cls in (Hello, Ready, Heartbeat, Network, Fatal, Frame, Result, Error, Shutdown)
}
_HINTS = {cls: typing.get_type_hints(cls) for cls in MESSAGE_TYPES.values()}


def _check_choice(field: str, value: str, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise ProtocolError(f"{field} {value!r} is not one of {', '.join(choices)}")


def check_protocol(version: Any) -> None:
    """Raise ProtocolError unless `version` is the protocol this bridge speaks."""
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError(
            f"Bedside speaks bridge protocol {version!r}, this bridge speaks {PROTOCOL_VERSION}: install the bridge that "
            "comes with the Bedside you run (pip install <bedside checkout>/bridge) into the model's environment"
        )


def encode(message: Message) -> bytes:
    """One message as the UTF-8 JSON of its ZeroMQ frame (fields that are None are left out)."""
    body: Dict[str, Any] = {"type": message.type}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        if value is not None:
            body[f.name] = value
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()


def decode(data: bytes) -> Message:
    """Parse one message; unknown fields are ignored, anything else wrong raises ProtocolError."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"message is not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("message is nested too deeply") from None
    if not isinstance(body, dict):
        raise ProtocolError("message is not a JSON object")
    kind = body.get("type")
    cls = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {body.get('type')!r}")
    if "protocol" in body:
        check_protocol(body["protocol"])
    if (cls is Frame and "stride" not in body and isinstance(body.get("format"), str) and body["format"] in FORMATS
            and isinstance(body.get("width"), int)):
        body = {**body, "stride": body["width"] * FORMATS[body["format"]]}  # packed rows by default
    hints = _HINTS[cls]
    kwargs: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in body:
            if f.default is dataclasses.MISSING:
                raise ProtocolError(f"{cls.type} message lacks {f.name!r}")
            continue
        kwargs[f.name] = _typed(body[f.name], hints[f.name], f"{cls.type}.{f.name}")
    return cls(**kwargs)  # type: ignore[no-any-return]


def _typed(value: Any, hint: Any, where: str) -> Any:
    """Check a decoded JSON value against a field's type hint (ints stay ints, ints pass as floats)."""
    if hint is Any:
        return value
    if typing.get_origin(hint) is Union:
        if value is None and type(None) in typing.get_args(hint):
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    base = typing.get_origin(hint) or hint
    if isinstance(value, base) and not (isinstance(value, bool) and base is int):
        return value
    raise ProtocolError(f"{where} should be {getattr(base, '__name__', base)}, got {value!r}")


# --- Errors ---------------------------------------------------------------


def error_line(exc: BaseException) -> str:
    """`ExceptionType: message` on one line."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= MAX_ERROR_LINE else line[: MAX_ERROR_LINE - 3] + "..."


def format_traceback(exc: BaseException, skip: int = 0) -> str:
    """The usual Python traceback text, leaving out the `skip` outermost frames (the bridge's own)."""
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


# --- Results --------------------------------------------------------------


def convert_result(value: Any) -> Dict[str, Any]:
    """The researcher's return value as a JSON-ready result object, or ResultError saying what is wrong."""
    if not isinstance(value, dict) and callable(getattr(value, "to_dict", None)):
        value = value.to_dict()
    if not isinstance(value, dict):
        raise ResultError(f"the model returned {type(value).__name__}, expected a dict")
    out: Dict[str, Any] = {}
    extra: Dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ResultError(f"result key {key!r} is not a string")
        where = f"result[{key!r}]"
        if key == "segmentation":
            out[key] = _segmentation(item, where)
        elif key in RESULT_KEYS:
            out[key] = to_json(item, where)
        else:
            extra[key] = to_json(item, where)
    for key, kind in (("plane", dict), ("concepts", list), ("guidance", dict), ("extra", dict)):
        if out.get(key) is not None and not isinstance(out[key], kind):
            raise ResultError(f"result[{key!r}] should be a {kind.__name__}, got {type(out[key]).__name__}")
    if isinstance(out.get("concepts"), list) and not all(isinstance(c, dict) for c in out["concepts"]):
        raise ResultError("result['concepts'] should be a list of dicts")
    if isinstance(out.get("plane"), dict):
        out["plane"] = _plane(out["plane"])
    if extra:
        out["extra"] = {**extra, **(out.get("extra") or {})}
    return out


def _plane(plane: Dict[str, Any]) -> Dict[str, Any]:
    status = plane.get("status", "unknown")
    if status == "non-standard":
        status = "close"
    if status not in PLANE_STATUSES:
        raise ResultError(
            f"result['plane']['status'] is {status!r}, expected one of {', '.join(PLANE_STATUSES)} (or 'non-standard')"
        )
    return {**plane, "status": status}


def to_json(value: Any, where: str = "result") -> Any:
    """`value` with numpy scalars as numbers and arrays as lists; ResultError for NaN, inf or non-JSON types."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ResultError(f"{where} is {value!r}: NaN and infinity are not allowed")
        return value
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "f" and not np.isfinite(value).all():
            raise ResultError(f"{where} contains NaN or infinity")
        if kind in "biufUS":
            return value.tolist()
        if kind == "O":
            return to_json(value.tolist(), where)
        raise ResultError(f"{where} is an array of {value.dtype}, which JSON cannot hold")
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ResultError(f"{where} has key {key!r}, which is not a string")
            out[key] = to_json(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ResultError(f"{where} is a {type(value).__name__}, which JSON cannot hold")


def _segmentation(value: Any, where: str) -> Any:
    """A 2-D integer array (alone or as `labels` in a dict) becomes an RLE label map; other dicts pass."""
    rest: Dict[str, Any] = {}
    labels = value
    if value is None:
        return None
    if isinstance(value, dict):
        if "labels" not in value:
            return to_json(value, where)
        rest = {k: v for k, v in value.items() if k != "labels"}
        labels = value["labels"]
        where += "['labels']"
    array = _label_array(labels)
    if array is None:
        raise ResultError(f"{where} should be a 2-D integer array (a label map), got {_describe(labels)}")
    height, width = array.shape
    head = {"width": width, "height": height, "encoding": "rle"}
    body = {k: v for k, v in to_json(rest, where).items() if k not in head and k != "data"}
    return {**head, **body, "data": rle_encode(array)}


def _label_array(value: Any) -> Optional[NDArray[Any]]:
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value)
        except ValueError:
            return None
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.dtype.kind in "biu":
        return value
    return None


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D array of {value.dtype}"
    return f"a {type(value).__name__}"


def rle_encode(labels: NDArray[Any]) -> List[int]:
    """Row-major runs of a 2-D label map as `[value, length, value, length, ...]`."""
    flat = np.asarray(labels).astype(np.int64, copy=False).ravel(order="C")
    if flat.size == 0:
        return []
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    return np.stack((flat[starts], lengths), axis=1).ravel().tolist()  # type: ignore[no-any-return]


def rle_decode(data: List[int], width: int, height: int) -> NDArray[Any]:
    """Inverse of rle_encode: an int64 array of shape (height, width)."""
    values = np.asarray(data[0::2], dtype=np.int64)
    lengths = np.asarray(data[1::2], dtype=np.int64)
    if len(values) != len(lengths) or int(lengths.sum()) != width * height:
        raise ValueError(f"runs cover {int(lengths.sum())} pixels, the map has {width * height}")
    return np.repeat(values, lengths).reshape(height, width)


# --- Frames ---------------------------------------------------------------


def frame_image(frame: Frame, buffer: Any) -> NDArray[Any]:
    """A read-only uint8 view of the frame's pixels in `buffer`: (h, w) for gray8, (h, w, 3) for rgb24 and bgr24 (OpenCV order)."""
    available = memoryview(buffer).nbytes - frame.offset
    if frame.size is not None and frame.size > available:
        raise ProtocolError(f"frame {frame.seq}: offset {frame.offset} + size {frame.size} is past the buffer end")
    if frame.nbytes > available:
        raise ProtocolError(
            f"frame {frame.seq}: needs {frame.nbytes} bytes at offset {frame.offset}, the buffer has {available}"
        )
    if frame.channels == 1:
        shape: Tuple[int, ...] = (frame.height, frame.width)
        strides: Tuple[int, ...] = (frame.stride, 1)
    else:
        shape = (frame.height, frame.width, frame.channels)
        strides = (frame.stride, frame.channels, 1)
    image: NDArray[np.uint8] = np.ndarray(shape, dtype=np.uint8, buffer=buffer, offset=frame.offset, strides=strides)
    image.flags.writeable = False
    return image
