"""Small numpy-only image operations used by the pipeline (no scipy / OpenCV on purpose).

Everything here works on 2-D arrays of the model's input size (224 x 288) and is written to stay
fast on one CPU core: box filters by cumulative sums, connected components by union-find with
pointer jumping, region statistics by `np.bincount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np


def box_means(a: np.ndarray, sizes: Sequence[int]) -> List[np.ndarray]:
    """Means over k x k windows (k odd) centred on each pixel, for each k in `sizes`; edges replicated.

    One integral image (cumulative sums) serves all window sizes.
    """
    h, w = a.shape
    r = max(sizes) // 2
    p = np.empty((h + 2 * r + 1, w + 2 * r + 1), np.float64)
    p[0, :] = 0.0
    p[:, 0] = 0.0
    body = p[1:, 1:]
    body[r : r + h, r : r + w] = a
    body[:r, r : r + w] = a[:1]
    body[r + h :, r : r + w] = a[-1:]
    body[:, :r] = body[:, r : r + 1]
    body[:, r + w :] = body[:, r + w - 1 : r + w]
    np.cumsum(body, 0, out=body)
    np.cumsum(body, 1, out=body)
    out = []
    for k in sizes:
        o = r - k // 2  # offset of this window's top-left corner in the padded integral image
        s = p[o + k : o + k + h, o + k : o + k + w] - p[o : o + h, o + k : o + k + w]
        s -= p[o + k : o + k + h, o : o + w]
        s += p[o : o + h, o : o + w]
        out.append((s * (1.0 / (k * k))).astype(np.float32))
    return out


def box_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Mean over a k x k window (k odd) centred on each pixel, edges replicated (float32)."""
    return box_means(a, [k])[0]


def label_components(mask: np.ndarray, connectivity: int = 8) -> Tuple[np.ndarray, int]:
    """Connected components of a boolean mask: (int32 labels with 0 = background, count).

    Union-find over the foreground pixels: each round hooks the larger root of every still
    disconnected neighbour pair onto the smaller one, then compresses all paths by pointer
    jumping. Labels are numbered 1..n in raster order of each component's first pixel.
    """
    h, w = mask.shape
    flat = mask.ravel()
    idx = np.flatnonzero(flat)
    labels = np.zeros(h * w, np.int32)
    n = idx.size
    if n == 0:
        return labels.reshape(h, w), 0
    compact = np.full(h * w, -1, np.int64)
    compact[idx] = np.arange(n)
    grid = compact.reshape(h, w)
    pairs_a: List[np.ndarray] = []
    pairs_b: List[np.ndarray] = []
    shifts = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if connectivity == 8 else [])
    for dy, dx in shifts:
        if dx >= 0:
            a, b = grid[: h - dy, : w - dx], grid[dy:, dx:]
        else:
            a, b = grid[: h - dy, -dx:], grid[dy:, : w + dx]
        both = (a >= 0) & (b >= 0)
        pairs_a.append(a[both])
        pairs_b.append(b[both])
    ea = np.concatenate(pairs_a)
    eb = np.concatenate(pairs_b)
    parent = np.arange(n)
    while ea.size:
        pa = parent[ea]
        pb = parent[eb]
        open_ = pa != pb
        if not open_.any():
            break
        ea, eb, pa, pb = ea[open_], eb[open_], pa[open_], pb[open_]
        parent[np.maximum(pa, pb)] = np.minimum(pa, pb)  # roots hook onto smaller roots
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    roots, inverse = np.unique(parent, return_inverse=True)
    labels[idx] = inverse.astype(np.int32) + 1
    return labels.reshape(h, w), int(roots.size)


@dataclass
class Region:
    """One connected component and its moments (pixel coordinates: x right, y down)."""

    label: int
    area: int
    cx: float
    cy: float
    l1: float  # variance along the major axis
    l2: float  # variance along the minor axis
    angle: float  # major axis direction in radians, in (-pi/2, pi/2], positive = sloping down to the right
    mean: float  # mean of the value image over the region
    ys: Optional[np.ndarray] = None
    xs: Optional[np.ndarray] = None

    @property
    def length(self) -> float:
        """Length of a uniform bar with these moments."""
        return float(np.sqrt(12.0 * self.l1))

    @property
    def thickness(self) -> float:
        return float(np.sqrt(12.0 * max(self.l2, 0.0)))

    @property
    def elongation(self) -> float:
        return float(np.sqrt(self.l1 / max(self.l2, 1e-6)))


def regions(labels: np.ndarray, count: int, values: np.ndarray, min_area: int = 1) -> List[Region]:
    """Moments of every component with at least `min_area` pixels, largest first, pixel lists attached."""
    if count == 0:
        return []
    flat = labels.ravel()
    fg = np.flatnonzero(flat)
    lab = flat[fg]
    ys, xs = np.divmod(fg, labels.shape[1])
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64)
    m = count + 1
    area = np.bincount(lab, minlength=m).astype(np.float64)
    keep = np.flatnonzero(area >= max(min_area, 1))
    keep = keep[keep > 0]
    if keep.size == 0:
        return []
    sx = np.bincount(lab, xs, m)
    sy = np.bincount(lab, ys, m)
    sxx = np.bincount(lab, xs * xs, m)
    syy = np.bincount(lab, ys * ys, m)
    sxy = np.bincount(lab, xs * ys, m)
    sv = np.bincount(lab, values.ravel()[fg], m)
    order = np.argsort(lab, kind="stable")
    bounds = np.cumsum(area.astype(np.int64))  # sorted pixels of label k: [bounds[k-1], bounds[k])
    out = []
    for k in keep:
        n = area[k]
        cx, cy = sx[k] / n, sy[k] / n
        vxx = sxx[k] / n - cx * cx
        vyy = syy[k] / n - cy * cy
        vxy = sxy[k] / n - cx * cy
        tr, det = vxx + vyy, vxx * vyy - vxy * vxy
        disc = np.sqrt(max(tr * tr / 4 - det, 0.0))
        l1, l2 = tr / 2 + disc, max(tr / 2 - disc, 0.0)
        angle = 0.5 * np.arctan2(2 * vxy, vxx - vyy)
        sel = order[bounds[k - 1] : bounds[k]]
        out.append(
            Region(int(k), int(n), float(cx), float(cy), float(l1), float(l2), float(angle), float(sv[k] / n),
                   ys[sel].astype(np.int64), xs[sel].astype(np.int64))
        )
    out.sort(key=lambda r: -r.area)
    return out


@dataclass
class Ellipse:
    cx: float
    cy: float
    a: float  # semi-major axis (pixels)
    b: float  # semi-minor axis (pixels)
    angle: float  # direction of the major axis (radians, image coordinates)

    def local(self, xs: np.ndarray, ys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Coordinates along the major and minor axes."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        dx, dy = xs - self.cx, ys - self.cy
        return dx * c + dy * s, -dx * s + dy * c

    def rho(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Normalised radius: 1 on the ellipse, < 1 inside."""
        u, v = self.local(xs, ys)
        return np.sqrt((u / self.a) ** 2 + (v / self.b) ** 2)

    def points(self, n: int = 72) -> Tuple[np.ndarray, np.ndarray]:
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        c, s = np.cos(self.angle), np.sin(self.angle)
        u, v = self.a * np.cos(t), self.b * np.sin(t)
        return self.cx + u * c - v * s, self.cy + u * s + v * c

    @property
    def ratio(self) -> float:
        return self.b / self.a


def fit_ellipse(xs: np.ndarray, ys: np.ndarray) -> Optional[Ellipse]:
    """Direct least-squares ellipse fit (Fitzgibbon et al. 1999, Halir & Flusser's stable form).

    Works on partial arcs too. Returns None when the points do not determine an ellipse.
    """
    if xs.size < 6:
        return None
    mx, my = xs.mean(), ys.mean()
    sc = max(xs.std(), ys.std(), 1e-6)
    x, y = (xs - mx) / sc, (ys - my) / sc
    d1 = np.stack([x * x, x * y, y * y], 1)
    d2 = np.stack([x, y, np.ones_like(x)], 1)
    s1, s2, s3 = d1.T @ d1, d1.T @ d2, d2.T @ d2
    try:
        t = -np.linalg.solve(s3, s2.T)
        m = s1 + s2 @ t
        m = np.array([m[2] / 2, -m[1], m[0] / 2])
        w, v = np.linalg.eig(m)
    except np.linalg.LinAlgError:
        return None
    v = np.real(v)
    cond = 4 * v[0] * v[2] - v[1] ** 2
    ok = np.flatnonzero(cond > 0)
    if ok.size == 0:
        return None
    a1 = v[:, ok[0]]
    A, B, C = a1
    D, E, F = t @ a1
    # conic A x^2 + B xy + C y^2 + D x + E y + F = 0 -> centre, axes, angle
    den = B * B - 4 * A * C
    if den >= 0:
        return None
    x0 = (2 * C * D - B * E) / den
    y0 = (2 * A * E - B * D) / den
    f0 = A * x0 * x0 + B * x0 * y0 + C * y0 * y0 + D * x0 + E * y0 + F
    lam, vec = np.linalg.eigh(np.array([[A, B / 2], [B / 2, C]]))
    if f0 == 0 or np.any(-f0 / lam <= 0):
        return None
    axes = np.sqrt(-f0 / lam)
    i = int(np.argmax(axes))  # major axis
    angle = float(np.arctan2(vec[1, i], vec[0, i]))
    if angle > np.pi / 2:
        angle -= np.pi
    elif angle <= -np.pi / 2:
        angle += np.pi
    return Ellipse(float(x0 * sc + mx), float(y0 * sc + my), float(axes[i] * sc), float(axes[1 - i] * sc), angle)


def ellipse_from_ring_moments(r: Region) -> Ellipse:
    """Ellipse of a thin closed ring from its second moments (a ring of radius a has variance a^2 / 2)."""
    return Ellipse(r.cx, r.cy, float(np.sqrt(2 * r.l1)), float(np.sqrt(2 * r.l2)), r.angle)
