"""Stage 1: segment the anatomical structures.

PCBM uses a segmentation network here. The demo replaces it with classical image processing that
is enough for Bedside's synthetic phantom:

1. find the scan fan (the near-black surround is outside it) and flatten the depth gain;
2. echogenic structures: threshold a 5x5 mean, connected components, then classify each by shape
   (PCA: thin long bar = femur; ring or arc = skull or abdominal wall) and brightness (bone is
   brighter than the abdominal wall);
3. rings get a least-squares ellipse fit (works on arcs cut by the fan edge too);
4. fluid-filled structures inside a ring: threshold dark, connected components, sort by
   size and elongation (thalami, stomach, umbilical vein).

The result is a label map (uint8, the input's shape) plus the fitted shapes that stage 2 measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import List, Optional, Tuple

import numpy as np

from .config import SegmentationConfig
from .imops import (
    Ellipse,
    Region,
    box_mean,
    box_means,
    ellipse_from_ring_moments,
    fit_ellipse,
    label_components,
    regions,
)

CLASSES = ["background", "skull", "midline", "thalamus", "abdomen", "stomach", "umbilical_vein", "femur"]
BACKGROUND, SKULL, MIDLINE, THALAMUS, ABDOMEN, STOMACH, UMBILICAL_VEIN, FEMUR = range(8)


@dataclass
class Fan:
    """The scan sector: per row the first and last column inside it."""

    mask: np.ndarray  # bool (H, W)
    left: np.ndarray  # int (H,), -1 where the row has no fan
    right: np.ndarray
    apex_x: float
    apex_y: float

    def edge_distance(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Horizontal distance (pixels) from each point to the nearer side of the fan; <= 0 outside."""
        xs = np.asarray(xs)
        ys = np.clip(np.asarray(ys), 0, self.mask.shape[0] - 1).astype(np.int64)
        d = np.minimum(xs - self.left[ys], self.right[ys] - xs).astype(np.float64)
        d[self.right[ys] < 0] = -1.0
        return d

    def contains(self, xs: np.ndarray, ys: np.ndarray, margin: float = 0.0) -> np.ndarray:
        h = self.mask.shape[0]
        inside_rows = (ys >= 0) & (ys <= h - 1)
        return inside_rows & (self.edge_distance(xs, ys) >= margin)


@dataclass
class Ring:
    """A ring-shaped echo (skull or abdominal wall) and its ellipse."""

    region: Region
    ellipse: Ellipse
    level: float  # 75th percentile of the 3x3-mean brightness
    on_ring: np.ndarray  # bool per region pixel: close to the fitted ellipse


@dataclass
class Bar:
    region: Region
    level: float
    axis_angle: float  # radians, image coordinates, in (-pi/2, pi/2]; > 0 slopes down to the right
    ends: np.ndarray  # [[x, y], [x, y]]: the two extreme points along the axis
    end_margins: np.ndarray  # distance (px) of each end to the fan side


@dataclass
class Structures:
    labels: np.ndarray  # uint8 (H, W), values index CLASSES
    fan: Optional[Fan]
    skull: Optional[Ring] = None
    midline_xs: np.ndarray = field(default_factory=lambda: np.zeros(0))  # midline pixels, along the skull axis (px)
    thalami: List[Region] = field(default_factory=list)
    abdomen: Optional[Ring] = None
    stomach: Optional[Region] = None
    umbilical_vein: Optional[Region] = None
    femur: Optional[Bar] = None


# --- preprocessing ----------------------------------------------------------------------------


def find_fan(img: np.ndarray, cfg: SegmentationConfig) -> Optional[Fan]:
    """The scan sector, from the rows' first and last bright-enough column (holes inside are ignored)."""
    h, w = img.shape
    m = box_mean(img, 7) > cfg.fan_threshold
    rows = m.any(1)
    if rows.sum() < h // 4:
        return None
    left = np.where(rows, m.argmax(1), -1)
    right = np.where(rows, w - 1 - m[:, ::-1].argmax(1), -1)
    cols = np.arange(w)[None, :]
    mask = (cols >= left[:, None]) & (cols <= right[:, None]) & rows[:, None]
    # The straight sides meet at the probe's apex (depth 0); fit them on the rows well below the top.
    ys = np.flatnonzero(rows)
    sel = ys[(ys > ys[0] + 15) & (ys < ys[0] + 150)]
    apex_x, apex_y = w / 2.0, 0.0
    if sel.size > 20:
        bl = np.polyfit(sel, left[sel], 1)
        br = np.polyfit(sel, right[sel], 1)
        if abs(bl[0] - br[0]) > 0.1:
            apex_y = (br[1] - bl[1]) / (bl[0] - br[0])
            apex_x = bl[0] * apex_y + bl[1]
    return Fan(mask, left, right, float(apex_x), float(apex_y))


@lru_cache(maxsize=8)
def _depth(shape: Tuple[int, int], apex_x: float, apex_y: float) -> np.ndarray:
    """Distance of each pixel from the probe apex, in pixels (cached: the apex rarely moves)."""
    yy = np.arange(shape[0], dtype=np.float32)[:, None] - apex_y
    xx = np.arange(shape[1], dtype=np.float32)[None, :] - apex_x
    return np.sqrt(yy * yy + xx * xx)


def normalise(img: np.ndarray, fan: Fan, cfg: SegmentationConfig) -> np.ndarray:
    """Image divided by the expected tissue echo at each depth: plain tissue ~1, bone ~4, fluid ~0.2."""
    depth = _depth(img.shape, round(fan.apex_x), round(fan.apex_y))
    gain = np.maximum(1.0 - (cfg.tgc_drop / cfg.fan_radius) * depth, 0.2)
    inside = img[fan.mask][::3] / gain[fan.mask][::3]
    level = float(np.median(inside))  # the tissue level: structures are a minority of the fan
    typical = inside[(inside > 0.6 * level) & (inside < 1.6 * level)]
    if typical.size:
        level = float(np.median(typical))
    out = img / (max(level, 1.0) * gain)
    out[~fan.mask] = 1.0  # neutral outside the fan: neither bright nor dark
    return out.astype(np.float32)


# --- structures -----------------------------------------------------------------------------


def _level(b3: np.ndarray, r: Region) -> float:
    return float(np.percentile(b3[r.ys, r.xs], 75))


def fit_ring(r: Region, b3: np.ndarray, level: float) -> Ring:
    """Ellipse through a ring or arc of pixels; interior pixels (a skull's midline) are trimmed away."""
    xs, ys = r.xs.astype(np.float64), r.ys.astype(np.float64)
    strong = b3[r.ys, r.xs] >= 0.8 * level  # the bone itself is brighter than a midline joined to it
    e = fit_ellipse(xs[strong], ys[strong]) if strong.sum() >= 20 else None
    if e is None or not _plausible(e):
        e = ellipse_from_ring_moments(r)
    for _ in range(2):
        near = np.abs(e.rho(xs, ys) - 1.0) < 0.18
        if near.sum() < 20:
            break
        e2 = fit_ellipse(xs[near], ys[near])
        if e2 is None or not _plausible(e2):
            break
        e = e2
    on_ring = np.abs(e.rho(xs, ys) - 1.0) < 0.18
    return Ring(r, e, level, on_ring)


def _plausible(e: Ellipse) -> bool:
    return 8.0 < e.b <= e.a < 200.0 and -150 < e.cx < 450 and -150 < e.cy < 400


def _bar(r: Region, level: float, fan: Fan) -> Bar:
    c, s = np.cos(r.angle), np.sin(r.angle)
    t = (r.xs - r.cx) * c + (r.ys - r.cy) * s
    ends, margins = [], []
    for end in (t.argmin(), t.argmax()):
        tip = np.abs(t - t[end]) <= 3.0  # the pixels at that end of the bone
        margins.append(float(fan.edge_distance(r.xs[tip], r.ys[tip]).min()))
        ends.append([float(r.xs[end]), float(r.ys[end])])
    return Bar(r, level, r.angle, np.array(ends), np.array(margins))


def _dark_regions(dark: np.ndarray, values: np.ndarray, origin: Tuple[int, int], min_area: int) -> List[Region]:
    """Components of a dark mask cut from the image at `origin` (row, column), in image coordinates."""
    lab, n = label_components(dark, 8)
    found = regions(lab, n, values, min_area)
    for t in found:
        t.ys += origin[0]
        t.xs += origin[1]
        t.cy += origin[0]
        t.cx += origin[1]
    return found


def _window(e: Ellipse, fan: Fan):
    """The image window around an ellipse: (slices, xs, ys, rho of each pixel)."""
    h, w = fan.mask.shape
    ext = max(e.a, e.b)
    y0, y1 = int(max(0, e.cy - ext)), int(min(h, e.cy + ext + 1))
    x0, x1 = int(max(0, e.cx - ext)), int(min(w, e.cx + ext + 1))
    if y1 <= y0 or x1 <= x0:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1]
    return (slice(y0, y1), slice(x0, x1)), xs, ys, e.rho(xs.astype(np.float64), ys.astype(np.float64))


def segment(image: np.ndarray, cfg: SegmentationConfig) -> Structures:
    """Stage 1 on one grey frame (H, W) uint8: the label map and the fitted structures."""
    img = np.asarray(image, dtype=np.float32)
    labels = np.zeros(img.shape, np.uint8)
    fan = find_fan(img, cfg)
    out = Structures(labels, fan)
    if fan is None:
        return out
    n = normalise(img, fan, cfg)
    b3, b5 = box_means(n, (3, 5))

    # Echogenic structures.
    bright = (b5 > cfg.bright_threshold) & fan.mask
    lab, count = label_components(bright, 8)
    rings: List[Ring] = []
    bars: List[Bar] = []
    for r in regions(lab, count, b3, cfg.min_bright_area):
        lvl = _level(b3, r)
        if r.thickness < cfg.bar_max_thickness and r.length > cfg.bar_min_length:
            bars.append(_bar(r, lvl, fan))
        elif np.sqrt(r.l2) > 0.5 * cfg.ring_min_radius and np.sqrt(2 * r.l1) > cfg.ring_min_radius:
            rings.append(fit_ring(r, b3, lvl))
    skulls = [g for g in rings if g.level >= cfg.skull_level]
    walls = [g for g in rings if cfg.abdomen_level <= g.level < cfg.skull_level]
    out.skull = max(skulls, key=lambda g: g.region.area, default=None)
    out.abdomen = max(walls, key=lambda g: g.region.area, default=None)
    if out.skull is not None:  # a bar inside the skull is its midline, not a femur
        e = out.skull.ellipse
        bars = [b for b in bars if e.rho(np.array([b.region.cx]), np.array([b.region.cy]))[0] > 1.1]
    femurs = [b for b in bars if b.level >= cfg.femur_level]
    out.femur = max(femurs, key=lambda b: b.region.area, default=None)

    if out.skull is not None:
        _head(out, b3, b5, cfg)
    if out.abdomen is not None:
        _abdomen(out, b3, cfg)
    if out.femur is not None:
        _paint(labels, out.femur.region, out.femur.level, b3, FEMUR)
    return out


def _paint(labels: np.ndarray, r: Region, level: float, b3: np.ndarray, value: int) -> None:
    """Label an echogenic region at half its height above tissue (the component itself is a little wider)."""
    keep = b3[r.ys, r.xs] >= 0.5 * (level + 1.0)
    labels[r.ys[keep], r.xs[keep]] = value


def _head(out: Structures, b3: np.ndarray, b5: np.ndarray, cfg: SegmentationConfig) -> None:
    skull, fan, labels = out.skull, out.fan, out.labels
    assert skull is not None and fan is not None
    e = skull.ellipse
    _paint(labels, skull.region, skull.level, b3, SKULL)
    view = _window(e, fan)
    if view is None:
        return
    win, xs, ys, rho = view
    # Midline: echogenic pixels on the long axis, inside the skull.
    u, v = e.local(xs.astype(np.float64), ys.astype(np.float64))
    mid = (rho < 0.9) & fan.contains(xs, ys, 1) & (b3[win] > cfg.midline_level) & (np.abs(v) < 5.0)
    labels[win][mid] = MIDLINE
    out.midline_xs = u[mid]
    # Thalami: fluid-dark ovals either side of the midline, away from the skull and the fan edge.
    dark = (rho < 0.85) & fan.contains(xs, ys, cfg.fan_margin) & (b5[win] < cfg.dark_threshold)
    out.thalami = _dark_regions(dark, b5[win], (win[0].start, win[1].start), cfg.min_dark_area)
    for t in out.thalami:
        labels[t.ys, t.xs] = THALAMUS


def _abdomen(out: Structures, b3: np.ndarray, cfg: SegmentationConfig) -> None:
    wall, fan, labels = out.abdomen, out.fan, out.labels
    assert wall is not None and fan is not None
    _paint(labels, wall.region, wall.level, b3, ABDOMEN)
    view = _window(wall.ellipse, fan)
    if view is None:
        return
    win, xs, ys, rho = view
    dark = (rho < 0.88) & fan.contains(xs, ys, cfg.fan_margin) & (b3[win] < cfg.dark_threshold)
    found = _dark_regions(dark, b3[win], (win[0].start, win[1].start), cfg.min_dark_area)
    # The stomach is the big round bubble; the umbilical vein a thin elongated tube.
    round_ = [t for t in found if t.elongation < 2.2 and t.area >= 4 * cfg.min_dark_area]
    thin = [t for t in found if t.elongation >= 2.2]
    out.stomach = max(round_, key=lambda t: t.area, default=None)
    out.umbilical_vein = max(thin, key=lambda t: t.area, default=None)
    if out.stomach is not None:
        labels[out.stomach.ys, out.stomach.xs] = STOMACH
    if out.umbilical_vein is not None:
        labels[out.umbilical_vein.ys, out.umbilical_vein.xs] = UMBILICAL_VEIN
