"""The shared examples of the bridge protocol (Tests/ProtocolExamples/bridge) through the bridge's own codec.

Swift decodes and encodes the same files (Tests/ModelBridgeTests/WorkerMessageTests.swift), so a field renamed
or retyped on one side fails a test on the other. Every message type the bridge knows needs an example.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from bridge import core

EXAMPLES = Path(__file__).resolve().parents[2] / "Tests" / "ProtocolExamples" / "bridge"
FILES = sorted(EXAMPLES.glob("*.json"))


def _message_type(path: Path) -> str:
    """`worker-result-no-times.json` -> `result`: the sender, then the type, then what the example shows."""
    sender, _, rest = path.stem.partition("-")
    assert sender in ("worker", "bedside"), f"{path.name}: name it worker-<type>[-case].json or bedside-<type>[-case].json"
    return rest.split("-")[0]


def test_there_are_examples_of_every_message_type_both_ways() -> None:
    assert FILES, f"no examples in {EXAMPLES}"
    covered = {_message_type(p) for p in FILES}
    missing = sorted(set(core.MESSAGE_TYPES) - covered)
    assert not missing, f"message types without an example in {EXAMPLES}: {missing}"
    senders = {p.stem.split("-")[0]: p for p in FILES}
    assert set(senders) == {"worker", "bedside"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_an_example_decodes_to_its_type_and_encodes_back_to_the_same_json(path: Path) -> None:
    text = path.read_bytes()
    original: Dict[str, Any] = json.loads(text)
    message = core.decode(text)
    assert message.type == _message_type(path) == original["type"]
    again = json.loads(core.encode(message))
    # What the example says survives a round trip, field by field. `protocol` is checked on the way in
    # (core.check_protocol), not a field of every message; a hello carries it always.
    for key, value in original.items():
        if key == "protocol" and message.type != "hello":
            continue
        assert again.get(key) == value, f"{path.name}: {key} was {value!r}, encodes as {again.get(key)!r}"
    extra = set(again) - set(original) - {"protocol"}
    assert not extra, f"{path.name}: the encoder added {sorted(extra)}"
    assert core.decode(core.encode(message)) == message


@pytest.mark.parametrize("path", [p for p in FILES if p.stem.startswith("worker-result")], ids=lambda p: p.name)
def test_a_result_example_is_what_the_bridge_itself_would_send(path: Path) -> None:
    """A result in the examples is already in the converted shape: converting it again changes nothing."""
    message = core.decode(path.read_bytes())
    assert isinstance(message, core.Result)
    assert core.convert_result(message.result) == message.result
