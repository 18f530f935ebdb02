"""Tests of the demo model on fresh phantom frames.

The frames are rendered by Bedside's own binary (`bedside phantom`), cropped and scaled exactly as
bedside.yaml tells Bedside to hand them to the model, with the phantom's ground truth alongside.

    cd <repo> && .venv/bin/python -m pytest researcher-template/tests -q -s

Set BEDSIDE_BIN to use another bedside binary than <repo>/.build/release/bedside.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

TEMPLATE = Path(__file__).resolve().parents[1]  # researcher-template/
REPO = TEMPLATE.parent
sys.path.insert(0, str(TEMPLATE))

from pcbm_demo.inference import load_model, predict  # noqa: E402

PLANES = ("head", "abdomen", "femur", "none")
STATUSES = ("standard", "close", "unknown")
ARROWS = (None, "left", "right", "up", "down", "rotate-cw", "rotate-ccw")

# (count, step): one whole 24 s sweep at 10 fps, and a coarser run over several sweeps whose frames
# fall at other positions (and other phases of the simulated hand tremor).
SWEEPS = {"sweep": (240, 0.1), "offset": (150, 0.37)}


# --- helpers -------------------------------------------------------------------------------------


def bedside_bin() -> Path:
    path = Path(os.environ.get("BEDSIDE_BIN") or REPO / ".build" / "release" / "bedside")
    if not path.is_file():
        pytest.fail(
            f"bedside binary not found at {path}: build it first with `swift build -c release` in {REPO} "
            "(or point BEDSIDE_BIN at one)",
            pytrace=False,
        )
    return path


def model_input() -> Tuple[str, str]:
    """`--model-size` and `--crop` for `bedside phantom`, read from the input section of bedside.yaml."""
    text = (TEMPLATE / "bedside.yaml").read_text(encoding="utf-8")
    block = text[text.index("input:") :]
    width = re.search(r"^\s+width:\s*(\d+)", block, re.M)
    height = re.search(r"^\s+height:\s*(\d+)", block, re.M)
    crop = re.search(r"crop:\s*\{\s*x:\s*(\d+),\s*y:\s*(\d+),\s*width:\s*(\d+),\s*height:\s*(\d+)\s*\}", block)
    assert width and height and crop, "could not read input width/height/crop from bedside.yaml"
    return f"{width.group(1)}x{height.group(1)}", ",".join(crop.groups())


def read_pgm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    magic, w, h, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and maxval == b"255"
    image = np.frombuffer(pixels[: int(w) * int(h)], np.uint8).reshape(int(h), int(w))
    assert not image.flags.writeable  # read-only, as Bedside hands frames over
    return image


def render(out: Path, count: int, step: float) -> List[Tuple[np.ndarray, Dict[str, Any]]]:
    size, crop = model_input()
    cmd = [str(bedside_bin()), "phantom", "--out", str(out), "--count", str(count), "--step", str(step),
           "--model-size", size, "--crop", crop]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr}"
    rows = [json.loads(line) for line in (out / "truth.jsonl").read_text().splitlines() if line.strip()]
    assert len(rows) == count
    return [(read_pgm(out / row["file"]), row) for row in rows]


def plain(value: Any) -> Any:
    """numpy types -> Python types, as Bedside's bridge does (label maps become nested lists here)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def check_result(out: Dict[str, Any], shape: Tuple[int, int]) -> None:
    """The result contract of docs/protocol.md, "Result object"."""
    assert isinstance(out, dict)
    plane = out["plane"]
    assert plane["name"] in PLANES and plane["status"] in STATUSES
    assert (plane["status"] == "unknown") == (plane["name"] == "none")
    assert 0.0 <= float(plane["score"]) <= 1.0
    assert out["concepts"], "PCBM always reports its concepts"
    for c in out["concepts"]:
        assert set(c) >= {"name", "plane", "score", "present"}
        assert c["plane"] in PLANES[:3]
        assert 0.0 <= float(c["score"]) <= 10.0
        assert isinstance(c["present"], (bool, np.bool_))
    seg = out["segmentation"]
    labels = seg["labels"]
    assert isinstance(labels, np.ndarray) and labels.dtype == np.uint8 and labels.shape == shape
    assert int(labels.max()) < len(seg["classes"]) and seg["classes"][0] == "background"
    guidance = out["guidance"]
    assert isinstance(guidance["text"], str) and guidance["text"]
    assert guidance["arrow"] in ARROWS
    text = json.dumps(plain(out), allow_nan=False)  # JSON-serialisable, no NaN / infinity
    assert json.loads(text)["plane"]["name"] == plane["name"]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module", params=sorted(SWEEPS))
def frames(request, tmp_path_factory):
    count, step = SWEEPS[request.param]
    return request.param, render(tmp_path_factory.mktemp(request.param), count, step)


# --- tests ---------------------------------------------------------------------------------------


def test_accuracy_on_phantom(frames, model):
    name, data = frames
    for image, _ in data[:5]:  # warm-up (imports, caches) is not part of the timing
        predict(image, model)
    right: Dict[str, List[bool]] = defaultdict(list)
    groups: Dict[Tuple[str, str], List[bool]] = defaultdict(list)
    wrong = []
    wall, cpu = [], []
    for image, truth in data:
        t0, c0 = time.perf_counter(), time.process_time()
        out = predict(image, model)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        got = (out["plane"]["name"], out["plane"]["status"])
        want = (truth["plane"], truth["status"])
        right[want[0]].append(got == want)
        groups[want].append(got == want)
        if got != want:
            wrong.append(f"{truth['file']} t={truth['time']:.2f}s truth {want[0]}/{want[1]} got {got[0]}/{got[1]}")
    overall = float(np.mean([ok for oks in right.values() for ok in oks]))
    print(f"\n[{name}] {len(data)} frames: plane+status accuracy {overall:.1%}")
    for plane in PLANES:
        if right[plane]:
            print(f"  {plane:8s} {np.mean(right[plane]):7.1%}  ({sum(right[plane])}/{len(right[plane])})")
    for (plane, status), oks in sorted(groups.items()):
        print(f"    {plane:8s} {status:9s} {np.mean(oks):7.1%}  ({sum(oks)}/{len(oks)})")
    print(f"  predict(): wall median {1e3 * np.median(wall):.1f} ms (p95 {1e3 * np.percentile(wall, 95):.1f}), "
          f"CPU median {1e3 * np.median(cpu):.1f} ms (p95 {1e3 * np.percentile(cpu, 95):.1f}) per frame")
    for line in wrong[:20]:
        print("  wrong:", line)
    assert overall >= 0.90, f"overall accuracy {overall:.1%} < 90%"
    for plane in PLANES:
        assert right[plane], f"the phantom run has no {plane} frames"
        acc = float(np.mean(right[plane]))
        assert acc >= 0.80, f"{plane} accuracy {acc:.1%} < 80%"
    assert np.median(cpu) < 0.050, "predict() should take well under 50 ms of CPU per frame"


def test_result_contract(frames, model):
    _, data = frames
    seen = set()
    for image, _truth in data[::3]:
        out = predict(image, model)
        check_result(out, image.shape)
        seen.add(out["plane"]["name"])
        # the label map marks the structures of the plane that was found
        labels = out["segmentation"]["labels"]
        classes = out["segmentation"]["classes"]
        anchor = {"head": "skull", "abdomen": "abdomen", "femur": "femur"}.get(out["plane"]["name"])
        if anchor:
            assert (labels == classes.index(anchor)).sum() > 100
    assert seen == set(PLANES)


def test_result_passes_bridge_conversion(frames, model):
    """If Bedside's bridge is importable, its own converter accepts the result (RLE label map included)."""
    sys.path.insert(0, str(REPO / "bridge"))
    try:
        core = pytest.importorskip("bridge.core")
    finally:
        sys.path.remove(str(REPO / "bridge"))
    _, data = frames
    image = data[len(data) // 2][0]
    out = predict(image, model)
    converted = core.convert_result(out)
    json.dumps(converted, allow_nan=False)
    seg = converted["segmentation"]
    assert (seg["width"], seg["height"]) == (image.shape[1], image.shape[0])
    decoded = core.rle_decode(seg["data"], seg["width"], seg["height"])
    assert np.array_equal(decoded, out["segmentation"]["labels"])
    assert converted["plane"]["status"] in STATUSES


def test_blank_image_is_no_plane(model):
    for value in (0, 6, 255):
        image = np.full((224, 288), value, np.uint8)
        image.flags.writeable = False
        out = predict(image, model)
        check_result(out, image.shape)
        assert (out["plane"]["name"], out["plane"]["status"]) == ("none", "unknown")
        assert out["guidance"]["arrow"] is None
        assert not out["segmentation"]["labels"].any()


def test_noise_does_not_crash(model):
    rng = np.random.default_rng(7)
    images = [
        rng.integers(0, 256, (224, 288)).astype(np.uint8),  # uniform noise
        np.clip(rng.rayleigh(40, (224, 288)), 0, 255).astype(np.uint8),  # speckle without a fan
        np.clip(rng.normal(128, 60, (224, 288)), 0, 255).astype(np.uint8),
    ]
    fan = np.zeros((224, 288), np.uint8)  # a fan with speckle but nothing in it
    yy, xx = np.mgrid[:224, :288]
    inside = (np.abs(np.arctan2(xx - 144.0, yy + 1.0)) < 0.62) & (yy > 10)
    fan[inside] = np.clip(rng.rayleigh(30, inside.sum()), 0, 255)
    images.append(fan)
    for image in images:
        image.flags.writeable = False
        out = predict(image, model)
        check_result(out, image.shape)
        assert out["plane"]["name"] == "none"


def test_wrong_input_size_says_so(model):
    with pytest.raises(ValueError, match="bedside.yaml"):
        predict(np.zeros((100, 100), np.uint8), model)


def test_loads_by_file_path_like_bedside(tmp_path):
    """Bedside imports pcbm_demo/inference.py by path (its folder first on sys.path), not as a package."""
    entry = str(TEMPLATE / "pcbm_demo" / "inference.py")
    script = (
        "import importlib.util, json, sys, numpy as np\n"
        f"spec = importlib.util.spec_from_file_location('inference', {entry!r})\n"
        "mod = importlib.util.module_from_spec(spec); sys.modules['inference'] = mod; spec.loader.exec_module(mod)\n"
        "model = mod.load_model()\n"
        "assert model is not None  # Bedside passes setup's return value only when it is not None\n"
        "out = mod.predict(np.zeros((224, 288), np.uint8), model)\n"
        "print(json.dumps(out['plane']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    plane = json.loads(done.stdout.strip().splitlines()[-1])
    assert plane["name"] == "none" and math.isfinite(plane["score"])
