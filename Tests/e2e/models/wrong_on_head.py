"""The demo model, deliberately wrong on a known span: wherever it sees the head plane it says abdomen (a
"version 2" with a bug), the same everywhere else. `bedside compare` must find exactly those spans."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "pcbm_demo_inference", Path(__file__).resolve().parents[3] / "researcher-template/pcbm_demo/inference.py")
_demo = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _demo   # its dataclasses look themselves up there
_spec.loader.exec_module(_demo)

load_model = _demo.load_model


def predict(image, model=None):
    out = _demo.predict(image, model)
    plane = out.get("plane") or {}
    if plane.get("name") == "head":
        out["plane"] = dict(plane, name="abdomen")
    return out
