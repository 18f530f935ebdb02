"""Test model: a label map of the bright pixels, plus an unknown top-level key."""

import numpy as np


def predict(image):
    gray = image if image.ndim == 2 else image[..., 0]
    return {
        "segmentation": {"labels": (gray >= 128).astype(np.int32), "classes": ["background", "bright"]},
        "confidence": np.float64(0.25),
    }
