"""Bedside entry for echo_segmenter.segment_echoes, a plain function.

    entry: bedside_entry.py:predict    # per frame: predict(image)

The research function wants a float32 grey image in [0, 1] and returns an int32 label map.
Bedside hands over a read-only uint8 RGB image (H, W, 3) (`input.format: rgb` in bedside.yaml) and
expects a dict. This file does only that translation; echo_segmenter.py is not modified.
"""

import numpy as np
from echo_segmenter import LABELS, segment_echoes  # beside this file: Bedside puts its folder first on sys.path

# Read by Bedside (never required): shown by `bedside check` and recorded in session.json.
__version__ = "0.1.0"
CLASSES = [LABELS[i] for i in range(len(LABELS))]  # index = label value; index 0 is the background


def predict(image):
    """(H, W, 3) uint8 -> label map and two concepts. No plane: this model does not classify planes."""
    grey = image.astype(np.float32).mean(axis=2) / 255.0  # a new array; the frame itself is read-only
    labels = segment_echoes(grey)
    strong = float((labels == 1).mean() * 100.0)  # percent of the image
    fluid = float((labels == 2).mean() * 100.0)
    return {
        "segmentation": {"labels": labels.astype(np.uint8), "classes": CLASSES},
        "concepts": [
            # score 0-10 (here: 1 % of the image = 10); `label` is the text the page shows for the name
            {"name": "strong_echo", "label": "Strong echo (bone)", "score": min(10.0, 10.0 * strong),
             "present": strong >= 0.5},
            {"name": "fluid", "label": "Fluid-dark region", "score": min(10.0, 10.0 * fluid), "present": fluid >= 0.5},
        ],
    }
