"""Tests of the three ways to wrap research code, in researcher-template/examples/.

Each example is untouched research code, a small `bedside_entry.py` that adapts it, and a
`bedside.yaml`. These tests load each adapter the way Bedside's bridge does (the file imported by
its path, its folder first on sys.path; a class instantiated and set up once; a setup function's
result passed to predict), call it on frames of the shape its bedside.yaml configures, and check the
answer against the result object of docs/protocol.md. They also check that the research files are
the ones listed in examples/UNTOUCHED.sha256 and that running the adapters changes none of them.

    cd <repo> && .venv/bin/python -m pytest -q researcher-template/tests/test_examples.py

No Bedside binary is needed; the tests that use one (`bedside check`, phantom frames) look for
BEDSIDE_BIN, then <repo>/.build/release/bedside, then <repo>/.build/debug/bedside, and are skipped
when there is none.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest

TEMPLATE = Path(__file__).resolve().parents[1]  # researcher-template/
REPO = TEMPLATE.parent
EXAMPLES_DIR = TEMPLATE / "examples"
EXAMPLES = ("plain_function", "model_class", "script_main")

PLANE_STATUSES = ("standard", "close", "unknown")
ARROWS = (None, "left", "right", "up", "down", "rotate-cw", "rotate-ccw")


# --- reading the example configs -----------------------------------------------------------------


def config_text(example: str) -> str:
    return (EXAMPLES_DIR / example / "bedside.yaml").read_text(encoding="utf-8")


def model_config(example: str) -> Dict[str, Any]:
    """entry, setup, input format and size of the one model in an example's bedside.yaml."""
    text = config_text(example)
    entry = re.search(r"^\s+entry:\s*(\S+)", text, re.M)
    setup = re.search(r"^\s+setup:\s*(\S+)", text, re.M)
    block = text[text.index("    input:") :]
    fmt = re.search(r"^\s+format:\s*(\w+)", block, re.M)
    width = re.search(r"^\s+width:\s*(\d+)", block, re.M)
    height = re.search(r"^\s+height:\s*(\d+)", block, re.M)
    crop = re.search(r"crop:\s*\{\s*x:\s*(\d+),\s*y:\s*(\d+),\s*width:\s*(\d+),\s*height:\s*(\d+)\s*\}", block)
    assert entry and fmt and width and height and crop, f"cannot read the model of {example}/bedside.yaml"
    return {
        "entry": entry.group(1),
        "setup": setup.group(1) if setup else None,
        "format": fmt.group(1),
        "width": int(width.group(1)),
        "height": int(height.group(1)),
        "crop": tuple(int(v) for v in crop.groups()),
    }


def input_shape(example: str) -> Tuple[int, ...]:
    cfg = model_config(example)
    hw = (cfg["height"], cfg["width"])
    return hw if cfg["format"] in ("gray", "grey", "gray8") else hw + (3,)


def section(text: str, key: str) -> str:
    """The lines of a top-level YAML section, comments dropped."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    out = [lines[start].split("#")[0].rstrip()]
    for line in lines[start + 1 :]:
        if line and not line[0].isspace() and not line.startswith("#"):
            break
        code = line.split("#")[0].rstrip()
        if code:
            out.append(code)
    return "\n".join(out)


# --- loading an adapter as Bedside's bridge does --------------------------------------------------


class Loaded:
    """The per-frame callable of an example, set up once."""

    def __init__(self, example: str) -> None:
        cfg = model_config(example)
        folder = EXAMPLES_DIR / example
        self.fn = self._resolve(folder, cfg["entry"], example)
        setup = self._resolve(folder, cfg["setup"], example) if cfg["setup"] else None
        self.state = setup() if setup else None
        if inspect.isclass(self.fn):
            self.fn = self.fn()
            if callable(getattr(self.fn, "setup", None)):
                self.fn.setup()

    @staticmethod
    def _resolve(folder: Path, spec: str, example: str) -> Any:
        file, name = spec.rsplit(":", 1)
        path = folder / file
        key = f"_example_{example}_{path.stem}"
        if key not in sys.modules:
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))  # the bridge puts the entry file's folder first
            spec_ = importlib.util.spec_from_file_location(key, path)
            assert spec_ and spec_.loader
            module = importlib.util.module_from_spec(spec_)
            sys.modules[key] = module
            spec_.loader.exec_module(module)
        return getattr(sys.modules[key], name)

    def __call__(self, image: np.ndarray) -> Dict[str, Any]:
        return self.fn(image, self.state) if self.state is not None else self.fn(image)


@pytest.fixture(scope="module")
def adapters() -> Dict[str, Loaded]:
    cwd = os.getcwd()
    try:
        os.chdir(Path("/"))  # Bedside runs the worker in the yaml's folder; nothing may depend on ours
        return {name: Loaded(name) for name in EXAMPLES}
    finally:
        os.chdir(cwd)


# --- frames ----------------------------------------------------------------------------------------


def readonly(image: np.ndarray) -> np.ndarray:
    image = np.ascontiguousarray(image)
    image.flags.writeable = False  # Bedside hands over a read-only view of shared memory
    return image


def scene(shape: Tuple[int, ...], bar_deg: float = 0.0, bar_len: float = 0.4, disc: bool = True) -> np.ndarray:
    """A fan of speckle with a bright bar (a bone) and a dark disc (fluid), in the given shape."""
    h, w = shape[:2]
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    fan = (np.abs(np.arctan2(xx - w / 2, yy + 2)) < 0.6) & (yy < 0.95 * h)
    img = np.where(fan, np.clip(rng.normal(60, 12, (h, w)), 0, 255), 4.0)
    cx, cy, half = w / 2, 0.55 * h, bar_len * w / 2
    a = math.radians(bar_deg)
    u = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
    v = -(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)
    img[(np.abs(u) <= half) & (np.abs(v) <= max(2.0, h / 56))] = 230
    if disc:
        img[(xx - 0.55 * w) ** 2 + (yy - 0.3 * h) ** 2 < (0.06 * h) ** 2] = 5
    img = img.astype(np.uint8)
    if len(shape) == 3:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return readonly(img)


def frames(shape: Tuple[int, ...]) -> List[np.ndarray]:
    rng = np.random.default_rng(11)
    return [
        readonly(np.zeros(shape, np.uint8)),
        readonly(np.full(shape, 255, np.uint8)),
        readonly(rng.integers(0, 256, shape).astype(np.uint8)),
        scene(shape),
        scene(shape, bar_deg=30.0),
    ]


# --- the result object (docs/protocol.md) ----------------------------------------------------------


def plain(value: Any) -> Any:
    """numpy types -> Python types, as the bridge converts them (label maps become lists here)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def check_result(out: Any, shape: Tuple[int, ...]) -> None:
    assert isinstance(out, dict), f"the result must be a dict, got {type(out).__name__}"
    assert set(out) & {"plane", "concepts", "segmentation"}, "the result shows nothing the page knows"
    if "plane" in out:
        plane = out["plane"]
        assert isinstance(plane["name"], str) and plane["name"]
        assert plane["status"] in PLANE_STATUSES
        assert (plane["status"] == "unknown") == (plane["name"] == "none")
        assert 0.0 <= float(plane["score"]) <= 1.0
    for c in out.get("concepts", []):
        assert isinstance(c["name"], str) and c["name"]
        assert 0.0 <= float(c["score"]) <= 10.0
        assert isinstance(c["present"], (bool, np.bool_))
        assert isinstance(c.get("plane", ""), str) and isinstance(c.get("label", ""), str)
    if "segmentation" in out:
        seg = out["segmentation"]
        labels, classes = seg["labels"], seg["classes"]
        assert isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and labels.shape == shape[:2]
        assert classes[0] == "background" and all(isinstance(c, str) for c in classes)
        assert 0 <= int(labels.min()) and int(labels.max()) < len(classes)
    if "guidance" in out:
        g = out["guidance"]
        assert isinstance(g["text"], str) and g["text"]
        assert g["arrow"] in ARROWS
    json.dumps(plain(out), allow_nan=False)  # JSON can carry it: no NaN, no infinity, no odd types


# --- tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES)
def test_config_is_the_template_with_another_model(example):
    """Same source, privacy masks and page as researcher-template/bedside.yaml; only the model differs."""
    text, template = config_text(example), (TEMPLATE / "bedside.yaml").read_text(encoding="utf-8")
    assert section(text, "privacy") == section(template, "privacy")
    assert re.search(r"^source: \{kind: phantom, width: 1280, height: 720, fps: 30\}", text, re.M)
    assert re.search(r"^web: \{bind: 127\.0\.0\.1, port: 8080\}", text, re.M)
    cfg = model_config(example)
    assert cfg["crop"] == (248, 72, 784, 610)
    assert (EXAMPLES_DIR / example / cfg["entry"].split(":")[0]).is_file()
    assert (EXAMPLES_DIR / example / "requirements.txt").is_file()


@pytest.mark.parametrize("example", EXAMPLES)
def test_adapter_answers_in_the_result_format(example, adapters):
    shape = input_shape(example)
    for image in frames(shape):
        check_result(adapters[example](image), shape)


def test_plain_function_labels_bone_and_fluid(adapters):
    image = scene(input_shape("plain_function"))
    out = adapters["plain_function"](image)
    labels, classes = out["segmentation"]["labels"], out["segmentation"]["classes"]
    h, w = labels.shape
    assert classes[labels[int(0.55 * h), w // 2]] == "strong_echo"  # the bar
    assert classes[labels[int(0.3 * h), int(0.55 * w)]] == "fluid"  # the disc
    assert {c["name"]: c["present"] for c in out["concepts"]} == {"strong_echo": True, "fluid": True}


def test_model_class_loads_its_weights_once_in_setup(adapters):
    runner = adapters["model_class"].fn
    assert runner.net is not None and not runner.net.training  # eval() was called
    assert runner.net.fc1.weight.shape == (32, (64 // 4) * (80 // 4))  # hidden x pooled input
    assert runner.planes == ["head", "abdomen", "femur"]
    with pytest.raises(ValueError, match="bedside.yaml"):
        runner(readonly(np.zeros((100, 100), np.uint8)))


def test_script_adapter_measures_a_femur(adapters):
    shape = input_shape("script_main")
    level = adapters["script_main"](scene(shape, bar_deg=0.0, bar_len=0.4, disc=False))
    assert (level["plane"]["name"], level["plane"]["status"]) == ("femur", "standard")
    expected_mm = 0.4 * shape[1] * adapters["script_main"].state["mm_per_pixel"]
    assert abs(level["femur_length_mm"] - expected_mm) < 0.06 * expected_mm
    steep = adapters["script_main"](scene(shape, bar_deg=30.0, disc=False))
    assert (steep["plane"]["name"], steep["plane"]["status"]) == ("femur", "close")
    assert steep["guidance"]["arrow"] == "rotate-ccw" and abs(steep["femur_angle_deg"] - 30.0) < 2.0
    empty = adapters["script_main"](readonly(np.zeros(shape, np.uint8)))
    assert (empty["plane"]["name"], empty["plane"]["status"]) == ("none", "unknown")


def test_importing_the_script_does_not_run_its_main():
    """Imported with the command line a Bedside worker has, the script neither parses it nor exits."""
    folder = EXAMPLES_DIR / "script_main"
    code = (
        "import sys\n"
        "sys.argv = ['-m', '--endpoint', 'ipc:///tmp/x.sock', '--entry', 'bedside_entry.py:predict']\n"
        f"sys.path.insert(0, {str(folder)!r})\n"
        "import bedside_entry\n"
        "print('imported', bedside_entry.script.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported femur_biometry"


def untouched() -> Dict[Path, str]:
    """examples/UNTOUCHED.sha256 (`sha256sum` format): the research files and their digests."""
    listed = {}
    for line in (EXAMPLES_DIR / "UNTOUCHED.sha256").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            listed[EXAMPLES_DIR / name.lstrip("*")] = digest
    return listed


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_research_files_are_untouched():
    listed = untouched()
    for example in EXAMPLES:
        assert any(p.parent.is_relative_to(EXAMPLES_DIR / example) for p in listed), f"{example} lists no research file"
    for path, digest in listed.items():
        assert sha256(path) == digest, f"{path.relative_to(TEMPLATE)} is not the research file the adapter was written for"


def test_running_the_adapters_writes_nothing_into_the_research_repo():
    def snapshot() -> Dict[Path, Tuple[int, str]]:
        return {p: (p.stat().st_mtime_ns, sha256(p)) for p in EXAMPLES_DIR.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}

    before = snapshot()
    code = (  # fresh loads in a process of their own, started in the research repo as Bedside does
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_examples as t\n"
        "for example in t.EXAMPLES:\n"
        "    m = t.Loaded(example)\n"
        "    for image in t.frames(t.input_shape(example)): m(image)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=EXAMPLES_DIR / "script_main")
    assert done.returncode == 0, done.stderr
    assert snapshot() == before


def bridge_path() -> Optional[Path]:
    path = REPO / "bridge"
    return path if (path / "bridge" / "loader.py").is_file() else None


@pytest.mark.parametrize("example", EXAMPLES)
def test_bedsides_own_loader_and_converter_accept_it(example):
    """With Bedside's bridge (bridge.loader and bridge.core): loaded from the yaml's folder, answer converted."""
    if bridge_path() is None:
        pytest.skip("Bedside's bridge/ is not beside researcher-template/")
    cfg = model_config(example)
    folder = EXAMPLES_DIR / example
    entry = f"{folder / cfg['entry'].split(':')[0]}:{cfg['entry'].split(':')[1]}"  # Bedside makes paths absolute
    setup = f"{folder / cfg['setup'].split(':')[0]}:{cfg['setup'].split(':')[1]}" if cfg["setup"] else None
    code = (
        "import json, sys, numpy as np\n"
        f"sys.path.insert(0, {str(bridge_path())!r})\n"
        "from bridge.loader import load\n"
        "from bridge.core import convert_result\n"
        f"model = load({entry!r}, {setup!r}, workdir={str(folder)!r})\n"
        f"image = np.zeros({input_shape(example)!r}, np.uint8); image.flags.writeable = False\n"
        "print(json.dumps({'info': model.info, 'result': convert_result(model(image))}, allow_nan=False))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    result = answer["result"]
    if "segmentation" in result:
        seg = result["segmentation"]
        assert seg["encoding"] == "rle" and (seg["height"], seg["width"]) == input_shape(example)[:2]
        assert sum(seg["data"][1::2]) == seg["width"] * seg["height"]
    if "plane" in result:
        assert result["plane"]["status"] in PLANE_STATUSES
    assert answer["info"], "each example declares what it is (version, classes, concepts or planes)"


def bedside_bin() -> Optional[Path]:
    for candidate in (os.environ.get("BEDSIDE_BIN"), REPO / ".build/release/bedside", REPO / ".build/debug/bedside"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def test_planenet_names_the_planes_of_phantom_frames(adapters, tmp_path):
    binary = bedside_bin()
    if binary is None:
        pytest.skip("no bedside binary to render phantom frames")
    cfg = model_config("model_class")
    done = subprocess.run(
        [str(binary), "phantom", "--out", str(tmp_path), "--count", "48", "--step", "0.5",
         "--model-size", f"{cfg['width']}x{cfg['height']}", "--crop", ",".join(map(str, cfg["crop"]))],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    right = []
    for line in (tmp_path / "truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        data = (tmp_path / truth["file"]).read_bytes()
        _, w, h, _, pixels = data.split(maxsplit=4)
        image = readonly(np.frombuffer(pixels[: int(w) * int(h)], np.uint8).reshape(int(h), int(w)))
        right.append(adapters["model_class"](image)["plane"]["name"] == truth["plane"])
    assert np.mean(right) >= 0.9, f"plane accuracy {np.mean(right):.0%} on phantom frames"


@pytest.mark.parametrize("example", EXAMPLES)
def test_bedside_check_passes(example):
    """`bedside check` starts the model through the real bridge, feeds it a phantom frame and reports."""
    binary = bedside_bin()
    if binary is None:
        pytest.skip("no bedside binary")
    config = EXAMPLES_DIR / example / "bedside.yaml"
    done = subprocess.run([str(binary), "check", "--config", str(config), "--python", sys.executable],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ loaded in" in done.stdout and "returned:" in done.stdout
