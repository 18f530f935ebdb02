"""Echo segmentation by thresholds: a function written in a notebook and kept in the repo.

    from echo_segmenter import segment_echoes, LABELS
    labels = segment_echoes(img)    # img: float32 (H, W) in [0, 1]; labels: int32 (H, W)

Label 1 marks strong echoes (bone, skull), label 2 fluid-dark regions inside the scan (cysts,
stomach, vessels, and acoustic shadows behind bone). Thresholds are relative to the median
brightness of the scan, so the overall gain does not matter.

DEMONSTRATION CODE for Bedside's synthetic phantom, not a clinical segmentation.
"""

import numpy as np

LABELS = {0: "background", 1: "strong_echo", 2: "fluid"}


def box_blur(img, k):
    """Mean over a k x k box (k odd), edges padded by reflection."""
    r = k // 2
    p = np.pad(img, r, mode="reflect")
    c = np.cumsum(np.cumsum(p, axis=0, dtype=np.float64), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    return ((c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)).astype(np.float32)


def fill_rows(mask):
    """Each row filled from its first to its last True pixel (the scan fan is convex along rows)."""
    out = np.zeros_like(mask)
    for y in np.nonzero(mask.any(axis=1))[0]:
        xs = np.nonzero(mask[y])[0]
        out[y, xs[0] : xs[-1] + 1] = True
    return out


def segment_echoes(img, bright=2.2, dark=0.4, scan_level=0.05, blur=5):
    """Label map of strong echoes (1) and fluid (2) in a grey image.

    img: float32 array (H, W) with values in [0, 1].
    bright, dark: multiples of the median brightness of the scan.
    scan_level: brightness below which a pixel is outside the scan (the black screen around the fan).
    """
    if img.dtype != np.float32 or img.ndim != 2:
        raise TypeError(f"segment_echoes expects a float32 (H, W) image in [0, 1], got {img.dtype} {img.shape}")
    smooth = box_blur(img, blur)
    scan = fill_rows(box_blur(img, 15) > scan_level)  # dark regions inside the fan stay in the scan
    inner = box_blur(scan.astype(np.float32), 15) > 0.999  # the scan without its border
    labels = np.zeros(img.shape, np.int32)
    if not inner.any():
        return labels
    level = max(float(np.median(smooth[scan])), 1e-3)
    labels[scan & (smooth > bright * level)] = 1
    labels[inner & (smooth < dark * level)] = 2
    return labels
