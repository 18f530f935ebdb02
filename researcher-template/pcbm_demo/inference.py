"""Entry points Bedside calls (see ../bedside.yaml).

    model = load_model()              # once, `setup: pcbm_demo/inference.py:load_model`
    result = predict(image, model)    # per frame, `entry: pcbm_demo/inference.py:predict`

`image` is a read-only numpy uint8 array of shape (224, 288): the scan area, grey. The result
is a plain dict in Bedside's result format (docs/protocol.md, "Result object").

Run on a folder of frames written by `bedside phantom`:

    python pcbm_demo/inference.py /tmp/phm
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

if __package__:
    from . import concepts as _concepts
    from . import planes as _planes
    from . import segmentation as _segmentation
    from .config import DemoConfig, load_config
else:  # imported by file path (as Bedside does): import the package next to this file instead
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pcbm_demo import concepts as _concepts
    from pcbm_demo import planes as _planes
    from pcbm_demo import segmentation as _segmentation
    from pcbm_demo.config import DemoConfig, load_config

# What this model is, for Bedside's status and session records (read if present, never required).
__version__ = "0.1.0"
CLASSES = list(_segmentation.CLASSES)
CONCEPTS = list(_concepts.CONCEPTS)
PLANES = list(_concepts.PLANES)

DEFAULT_CHECKPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checkpoints", "pcbm_demo.json")


@dataclass
class DemoModel:
    """What load_model() returns and predict() receives: the "weights" of the three stages."""

    config: DemoConfig
    checkpoint: Optional[str]

    def __call__(self, image: np.ndarray) -> Dict[str, Any]:
        return predict(image, self)


def load_model(checkpoint: Optional[str] = None) -> DemoModel:
    """Load the model once. A real PCBM would read network weights here; the demo reads thresholds."""
    path = checkpoint or os.environ.get("PCBM_DEMO_CHECKPOINT") or DEFAULT_CHECKPOINT
    path = os.path.normpath(path)
    if not os.path.isfile(path):
        if checkpoint:
            raise FileNotFoundError(f"checkpoint not found: {path}")
        path = None  # built-in defaults
    return DemoModel(load_config(path), path)


def predict(image: np.ndarray, model: Optional[DemoModel] = None) -> Dict[str, Any]:
    """One frame -> plane, concepts, segmentation, guidance."""
    if model is None:
        model = load_model()
    cfg = model.config
    image = np.asarray(image)
    if image.ndim == 3:  # tolerate rgb input: average the channels
        image = image.mean(axis=2)
    if image.shape != (cfg.input_height, cfg.input_width):
        raise ValueError(
            f"expected a grey image of shape ({cfg.input_height}, {cfg.input_width}), got {image.shape}: "
            "check input.width/height in bedside.yaml"
        )
    structures = _segmentation.segment(image, cfg.segmentation)  # stage 1
    concepts = _concepts.measure(structures, cfg.concepts, cfg.segmentation.fan_margin)  # stage 2
    decision = _planes.decide(concepts, cfg.concepts.present_at)  # stage 3
    return {
        "plane": decision.plane_dict(),
        "concepts": [c.to_dict() for c in concepts],
        "segmentation": {"labels": structures.labels, "classes": list(_segmentation.CLASSES)},
        "guidance": decision.guidance_dict(),
    }


def _read_pgm(path: str) -> np.ndarray:
    with open(path, "rb") as fh:
        data = fh.read()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    if magic != b"P5" or int(maxval) != 255:
        raise ValueError(f"{path}: not an 8-bit binary PGM")
    w, h = int(width), int(height)
    return np.frombuffer(pixels[: w * h], np.uint8).reshape(h, w)


def main(argv: Optional[list] = None) -> int:
    import glob
    import json
    import time

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python pcbm_demo/inference.py FRAMES_DIR   (frames from `bedside phantom --out DIR`)")
        return 2
    model = load_model()
    truth = {}
    tpath = os.path.join(args[0], "truth.jsonl")
    if os.path.isfile(tpath):
        with open(tpath, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                truth[row["file"]] = (row["plane"], row["status"])
    right = total = 0
    spent = 0.0
    for path in sorted(glob.glob(os.path.join(args[0], "*.pgm"))):
        image = _read_pgm(path)
        t0 = time.perf_counter()
        out = predict(image, model)
        spent += time.perf_counter() - t0
        got = (out["plane"]["name"], out["plane"]["status"])
        want = truth.get(os.path.basename(path))
        mark = ""
        if want is not None:
            total += 1
            right += got == want
            mark = "ok" if got == want else f"WRONG (truth {want[0]}/{want[1]})"
        print(f"{os.path.basename(path)}  {got[0]:8s} {got[1]:9s} {out['plane']['score']:.2f}  "
              f"{out['guidance']['text']:60s} {mark}")
    n = len(glob.glob(os.path.join(args[0], "*.pgm")))
    if n:
        print(f"{n} frames, {1000 * spent / n:.1f} ms per frame" + (f", accuracy {right / total:.1%}" if total else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
