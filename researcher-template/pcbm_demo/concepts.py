"""Stage 2: property concepts measured on the segmentation, each scored 0-10.

As in PCBM, every concept is a human-readable property of a segmented structure (is the skull
complete? is the femur horizontal?) and stage 3 decides only from these scores, which is what
makes the decision explainable. Scores are piecewise-linear ramps of one measurement each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from .config import ConceptConfig
from .segmentation import Ring, Structures

PLANES = ("head", "abdomen", "femur")

# name -> plane, in the order they are reported
CONCEPTS = {
    "skull_visible": "head",
    "skull_complete": "head",
    "midline_visible": "head",
    "thalami_visible": "head",
    "abdomen_visible": "abdomen",
    "abdomen_round": "abdomen",
    "stomach_visible": "abdomen",
    "umbilical_vein_visible": "abdomen",
    "femur_visible": "femur",
    "femur_both_ends": "femur",
    "femur_horizontal": "femur",
}


@dataclass
class Concept:
    name: str
    plane: str
    score: float  # 0-10
    present: bool
    # what was measured, for guidance and debugging (not part of the result contract)
    detail: Dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, object]:
        return {"name": self.name, "plane": self.plane, "score": round(self.score, 2), "present": self.present}


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at or below `lo`, 10 at or above `hi` (or the reverse when lo > hi), linear between."""
    t = (x - lo) / (hi - lo)
    return float(10.0 * min(1.0, max(0.0, t)))


def ring_completeness(ring: Ring, st: Structures, margin: float) -> Dict[str, float]:
    """How much of the fitted ellipse lies inside the fan, and how much of it the ring actually covers."""
    assert st.fan is not None
    e = ring.ellipse
    px, py = e.points(72)
    inside = st.fan.contains(np.round(px).astype(np.int64), np.round(py).astype(np.int64), margin)
    r = ring.region
    u, v = e.local(r.xs[ring.on_ring].astype(np.float64), r.ys[ring.on_ring].astype(np.float64))
    bins = np.floor((np.arctan2(v / e.b, u / e.a) + np.pi) / (2 * np.pi) * 36).astype(np.int64) % 36
    covered = np.bincount(bins, minlength=36) > 0
    edge = st.fan.edge_distance(r.xs, r.ys)
    return {
        "inside_fraction": float(inside.mean()),
        "coverage": float(covered.mean()),
        "touching_pixels": float((edge < margin).sum()),
        # which side of the fan the ellipse leaves through (-1 left, +1 right, 0 none)
        "exit_side": float(np.sign(np.mean(px[~inside]) - st.fan.apex_x)) if (~inside).any() else 0.0,
    }


def measure(st: Structures, cfg: ConceptConfig, margin: float) -> List[Concept]:
    """All concepts, for every plane (a structure that was not found scores 0)."""
    out: Dict[str, Concept] = {}

    def put(name: str, score: float, **detail: float) -> None:
        out[name] = Concept(name, CONCEPTS[name], score, score >= cfg.present_at, dict(detail))

    # Head.
    skull = st.skull
    if skull is not None:
        e = skull.ellipse
        put("skull_visible", min(ramp(skull.level, 2.8, 3.8), ramp(e.a, 15, 35)), level=skull.level, a=e.a, b=e.b)
        comp = ring_completeness(skull, st, margin)
        put("skull_complete", ramp(min(comp["inside_fraction"], comp["coverage"]), 0.80, 0.97), **comp)
        xs = st.midline_xs
        span = np.linspace(-0.8 * e.a, 0.8 * e.a, 11)
        hit = np.histogram(xs, bins=span)[0] >= 2 if xs.size else np.zeros(10, bool)
        put("midline_visible", ramp(float(hit.mean()), 0.3, 0.7), coverage=float(hit.mean()))
        # one thalamus each side of the midline, of a plausible size
        side = {-1: 0.0, 1: 0.0}
        for t in st.thalami:
            _, v = e.local(np.array([t.cx]), np.array([t.cy]))
            s = -1 if v[0] < 0 else 1
            side[s] = max(side[s], float(t.area))
        put("thalami_visible", 0.5 * ramp(side[-1], 20, 80) + 0.5 * ramp(side[1], 20, 80),
            area_a=side[-1], area_b=side[1])
    else:
        for name in ("skull_visible", "skull_complete", "midline_visible", "thalami_visible"):
            put(name, 0.0)

    # Abdomen.
    wall = st.abdomen
    if wall is not None:
        e = wall.ellipse
        put("abdomen_visible", min(ramp(wall.level, 2.0, 2.6), ramp(e.a, 15, 35)), level=wall.level, a=e.a)
        comp = ring_completeness(wall, st, margin)
        put("abdomen_round", min(ramp(e.ratio, 0.75, 0.9), ramp(comp["coverage"], 0.6, 0.9)), ratio=e.ratio, **comp)
        area = float(st.stomach.area) if st.stomach is not None else 0.0
        put("stomach_visible", ramp(area, 60, 200), area=area)
        uv = st.umbilical_vein
        area = float(uv.area) if uv is not None else 0.0
        elong = uv.elongation if uv is not None else 0.0
        put("umbilical_vein_visible", min(ramp(area, 15, 45), ramp(elong, 2.0, 3.0)), area=area, elongation=elong)
    else:
        for name in ("abdomen_visible", "abdomen_round", "stomach_visible", "umbilical_vein_visible"):
            put(name, 0.0)

    # Femur.
    bar = st.femur
    if bar is not None:
        length = float(np.hypot(*(bar.ends[1] - bar.ends[0])))
        put("femur_visible", min(ramp(bar.level, 2.8, 3.6), ramp(length, 20, 40)), level=bar.level, length=length)
        worst = int(np.argmin(bar.end_margins))
        side = float(np.sign(bar.ends[worst][0] - st.fan.apex_x)) if st.fan is not None else 0.0
        put("femur_both_ends", ramp(float(bar.end_margins.min()), margin, margin + 8.0),
            margin=float(bar.end_margins.min()), cut_side=side)
        degrees = float(np.degrees(bar.axis_angle))
        put("femur_horizontal", ramp(abs(degrees), 25.0, 8.0), degrees=degrees)
    else:
        for name in ("femur_visible", "femur_both_ends", "femur_horizontal"):
            put(name, 0.0)

    return [out[name] for name in CONCEPTS]


def by_name(concepts: List[Concept]) -> Dict[str, Concept]:
    return {c.name: c for c in concepts}
