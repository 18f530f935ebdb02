"""Stage 3: the standard plane and its status, decided from the concept scores only.

Which plane: the one whose anchor structure (skull, abdominal wall, femur) is most clearly
visible. Its status is `standard` when every criterion concept of that plane is present, `close`
otherwise; with no plane the status is `unknown`. Guidance names the first missing criterion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from .concepts import Concept, by_name

ANCHOR = {"head": "skull_visible", "abdomen": "abdomen_visible", "femur": "femur_visible"}
CRITERIA = {
    "head": ["skull_complete", "midline_visible", "thalami_visible"],
    "abdomen": ["abdomen_round", "stomach_visible", "umbilical_vein_visible"],
    "femur": ["femur_both_ends", "femur_horizontal"],
}


@dataclass
class PlaneDecision:
    name: str  # head | abdomen | femur | none
    status: str  # standard | close | unknown
    score: float  # 0-1: confidence in name and status together
    guidance_text: str
    guidance_arrow: Optional[str]  # left | right | rotate-cw | rotate-ccw | None

    def plane_dict(self) -> Dict[str, object]:
        return {"name": self.name, "status": self.status, "score": round(self.score, 3)}

    def guidance_dict(self) -> Dict[str, object]:
        return {"text": self.guidance_text, "arrow": self.guidance_arrow}


def decide(concepts: List[Concept], present_at: float = 5.0) -> PlaneDecision:
    c = by_name(concepts)
    plane = max(ANCHOR, key=lambda p: c[ANCHOR[p]].score)
    anchor = c[ANCHOR[plane]].score / 10.0
    if c[ANCHOR[plane]].score < present_at:
        return PlaneDecision("none", "unknown", 1.0 - anchor, "no standard plane in view: sweep slowly", None)
    crit = [c[name] for name in CRITERIA[plane]]
    missing = [k for k in crit if not k.present]
    if missing:
        status = "close"
        # confidence that at least one criterion is really absent
        certainty = 1.0 - min(k.score for k in missing) / 10.0
    else:
        status = "standard"
        certainty = min(k.score for k in crit) / 10.0
    score = anchor * (0.5 + 0.5 * certainty)
    text, arrow = _guidance(plane, missing, c)
    return PlaneDecision(plane, status, score, text, arrow)


def _side(value: float) -> Optional[str]:
    return "right" if value > 0 else ("left" if value < 0 else None)


def _guidance(plane: str, missing: List[Concept], c: Dict[str, Concept]):
    """A navigational hint for the sonographer: fix the first missing criterion."""
    if not missing:
        return f"{plane} standard plane: hold still and freeze", None
    first = missing[0].name
    if first == "skull_complete":
        side = _side(c["skull_complete"].detail.get("exit_side", 0.0))
        if side:
            return f"skull cut off at the {side} edge: slide the probe {side}", side
        return "skull incomplete: centre the head in the fan", None
    if first == "midline_visible":
        return "no midline echo: tilt the probe slowly to find the midline", None
    if first == "thalami_visible":
        return "thalami not visible: angle slightly towards the skull base", None
    if first == "abdomen_round":
        return "abdomen not round: rotate the probe to a true cross-section", None
    if first == "stomach_visible":
        return "stomach bubble not visible: slide slightly towards the fetal head", None
    if first == "umbilical_vein_visible":
        return "umbilical vein not visible: slide slightly towards the cord insertion", None
    if first == "femur_both_ends":
        side = _side(c["femur_both_ends"].detail.get("cut_side", 0.0))
        if side:
            return f"femur end cut off at the {side}: slide the probe {side}", side
        return "femur end not visible: centre the femur", None
    if first == "femur_horizontal":
        degrees = c["femur_horizontal"].detail.get("degrees", 0.0)
        # image y points down: a positive angle slopes down to the right, level it counter-clockwise
        return f"femur steep ({abs(degrees):.0f} deg): level the probe", "rotate-ccw" if degrees > 0 else "rotate-cw"
    return f"{plane}: adjust the probe", None
