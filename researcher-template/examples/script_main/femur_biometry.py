#!/usr/bin/env python3
"""Femur length from ultrasound frames: a lab script that reads image files and writes a CSV.

    python femur_biometry.py frames/                      # one line per frame on stdout
    python femur_biometry.py frames/ --csv femur.csv --threshold 2.4

Finds the brightest elongated echo in each frame (the femur diaphysis) and reports its length in
millimetres, its angle to the horizontal and whether both ends lie inside the scan.
Frames are 8-bit binary PGM files, e.g. from `bedside phantom --out frames/`.

DEMONSTRATION CODE for Bedside's synthetic phantom. It is not a clinical measurement.
"""

import argparse
import csv
import glob
import json
import os
import sys
from collections import deque

import numpy as np


def build_parser():
    p = argparse.ArgumentParser(description="Femur length from ultrasound frames.")
    p.add_argument("frames", help="folder of .pgm frames")
    p.add_argument("--threshold", type=float, default=2.6,
                   help="echo brightness, in multiples of the median tissue brightness (default 2.6)")
    p.add_argument("--min-area", type=int, default=40, help="smallest echo in pixels (default 40)")
    p.add_argument("--min-elongation", type=float, default=4.0,
                   help="length / thickness above which an echo is a bone shaft (default 4)")
    p.add_argument("--min-thickness", type=float, default=5.0,
                   help="thinner echoes are membranes, not bone, in pixels (default 5)")
    p.add_argument("--calibration", default="calibration.json", help="JSON with mm_per_pixel")
    p.add_argument("--csv", default="-", help="output CSV file (default: stdout)")
    return p


def read_pgm(path):
    with open(path, "rb") as fh:
        data = fh.read()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    if magic != b"P5" or int(maxval) != 255:
        raise ValueError(f"{path}: not an 8-bit binary PGM")
    w, h = int(width), int(height)
    return np.frombuffer(pixels[: w * h], np.uint8).reshape(h, w)


def load_calibration(path):
    with open(path, encoding="utf-8") as fh:
        return float(json.load(fh)["mm_per_pixel"])


def box_mean(img, k):
    """Mean over a k x k box (k odd), edges padded by reflection."""
    r = k // 2
    p = np.pad(img.astype(np.float64), r, mode="reflect")
    c = np.cumsum(np.cumsum(p, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def components(mask, min_area):
    """4-connected regions of `mask` with at least `min_area` pixels, as (ys, xs) arrays."""
    seen = np.zeros(mask.shape, bool)
    h, w = mask.shape
    out = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        queue, ys, xs = deque([(y0, x0)]), [], []
        while queue:
            y, x = queue.popleft()
            ys.append(y)
            xs.append(x)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        if len(ys) >= min_area:
            out.append((np.array(ys), np.array(xs)))
    return out


def measure_femur(img, threshold=2.6, min_area=40, min_elongation=4.0, min_thickness=5.0):
    """The femur-like echo of one grey frame, or None.

    Returns a dict: length_px, thickness_px, angle_deg (0 = horizontal, positive = right end lower),
    centre (x, y), ends ((x, y), (x, y)), clipped (an end touches the edge of the scan), pixels (ys, xs).
    """
    img = np.asarray(img, dtype=np.float64)
    smooth = box_mean(img, 3)
    scan = box_mean(img, 9) > 12  # the fan; outside it the screen is black
    if scan.sum() < 100:
        return None
    tissue = max(float(np.median(smooth[scan])), 1.0)
    bright = scan & (smooth > threshold * tissue)
    best = None
    for ys, xs in components(bright, min_area):
        pts = np.stack([xs, ys], axis=1).astype(np.float64)
        centre = pts.mean(axis=0)
        cov = np.cov((pts - centre).T)
        evals, evecs = np.linalg.eigh(cov)
        axis = evecs[:, 1]
        along = (pts - centre) @ axis
        across = (pts - centre) @ evecs[:, 0]
        length = float(along.max() - along.min())
        thickness = float(across.max() - across.min()) + 1.0
        if length / thickness < min_elongation:
            continue  # a ring (skull, abdomen) or a blob, not a shaft
        if thickness < min_thickness:
            continue  # a thin membrane (the head's midline), not bone
        if best is None or length > best["length_px"]:
            if axis[0] < 0:
                axis = -axis
            ends = (centre + along.min() * axis, centre + along.max() * axis)
            angle = float(np.degrees(np.arctan2(axis[1], axis[0])))
            edge = box_mean(scan.astype(np.float64), 7) < 0.999  # within 3 px of the scan's border
            clipped = any(edge[int(round(y)), int(round(x))] for x, y in ends)
            best = {
                "length_px": length, "thickness_px": thickness, "angle_deg": angle,
                "centre": (float(centre[0]), float(centre[1])),
                "ends": tuple((float(x), float(y)) for x, y in ends),
                "clipped": bool(clipped), "pixels": (ys, xs),
            }
    return best


def main(argv=None):
    args = build_parser().parse_args(argv)
    mm_per_pixel = load_calibration(args.calibration)
    files = sorted(glob.glob(os.path.join(args.frames, "*.pgm")))
    if not files:
        print(f"no .pgm files in {args.frames}", file=sys.stderr)
        return 1
    out = sys.stdout if args.csv == "-" else open(args.csv, "w", newline="", encoding="utf-8")
    writer = csv.writer(out)
    writer.writerow(["file", "found", "length_mm", "angle_deg", "clipped"])
    for path in files:
        found = measure_femur(read_pgm(path), args.threshold, args.min_area, args.min_elongation, args.min_thickness)
        if found is None:
            writer.writerow([os.path.basename(path), 0, "", "", ""])
        else:
            writer.writerow([os.path.basename(path), 1, f"{found['length_px'] * mm_per_pixel:.1f}",
                             f"{found['angle_deg']:.1f}", int(found["clipped"])])
    if out is not sys.stdout:
        out.close()
        print(f"wrote {len(files)} rows to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
