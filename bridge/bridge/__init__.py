"""Bedside's bridge to a researcher's Python model (bridge protocol 1).

Run a worker with ``python -m bridge --endpoint ... --entry path/to/script.py:predict``.
Importing this package does not import ZeroMQ; ``bridge.worker`` does.
"""

from __future__ import annotations

from .core import (
    PROTOCOL_VERSION,
    Error,
    Fatal,
    Frame,
    Hello,
    Message,
    Network,
    ProtocolError,
    Ready,
    Result,
    ResultError,
    Shutdown,
    check_protocol,
    convert_result,
    decode,
    encode,
    frame_image,
    rle_decode,
    rle_encode,
    to_json,
)
from .loader import LoadError, Model, load

__version__ = "0.1.0"

__all__ = [
    "PROTOCOL_VERSION",
    "Error",
    "Fatal",
    "Frame",
    "Hello",
    "LoadError",
    "Message",
    "Model",
    "Network",
    "ProtocolError",
    "Ready",
    "Result",
    "ResultError",
    "Shutdown",
    "__version__",
    "check_protocol",
    "convert_result",
    "decode",
    "encode",
    "frame_image",
    "load",
    "rle_decode",
    "rle_encode",
    "to_json",
]
