"""A research function's own return value mapped to Bedside's result by declaration (a model's `output:` block).

PCBM-style code returns its arrays: a label map, concept values, class logits. Instead of an adapter, the model's
config says where each part is and what it means; Bedside passes that block to the worker as JSON
(BEDSIDE_OUTPUT) and this module turns every return value into the result object of docs/protocol.md.

    output:
      segmentation: {from: seg, classes: [background, skull, ...]}            # HxW labels, or CxHxW scores
      concepts: {from: concepts, names: [...], scale: probability, mask: concept_mask}
      plane: {from: logits, kind: logits, classes: [[head, standard], [head, non-standard], ...]}
      guidance: {from: hint}

`from` is a key of a dict, an index of a tuple or list (`0`), or a dotted path through both (`out.seg`, `1.0`).
Arrays may be numpy arrays, PyTorch tensors (read through `.detach().cpu().numpy()`, without this module
importing torch), or nested lists; a leading batch dimension of 1 is dropped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .core import ResultError

OUTPUT_ENV = "BEDSIDE_OUTPUT"  # the `output:` block, as JSON, set by Bedside for the worker
SCALES = ("probability", "score")  # probability: 0-1 (present from 0.5); score: 0-10 (present from 5)
PLANE_KINDS = ("logits", "probabilities", "index")
CLASS_STATUSES = ("standard", "non-standard", "close", "unknown")


class OutputConfigError(ValueError):
    """The `output:` block cannot be used: says which key and what to write instead."""


@dataclass(frozen=True)
class Segmentation:
    source: str
    classes: Optional[List[str]] = None


@dataclass(frozen=True)
class Concepts:
    source: str
    names: List[str]
    scale: str = "probability"
    mask: Optional[str] = None
    planes: Optional[List[Optional[str]]] = None  # the plane each concept belongs to (the page groups by it)


@dataclass(frozen=True)
class Plane:
    source: str
    kind: str
    classes: List[Tuple[str, str]]


@dataclass(frozen=True)
class OutputMap:
    segmentation: Optional[Segmentation] = None
    concepts: Optional[Concepts] = None
    plane: Optional[Plane] = None
    guidance: Optional[str] = None

    @staticmethod
    def from_json(text: str) -> "OutputMap":
        try:
            spec = json.loads(text)
        except ValueError as exc:
            raise OutputConfigError(f"output: is not JSON ({exc}); Bedside writes it from the model's `output:` block") from None
        if not isinstance(spec, dict):
            raise OutputConfigError("output: should be a mapping of segmentation, concepts, plane, guidance")
        unknown = sorted(set(spec) - {"segmentation", "concepts", "plane", "guidance"})
        if unknown:
            raise OutputConfigError(f"output.{unknown[0]} is not a part Bedside shows: use segmentation, concepts, plane, guidance")
        seg = con = pl = None
        if spec.get("segmentation") is not None:
            s = _block(spec, "segmentation", {"from", "classes"})
            seg = Segmentation(_source(s, "segmentation"), _names(s, "segmentation", "classes", required=False))
        if spec.get("concepts") is not None:
            c = _block(spec, "concepts", {"from", "names", "scale", "mask", "planes"})
            scale = c.get("scale", "probability")
            if scale not in SCALES:
                raise OutputConfigError(f"output.concepts.scale is {scale!r}: use probability (0-1) or score (0-10)")
            names = _names(c, "concepts", "names", required=True)
            planes = c.get("planes")
            if planes is not None and (not isinstance(planes, list) or len(planes) != len(names)):
                raise OutputConfigError("output.concepts.planes should list one plane (or null) per name")
            mask = c.get("mask")
            if mask is not None and not isinstance(mask, (str, int)):
                raise OutputConfigError("output.concepts.mask should say where the mask is, like `from`")
            con = Concepts(_source(c, "concepts"), names, scale, None if mask is None else str(mask), planes)
        if spec.get("plane") is not None:
            p = _block(spec, "plane", {"from", "kind", "classes"})
            kind = p.get("kind", "logits")
            if kind not in PLANE_KINDS:
                raise OutputConfigError(f"output.plane.kind is {kind!r}: use logits, probabilities or index")
            classes = p.get("classes")
            if not isinstance(classes, list) or not classes:
                raise OutputConfigError("output.plane.classes should list, per class index, [plane, standard | non-standard]")
            table: List[Tuple[str, str]] = []
            for i, entry in enumerate(classes):
                if (not isinstance(entry, list) or len(entry) != 2 or not all(isinstance(x, str) for x in entry)
                        or entry[1] not in CLASS_STATUSES):
                    raise OutputConfigError(
                        f"output.plane.classes[{i}] is {entry!r}: write [plane name, standard | non-standard | unknown]")
                table.append((entry[0], entry[1]))
            pl = Plane(_source(p, "plane"), kind, table)
        guidance = spec.get("guidance")
        if guidance is not None:
            guidance = _source(_block(spec, "guidance", {"from"}), "guidance")
        return OutputMap(seg, con, pl, guidance)

    def declares(self) -> Dict[str, Any]:
        """What the block says about the model, for `ready`: its classes, concepts and planes."""
        info: Dict[str, Any] = {}
        if self.segmentation is not None and self.segmentation.classes:
            info["classes"] = self.segmentation.classes
        if self.concepts is not None:
            info["concepts"] = self.concepts.names
        if self.plane is not None:
            info["planes"] = list(dict.fromkeys(name for name, _ in self.plane.classes))
        return info

    def apply(self, value: Any) -> Dict[str, Any]:
        """Bedside's result object (still to go through core.convert_result) from the research code's return value."""
        try:
            return self._apply(value)
        except ResultError:
            raise
        except Exception as exc:  # numpy refusing an odd value: the answer's fault, never the worker's end
            raise ResultError(f"output: the model's return value does not fit the output: block ({type(exc).__name__}: {exc})") from None

    def _apply(self, value: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if self.segmentation is not None:
            out["segmentation"] = self._segmentation(value)
        if self.concepts is not None:
            out["concepts"] = self._concepts(value)
        if self.plane is not None:
            out["plane"] = self._plane(value)
        if self.guidance is not None:
            text = pick(value, self.guidance, "output.guidance")
            out["guidance"] = {"text": str(text)} if text is not None else None
        return out

    def _segmentation(self, value: Any) -> Dict[str, Any]:
        s = self.segmentation
        assert s is not None
        a = _squeeze_batch(array(pick(value, s.source, "output.segmentation"), "output.segmentation"), 2)
        if a.ndim == 3:  # per-class scores, CxHxW: the label is the best class
            a = np.argmax(a, axis=0)
        if a.ndim != 2:
            raise ResultError(f"output.segmentation ({s.source}) is a {a.ndim}-D array: expected HxW labels or CxHxW scores")
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
                raise ResultError(f"output.segmentation ({s.source}) holds fractions: expected class indices")
            a = a.astype(np.int64)
        if a.dtype.kind not in "biu":
            raise ResultError(f"output.segmentation ({s.source}) is an array of {a.dtype}: expected class indices")
        if s.classes is not None and a.size and (int(a.min()) < 0 or int(a.max()) >= len(s.classes)):
            raise ResultError(
                f"output.segmentation ({s.source}) has label {int(a.max())}, but output.segmentation.classes names "
                f"{len(s.classes)} classes")
        seg: Dict[str, Any] = {"labels": a.astype(np.uint8 if a.size == 0 or int(a.max()) < 256 else np.int32)}
        if s.classes is not None:
            seg["classes"] = s.classes
        return seg

    def _concepts(self, value: Any) -> List[Dict[str, Any]]:
        c = self.concepts
        assert c is not None
        v = _squeeze_batch(array(pick(value, c.source, "output.concepts"), "output.concepts"), 1).astype(np.float64)
        if v.ndim != 1 or v.shape[0] != len(c.names):
            raise ResultError(
                f"output.concepts ({c.source}) has shape {tuple(v.shape)}, but output.concepts.names lists {len(c.names)}")
        mask = None
        if c.mask is not None:
            mask = _squeeze_batch(array(pick(value, c.mask, "output.concepts.mask"), "output.concepts.mask"), 1)
            if mask.shape != v.shape:
                raise ResultError(f"output.concepts.mask ({c.mask}) has shape {tuple(mask.shape)}, the concepts {tuple(v.shape)}")
        concepts: List[Dict[str, Any]] = []
        for i, name in enumerate(c.names):
            if mask is not None and not bool(mask[i]):
                continue  # does not apply to this image's plane (PCBM's concept mask): not shown
            x = float(v[i])
            if not math.isfinite(x):
                raise ResultError(f"output.concepts ({c.source})[{i}] ({name}) is {x}")
            top = 1.0 if c.scale == "probability" else 10.0
            if not -1e-6 <= x <= top + 1e-6:
                hint = ("logits, not probabilities? Apply a sigmoid, or use scale: score for 0-10 values"
                        if c.scale == "probability" else "the page's bars go from 0 to 10: rescale the values to that range")
                raise ResultError(
                    f"output.concepts ({c.source})[{i}] ({name}) is {x:.4g}, outside scale: {c.scale} (0 to {top:g}): {hint}")
            score = 10.0 * x if c.scale == "probability" else x
            item: Dict[str, Any] = {"name": name, "score": round(score, 3), "present": score >= 5.0}
            if c.planes is not None and c.planes[i]:
                item["plane"] = c.planes[i]
            concepts.append(item)
        return concepts

    def _plane(self, value: Any) -> Dict[str, Any]:
        p = self.plane
        assert p is not None
        raw = pick(value, p.source, "output.plane")
        if p.kind == "index":
            index = int(_squeeze_batch(array(raw, "output.plane"), 0).reshape(-1)[0]) if not isinstance(raw, int) else raw
            score = None
        else:
            v = _squeeze_batch(array(raw, "output.plane"), 1).astype(np.float64)
            if v.ndim != 1 or v.shape[0] != len(p.classes):
                raise ResultError(
                    f"output.plane ({p.source}) has shape {tuple(v.shape)}, but output.plane.classes lists {len(p.classes)}")
            if not np.all(np.isfinite(v)):
                raise ResultError(f"output.plane ({p.source}) holds NaN or infinity")
            probs = softmax(v) if p.kind == "logits" else v
            index = int(np.argmax(probs))
            score = float(probs[index])
        if not 0 <= index < len(p.classes):
            raise ResultError(f"output.plane ({p.source}) is class {index}, but output.plane.classes lists {len(p.classes)}")
        name, status = p.classes[index]
        plane: Dict[str, Any] = {"name": name, "status": "close" if status == "non-standard" else status, "class": index}
        if score is not None:
            plane["score"] = round(score, 4)
        return plane


def _block(spec: Dict[str, Any], part: str, allowed: set) -> Dict[str, Any]:
    block = spec[part]
    if isinstance(block, (str, int)):
        block = {"from": block}  # `segmentation: seg` is `segmentation: {from: seg}`
    if not isinstance(block, dict):
        raise OutputConfigError(f"output.{part} should be a mapping with `from:` (or just where the value is)")
    unknown = sorted(set(block) - allowed)
    if unknown:
        raise OutputConfigError(f"output.{part}.{unknown[0]} is not a setting: use {', '.join(sorted(allowed))}")
    return block


def _source(block: Dict[str, Any], part: str) -> str:
    src = block.get("from")
    if not isinstance(src, (str, int)) or str(src) == "":
        raise OutputConfigError(f"output.{part}.from is missing: the key (or index) of the return value that holds it")
    return str(src)


def _names(block: Dict[str, Any], part: str, key: str, required: bool) -> Optional[List[str]]:
    names = block.get(key)
    if names is None and not required:
        return None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise OutputConfigError(f"output.{part}.{key} should be a list of names, one per index")
    return names


def pick(value: Any, path: str, where: str) -> Any:
    """`path` (dotted keys and indices) inside the return value; ResultError naming what is there instead."""
    current = value
    for step in path.split("."):
        if isinstance(current, dict):
            if step not in current:
                raise ResultError(f"{where}: the model's return value has no {step!r} (it has {sorted(map(str, current))[:12]})")
            current = current[step]
        elif isinstance(current, (list, tuple)):
            if not step.lstrip("-").isdigit() or not -len(current) <= int(step) < len(current):
                raise ResultError(f"{where}: {step!r} is not an index of the model's {len(current)}-tuple")
            current = current[int(step)]
        elif hasattr(current, step):
            current = getattr(current, step)  # a dataclass or a named tuple
        else:
            raise ResultError(f"{where}: cannot look up {step!r} in a {type(current).__name__}")
    return current


def array(value: Any, where: str) -> np.ndarray:
    """A numpy array from numpy, a tensor (without importing torch) or nested lists."""
    if hasattr(value, "detach") and callable(value.detach):
        value = value.detach()
    if hasattr(value, "cpu") and callable(value.cpu) and not isinstance(value, np.ndarray):
        value = value.cpu()
    if hasattr(value, "numpy") and callable(value.numpy) and not isinstance(value, np.ndarray):
        value = value.numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ResultError(f"{where} is a {type(value).__name__}, not an array ({exc})") from None


def _squeeze_batch(a: np.ndarray, keep: int) -> np.ndarray:
    """Drops leading dimensions of size 1 while more than `keep` remain (a batch of one: 1x27, 1x14xHxW)."""
    while a.ndim > keep and a.shape[0] == 1:
        a = a[0]
    return a


def softmax(v: Sequence[float]) -> np.ndarray:
    x = np.asarray(v, dtype=np.float64)
    e = np.exp(x - np.max(x))
    return e / e.sum()
