"""Hyper-parameters of the demo pipeline.

In a trained PCBM these would be network weights and calibrated thresholds read from a
checkpoint. Here they are hand-tuned constants for Bedside's synthetic phantom, kept in one
place so that `load_model()` can "load" them (and a JSON checkpoint can override them).
Intensities are in units of the normalised image, where plain tissue is about 1.0.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional


@dataclass
class SegmentationConfig:
    fan_threshold: float = 14.0  # grey level (0-255, 7x7 mean) that separates the fan from the black surround
    fan_margin: int = 4  # pixels: structures closer than this to the fan side count as touching it
    tgc_drop: float = 0.45  # depth-gain law of the phantom scanner: gain = 1 - tgc_drop * depth / radius
    fan_radius: float = 227.0  # fan radius in model pixels at the bedside.yaml crop (224 x 288)
    bright_threshold: float = 1.7  # 5x5 mean above which a pixel is echogenic (bone, capsule)
    min_bright_area: int = 60
    bar_max_thickness: float = 14.0  # pixels: thinner than this and ...
    bar_min_length: float = 25.0  # ... longer than this is a bar (femur, or a detached midline)
    ring_min_radius: float = 20.0
    skull_level: float = 3.4  # 75th percentile brightness (3x3 mean) of a ring: skull above, abdomen below
    abdomen_level: float = 2.0
    femur_level: float = 3.2
    midline_level: float = 1.8
    dark_threshold: float = 0.45  # thalami, stomach, umbilical vein (fluid) are darker than this
    min_dark_area: int = 15


@dataclass
class ConceptConfig:
    present_at: float = 5.0  # a concept is "present" when its score (0-10) reaches this


@dataclass
class DemoConfig:
    name: str = "pcbm-demo"
    version: str = "0.1"
    input_height: int = 224
    input_width: int = 288
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    concepts: ConceptConfig = field(default_factory=ConceptConfig)

    @classmethod
    def from_json(cls, path: str) -> "DemoConfig":
        """Defaults overridden by a JSON checkpoint such as checkpoints/pcbm_demo.json."""
        with open(path, encoding="utf-8") as fh:
            raw: Dict[str, Any] = json.load(fh)
        cfg = cls()
        for section in ("segmentation", "concepts"):
            sub = getattr(cfg, section)
            for key, value in (raw.pop(section, None) or {}).items():
                if not hasattr(sub, key):
                    raise KeyError(f"{path}: unknown {section} parameter {key!r}")
                setattr(sub, key, type(getattr(sub, key))(value))
        for key, value in raw.items():
            if not hasattr(cfg, key):
                raise KeyError(f"{path}: unknown parameter {key!r}")
            setattr(cfg, key, value)
        return cfg

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: Optional[str] = None) -> DemoConfig:
    return DemoConfig.from_json(path) if path else DemoConfig()
